package xray

import (
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

// counter is one of the core's counters, named after what it counts.
type counter struct {
	name string
	c    featstats.Counter
}

// Usage reads and resets the core's counters: client is called once per
// email and inbound once per inbound tag that moved bytes since the last
// call. Each read is an atomic swap with zero, so a byte counted while
// Usage runs lands in the next call, never in two and never in none.
//
// Counters of emails that the core no longer serves are dropped after
// the read, so that a deleted client's counters do not pile up.
func (c *Core) Usage(client func(email string, up, down int64), inbound func(tag string, up, down int64)) {
	var all []counter
	c.stats.VisitCounters(func(name string, ctr featstats.Counter) bool {
		all = append(all, counter{name, ctr})
		return true
	})

	users := map[string][2]int64{}
	tags := map[string][2]int64{}
	for _, ctr := range all {
		n := ctr.c.Set(0)
		switch {
		case strings.HasPrefix(ctr.name, userPrefix):
			addTo(users, ctr.name, userPrefix, n)
		case strings.HasPrefix(ctr.name, inboundPrefix):
			addTo(tags, ctr.name, inboundPrefix, n)
		}
	}
	for email, d := range users {
		if d[0] != 0 || d[1] != 0 {
			client(email, d[0], d[1])
		}
	}
	for tag, d := range tags {
		if d[0] != 0 || d[1] != 0 {
			inbound(tag, d[0], d[1])
		}
	}
	c.dropStale(users)
}

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
	held := map[string]bool{}
	for _, r := range c.running {
		for _, u := range r.users {
			held[strings.ToLower(u.email)] = true
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

// Connections returns the source addresses of the live connections of
// every connected email, lower-cased as the core keys users.
func (c *Core) Connections() map[string][]string {
	out := map[string][]string{}
	for email := range c.tracker.Online() {
		out[email] = c.tracker.IPs(email)
	}
	return out
}

