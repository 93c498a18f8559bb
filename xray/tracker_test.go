package xray

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xtls/xray-core/app/dispatcher"
	"github.com/xtls/xray-core/app/proxyman"
	"github.com/xtls/xray-core/app/stats"
	"github.com/xtls/xray-core/common/serial"
	"github.com/xtls/xray-core/core"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// trackerProtocols are the inbounds the Tracker is proven on.
var trackerProtocols = []string{protoVLESS, protoVMess, protoTrojan, protoSS2022}

// The users of a tracker fixture. Alice's email is configured in mixed
// case; the Tracker is asked about her in lower case or yet another case.
const (
	aliceEmail = "alice@example.com"
	bobEmail   = "bob@example.com"
)

// Source addresses of the clients.
const (
	viaA = "127.0.0.2"
	viaB = "127.0.0.3"
)

// refuseWait bounds a GET expected to be refused. Most clients see the
// reset at once; the ss2022 client only stalls. An admitted GET takes a
// few milliseconds, and the tests check the refusal in the Tracker too.
const refuseWait = 500 * time.Millisecond

// cutWait bounds how long a cut download takes to end, and startWait
// how long a download takes to deliver its first bytes. Both are far
// above what an idle machine needs: a loaded one (CI's two cores under
// -race) may stall a goroutine for a second. Whether a download was cut
// is told by its error and its bytes, not by its speed.
const (
	cutWait   = 5 * time.Second
	startWait = 10 * time.Second
)

// trackerFixture is a server with alice and bob on one inbound, a
// backend, and clients made on demand.
type trackerFixture struct {
	t          *testing.T
	srv        *testServer
	tr         *Tracker
	backend    *testBackend
	alice, bob testUser
	clients    map[string]*testClient // by email and source address
}

func newTrackerFixture(t *testing.T, protocol string) *trackerFixture {
	t.Helper()
	f := &trackerFixture{
		t:       t,
		backend: startTestBackend(t),
		alice:   newTestUser(protocol, "Alice@Example.COM"),
		bob:     newTestUser(protocol, bobEmail),
		clients: map[string]*testClient{},
	}
	f.srv = startTestServer(t, protocol, f.alice, f.bob)
	f.tr = f.srv.Tracker
	return f
}

// client returns the client of user u sending from via.
func (f *trackerFixture) client(u testUser, via string) *testClient {
	f.t.Helper()
	key := u.Email + " " + via
	if c := f.clients[key]; c != nil {
		return c
	}
	c := startTestClient(f.t, f.srv, u, via, f.backend.Addr)
	f.clients[key] = c
	return c
}

// assertIPs checks the Tracker's IPs of a user, in order.
func (f *trackerFixture) assertIPs(email string, want ...string) {
	f.t.Helper()
	if got := f.tr.IPs(email); !slices.Equal(got, want) {
		f.t.Errorf("IPs(%s) = %v, want %v", email, got, want)
	}
}

// assertCutOff checks that a download cut at cutAt gets no more data:
// at most what was in flight arrives after the cut. Where the client
// passes the reset on, the application also sees the download fail
// within cutWait. The xray ss2022 client never passes it on (its
// application only stalls), so there only the data is checked; later
// is a moment well after the cut, e.g. when another download ended.
func (f *trackerFixture) assertCutOff(d *download, atCut int64, cutAt, later time.Time) {
	f.t.Helper()
	full := int64(slowChunk * 30)
	if f.srv.Protocol != protoSS2022 {
		ended, err := d.Wait(f.t, cutWait)
		if err == nil {
			f.t.Errorf("cut download ended without error after %d bytes", d.Bytes())
		}
		if took := ended.Sub(cutAt); took > cutWait {
			f.t.Errorf("cut download ended %v after the cut", took)
		}
	}
	if time.Since(cutAt) < 500*time.Millisecond || later.Before(cutAt) {
		f.t.Fatalf("assertCutOff called too early to tell a cut from a pause")
	}
	if got := d.Bytes(); got > atCut+2*slowChunk || got >= full {
		f.t.Errorf("cut download got %d bytes, %d at the cut", got, atCut)
	}
}

