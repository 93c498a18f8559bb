package main

// End-to-end tests of share links: each link xpanel serves over its API
// is read the way an app reads it, turned into an Xray client
// configuration, loaded by Xray's own JSON loader, run as a client
// instance in this process, and used to reach the backend through the
// running core. A link that parses but does not connect fails.

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/links"
	"github.com/xpanel/xpanel/sub"
	"github.com/xpanel/xpanel/xray/xraytest"
	"github.com/xtls/xray-core/infra/conf/serial"
)

// linkCase is an inbound whose served link must carry a client through.
type linkCase struct {
	name     string
	protocol string // vless, vmess, trojan, shadowsocks
	settings map[string]any
	stream   map[string]any
}

func tcpStream() map[string]any { return map[string]any{"network": "tcp", "security": "none"} }

// linkCases cover every protocol, Shadowsocks legacy and 2022, and the
// transports the core serves without certificates.
func linkCases() []linkCase {
	ss2022Key := base64.StdEncoding.EncodeToString([]byte(rand.Text())[:16])
	return []linkCase{
		{"vless tcp", "vless", map[string]any{"decryption": "none"}, tcpStream()},
		{"vless ws", "vless", map[string]any{"decryption": "none"}, map[string]any{
			"network": "ws", "wsSettings": map[string]any{"path": "/ws?ed=2048", "host": "ws.test"}}},
		{"vless grpc", "vless", map[string]any{"decryption": "none"}, map[string]any{
			"network": "grpc", "grpcSettings": map[string]any{"serviceName": "svc"}}},
		{"vless httpupgrade", "vless", map[string]any{"decryption": "none"}, map[string]any{
			"network": "httpupgrade", "httpupgradeSettings": map[string]any{"path": "/up"}}},
		{"vless xhttp", "vless", map[string]any{"decryption": "none"}, map[string]any{
			"network": "xhttp", "xhttpSettings": map[string]any{"path": "/x", "mode": "packet-up"}}},
		{"vmess tcp", "vmess", map[string]any{}, tcpStream()},
		{"vmess ws", "vmess", map[string]any{}, map[string]any{
			"network": "ws", "wsSettings": map[string]any{"path": "/vm"}}},
		{"vmess tcp http header", "vmess", map[string]any{}, map[string]any{
			"network": "tcp", "tcpSettings": map[string]any{"header": map[string]any{
				"type": "http", "request": map[string]any{"path": []string{"/h"},
					"headers": map[string]any{"Host": []string{"h.test"}}}}}}},
		{"trojan tcp", "trojan", map[string]any{}, tcpStream()},
		{"trojan grpc", "trojan", map[string]any{}, map[string]any{
			"network": "grpc", "grpcSettings": map[string]any{"serviceName": "tj", "multiMode": true}}},
		{"shadowsocks legacy", "shadowsocks",
			map[string]any{"method": "aes-256-gcm", "network": "tcp,udp"}, tcpStream()},
		{"shadowsocks chacha20", "shadowsocks",
			map[string]any{"method": "chacha20-ietf-poly1305", "network": "tcp,udp"}, tcpStream()},
		{"shadowsocks 2022", "shadowsocks", map[string]any{"method": "2022-blake3-aes-128-gcm",
			"password": ss2022Key, "network": "tcp,udp"}, tcpStream()},
	}
}

