package xray

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/panel"
	"github.com/xpanel/xpanel/xray/xraytest"
	featstats "github.com/xtls/xray-core/features/stats"
)

// coreFixture is a store with inbounds and clients, operated through
// the panel's operations, and a core following it.
type coreFixture struct {
	tb       testing.TB
	store    *kv.Store
	svc      *panel.Service
	core     *Core
	inbounds []*kv.Inbound
}

// newCoreFixture makes a store with one inbound per protocol given (on
// free ports of 127.0.0.1) and n clients attached to each, then starts
// a core from it.
func newCoreFixture(tb testing.TB, n int, protocols ...string) *coreFixture {
	tb.Helper()
	quietXrayLog()
	f := &coreFixture{tb: tb, store: kvtest.Open(tb)}
	f.svc = panel.New(f.store, panel.Options{})
	for _, p := range protocols {
		f.inbounds = append(f.inbounds, f.addInbound(p))
	}
	f.seed(n)
	f.start()
	return f
}

// start starts the core from the store and makes it follow the store.
func (f *coreFixture) start() time.Duration {
	f.tb.Helper()
	began := time.Now()
	err := f.store.View(func(v *kv.View) error {
		var err error
		f.core, err = Start(v, Options{})
		return err
	})
	took := time.Since(began)
	if err != nil {
		f.tb.Fatalf("start core: %v", err)
	}
	f.store.SetFollower(f.core)
	f.tb.Cleanup(func() {
		f.store.SetFollower(nil)
		f.core.Close()
	})
	return took
}

func (f *coreFixture) addInbound(protocol string) *kv.Inbound {
	f.tb.Helper()
	settings := map[string]any{}
	switch protocol {
	case protoVLESS:
		settings["decryption"] = "none"
	case protoSS2022:
		protocol = "shadowsocks"
		settings["method"], settings["password"] = ss2022Method, newSS2022Key()
	case protoShadowsocks:
		settings["method"] = "aes-128-gcm"
	}
	raw, _ := json.Marshal(settings)
	enable := true
	in, err := f.svc.AddInbound(&panel.InboundInput{
		Remark: protocol, Enable: &enable, Listen: "127.0.0.1",
		Port: xraytest.FreePort(f.tb), Protocol: protocol, Settings: raw,
		StreamSettings: json.RawMessage(`{"network":"tcp","security":"none"}`),
	})
	if err != nil {
		f.tb.Fatalf("add %s inbound: %v", protocol, err)
	}
	return in
}

// seed adds n clients, user0 ... user(n-1), to every inbound.
func (f *coreFixture) seed(n int) {
	f.tb.Helper()
	var ids []int64
	for _, in := range f.inbounds {
		ids = append(ids, in.ID)
	}
	const chunk = 5000
	for start := 0; start < n; start += chunk {
		var items []panel.AddRequest
		for i := start; i < min(start+chunk, n); i++ {
			email, on := "user"+strconv.Itoa(i), true
			items = append(items, panel.AddRequest{
				Client:     panel.ClientInput{Email: &email, Enable: &on},
				InboundIDs: ids,
			})
		}
		res, err := f.svc.BulkCreate(items)
		if err != nil || len(res.Skipped) > 0 {
			f.tb.Fatalf("seed clients: %v %+v", err, res.Skipped)
		}
	}
}

// setEnabled enables or disables a client through the operations.
func (f *coreFixture) setEnabled(email string, on bool) {
	f.tb.Helper()
	if err := f.svc.UpdateClient(email, &panel.ClientInput{Enable: &on}); err != nil {
		f.tb.Fatalf("set %s enabled=%v: %v", email, on, err)
	}
}

// users returns the emails the core holds on an inbound, sorted.
func (f *coreFixture) users(in *kv.Inbound) []string {
	f.tb.Helper()
	um, err := f.core.userManager(in.Tag)
	if err != nil {
		f.tb.Fatalf("user manager of %s: %v", in.Tag, err)
	}
	var out []string
	for _, u := range um.GetUsers(context.Background()) {
		out = append(out, u.Email)
	}
	slices.Sort(out)
	return out
}