// slowDownload is 30 chunks over 1.5 s: long enough to act on it while
// it runs, short enough to wait for its end.
var slowDownload = slowPath(30, 50*time.Millisecond)

func TestTracker_Cut(t *testing.T) {
	for _, p := range trackerProtocols {
		t.Run(p, func(t *testing.T) {
			f := newTrackerFixture(t, p)
			alice := f.client(f.alice, viaA).StartDownload(t, slowDownload)
			bob := f.client(f.bob, viaB).StartDownload(t, slowDownload)
			alice.WaitBytes(t, slowChunk, startWait)
			bob.WaitBytes(t, slowChunk, startWait)

			online := f.tr.Online()
			if len(online) != 2 || !hasKey(online, aliceEmail) || !hasKey(online, bobEmail) {
				t.Fatalf("Online = %v, want alice and bob", online)
			}
			f.assertIPs(aliceEmail, viaA)

			// One download is one connection.
			if n := f.tr.Cut("ALICE@example.com"); n != 1 {
				t.Errorf("Cut = %d, want 1", n)
			}
			cutAt, atCut := time.Now(), alice.Bytes()
			if hasKey(f.tr.Online(), aliceEmail) {
				t.Error("alice still online after the cut")
			}
			f.assertIPs(aliceEmail)

			// Bob's download on the same inbound runs to its end.
			_, err := bob.Wait(t, 5*time.Second)
			if err != nil || bob.Bytes() != slowChunk*30 {
				t.Errorf("bob's download: %d bytes, err %v", bob.Bytes(), err)
			}
			f.assertCutOff(alice, atCut, cutAt, time.Now())
		})
	}
}

func TestTracker_CutInbound(t *testing.T) {
	f := newTrackerFixture(t, protoVLESS)
	alice := f.client(f.alice, viaA).StartDownload(t, slowDownload)
	bob := f.client(f.bob, viaB).StartDownload(t, slowDownload)
	alice.WaitBytes(t, slowChunk, startWait)
	bob.WaitBytes(t, slowChunk, startWait)

	if n := f.tr.CutInbound("no-such-tag"); n != 0 {
		t.Errorf("CutInbound of an unknown tag = %d, want 0", n)
	}
	if n := f.tr.CutInbound(f.srv.Tag); n != 2 {
		t.Errorf("CutInbound = %d, want 2", n)
	}
	if online := f.tr.Online(); len(online) != 0 {
		t.Errorf("Online after CutInbound = %v, want none", online)
	}
	for _, d := range []*download{alice, bob} {
		if _, err := d.Wait(t, cutWait); err == nil {
			t.Errorf("download ended without error after %d bytes", d.Bytes())
		}
	}
}

func TestTracker_SetBlocked(t *testing.T) {
	for _, p := range trackerProtocols {
		t.Run(p, func(t *testing.T) {
			f := newTrackerFixture(t, p)
			aliceA := f.client(f.alice, viaA)
			running := aliceA.StartDownload(t, slowPath(10, 50*time.Millisecond))
			running.WaitBytes(t, slowChunk, startWait)

			f.tr.SetBlocked("ALICE@EXAMPLE.com", true)
			if _, err := aliceA.Get(fastPath, refuseWait); err == nil {
				t.Fatal("a blocked user's GET went through")
			}
			f.client(f.bob, viaA).MustGet(t, fastPath)

			// The block refuses new connections only.
			if _, err := running.Wait(t, 3*time.Second); err != nil {
				t.Errorf("alice's running download, blocked meanwhile: %v", err)
			}

			f.tr.SetBlocked(aliceEmail, false)
			if body := aliceA.MustGet(t, fastPath); len(body) != fastSize {
				t.Errorf("GET after unblocking: %d bytes, want %d", len(body), fastSize)
			}
		})
	}
}

func TestTracker_SetLimit(t *testing.T) {
	for _, p := range trackerProtocols {
		t.Run(p+"/refuses_new_ip", func(t *testing.T) {
			testLimitRefusesNewIP(t, p)
		})
		t.Run(p+"/lowering_cuts_newest_ip", func(t *testing.T) {
			testLimitLoweringCutsNewest(t, p)
		})
	}
}

