package xray

// Test harness: real Xray instances in this process, talking over
// 127.0.0.x only.
//
// A test starts an HTTP backend, a server instance with one inbound and
// its users, and one client instance per user and source address. The
// client is a dokodemo-door on 127.0.0.1 that forwards every accepted
// connection through the server to the backend, leaving from the chosen
// source address (127.0.0.2, 127.0.0.3, ...). So a plain HTTP GET to the
// client's address is one proxied connection of that user from that IP:
//
//	app --GET--> client (dokodemo) --proto, from via--> server --> backend
//
// Instances are built one at a time: core.New sets process-wide state
// (the system dialer), and parallel builds race on it.

import (
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/xpanel/xpanel/xray/xraytest"
	"github.com/xtls/xray-core/app/dispatcher"
	"github.com/xtls/xray-core/app/policy"
	"github.com/xtls/xray-core/app/proxyman"
	_ "github.com/xtls/xray-core/app/proxyman/inbound"
	_ "github.com/xtls/xray-core/app/proxyman/outbound"
	"github.com/xtls/xray-core/app/stats"
	clog "github.com/xtls/xray-core/common/log"
	xnet "github.com/xtls/xray-core/common/net"
	"github.com/xtls/xray-core/common/protocol"
	"github.com/xtls/xray-core/common/serial"
	"github.com/xtls/xray-core/core"
	"github.com/xtls/xray-core/proxy/freedom"
	"github.com/xtls/xray-core/proxy/shadowsocks"
	"github.com/xtls/xray-core/proxy/shadowsocks_2022"
	"github.com/xtls/xray-core/proxy/trojan"
	vlessin "github.com/xtls/xray-core/proxy/vless/inbound"
	vmessin "github.com/xtls/xray-core/proxy/vmess/inbound"
	"google.golang.org/protobuf/proto"
)

// Protocols the harness serves and speaks.
const (
	protoVLESS       = xraytest.VLESS
	protoVMess       = xraytest.VMess
	protoTrojan      = xraytest.Trojan
	protoShadowsocks = xraytest.Shadowsocks // aes-128-gcm
	protoSS2022      = xraytest.SS2022      // 2022-blake3-aes-128-gcm, multi-user
)

// ss2022Method is the one Shadowsocks 2022 method the harness uses.
const ss2022Method = "2022-blake3-aes-128-gcm"

// testUser is one proxy user of a test server.
type testUser struct {
	Email string
	// Secret is the uuid (vless, vmess), the password (trojan,
	// shadowsocks) or the base64 16-byte key (ss2022).
	Secret string
}

// newTestUser makes a user with fresh credentials fit for the protocol.
func newTestUser(protocol, email string) testUser {
	switch protocol {
	case protoVLESS, protoVMess:
		return testUser{Email: email, Secret: uuid.NewString()}
	case protoSS2022:
		return testUser{Email: email, Secret: newSS2022Key()}
	}
	return testUser{Email: email, Secret: rand.Text()}
}

// newSS2022Key makes a base64 key for 2022-blake3-aes-128-gcm.
func newSS2022Key() string {
	return base64.StdEncoding.EncodeToString([]byte(rand.Text())[:16])
}

// endpoint is the user on a server of the protocol, as a client sees it.
func (u testUser) endpoint(kind string) xraytest.Endpoint {
	return xraytest.Endpoint{Protocol: kind, Email: u.Email, Secret: u.Secret}
}

// coreUser is the user as the core's user message, at level 0.
func (u testUser) coreUser(kind string) *protocol.User {
	return u.endpoint(kind).User()
}

// testServer is a running server instance with a Tracker and one inbound
// on 127.0.0.1, whose per-user counters and online maps are on.
type testServer struct {
	Inst     *core.Instance
	Tracker  *Tracker
	Protocol string
	Tag      string // the inbound's tag
	Port     int    // the inbound's port on 127.0.0.1
	Key      string // the ss2022 server key; empty for other protocols
}

// startTestServer starts a server for the protocol with the users. It
// cuts every connection and closes when the test ends.
func startTestServer(t testing.TB, protocol string, users ...testUser) *testServer {
	t.Helper()
	s := &testServer{Protocol: protocol, Tag: protocol + "-in", Port: freePort(t)}
	if protocol == protoSS2022 {
		s.Key = newSS2022Key()
	}
	cfg := testServerConfig(s, users)
	withTracker(cfg)
	s.Inst = startTestInstance(t, cfg)
	s.Tracker = trackerOf(s.Inst)
	if s.Tracker == nil {
		t.Fatal("server instance has no tracker")
	}
	return s
}