func TestCore_FollowsClientChanges(t *testing.T) {
	for _, protocol := range []string{protoVLESS, protoVMess, protoTrojan, protoShadowsocks, protoSS2022} {
		t.Run(protocol, func(t *testing.T) {
			f := newCoreFixture(t, 3, protocol)
			in := f.inbounds[0]
			if got := f.users(in); !slices.Equal(got, []string{"user0", "user1", "user2"}) {
				t.Fatalf("users at start = %v", got)
			}

			f.setEnabled("user1", false)
			if got := f.users(in); !slices.Equal(got, []string{"user0", "user2"}) {
				t.Errorf("users after disabling user1 = %v", got)
			}
			f.setEnabled("user1", true)
			if got := f.users(in); !slices.Equal(got, []string{"user0", "user1", "user2"}) {
				t.Errorf("users after enabling user1 again = %v", got)
			}
			if err := f.svc.DeleteClient("user2", false); err != nil {
				t.Fatal(err)
			}
			if got := f.users(in); !slices.Equal(got, []string{"user0", "user1"}) {
				t.Errorf("users after deleting user2 = %v", got)
			}
		})
	}
}

func TestCore_StartSkipsSpentClients(t *testing.T) {
	f := newCoreFixture(t, 3, protoVLESS)
	past := time.Now().Add(-time.Hour).UnixMilli()
	if err := f.svc.UpdateClient("user0", &panel.ClientInput{ExpiryTime: &past}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Enforce(); err != nil {
		t.Fatal(err)
	}
	f.store.SetFollower(nil)
	f.core.Close()

	f.start()
	if got := f.users(f.inbounds[0]); !slices.Equal(got, []string{"user1", "user2"}) {
		t.Errorf("users of a core started after user0 expired = %v", got)
	}
}

func TestCore_UsageUnregistersRemovedUsers(t *testing.T) {
	f := newCoreFixture(t, 2, protoVLESS)
	up := userPrefix + "user0" + uplinkSuffix
	if _, err := f.core.stats.RegisterCounter(up); err != nil {
		t.Fatal(err)
	}
	f.core.stats.GetCounter(up).Add(100)

	if err := f.svc.DeleteClient("user0", false); err != nil {
		t.Fatal(err)
	}
	clients, _ := f.core.Usage()
	if got := clients["user0"]; got != (kv.UsageDelta{Up: 100}) {
		t.Errorf("usage of the deleted user = %v, want its last 100 bytes up", got)
	}
	if f.core.stats.GetCounter(up) != nil {
		t.Errorf("counter of a deleted user is still registered after its last read")
	}
}

// TestCore_UsageRegistersInSteps registers the placed clients' counters
// a bounded number per read, and a counter the dispatcher registered
// first loses none of its bytes meanwhile.
func TestCore_UsageRegistersInSteps(t *testing.T) {
	defer func(n int) { countersPerUsage = n }(countersPerUsage)
	countersPerUsage = 2
	f := newCoreFixture(t, 5, protoVLESS)
	early := userPrefix + "user4" + downSuffix
	ctr, err := f.core.stats.RegisterCounter(early)
	if err != nil {
		t.Fatal(err)
	}
	ctr.Add(50)

	registered := func() int {
		n := 0
		for i := range 5 {
			if f.core.stats.GetCounter(userPrefix+"user"+strconv.Itoa(i)+uplinkSuffix) != nil {
				n++
			}
		}
		return n
	}
	var down int64
	for read := range 3 {
		clients, _ := f.core.Usage()
		down += clients["user4"].Down
		if got, want := registered(), min(2*(read+1), 5); got != want {
			t.Errorf("after read %d, %d clients have counters, want %d", read+1, got, want)
		}
	}
	if down != 50 {
		t.Errorf("user4's early bytes read as %d, want 50", down)
	}
}

// BenchmarkCore_ClientChange disables or enables one client of a VLESS
// inbound holding 100,000 users, through the store, and reports the
// 99th percentile of the whole change: commit and core.
func BenchmarkCore_ClientChange(b *testing.B) {
	benchClientChange(b, newCoreFixture(b, 100_000, protoVLESS))
}

// BenchmarkCore_SS2022Change is one client change on a Shadowsocks 2022
// inbound of 10,000 users, which rebuilds the inbound.
func BenchmarkCore_SS2022Change(b *testing.B) {
	benchClientChange(b, newCoreFixture(b, 10_000, protoSS2022))
}

// benchClientChange toggles the first thousand clients of f in turn and
// reports the 99th percentile of one change.
func benchClientChange(b *testing.B, f *coreFixture) {
	var took []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		began := time.Now()
		f.setEnabled("user"+strconv.Itoa(i%1000), i/1000%2 == 1)
		took = append(took, time.Since(began))
	}
	reportP99(b, took)
}