// testLimitRefusesNewIP: with a limit of 1 and a live connection from
// one IP, another IP is refused until the first IP's connections end.
func testLimitRefusesNewIP(t *testing.T, protocol string) {
	f := newTrackerFixture(t, protocol)
	aliceA, aliceB := f.client(f.alice, viaA), f.client(f.alice, viaB)
	if n := f.tr.SetLimit("Alice@example.com", 1); n != 0 {
		t.Errorf("SetLimit with nothing live cut %d", n)
	}
	first := aliceA.StartDownload(t, slowDownload)
	first.WaitBytes(t, slowChunk, startWait)

	before := time.Now()
	if _, err := aliceB.Get(fastPath, refuseWait); err == nil {
		t.Fatal("a second IP went through a limit of 1")
	}
	refused := f.tr.Refused(aliceEmail)
	if len(refused) != 1 || refused[0].IP != viaB || refused[0].At.Before(before) {
		t.Errorf("Refused = %v, want one refusal of %s after %v", refused, viaB, before)
	}

	// The admitted IP keeps working, and so does another user on .3.
	aliceA.MustGet(t, fastPath)
	f.client(f.bob, viaB).MustGet(t, fastPath)
	f.assertIPs(aliceEmail, viaA)
	if _, err := first.Wait(t, 5*time.Second); err != nil {
		t.Errorf("first IP's download: %v", err)
	}

	eventually(t, 5*time.Second, func() bool { return len(f.tr.IPs(aliceEmail)) == 0 })
	aliceB.MustGet(t, fastPath)

	// Without a limit there is nothing refused to report.
	f.tr.SetLimit(aliceEmail, 0)
	if refused := f.tr.Refused(aliceEmail); len(refused) != 0 {
		t.Errorf("Refused after removing the limit = %v", refused)
	}
}

// testLimitLoweringCutsNewest: lowering the limit below the IPs in use
// cuts the newest IP and keeps the oldest.
func testLimitLoweringCutsNewest(t *testing.T, protocol string) {
	f := newTrackerFixture(t, protocol)
	f.tr.SetLimit(aliceEmail, 2)
	older := f.client(f.alice, viaA).StartDownload(t, slowDownload)
	older.WaitBytes(t, slowChunk, startWait)
	newer := f.client(f.alice, viaB).StartDownload(t, slowDownload)
	newer.WaitBytes(t, slowChunk, startWait)
	f.assertIPs(aliceEmail, viaA, viaB)

	if n := f.tr.SetLimit("ALICE@example.com", 1); n != 1 {
		t.Errorf("SetLimit(1) cut %d connections, want 1", n)
	}
	cutAt, atCut := time.Now(), newer.Bytes()
	f.assertIPs(aliceEmail, viaA)

	_, err := older.Wait(t, 5*time.Second)
	if err != nil || older.Bytes() != slowChunk*30 {
		t.Errorf("older IP's download: %d bytes, err %v", older.Bytes(), err)
	}
	f.assertCutOff(newer, atCut, cutAt, time.Now())
}

func TestTracker_Reset(t *testing.T) {
	f := newTrackerFixture(t, protoVLESS)
	aliceA, aliceB := f.client(f.alice, viaA), f.client(f.alice, viaB)
	f.tr.SetLimit(aliceEmail, 1)
	f.tr.SetBlocked(bobEmail, true)
	running := aliceA.StartDownload(t, slowPath(10, 50*time.Millisecond))
	running.WaitBytes(t, slowChunk, startWait)
	if _, err := aliceB.Get(fastPath, refuseWait); err == nil {
		t.Fatal("a second IP went through a limit of 1")
	}

	f.tr.Reset()
	aliceB.MustGet(t, fastPath)
	f.client(f.bob, viaA).MustGet(t, fastPath)
	if refused := f.tr.Refused(aliceEmail); len(refused) != 1 {
		t.Errorf("Refused after Reset = %v, want the one refusal kept", refused)
	}
	if !hasKey(f.tr.Online(), aliceEmail) {
		t.Error("Reset dropped alice's live connection")
	}
}

