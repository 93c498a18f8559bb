package panel_test

import (
	"maps"
	"testing"
	"time"

	"github.com/xpanel/xpanel/panel"
)

// liveMeter is a core with no traffic and the connections a test sets.
type liveMeter struct{ live map[string]panel.LiveUser }

func (m *liveMeter) Usage() (clients, inbounds map[string]panel.Delta) { return nil, nil }
func (m *liveMeter) Live() map[string]panel.LiveUser                   { return m.live }

// TestPoller_LiveUsers keeps a connected user online on every round,
// records its addresses when they change, passes over it while they do
// not, and records them again at once after the list was cleared.
func TestPoller_LiveUsers(t *testing.T) {
	f := newFixture(t, april20)
	f.add("Alice", nil)
	meter := &liveMeter{}
	seen := panel.NewSightings(15 * time.Second)
	p := panel.NewPoller(f.svc, meter, seen, 0)
	round := func(after time.Duration, ips ...string) {
		t.Helper()
		f.clock = april20.Add(after)
		meter.live = map[string]panel.LiveUser{"alice": {IPs: ips}}
		if err := p.Poll(); err != nil {
			t.Fatal(err)
		}
		if online, _ := seen.Online(); !maps.Equal(online, map[string]struct{}{"Alice": {}}) {
			t.Fatalf("online at %v = %v, want Alice", after, online)
		}
	}
	stamps := func() map[string]int64 { return f.ipStamps("Alice") }

	round(0, "10.0.0.1")
	round(10*time.Second, "10.0.0.1")
	round(20*time.Second, "10.0.0.1")
	if got := stamps(); !maps.Equal(got, map[string]int64{"10.0.0.1": 0}) {
		t.Errorf("unchanged connections restamped: %v", got)
	}
	if _, tr := f.get("Alice"); tr.LastOnline != april20.UnixMilli() {
		t.Errorf("last online = %d, want the first round's", tr.LastOnline)
	}

	round(30*time.Second, "10.0.0.1", "10.0.0.2")
	if got := stamps(); !maps.Equal(got, map[string]int64{"10.0.0.1": 30, "10.0.0.2": 30}) {
		t.Errorf("a new address left the stamps %v, want both at 30 s", got)
	}

	if err := f.svc.ClearIPs("Alice"); err != nil {
		t.Fatal(err)
	}
	round(40*time.Second, "10.0.0.1", "10.0.0.2")
	if got := stamps(); len(got) != 2 {
		t.Errorf("after clearIps the next round recorded %v, want both addresses", got)
	}

	round(40*time.Second+3*time.Minute, "10.0.0.1", "10.0.0.2")
	if got := stamps(); got["10.0.0.1"] != 220 {
		t.Errorf("three minutes on the stamps are %v, want 220 s", got)
	}
	if _, tr := f.get("Alice"); tr.LastOnline != april20.Add(220*time.Second).UnixMilli() {
		t.Errorf("last online was not moved when the mark came due")
	}
}
