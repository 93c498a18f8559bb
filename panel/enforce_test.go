package panel_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/panel"
)

const day = 24 * time.Hour

// fixture is a service over a real store with a clock the test moves,
// one VLESS inbound, and the events emitted so far.
type fixture struct {
	t       *testing.T
	svc     *panel.Service
	clock   time.Time
	inbound int64
	events  []panel.Event
}

func newFixture(t *testing.T, start time.Time) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: start}
	f.svc = panel.New(kvtest.Open(t), panel.Options{
		Now:      func() time.Time { return f.clock },
		OnEvent:  func(ev panel.Event) { f.events = append(f.events, ev) },
		Location: time.UTC,
	})
	on := true
	in, err := f.svc.AddInbound(&panel.InboundInput{
		Remark: "v", Enable: &on, Port: 4433, Protocol: "vless",
		Settings: json.RawMessage(`{"decryption":"none"}`),
	})
	if err != nil {
		t.Fatalf("add inbound: %v", err)
	}
	f.inbound = in.ID
	return f
}

// add creates a client on the inbound; set fills in its fields.
func (f *fixture) add(email string, set func(in *panel.ClientInput)) {
	f.t.Helper()
	on := true
	in := panel.ClientInput{Email: &email, Enable: &on}
	if set != nil {
		set(&in)
	}
	if err := f.svc.AddClient(&panel.AddRequest{Client: in, InboundIDs: []int64{f.inbound}}); err != nil {
		f.t.Fatalf("add %s: %v", email, err)
	}
}

func (f *fixture) use(email string, up, down int64) {
	f.t.Helper()
	if err := f.svc.UpdateTraffic(email, up, down); err != nil {
		f.t.Fatalf("set usage of %s: %v", email, err)
	}
}

func (f *fixture) enforce() {
	f.t.Helper()
	if err := f.svc.Enforce(); err != nil {
		f.t.Fatalf("enforce: %v", err)
	}
}

// get returns a client's record and usage row.
func (f *fixture) get(email string) (kv.Client, kv.Traffic) {
	f.t.Helper()
	var c kv.Client
	var t kv.Traffic
	f.svc.View(func(v *kv.View) error {
		if cl := v.ClientByEmail(email); cl != nil {
			c = *cl
		}
		if tr := v.Traffic(email); tr != nil {
			t = *tr
		}
		return nil
	})
	return c, t
}

// kinds lists the kinds of the events emitted for email.
func (f *fixture) kinds(email string) []panel.EventKind {
	var out []panel.EventKind
	for _, ev := range f.events {
		if ev.Email == email {
			out = append(out, ev.Kind)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

var april20 = time.Date(2026, 4, 20, 12, 0, 0, 0, time.UTC)

func TestService_EnforceRenews(t *testing.T) {
	t.Run("interval", func(t *testing.T) {
		f := newFixture(t, april20)
		expiry := april20.Add(-time.Hour).UnixMilli()
		f.add("a", func(in *panel.ClientInput) {
			in.Reset, in.ExpiryTime, in.TotalGB = ptr(30), ptr(expiry), ptr(int64(1000))
		})
		f.use("a", 600, 600)
		f.enforce()

		c, tr := f.get("a")
		if want := expiry + 30*day.Milliseconds(); c.ExpiryTime != want {
			t.Errorf("expiry = %d, want %d", c.ExpiryTime, want)
		}
		if !c.Enable || !tr.Enable || tr.Used() != 0 || tr.ResetCount != 1 {
			t.Errorf("after renewal client enable=%v, row %+v; want enabled, zero, count 1",
				c.Enable, tr)
		}
		if got := f.kinds("a"); !slices.Equal(got, []panel.EventKind{panel.EventRenewed}) {
			t.Errorf("events = %v", got)
		}
	})

	t.Run("calendar day", func(t *testing.T) {
		f := newFixture(t, april20)
		expiry := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC).UnixMilli()
		f.add("a", func(in *panel.ClientInput) { in.ResetDay, in.ExpiryTime = ptr(15), ptr(expiry) })
		f.enforce()

		c, tr := f.get("a")
		want := time.Date(2026, 5, 15, 0, 0, 0, 0, time.UTC).UnixMilli()
		if c.ExpiryTime != want || tr.ResetCount != 3 {
			t.Errorf("expiry %v count %d, want %v after 3 periods",
				time.UnixMilli(c.ExpiryTime).UTC(), tr.ResetCount, time.UnixMilli(want).UTC())
		}
	})

	t.Run("day clamped to a short month", func(t *testing.T) {
		f := newFixture(t, time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC))
		expiry := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC).UnixMilli()
		f.add("a", func(in *panel.ClientInput) { in.ResetDay, in.ExpiryTime = ptr(31), ptr(expiry) })
		f.enforce()

		c, _ := f.get("a")
		if want := time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC).UnixMilli(); c.ExpiryTime != want {
			t.Errorf("expiry = %v, want the last day of February", time.UnixMilli(c.ExpiryTime).UTC())
		}
	})

	t.Run("cap runs out while still expired", func(t *testing.T) {
		f := newFixture(t, april20)
		expiry := april20.Add(-3 * day).UnixMilli()
		f.add("a", func(in *panel.ClientInput) {
			in.Reset, in.ResetMax, in.ExpiryTime = ptr(1), ptr(1), ptr(expiry)
		})
		f.enforce()

		c, tr := f.get("a")
		if c.ExpiryTime != expiry+day.Milliseconds() || tr.ResetCount != 1 {
			t.Errorf("expiry %d count %d, want one period granted", c.ExpiryTime, tr.ResetCount)
		}
		if c.Enable || tr.Enable {
			t.Errorf("a client whose renewals ran out is still enabled")
		}
		if got := f.kinds("a"); !slices.Equal(got, []panel.EventKind{panel.EventExpired}) {
			t.Errorf("events = %v, want only expired", got)
		}
	})
}

