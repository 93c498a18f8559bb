package main

// End-to-end tests of share links: each link xpanel serves over its API
// is read the way an app reads it, turned into an Xray client
// configuration, loaded by Xray's own JSON loader, run as a client
// instance in this process, and used to reach the backend through the
// running core. A link that parses but does not connect fails.

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"

	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
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

// linkCases cover every protocol, Shadowsocks legacy and 2022, the
// transports, and TLS (a self-signed certificate the link pins) and
// REALITY (borrowing the handshake of target, a TLS server on loopback).
func linkCases(t *testing.T, target string) []linkCase {
	ss2022Key := base64.StdEncoding.EncodeToString([]byte(rand.Text())[:16])
	tls := selfSignedTLS(t)
	reality := realityStream(t, target)
	return []linkCase{
		{"vless tcp tls vision", "vless", map[string]any{"decryption": "none"},
			withNetwork(tls, "tcp", nil)},
		{"vless tcp reality vision", "vless", map[string]any{"decryption": "none"},
			withNetwork(reality, "tcp", nil)},
		{"vless grpc reality", "vless", map[string]any{"decryption": "none"},
			withNetwork(reality, "grpc", map[string]any{"serviceName": "rg"})},
		{"vmess ws tls", "vmess", map[string]any{}, withNetwork(tls, "ws",
			map[string]any{"path": "/vt", "host": "xpanel.test"})},
		{"trojan tcp tls", "trojan", map[string]any{}, withNetwork(tls, "tcp", nil)},
		{"trojan tcp reality", "trojan", map[string]any{}, withNetwork(reality, "tcp", nil)},
		{"shadowsocks 2022 tls", "shadowsocks", map[string]any{
			"method": "2022-blake3-aes-128-gcm", "password": ss2022Key, "network": "tcp,udp"},
			withNetwork(tls, "tcp", nil)},
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
	cases := linkCases(t, startTLSTarget(t))
	ids := make([]int64, len(cases))
	for i, c := range cases {
		ids[i] = e.addLinkInbound(c)
	}
	e.call("clients/add", map[string]any{"client": map[string]any{
		"email": "links@e2e", "enable": true, "subId": "links-sub",
		"flow": "xtls-rprx-vision"}, "inboundIds": ids}, nil)

	var served []string
	e.call("clients/links/links@e2e", nil, &served)
	if len(served) != len(cases) {
		t.Fatalf("served %d links, want one per inbound (%d): %q", len(served), len(cases), served)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if reason := raceUnsafe(served[i]); raceDetector && reason != "" {
				t.Skip(reason + "; this case runs without -race")
			}
			client := startLinkClient(t, served[i], viaA, e.backend.Addr)
			body := client.MustGet(t, xraytest.FastPath)
			if len(body) != xraytest.FastSize {
				t.Fatalf("got %d bytes through %s, want %d", len(body), served[i], xraytest.FastSize)
			}
		})
	}

	t.Run("a link with another credential is refused", func(t *testing.T) {
		var uuid struct {
			Client struct {
				UUID string `json:"uuid"`
			} `json:"client"`
		}
		e.call("clients/get/links@e2e", nil, &uuid)
		var plain string // vless over tcp: safe under -race too
		for i, c := range cases {
			if c.name == "vless tcp" {
				plain = served[i]
			}
		}
		forged := strings.Replace(plain, uuid.Client.UUID,
			"00000000-0000-4000-8000-000000000000", 1)
		if forged == plain {
			t.Fatalf("link %s does not carry the uuid", plain)
		}
		client := startLinkClient(t, forged, viaA, e.backend.Addr)
		if _, err := client.Get(xraytest.FastPath, refuseWait); err == nil {
			t.Errorf("a forged link got through")
		}
	})

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
		if len(configs) == 0 {
			t.Fatalf("xray json has %d configs, want %d", len(configs), len(cases))
		}
		for i, cfg := range configs {
			raw, _ := json.Marshal(cfg)
			if _, err := serial.LoadJSONConfig(bytes.NewReader(raw)); err != nil {
				t.Errorf("config %d (%s) refused by Xray's loader: %v", i, cases[i].name, err)
			}
		}
		var plain map[string]any // vless over tcp: safe under -race too
		for _, cfg := range configs {
			if cfg["remarks"] == "vless tcp-links@e2e" {
				plain = cfg
			}
		}
		if plain == nil {
			t.Fatalf("no configuration named vless tcp-links@e2e")
		}
		outbounds := plain["outbounds"].([]any)
		proxy, _ := json.Marshal(outbounds[0])
		client := startOutboundClient(t, proxy, viaA, e.backend.Addr)
		client.MustGet(t, xraytest.FastPath)
	})
}

// raceUnsafe names why the Xray client of a link cannot run under the
// race detector, or "" when it can: the fault lies in Xray-core's client
// code, not in the link.
func raceUnsafe(link string) string {
	switch {
	case strings.Contains(link, "flow=xtls-rprx-vision"):
		return "Xray's Vision flow reads TLS buffers through unsafe pointer " +
			"arithmetic that checkptr aborts the process on"
	case strings.Contains(link, "type=xhttp"):
		return "Xray's xhttp client races on its response reader (WaitReadCloser)"
	case strings.Contains(link, "type=ws") && strings.Contains(link, "ed%3D"):
		return "Xray's WebSocket client with early data (ed) dials on its first " +
			"write while its reader checks the connection unlocked (delayDialConn)"
	}
	return ""
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

// withNetwork returns a copy of the security settings stream with the
// network and its settings.
func withNetwork(stream map[string]any, network string, settings map[string]any) map[string]any {
	out := map[string]any{"network": network}
	for k, v := range stream {
		out[k] = v
	}
	if settings != nil {
		out[network+"Settings"] = settings
	}
	return out
}

// selfSignedTLS returns TLS stream settings with a fresh self-signed
// certificate for xpanel.test, pinned in the panel-only settings that
// links carry as pcs.
func selfSignedTLS(t *testing.T) map[string]any {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"xpanel.test"},
		Subject: pkix.Name{CommonName: "xpanel.test"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pemLines := func(typ string, b []byte) []string {
		return strings.Split(strings.TrimSpace(string(pem.EncodeToMemory(
			&pem.Block{Type: typ, Bytes: b}))), "\n")
	}
	pin := sha256.Sum256(der)
	return map[string]any{"security": "tls", "tlsSettings": map[string]any{
		"serverName": "xpanel.test", "alpn": []string{"h2", "http/1.1"},
		"certificates": []any{map[string]any{"certificate": pemLines("CERTIFICATE", der),
			"key": pemLines("PRIVATE KEY", keyDER)}},
		"settings": map[string]any{"fingerprint": "chrome",
			"pinnedPeerCertSha256": []string{hex.EncodeToString(pin[:])}},
	}}
}

// realityStream returns REALITY stream settings with a fresh key pair,
// borrowing target's handshake; the public key sits in the panel-only
// settings that links carry as pbk.
func realityStream(t *testing.T, target string) map[string]any {
	t.Helper()
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return map[string]any{"security": "reality", "realitySettings": map[string]any{
		"target": target, "serverNames": []string{"reality.test"},
		"privateKey": enc(key.Bytes()), "shortIds": []string{"0123abcd"},
		"settings": map[string]any{"publicKey": enc(key.PublicKey().Bytes()),
			"fingerprint": "chrome", "spiderX": "/"},
	}}
}

// startTLSTarget starts a TLS 1.3 server on 127.0.0.1 for REALITY to
// borrow its handshake from, and returns its address.
func startTLSTarget(t *testing.T) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}
