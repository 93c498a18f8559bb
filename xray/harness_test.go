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
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
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
	"github.com/xtls/xray-core/proxy/dokodemo"
	"github.com/xtls/xray-core/proxy/freedom"
	"github.com/xtls/xray-core/proxy/shadowsocks"
	"github.com/xtls/xray-core/proxy/shadowsocks_2022"
	"github.com/xtls/xray-core/proxy/trojan"
	"github.com/xtls/xray-core/proxy/vless"
	vlessin "github.com/xtls/xray-core/proxy/vless/inbound"
	vlessout "github.com/xtls/xray-core/proxy/vless/outbound"
	"github.com/xtls/xray-core/proxy/vmess"
	vmessin "github.com/xtls/xray-core/proxy/vmess/inbound"
	vmessout "github.com/xtls/xray-core/proxy/vmess/outbound"
	"google.golang.org/protobuf/proto"
)

// Protocols the harness serves and speaks.
const (
	protoVLESS       = "vless"
	protoVMess       = "vmess"
	protoTrojan      = "trojan"
	protoShadowsocks = "shadowsocks" // aes-128-gcm
	protoSS2022      = "ss2022"      // 2022-blake3-aes-128-gcm, multi-user
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

// account is the user's credentials as the core's proto message.
func (u testUser) account(kind string) proto.Message {
	switch kind {
	case protoVLESS:
		return &vless.Account{Id: u.Secret}
	case protoVMess:
		return &vmess.Account{Id: u.Secret, SecuritySettings: &protocol.SecurityConfig{
			Type: protocol.SecurityType_AES128_GCM}}
	case protoTrojan:
		return &trojan.Account{Password: u.Secret}
	case protoShadowsocks:
		return &shadowsocks.Account{Password: u.Secret,
			CipherType: shadowsocks.CipherType_AES_128_GCM}
	case protoSS2022:
		return &shadowsocks_2022.Account{Key: u.Secret}
	}
	panic("harness: unknown protocol " + kind)
}

// coreUser is the user as the core's user message, at level 0.
func (u testUser) coreUser(kind string) *protocol.User {
	return &protocol.User{Email: u.Email, Account: serial.ToTypedMessage(u.account(kind))}
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
			ReceiverSettings: serial.ToTypedMessage(loopbackReceiver(s.Port)),
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

// testClient is a client instance: Addr is a dokodemo-door on 127.0.0.1
// that carries each accepted connection through the server as one user,
// leaving from one source address, to one fixed target.
type testClient struct {
	Inst *core.Instance
	Addr string // host:port to connect to
}

// startTestClient starts a client for user on srv that sends from via
// (an address of 127.0.0.0/8 other than 127.0.0.1, so the core's online
// map counts it) and delivers to target (host:port, e.g. a backend's
// Addr). It closes when the test ends.
func startTestClient(t testing.TB, srv *testServer, user testUser,
	via, target string) *testClient {
	t.Helper()
	host, portText, err := net.SplitHostPort(target)
	if err != nil {
		t.Fatalf("client target %q: %v", target, err)
	}
	port, _ := strconv.Atoi(portText)
	listen := freePort(t)

	cfg := &core.Config{
		App: []*serial.TypedMessage{
			serial.ToTypedMessage(&dispatcher.Config{}),
			serial.ToTypedMessage(&proxyman.InboundConfig{}),
			serial.ToTypedMessage(&proxyman.OutboundConfig{}),
		},
		Inbound: []*core.InboundHandlerConfig{{
			Tag:              "forward",
			ReceiverSettings: serial.ToTypedMessage(loopbackReceiver(listen)),
			ProxySettings: serial.ToTypedMessage(&dokodemo.Config{
				Address:  xnet.NewIPOrDomain(xnet.ParseAddress(host)),
				Port:     uint32(port),
				Networks: []xnet.Network{xnet.Network_TCP},
			}),
		}},
		Outbound: []*core.OutboundHandlerConfig{{
			Tag: "proxy",
			SenderSettings: serial.ToTypedMessage(&proxyman.SenderConfig{
				Via: xnet.NewIPOrDomain(xnet.ParseAddress(via))}),
			ProxySettings: serial.ToTypedMessage(clientSettings(srv, user)),
		}},
	}
	inst := startTestInstance(t, cfg)
	return &testClient{Inst: inst, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(listen))}
}

// clientSettings is the client outbound's proxy config for user on srv.
func clientSettings(srv *testServer, user testUser) proto.Message {
	endpoint := &protocol.ServerEndpoint{
		Address: xnet.NewIPOrDomain(xnet.LocalHostIP),
		Port:    uint32(srv.Port),
		User:    user.coreUser(srv.Protocol),
	}
	switch srv.Protocol {
	case protoVLESS:
		return &vlessout.Config{Vnext: endpoint}
	case protoVMess:
		return &vmessout.Config{Receiver: endpoint}
	case protoTrojan:
		return &trojan.ClientConfig{Server: endpoint}
	case protoShadowsocks:
		return &shadowsocks.ClientConfig{Server: endpoint}
	case protoSS2022:
		return &shadowsocks_2022.ClientConfig{
			Address: xnet.NewIPOrDomain(xnet.LocalHostIP),
			Port:    uint32(srv.Port),
			Method:  ss2022Method,
			Key:     srv.Key + ":" + user.Secret,
		}
	}
	panic("harness: unknown protocol " + srv.Protocol)
}

// loopbackReceiver listens on 127.0.0.1:port over plain TCP.
func loopbackReceiver(port int) *proxyman.ReceiverConfig {
	return &proxyman.ReceiverConfig{
		PortList: &xnet.PortList{Range: []*xnet.PortRange{xnet.SinglePortRange(xnet.Port(port))}},
		Listen:   xnet.NewIPOrDomain(xnet.LocalHostIP),
	}
}

// instanceBuild serialises core.New and Start across tests.
var instanceBuild sync.Mutex

// startTestInstance builds and starts an instance. When the test ends it
// cuts whatever the instance's Tracker still holds (the core leaves live
// connections running when it closes) and closes the instance.
func startTestInstance(t testing.TB, cfg *core.Config) *core.Instance {
	t.Helper()
	quietXrayLog()

	instanceBuild.Lock()
	inst, err := core.New(cfg)
	if err == nil {
		if err = inst.Start(); err != nil {
			inst.Close()
		}
	}
	instanceBuild.Unlock()
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

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Backend endpoints. The fast one answers fastSize bytes at once. The
// slow one streams slowChunk-byte chunks, as many as its chunks query
// parameter says, one every "every" (a Go duration), with the total
// Content-Length announced, so a cut-short download is an error.
const (
	fastPath  = "/fast"
	fastSize  = 20_000
	slowChunk = 100
)

// slowPath is the path of a slow download of n chunks, one every
// interval; the whole body is n*slowChunk bytes.
func slowPath(n int, every time.Duration) string {
	return fmt.Sprintf("/slow?chunks=%d&every=%s", n, every)
}

// testBackend is an HTTP server on 127.0.0.1 behind the proxies.
type testBackend struct {
	Addr string // host:port
	srv  *httptest.Server
}

// startTestBackend starts the backend. When the test ends it drops all
// its connections first, so a download the proxies left hanging cannot
// hold up the close.
func startTestBackend(t testing.TB) *testBackend {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+fastPath, serveFast)
	mux.HandleFunc("GET /slow", serveSlow)

	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return &testBackend{Addr: srv.Listener.Addr().String(), srv: srv}
}

func serveFast(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Length", strconv.Itoa(fastSize))
	w.Write(make([]byte, fastSize))
}

func serveSlow(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("chunks"))
	every, err2 := time.ParseDuration(r.URL.Query().Get("every"))
	if err != nil || err2 != nil || n <= 0 || every <= 0 {
		http.Error(w, "want chunks and every", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(n*slowChunk))
	flusher := w.(http.Flusher)
	chunk := make([]byte, slowChunk)

	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; i < n; i++ {
		if _, err := w.Write(chunk); err != nil {
			return
		}
		flusher.Flush()
		if i == n-1 {
			return
		}
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		}
	}
}