func TestE2E_LinksConnect(t *testing.T) {
	e := newE2E(t)
	cases := linkCases()
	ids := make([]int64, len(cases))
	for i, c := range cases {
		ids[i] = e.addLinkInbound(c)
	}
	e.call("clients/add", map[string]any{"client": map[string]any{
		"email": "links@e2e", "enable": true, "subId": "links-sub"}, "inboundIds": ids}, nil)

	var served []string
	e.call("clients/links/links@e2e", nil, &served)
	if len(served) != len(cases) {
		t.Fatalf("served %d links, want one per inbound (%d): %q", len(served), len(cases), served)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := startLinkClient(t, served[i], viaA, e.backend.Addr)
			body := client.MustGet(t, xraytest.FastPath)
			if len(body) != xraytest.FastSize {
				t.Fatalf("got %d bytes through %s, want %d", len(body), served[i], xraytest.FastSize)
			}
		})
	}

	t.Run("subLinks serves the same links", func(t *testing.T) {
		var lines []string
		e.call("clients/subLinks/links-sub", nil, &lines)
		if strings.Join(lines, "\n") != strings.Join(served, "\n") {
			t.Errorf("subLinks = %q\nlinks   = %q", lines, served)
		}
	})

	t.Run("xray json subscription connects", func(t *testing.T) {
		base := e.serveSub(t)
		resp, err := http.Get(base + "/sub/links-sub?format=json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var configs []map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&configs); err != nil {
			t.Fatalf("decode xray json: %v", err)
		}
		if len(configs) != len(cases) {
			t.Fatalf("xray json has %d configs, want %d", len(configs), len(cases))
		}
		for i, cfg := range configs {
			raw, _ := json.Marshal(cfg)
			if _, err := serial.LoadJSONConfig(bytes.NewReader(raw)); err != nil {
				t.Errorf("config %d (%s) refused by Xray's loader: %v", i, cases[i].name, err)
			}
		}
		outbounds := configs[0]["outbounds"].([]any)
		proxy, _ := json.Marshal(outbounds[0])
		client := startOutboundClient(t, proxy, viaA, e.backend.Addr)
		client.MustGet(t, xraytest.FastPath)
	})
}

// addLinkInbound adds an inbound of the case on a free port of
// 127.0.0.1 whose links advertise 127.0.0.1 through its share address.
func (e *e2e) addLinkInbound(c linkCase) int64 {
	e.t.Helper()
	settings := map[string]any{"clients": []any{}}
	for k, v := range c.settings {
		settings[k] = v
	}
	var got struct {
		ID int64 `json:"id"`
	}
	e.call("inbounds/add", map[string]any{
		"remark": c.name, "enable": true, "listen": "127.0.0.1",
		"port": xraytest.FreePort(e.t), "protocol": c.protocol, "shareAddr": "127.0.0.1",
		"settings": settings, "streamSettings": c.stream, "sniffing": map[string]any{},
	}, &got)
	return got.ID
}

// serveSub serves the app's subscription server on a free port of
// 127.0.0.1 until the test ends and returns its base URL.
func (e *e2e) serveSub(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := e.app.sub.HTTPServer(sub.Limits{ReadTimeout: 5 * time.Second,
		WriteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second, MaxConns: 64})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// startLinkClient reads a share link as an app does and starts an Xray
// client with it, sending from via and delivering to target.
func startLinkClient(t *testing.T, link, via, target string) *xraytest.Client {
	t.Helper()
	o, err := links.Parse(link)
	if err != nil {
		t.Fatalf("parse %s: %v", link, err)
	}
	ob, err := sub.XrayOutbound(o)
	if err != nil {
		t.Fatalf("no xray outbound for %s: %v", link, err)
	}
	raw, err := json.Marshal(ob)
	if err != nil {
		t.Fatal(err)
	}
	return startOutboundClient(t, raw, via, target)
}

// startOutboundClient starts an Xray client from a configuration in
// Xray's JSON: a tunnel on 127.0.0.1 to target through the outbound,
// which sends from via. The JSON goes through Xray's own loader.
func startOutboundClient(t *testing.T, outbound []byte, via, target string) *xraytest.Client {
	t.Helper()
	var ob map[string]any
	if err := json.Unmarshal(outbound, &ob); err != nil {
		t.Fatal(err)
	}
	ob["tag"], ob["sendThrough"] = "proxy", via
	host, portText, _ := net.SplitHostPort(target)
	targetPort, _ := strconv.Atoi(portText)
	listen := xraytest.FreePort(t)
	cfg := map[string]any{
		"log": map[string]any{"loglevel": "none"},
		"inbounds": []any{map[string]any{"tag": "forward", "protocol": "dokodemo-door",
			"listen": "127.0.0.1", "port": listen, "settings": map[string]any{
				"address": host, "port": targetPort, "network": "tcp"}}},
		"outbounds": []any{ob},
	}
	raw, _ := json.Marshal(cfg)
	coreCfg, err := serial.LoadJSONConfig(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("xray loader refused the client config: %v\n%s", err, raw)
	}
	inst := xraytest.StartInstance(t, coreCfg)
	return &xraytest.Client{Inst: inst, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(listen))}
}
