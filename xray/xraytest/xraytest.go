// Package xraytest gives tests real Xray clients and an HTTP backend to
// reach through them, all on 127.0.0.x.
//
// A Client is a client instance: a dokodemo-door on 127.0.0.1 that
// carries every accepted connection through a proxy server as one user,
// leaving from a chosen source address (127.0.0.2, 127.0.0.3, ...), to a
// fixed target. A plain HTTP GET to the client's address is therefore one
// proxied connection of that user from that address:
//
//	app --GET--> Client (dokodemo) --protocol, from via--> server --> Backend
//
// The core's online map ignores 127.0.0.1, which is why the source is
// another loopback address.
package xraytest

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xtls/xray-core/app/dispatcher"
	"github.com/xtls/xray-core/app/proxyman"
	_ "github.com/xtls/xray-core/app/proxyman/inbound"
	_ "github.com/xtls/xray-core/app/proxyman/outbound"
	xnet "github.com/xtls/xray-core/common/net"
	"github.com/xtls/xray-core/common/protocol"
	"github.com/xtls/xray-core/common/serial"
	"github.com/xtls/xray-core/core"
	"github.com/xtls/xray-core/proxy/dokodemo"
	"github.com/xtls/xray-core/proxy/shadowsocks"
	"github.com/xtls/xray-core/proxy/shadowsocks_2022"
	"github.com/xtls/xray-core/proxy/trojan"
	"github.com/xtls/xray-core/proxy/vless"
	vlessout "github.com/xtls/xray-core/proxy/vless/outbound"
	"github.com/xtls/xray-core/proxy/vmess"
	vmessout "github.com/xtls/xray-core/proxy/vmess/outbound"
	"google.golang.org/protobuf/proto"
)

// Protocols a Client speaks. SS2022 is Shadowsocks with a 2022-blake3
// method; Shadowsocks is a legacy AEAD cipher.
const (
	VLESS       = "vless"
	VMess       = "vmess"
	Trojan      = "trojan"
	Shadowsocks = "shadowsocks"
	SS2022      = "ss2022"
)

// Endpoint is the proxy server a Client speaks to, as one user.
type Endpoint struct {
	Protocol string
	Port     int // on 127.0.0.1
	Email    string

	// Secret is the uuid (vless, vmess), the password (trojan,
	// shadowsocks) or the user's base64 key (ss2022).
	Secret string

	// Method is the Shadowsocks method; empty means aes-128-gcm for
	// Shadowsocks and 2022-blake3-aes-128-gcm for SS2022.
	Method string

	// ServerKey is the server's base64 key of an SS2022 inbound.
	ServerKey string

	// Flow is the VLESS flow; empty for none.
	Flow string
}

// Client is a running client instance.
type Client struct {
	Inst *core.Instance
	Addr string // host:port of its dokodemo-door on 127.0.0.1
}

// StartClient starts a client for ep that sends from via and delivers
// to target (host:port). It closes when the test ends.
func StartClient(t testing.TB, ep Endpoint, via, target string) *Client {
	t.Helper()
	host, portText, err := net.SplitHostPort(target)
	if err != nil {
		t.Fatalf("client target %q: %v", target, err)
	}
	port, _ := strconv.Atoi(portText)
	listen := FreePort(t)

	cfg := &core.Config{
		App: []*serial.TypedMessage{
			serial.ToTypedMessage(&dispatcher.Config{}),
			serial.ToTypedMessage(&proxyman.InboundConfig{}),
			serial.ToTypedMessage(&proxyman.OutboundConfig{}),
		},
		Inbound: []*core.InboundHandlerConfig{{
			Tag:              "forward",
			ReceiverSettings: serial.ToTypedMessage(LoopbackReceiver(listen)),
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
			ProxySettings: serial.ToTypedMessage(outboundSettings(ep)),
		}},
	}
	inst := StartInstance(t, cfg)
	return &Client{Inst: inst, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(listen))}
}

// Account is the user's credentials as the core's proto message, the
// same on the server and the client side.
func (ep Endpoint) Account() proto.Message {
	switch ep.Protocol {
	case VLESS:
		return &vless.Account{Id: ep.Secret, Flow: ep.Flow}
	case VMess:
		return &vmess.Account{Id: ep.Secret, SecuritySettings: &protocol.SecurityConfig{
			Type: protocol.SecurityType_AES128_GCM}}
	case Trojan:
		return &trojan.Account{Password: ep.Secret}
	case Shadowsocks:
		return &shadowsocks.Account{Password: ep.Secret, CipherType: ep.cipher()}
	case SS2022:
		return &shadowsocks_2022.Account{Key: ep.Secret}
	}
	panic("xraytest: unknown protocol " + ep.Protocol)
}