func TestTracker_Refused(t *testing.T) {
	var u userConns
	start := time.Unix(1_700_000_000, 0)
	for i := range refusedKeep + 3 {
		u.refuse("10.0.0."+strconv.Itoa(i), start.Add(time.Duration(i)*time.Second))
	}
	u.refuse("10.0.0.5", start.Add(time.Hour))

	var ips []string
	for _, r := range u.refused {
		ips = append(ips, r.IP)
	}
	want := []string{"10.0.0.3", "10.0.0.4", "10.0.0.6", "10.0.0.7",
		"10.0.0.8", "10.0.0.9", "10.0.0.10", "10.0.0.5"}
	if !slices.Equal(ips, want) {
		t.Errorf("refused IPs = %v, want %v", ips, want)
	}
	if last := u.refused[len(u.refused)-1]; !last.At.Equal(start.Add(time.Hour)) {
		t.Errorf("a repeated refusal kept time %v", last.At)
	}
}

func TestWithTracker(t *testing.T) {
	stock := serial.ToTypedMessage(&dispatcher.Config{})
	inbounds := serial.ToTypedMessage(&proxyman.InboundConfig{})
	counters := serial.ToTypedMessage(&stats.Config{})
	tracker := serial.ToTypedMessage(trackerConfig.New().Interface())

	tests := []struct {
		name string
		app  []*serial.TypedMessage
		want []string
	}{
		{"replaces the stock dispatcher in place",
			[]*serial.TypedMessage{inbounds, stock, counters},
			[]string{inbounds.Type, trackerConfigName, counters.Type}},
		{"appends without a stock dispatcher",
			[]*serial.TypedMessage{inbounds},
			[]string{inbounds.Type, trackerConfigName}},
		{"leaves one tracker for two stock dispatchers",
			[]*serial.TypedMessage{stock, inbounds, stock},
			[]string{trackerConfigName, inbounds.Type}},
		{"keeps a config that has the tracker",
			[]*serial.TypedMessage{tracker, inbounds},
			[]string{trackerConfigName, inbounds.Type}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &core.Config{App: slices.Clone(tt.app)}
			withTracker(cfg)
			var got []string
			for _, app := range cfg.App {
				got = append(got, app.Type)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("App = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTrackerOf(t *testing.T) {
	app := []*serial.TypedMessage{
		serial.ToTypedMessage(&dispatcher.Config{}),
		serial.ToTypedMessage(&proxyman.InboundConfig{}),
		serial.ToTypedMessage(&proxyman.OutboundConfig{}),
	}
	plain := startTestInstance(t, &core.Config{App: slices.Clone(app)})
	if tr := trackerOf(plain); tr != nil {
		t.Error("trackerOf an instance built without the tracker is not nil")
	}

	cfg := &core.Config{App: slices.Clone(app)}
	withTracker(cfg)
	if tr := trackerOf(startTestInstance(t, cfg)); tr == nil {
		t.Error("trackerOf an instance built with the tracker is nil")
	}
}

func TestTracker_createTrackerRefusesOtherMessages(t *testing.T) {
	other, err := otherDynamicMessage()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createTracker(t.Context(), other); err == nil {
		t.Error("createTracker accepted a dynamic message that is not its own")
	}
	if _, err := createTracker(t.Context(), &emptypb.Empty{}); err == nil {
		t.Error("createTracker accepted a generated message")
	}
}

// otherDynamicMessage is a dynamic message of another full name than
// the Tracker's.
func otherDynamicMessage() (*dynamicpb.Message, error) {
	file := &descriptorpb.FileDescriptorProto{
		Name:        proto.String("xpanel/xray/other_test.proto"),
		Package:     proto.String("xpanel.xraytest"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Other")}},
	}
	fd, err := protodesc.NewFile(file, new(protoregistry.Files))
	if err != nil {
		return nil, err
	}
	return dynamicpb.NewMessage(fd.Messages().Get(0)), nil
}

func hasKey(m map[string]struct{}, k string) bool {
	_, ok := m[k]
	return ok
}