func TestService_EnforceDisablesSpent(t *testing.T) {
	f := newFixture(t, april20)
	f.add("quota", func(in *panel.ClientInput) { in.TotalGB = ptr(int64(1000)) })
	f.add("expiry", func(in *panel.ClientInput) {
		in.ExpiryTime = ptr(april20.Add(-time.Minute).UnixMilli())
	})
	f.add("fine", func(in *panel.ClientInput) { in.TotalGB = ptr(int64(1000)) })
	f.add("delayed", func(in *panel.ClientInput) { in.ExpiryTime = ptr(-day.Milliseconds()) })
	f.use("quota", 400, 600)
	f.use("fine", 400, 500)
	f.enforce()

	for email, want := range map[string]bool{"quota": false, "expiry": false, "fine": true, "delayed": true} {
		c, tr := f.get(email)
		if c.Enable != want || tr.Enable != want {
			t.Errorf("%s: enable record=%v row=%v, want %v", email, c.Enable, tr.Enable, want)
		}
	}
	if got := f.kinds("quota"); !slices.Equal(got, []panel.EventKind{panel.EventDepleted}) {
		t.Errorf("quota events = %v", got)
	}
	if got := f.kinds("expiry"); !slices.Equal(got, []panel.EventKind{panel.EventExpired}) {
		t.Errorf("expiry events = %v", got)
	}

	f.events = nil
	f.enforce()
	if len(f.events) != 0 {
		t.Errorf("a second round emitted %v; disabled clients must not be disabled again", f.events)
	}
}

func TestService_EnforcePeriodicReset(t *testing.T) {
	f := newFixture(t, april20)
	f.add("daily", func(in *panel.ClientInput) { in.TrafficReset = ptr("daily") })
	f.add("manual", func(in *panel.ClientInput) { in.TrafficReset = ptr("daily") })
	f.add("never", nil)
	for _, e := range []string{"daily", "manual", "never"} {
		f.use(e, 10, 20)
	}
	if err := f.svc.UpdateClient("manual", &panel.ClientInput{Enable: ptr(false)}); err != nil {
		t.Fatal(err)
	}

	f.enforce()
	if _, tr := f.get("daily"); tr.Used() != 30 {
		t.Fatalf("the first round reset usage to %d; it must only note the period", tr.Used())
	}

	f.clock = f.clock.Add(day)
	f.enforce()
	want := map[string]int64{"daily": 0, "manual": 30, "never": 30}
	for email, used := range want {
		if _, tr := f.get(email); tr.Used() != used {
			t.Errorf("%s: used %d after a day, want %d", email, tr.Used(), used)
		}
	}
	if c, _ := f.get("manual"); c.Enable {
		t.Errorf("a reset enabled a client disabled by hand")
	}

	f.use("daily", 5, 5)
	f.clock = f.clock.Add(time.Hour)
	f.enforce()
	if _, tr := f.get("daily"); tr.Used() != 10 {
		t.Errorf("reset ran twice in one day: used %d, want 10", tr.Used())
	}
}