// User is the user as the core's user message, at level 0.
func (ep Endpoint) User() *protocol.User {
	return &protocol.User{Email: ep.Email, Account: serial.ToTypedMessage(ep.Account())}
}

func (ep Endpoint) cipher() shadowsocks.CipherType {
	switch ep.Method {
	case "", "aes-128-gcm":
		return shadowsocks.CipherType_AES_128_GCM
	case "aes-256-gcm":
		return shadowsocks.CipherType_AES_256_GCM
	case "chacha20-poly1305", "chacha20-ietf-poly1305":
		return shadowsocks.CipherType_CHACHA20_POLY1305
	}
	panic("xraytest: unknown shadowsocks method " + ep.Method)
}

// outboundSettings is the client outbound's proxy config for ep.
func outboundSettings(ep Endpoint) proto.Message {
	server := &protocol.ServerEndpoint{
		Address: xnet.NewIPOrDomain(xnet.LocalHostIP),
		Port:    uint32(ep.Port),
		User:    ep.User(),
	}
	switch ep.Protocol {
	case VLESS:
		return &vlessout.Config{Vnext: server}
	case VMess:
		return &vmessout.Config{Receiver: server}
	case Trojan:
		return &trojan.ClientConfig{Server: server}
	case Shadowsocks:
		return &shadowsocks.ClientConfig{Server: server}
	case SS2022:
		method := ep.Method
		if method == "" {
			method = "2022-blake3-aes-128-gcm"
		}
		return &shadowsocks_2022.ClientConfig{
			Address: xnet.NewIPOrDomain(xnet.LocalHostIP),
			Port:    uint32(ep.Port),
			Method:  method,
			Key:     ep.ServerKey + ":" + ep.Secret,
		}
	}
	panic("xraytest: unknown protocol " + ep.Protocol)
}

// LoopbackReceiver listens on 127.0.0.1:port over plain TCP.
func LoopbackReceiver(port int) *proxyman.ReceiverConfig {
	return &proxyman.ReceiverConfig{
		PortList: &xnet.PortList{Range: []*xnet.PortRange{xnet.SinglePortRange(xnet.Port(port))}},
		Listen:   xnet.NewIPOrDomain(xnet.LocalHostIP),
	}
}

// buildMu serialises core.New and Start: core.New sets process-wide
// state (the system dialer), and parallel builds race on it.
var buildMu sync.Mutex

// Build creates and starts an instance while no other test builds one.
func Build(cfg *core.Config) (*core.Instance, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	inst, err := core.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := inst.Start(); err != nil {
		inst.Close()
		return nil, err
	}
	return inst, nil
}

// StartInstance builds and starts an instance and closes it when the
// test ends.
func StartInstance(t testing.TB, cfg *core.Config) *core.Instance {
	t.Helper()
	inst, err := Build(cfg)
	if err != nil {
		t.Fatalf("start xray instance: %v", err)
	}
	t.Cleanup(func() {
		if err := inst.Close(); err != nil {
			t.Errorf("close xray instance: %v", err)
		}
	})
	return inst
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
//
// The port is drawn at random below the kernel's ephemeral range. A
// port from that range, which is what port 0 gives, is free again once
// checked, and the kernel may hand it to any process's outgoing
// connection or port-0 listener before the test's server binds it; on
// a busy machine that happens, and the server fails with "address
// already in use".
func FreePort(t testing.TB) int {
	t.Helper()
	if low, high, ok := quietPorts(); ok {
		for range 100 {
			port := low + rand.IntN(high-low)
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			if l, err := net.Listen("tcp", addr); err == nil {
				l.Close()
				return port
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// quietPorts returns the ports [low, high) below the ephemeral range,
// which the kernel never picks by itself, if there are enough of them.
func quietPorts() (low, high int, ok bool) {
	const lowest = 10000
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, false
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return 0, 0, false
	}
	first, err := strconv.Atoi(fields[0])
	if err != nil || first < lowest+1000 {
		return 0, 0, false
	}
	return lowest, first, true
}

// Eventually polls cond every few milliseconds until it holds, failing
// the test if it still does not after within.
func Eventually(t testing.TB, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition still false after %v", within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
