package xray

import (
	"maps"
	"strings"

	featstats "github.com/xtls/xray-core/features/stats"

	"github.com/xpanel/xpanel/kv"
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
func (c *Core) Usage() (clients, inbounds map[string]kv.UsageDelta) {
	c.mu.Lock()
	clients = make(map[string]kv.UsageDelta, len(c.placed))
	sweep, moves := c.held.set == nil || c.held.swept != c.moves, c.moves
	c.mu.Unlock()
	inbounds = map[string]kv.UsageDelta{}
	c.stats.VisitCounters(func(name string, ctr featstats.Counter) bool {
		n := ctr.Set(0)
		switch {
		case n == 0 && !sweep:
		case strings.HasPrefix(name, userPrefix):
			addTo(clients, name, userPrefix, n)
		case strings.HasPrefix(name, inboundPrefix):
			addTo(inbounds, name, inboundPrefix, n)
		}
		return true
	})
	if sweep {
		c.dropStale(clients, moves)
		maps.DeleteFunc(clients, idle)
		maps.DeleteFunc(inbounds, idle)
	}
	return clients, inbounds
}

// idle reports whether a subject moved no bytes.
func idle(_ string, d kv.UsageDelta) bool { return d == kv.UsageDelta{} }

// addTo adds n to the uplink or downlink of the subject a counter name
// carries between prefix and its suffix.
func addTo(m map[string]kv.UsageDelta, name, prefix string, n int64) {
	rest := strings.TrimPrefix(name, prefix)
	if subject, ok := strings.CutSuffix(rest, uplinkSuffix); ok {
		d := m[subject]
		d.Up += n
		m[subject] = d
	} else if subject, ok := strings.CutSuffix(rest, downSuffix); ok {
		d := m[subject]
		d.Down += n
		m[subject] = d
	}
}

// dropStale unregisters the counters and online maps of the emails in
// counted that no running inbound holds any more. An email stops being
// held only by a change to the core, so Usage has it look only in the
// first round after one: moves is the core's count of changes when the
// round began.
func (c *Core) dropStale(counted map[string]kv.UsageDelta, moves uint64) {
	c.mu.Lock()
	held := c.held.of(c)
	c.held.swept = moves
	c.mu.Unlock()
	for email := range counted {
		if held[strings.ToLower(email)] {
			continue
		}
		c.stats.UnregisterCounter(userPrefix + email + uplinkSuffix)
		c.stats.UnregisterCounter(userPrefix + email + downSuffix)
		c.stats.UnregisterOnlineMap(userPrefix + email + onlineSuffix)
	}
}

// heldEmails is the set of lower-cased emails that some running inbound
// holds, as of a count of the core's moves. Every poll asks for it and
// few polls follow a change, so it is rebuilt only after one.
type heldEmails struct {
	set   map[string]bool
	moves uint64 // the core's moves when set was built
	swept uint64 // the core's moves when dropStale last looked
}

// of returns the set for the core's current moves. The caller holds
// c.mu; the set returned is not modified afterwards.
func (h *heldEmails) of(c *Core) map[string]bool {
	if h.set != nil && h.moves == c.moves {
		return h.set
	}
	set := make(map[string]bool, len(c.placed))
	for _, p := range c.placed {
		if p.held > 0 {
			set[strings.ToLower(p.email)] = true
		}
	}
	h.set, h.moves = set, c.moves
	return set
}

// Live returns, by lower-cased email, the source IPs of each user's
// live connections and the IPs its IP limit recently refused.
func (c *Core) Live() map[string]Live {
	return c.tracker.Snapshot()
}
