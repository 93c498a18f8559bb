package xray

import (
	"log/slog"

	"github.com/xtls/xray-core/app/stats"
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

// countersPerUsage bounds the clients whose counters one Usage call
// registers, so that the first call after a start does not hold the core
// for all of them (about 0.3 s at 100,000 clients). A client's counter
// the dispatcher registered first keeps counting until it is read. A
// variable for the tests only.
var countersPerUsage = 20_000

// Usage reads and resets the core's counters and returns the bytes
// counted since the last call, up and down, by email and by inbound tag;
// subjects that moved nothing are left out. Each read is an atomic swap
// with zero, so a byte counted while Usage runs lands in the next call,
// never in two and never in none.
//
// It reads the counters each placed client holds, rather than visiting
// every counter of the stats manager by name: at 100,000 users that
// visit, and the parsing of each name, was a third of a traffic poll.
func (c *Core) Usage() (clients, inbounds map[string]kv.UsageDelta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	clients = make(map[string]kv.UsageDelta, len(c.placed))
	registered := 0
	for _, p := range c.placed {
		if p.up == nil {
			if registered == countersPerUsage {
				continue // read by a later call, bytes and all
			}
			c.count(p)
			registered++
		}
		if d := (kv.UsageDelta{Up: p.up.Set(0), Down: p.down.Set(0)}); d != (kv.UsageDelta{}) {
			clients[p.email] = d
		}
	}
	for email, d := range c.leftover {
		sum := clients[email]
		sum.Up, sum.Down = sum.Up+d.Up, sum.Down+d.Down
		clients[email] = sum
	}
	clear(c.leftover)
	return clients, c.inboundUsage()
}

// inboundUsage reads and resets the counters of the running inbounds
// and of those stopped since the last call; the counters of an inbound
// that stays stopped are dropped after this last read. The caller
// holds mu.
func (c *Core) inboundUsage() map[string]kv.UsageDelta {
	out := map[string]kv.UsageDelta{}
	read := func(tag string) {
		d := kv.UsageDelta{
			Up:   swapCounter(c.stats.GetCounter(inboundPrefix + tag + uplinkSuffix)),
			Down: swapCounter(c.stats.GetCounter(inboundPrefix + tag + downSuffix)),
		}
		if d != (kv.UsageDelta{}) {
			out[tag] = d
		}
	}
	running := map[string]bool{}
	for _, r := range c.running {
		running[r.in.Tag] = true
		read(r.in.Tag)
	}
	for tag := range c.stopped {
		if !running[tag] {
			read(tag)
			c.stats.UnregisterCounter(inboundPrefix + tag + uplinkSuffix)
			c.stats.UnregisterCounter(inboundPrefix + tag + downSuffix)
		}
	}
	clear(c.stopped)
	return out
}

func swapCounter(ctr featstats.Counter) int64 {
	if ctr == nil {
		return 0
	}
	return ctr.Set(0)
}

// count gives p the counters of its email, which the core's dispatcher
// adds every connection's bytes to. The caller holds mu.
func (c *Core) count(p *placed) {
	p.up = c.counter(userPrefix + p.email + uplinkSuffix)
	p.down = c.counter(userPrefix + p.email + downSuffix)
}

// counter returns the counter of the name, registering it if the
// dispatcher has not yet.
func (c *Core) counter(name string) featstats.Counter {
	ctr, err := featstats.GetOrRegisterCounter(c.stats, name)
	if err != nil { // the dispatcher registered it in between
		ctr = c.stats.GetCounter(name)
	}
	if ctr == nil {
		c.log.Error("register traffic counter", slog.Any("err", err))
		ctr = new(stats.Counter) // counts nothing, but keeps Usage going
	}
	return ctr
}

// uncount takes a last reading of p's counters for the next Usage and
// drops them, with its email's online map, from the stats manager, so
// that a deleted or renamed client's counters do not pile up. The
// caller holds mu.
func (c *Core) uncount(p *placed) {
	up, down := p.up, p.down
	if up == nil { // not read yet, but the dispatcher may have counted
		up = c.stats.GetCounter(userPrefix + p.email + uplinkSuffix)
		down = c.stats.GetCounter(userPrefix + p.email + downSuffix)
	}
	d := c.leftover[p.email]
	d.Up, d.Down = d.Up+swapCounter(up), d.Down+swapCounter(down)
	if d != (kv.UsageDelta{}) {
		c.leftover[p.email] = d
	}
	c.stats.UnregisterCounter(userPrefix + p.email + uplinkSuffix)
	c.stats.UnregisterCounter(userPrefix + p.email + downSuffix)
	c.stats.UnregisterOnlineMap(userPrefix + p.email + onlineSuffix)
	p.up, p.down = nil, nil
}

// Live returns, by lower-cased email, the source IPs of each user's
// live connections and the IPs its IP limit recently refused.
func (c *Core) Live() map[string]Live {
	return c.tracker.Snapshot()
}
