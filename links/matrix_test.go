package links_test

import (
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/links"
)

var update = flag.Bool("update", false, "rewrite the golden files of the links tests")

// matrixGolden pins the link of every protocol, transport and security
// the inbounds API accepts.
const matrixGolden = "testdata/matrix.golden"

// matrixProtocols are the inbound protocols with their settings, as the
// inbounds API stores them.
var matrixProtocols = []struct{ name, protocol, settings string }{
	{"vless", "vless", `{"decryption":"none"}`},
	{"vmess", "vmess", `{}`},
	{"trojan", "trojan", `{}`},
	{"shadowsocks", "shadowsocks", `{"method":"chacha20-ietf-poly1305","network":"tcp,udp"}`},
	{"shadowsocks-2022", "shadowsocks",
		`{"method":"2022-blake3-aes-256-gcm","password":"c2VydmVyLWtleS0zMi1ieXRlcy1sb25nLXh4eHh4eHg=","network":"tcp,udp"}`},
}

// matrixNetworks are the transports, each with settings that fill every
// parameter its links carry.
var matrixNetworks = []struct{ name, stream string }{
	{"default", ``},
	{"tcp", `"network":"tcp","tcpSettings":{"header":{"type":"none"}}`},
	{"raw", `"network":"raw","rawSettings":{}`},
	{"tcp-http", `"network":"tcp","tcpSettings":{"header":{"type":"http","request":` +
		`{"path":["/get","/x"],"headers":{"Host":["cdn.test"]}}}}`},
	{"ws", `"network":"ws","wsSettings":{"path":"/ws?ed=2048","host":"ws.test"}`},
	{"grpc", `"network":"grpc","grpcSettings":{"serviceName":"svc","authority":"a.test",` +
		`"multiMode":true}`},
	{"httpupgrade", `"network":"httpupgrade","httpupgradeSettings":{"path":"/up",` +
		`"host":"up.test"}`},
	{"xhttp", `"network":"xhttp","xhttpSettings":{"path":"/x","host":"x.test",` +
		`"mode":"stream-up","xPaddingBytes":"100-1000"}`},
	{"kcp", `"network":"kcp","kcpSettings":{"mtu":1350,"tti":20}`},
}

// realityNetworks are the transports the inbounds API accepts REALITY
// over, as the core runs it over these only.
var realityNetworks = map[string]bool{"default": true, "tcp": true, "raw": true,
	"tcp-http": true, "grpc": true, "xhttp": true}

// matrixSecurities are the security layers, each fully described.
var matrixSecurities = []struct{ name, stream string }{
	{"default", ``},
	{"none", `"security":"none"`},
	{"tls", `"security":"tls","tlsSettings":{"serverName":"tls.test","alpn":["h2","http/1.1"],` +
		`"settings":{"fingerprint":"chrome","pinnedPeerCertSha256":["` +
		strings.Repeat("ab", 32) + `"]}}`},
	{"reality", `"security":"reality","realitySettings":{"target":"r.test:443",` +
		`"serverNames":["r.test"],"shortIds":["0123abcd"],"privateKey":"PRIVATE",` +
		`"settings":{"publicKey":"PUBLICKEY","fingerprint":"firefox","spiderX":"/s"}}`},
}

// TestOf_Matrix pins the exact link of each protocol x transport x
// security combination. Run with -update to rewrite the golden file
// after a deliberate change, and read its diff.
func TestOf_Matrix(t *testing.T) {
	var b strings.Builder
	c := &kv.Client{ID: 1, Email: "alice@test", SubID: "subAlice", UUID: uuid,
		Password: "Y2xpZW50LWtleS0zMi1ieXRlcy1sb25nLXh4eHh4eHg=",
		Inbounds: []kv.Attachment{{InboundID: 7, Flow: "xtls-rprx-vision"}}}
	for _, p := range matrixProtocols {
		for _, n := range matrixNetworks {
			for _, s := range matrixSecurities {
				if s.name == "reality" && !realityNetworks[n.name] {
					continue // the inbounds API refuses REALITY over it
				}
				stream := "{" + strings.Trim(n.stream+","+s.stream, ",") + "}"
				in := inbound(p.protocol, "M", "", 443, p.settings, stream)
				got := links.Of(in, c, "example.com")
				if len(got) != 1 {
					t.Fatalf("%s %s %s: %d links, want 1", p.name, n.name, s.name, len(got))
				}
				fmt.Fprintf(&b, "%s %s %s\n%s\n", p.name, n.name, s.name, got[0])
				if json, ok := strings.CutPrefix(got[0], "vmess://"); ok {
					decoded, _ := base64.StdEncoding.DecodeString(json)
					fmt.Fprintf(&b, "%s\n", decoded)
				}
				if _, err := links.Parse(got[0]); err != nil {
					t.Errorf("%s %s %s: link does not parse back: %v", p.name, n.name, s.name, err)
				}
			}
		}
	}
	compareGolden(t, matrixGolden, b.String())
}

// compareGolden fails unless got equals the golden file, or rewrites it
// under -update.
func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got %s\nwant %s", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length: got %d lines, want %d", path, len(gl), len(wl))
	}
}