// testServerConfig is the server's config for s, without the Tracker.
// Tests that need more (another inbound, a router) can build on it.
func testServerConfig(s *testServer, users []testUser) *core.Config {
	userStats := &policy.Policy_Stats{UserUplink: true, UserDownlink: true, UserOnline: true}
	return &core.Config{
		App: []*serial.TypedMessage{
			serial.ToTypedMessage(&dispatcher.Config{}),
			serial.ToTypedMessage(&proxyman.InboundConfig{}),
			serial.ToTypedMessage(&proxyman.OutboundConfig{}),
			serial.ToTypedMessage(&stats.Config{}),
			serial.ToTypedMessage(&policy.Config{
				Level: map[uint32]*policy.Policy{0: {Stats: userStats}},
				System: &policy.SystemPolicy{Stats: &policy.SystemPolicy_Stats{
					InboundUplink: true, InboundDownlink: true}},
			}),
		},
		Inbound: []*core.InboundHandlerConfig{{
			Tag:              s.Tag,
			ReceiverSettings: serial.ToTypedMessage(xraytest.LoopbackReceiver(s.Port)),
			ProxySettings:    serial.ToTypedMessage(serverSettings(s, users)),
		}},
		Outbound: []*core.OutboundHandlerConfig{{
			Tag: "direct", ProxySettings: serial.ToTypedMessage(&freedom.Config{})}},
	}
}

// serverSettings is the server inbound's proxy config with the users.
func serverSettings(s *testServer, users []testUser) proto.Message {
	var pu []*protocol.User
	for _, u := range users {
		pu = append(pu, u.coreUser(s.Protocol))
	}
	tcpUDP := []xnet.Network{xnet.Network_TCP, xnet.Network_UDP}

	switch s.Protocol {
	case protoVLESS:
		return &vlessin.Config{Clients: pu, Decryption: "none"}
	case protoVMess:
		return &vmessin.Config{User: pu}
	case protoTrojan:
		return &trojan.ServerConfig{Users: pu}
	case protoShadowsocks:
		return &shadowsocks.ServerConfig{Users: pu, Network: tcpUDP}
	case protoSS2022:
		return &shadowsocks_2022.MultiUserServerConfig{
			Method: ss2022Method, Key: s.Key, Users: pu, Network: tcpUDP}
	}
	panic("harness: unknown protocol " + s.Protocol)
}

// The client side of the harness lives in xraytest, shared with the
// end-to-end tests of the whole server.
type (
	testClient  = xraytest.Client
	testBackend = xraytest.Backend
	download    = xraytest.Download
)

const (
	fastPath  = xraytest.FastPath
	fastSize  = xraytest.FastSize
	slowChunk = xraytest.SlowChunk
)

var (
	slowPath         = xraytest.SlowPath
	startTestBackend = xraytest.StartBackend
	freePort         = xraytest.FreePort
	eventually       = xraytest.Eventually
)

// startTestClient starts a client for user on srv that sends from via
// and delivers to target (host:port, e.g. a backend's Addr).
func startTestClient(t testing.TB, srv *testServer, user testUser,
	via, target string) *testClient {
	t.Helper()
	ep := user.endpoint(srv.Protocol)
	ep.Port, ep.ServerKey = srv.Port, srv.Key
	return xraytest.StartClient(t, ep, via, target)
}

// startTestInstance builds and starts an instance. When the test ends it
// cuts whatever the instance's Tracker still holds (the core leaves live
// connections running when it closes) and closes the instance.
func startTestInstance(t testing.TB, cfg *core.Config) *core.Instance {
	t.Helper()
	quietXrayLog()
	inst, err := xraytest.Build(cfg)
	if err != nil {
		t.Fatalf("start xray instance: %v", err)
	}
	t.Cleanup(func() {
		if tr := trackerOf(inst); tr != nil {
			tr.cutAll()
		}
		if err := inst.Close(); err != nil {
			t.Errorf("close xray instance: %v", err)
		}
	})
	return inst
}

// quietXrayLog replaces the core's default log, which prints every
// message to stdout, once per test binary. Set XPANEL_TEST_XRAY_LOG to
// a level (debug, info, warning, error) to see the core's log on stderr.
var quietXrayLog = sync.OnceFunc(func() {
	sink := slog.New(slog.DiscardHandler)
	level := os.Getenv("XPANEL_TEST_XRAY_LOG")
	if level != "" {
		sink = slog.New(slog.NewTextHandler(os.Stderr,
			&slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := newLogBridge(sink, level)
	if err != nil {
		panic(err)
	}
	clog.RegisterHandler(b)
})