// BenchmarkCore_BulkCreate adds 5,000 clients in one bulk call to a
// VLESS inbound of 100,000 users that the core follows: the commits are
// applied user by user, not by rebuilding the inbound per commit.
func BenchmarkCore_BulkCreate(b *testing.B) {
	f := newCoreFixture(b, 100_000, protoVLESS)
	ids := []int64{f.inbounds[0].ID}
	for i := 0; b.Loop(); i++ {
		items := make([]panel.AddRequest, 5000)
		for j := range items {
			email, on := "bulk"+strconv.Itoa(i)+"-"+strconv.Itoa(j), true
			items[j] = panel.AddRequest{
				Client: panel.ClientInput{Email: &email, Enable: &on}, InboundIDs: ids}
		}
		res, err := f.svc.BulkCreate(items)
		if err != nil || res.Created != len(items) {
			b.Fatalf("bulk create: %v, %d created", err, res.Created)
		}
	}
}

func reportP99(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	if len(took) > 0 {
		p99 := took[len(took)*99/100]
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkCore_Start starts a core over 100,000 clients on 4 inbounds
// and reports the heap the core holds per user, counting the traffic
// counters the first usage read registers.
func BenchmarkCore_Start(b *testing.B) {
	f := newCoreFixture(b, 100_000, protoVLESS, protoVMess, protoTrojan, protoShadowsocks)
	f.store.SetFollower(nil)
	f.core.Close()
	users := 100_000 * len(f.inbounds)

	for b.Loop() {
		before := heapInUse()
		took := f.start()
		f.core.Usage()
		b.ReportMetric(took.Seconds(), "start-s")
		b.ReportMetric(float64(heapInUse()-before)/float64(users), "heap-B/user")
		b.StopTimer()
		f.store.SetFollower(nil)
		f.core.Close()
		b.StartTimer()
	}
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// BenchmarkPoll is one round of the traffic poller over 100,000 users
// that all moved bytes both ways: read the core's counters, commit the
// usage, enforce.
func BenchmarkPoll(b *testing.B) { benchPoll(b, false) }

// BenchmarkPoll_Online is BenchmarkPoll with every user also connected
// from one address, as the core's tracker reports them.
func BenchmarkPoll_Online(b *testing.B) { benchPoll(b, true) }

func benchPoll(b *testing.B, online bool) {
	const n = 100_000
	f := newCoreFixture(b, n, protoVLESS)
	counters := make([]featstats.Counter, 0, 2*n)
	live := map[string]panel.LiveUser{}
	for i := range n {
		for _, suffix := range []string{uplinkSuffix, downSuffix} {
			c, err := f.core.stats.RegisterCounter(userPrefix + "user" + strconv.Itoa(i) + suffix)
			if err != nil {
				b.Fatal(err)
			}
			counters = append(counters, c)
		}
		if online {
			ip := "10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250)
			live["user"+strconv.Itoa(i)] = panel.LiveUser{IPs: []string{ip}}
		}
	}
	poller := panel.NewPoller(f.svc, benchMeter{f.core, live}, panel.NewSightings(time.Minute), 0)

	for b.Loop() {
		b.StopTimer()
		for _, c := range counters {
			c.Add(1)
		}
		b.StartTimer()
		if err := poller.Poll(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchMeter reads a core for the poller, as main wires it, with a fixed
// set of live connections.
type benchMeter struct {
	core *Core
	live map[string]panel.LiveUser
}

func (m benchMeter) Usage() (clients, inbounds map[string]panel.Delta) { return m.core.Usage() }
func (m benchMeter) Live() map[string]panel.LiveUser                   { return m.live }