// newHTTPClient makes an HTTP client that opens a new connection for
// every request, so each request is one proxied connection.
func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
}

// get fetches path through the client, as one new proxied connection,
// and returns the body. Any status but 200 is an error. A refused
// connection usually fails at once, but some clients (ss2022) only
// stall, so timeout bounds the wait.
func (c *testClient) get(path string, timeout time.Duration) ([]byte, error) {
	hc := newHTTPClient(timeout)
	defer hc.CloseIdleConnections()

	resp, err := hc.Get("http://" + c.Addr + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return body, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("status %s", resp.Status)
	}
	return body, nil
}

// mustGet fetches path through the client and fails the test unless it
// gets a full 200 answer.
func (c *testClient) mustGet(t testing.TB, path string) []byte {
	t.Helper()
	body, err := c.get(path, 5*time.Second)
	if err != nil {
		t.Fatalf("GET %s through %s: %v", path, c.Addr, err)
	}
	return body
}

// download is a GET running in the background whose body is counted as
// it arrives.
type download struct {
	bytes atomic.Int64
	done  chan struct{}
	err   error     // why it ended; nil for a full 200 body. Set before done closes.
	ended time.Time // set before done closes
}

// startDownload starts a GET of path through the client. It is aborted
// when the test ends, if still running.
func (c *testClient) startDownload(t testing.TB, path string) *download {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.Addr+path, nil)
	if err != nil {
		t.Fatalf("download request: %v", err)
	}
	d := &download{done: make(chan struct{})}
	go d.run(req)
	t.Cleanup(func() {
		cancel()
		<-d.done
	})
	return d
}

