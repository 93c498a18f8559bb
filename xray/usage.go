package xray

import (
	"maps"
	"strings"

	featstats "github.com/xtls/xray-core/features/stats"
)

// Names of the core's counters and online maps.
const (
	userPrefix    = "user>>>"
	inboundPrefix = "inbound>>>"
	uplinkSuffix  = ">>>traffic>>>uplink"
	downSuffix    = ">>>traffic>>>downlink"
	onlineSuffix  = ">>>online"
)

// Usage reads and resets the core's counters and returns the bytes
// counted since the last call, up and down, by email and by inbound tag;
// subjects that moved nothing are left out. Each read is an atomic swap
// with zero, so a byte counted while Usage runs lands in the next call,
// never in two and never in none.
//
// Counters of emails that the core no longer serves are dropped after
// the read, so that a deleted client's counters do not pile up.
func (c *Core) Usage() (clients, inbounds map[string][2]int64) {
	c.mu.Lock()
	clients = make(map[string][2]int64, len(c.placed))
	c.mu.Unlock()
	inbounds = map[string][2]int64{}
	c.stats.VisitCounters(func(name string, ctr featstats.Counter) bool {
		switch {
		case strings.HasPrefix(name, userPrefix):
			addTo(clients, name, userPrefix, ctr.Set(0))
		case strings.HasPrefix(name, inboundPrefix):
			addTo(inbounds, name, inboundPrefix, ctr.Set(0))
		}
		return true
	})
	c.dropStale(clients)
	maps.DeleteFunc(clients, idle)
	maps.DeleteFunc(inbounds, idle)
	return clients, inbounds
}

// idle reports whether a subject moved no bytes.
func idle(_ string, d [2]int64) bool { return d == [2]int64{} }

// addTo adds n to the uplink or downlink of the subject a counter name
// carries between prefix and its suffix.
func addTo(m map[string][2]int64, name, prefix string, n int64) {
	rest := strings.TrimPrefix(name, prefix)
	if subject, ok := strings.CutSuffix(rest, uplinkSuffix); ok {
		d := m[subject]
		d[0] += n
		m[subject] = d
	} else if subject, ok := strings.CutSuffix(rest, downSuffix); ok {
		d := m[subject]
		d[1] += n
		m[subject] = d
	}
}

// dropStale unregisters the counters and online maps of emails no
// running inbound holds any more.
func (c *Core) dropStale(seen map[string][2]int64) {
	c.mu.Lock()
	held := make(map[string]bool, len(c.placed))
	for _, p := range c.placed {
		if p.held > 0 {
			held[strings.ToLower(p.email)] = true
		}
	}
	c.mu.Unlock()
	for email := range seen {
		if held[strings.ToLower(email)] {
			continue
		}
		c.stats.UnregisterCounter(userPrefix + email + uplinkSuffix)
		c.stats.UnregisterCounter(userPrefix + email + downSuffix)
		c.stats.UnregisterOnlineMap(userPrefix + email + onlineSuffix)
	}
}

// Live returns, by lower-cased email, the source IPs of each user's
// live connections and the IPs its IP limit recently refused.
func (c *Core) Live() map[string]Live {
	return c.tracker.Snapshot()
}