func TestService_RecordUsage(t *testing.T) {
	f := newFixture(t, april20)
	f.add("Mixed@Case", func(in *panel.ClientInput) { in.ExpiryTime = ptr(-2 * day.Milliseconds()) })

	u := &panel.Usage{
		Clients:  map[string]panel.Delta{"Mixed@Case": {Up: 10, Down: 90}, "ghost": {Up: 1}},
		Inbounds: map[string]panel.Delta{"no-such-tag": {Up: 1}},
		Live: map[string]panel.LiveUser{"mixed@case": {
			IPs: []string{"10.0.0.1"}, Refused: map[string]int64{"10.0.0.9": april20.Unix() - 5}}},
	}
	if err := f.svc.RecordUsage(u); err != nil {
		t.Fatal(err)
	}
	if len(u.Clients) != 0 || len(u.Inbounds) != 0 {
		t.Errorf("committed usage left behind: %+v", u)
	}

	c, tr := f.get("Mixed@Case")
	if tr.Up != 10 || tr.Down != 90 || tr.LastOnline != april20.UnixMilli() {
		t.Errorf("row = %+v", tr)
	}
	if want := april20.Add(2 * day).UnixMilli(); c.ExpiryTime != want {
		t.Errorf("delayed start expiry = %d, want %d", c.ExpiryTime, want)
	}
	var ips []kv.IPEntry
	f.svc.View(func(v *kv.View) error { ips = v.IPs("Mixed@Case"); return nil })
	want := []kv.IPEntry{{IP: "10.0.0.1", Timestamp: april20.Unix()},
		{IP: "10.0.0.9", Timestamp: april20.Unix() - 5, Refused: true}}
	if !slices.Equal(ips, want) {
		t.Errorf("ips = %+v, want %+v", ips, want)
	}
	if got := f.kinds("Mixed@Case"); !slices.Equal(got, []panel.EventKind{panel.EventStarted}) {
		t.Errorf("events = %v", got)
	}
}

// TestService_RecordLiveRestamps rewrites an address list when its
// addresses change, but a live address's stamp only once it has aged
// past a minute or two, not on every poll.
func TestService_RecordLiveRestamps(t *testing.T) {
	f := newFixture(t, april20)
	f.add("a", nil)
	seen := func(ips ...string) {
		t.Helper()
		u := &panel.Usage{Live: map[string]panel.LiveUser{"a": {IPs: ips}}}
		if err := f.svc.RecordUsage(u); err != nil {
			t.Fatal(err)
		}
	}
	stamps := func() map[string]int64 { return f.ipStamps("a") }

	seen("10.0.0.1")
	f.clock = april20.Add(30 * time.Second)
	seen("10.0.0.1")
	if got := stamps(); !maps.Equal(got, map[string]int64{"10.0.0.1": 0}) {
		t.Errorf("after 30 s the stamps are %v, want the first one kept", got)
	}

	f.clock = april20.Add(40 * time.Second)
	seen("10.0.0.1", "10.0.0.2")
	if got := stamps(); !maps.Equal(got, map[string]int64{"10.0.0.1": 40, "10.0.0.2": 40}) {
		t.Errorf("a new address left the stamps %v, want both at 40 s", got)
	}

	f.clock = april20.Add(40*time.Second + 2*time.Minute)
	seen("10.0.0.1")
	if got := stamps(); got["10.0.0.1"] != 160 {
		t.Errorf("after two minutes the stamps are %v, want 10.0.0.1 at 160 s", got)
	}
}

// ipStamps returns the stored addresses of email, each with its stamp in
// seconds after april20.
func (f *fixture) ipStamps(email string) map[string]int64 {
	out := map[string]int64{}
	f.svc.View(func(v *kv.View) error {
		for _, e := range v.IPs(email) {
			out[e.IP] = e.Timestamp - april20.Unix()
		}
		return nil
	})
	return out
}