func (d *download) run(req *http.Request) {
	hc := newHTTPClient(0)
	defer hc.CloseIdleConnections()
	defer close(d.done)
	defer func() { d.ended = time.Now() }()

	resp, err := hc.Do(req)
	if err != nil {
		d.err = err
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		d.err = fmt.Errorf("status %s", resp.Status)
		return
	}

	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		d.bytes.Add(int64(n))
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			d.err = err
			return
		}
	}
}

// Bytes is how many body bytes have arrived so far.
func (d *download) Bytes() int64 { return d.bytes.Load() }

// Done is closed when the download has ended, fully or not.
func (d *download) Done() <-chan struct{} { return d.done }

// hasEnded reports whether the download has ended.
func (d *download) hasEnded() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// wait waits up to within for the download to end and returns when it
// ended and why (nil for a full body). It fails the test if the
// download is still running after within.
func (d *download) wait(t testing.TB, within time.Duration) (time.Time, error) {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-d.done:
		return d.ended, d.err
	case <-timer.C:
	}
	if d.hasEnded() {
		return d.ended, d.err
	}
	t.Fatalf("download still running after %v (%d bytes so far)", within, d.Bytes())
	return time.Time{}, nil
}

// waitBytes waits up to within until at least n bytes have arrived,
// failing the test otherwise.
func (d *download) waitBytes(t testing.TB, n int64, within time.Duration) {
	t.Helper()
	eventually(t, within, func() bool { return d.Bytes() >= n || d.hasEnded() })
	if d.Bytes() < n {
		t.Fatalf("download ended after %d bytes, want at least %d: %v", d.Bytes(), n, d.err)
	}
}

// eventually polls cond every few milliseconds until it holds, failing
// the test if it still does not after within.
func eventually(t testing.TB, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition still false after %v", within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
