package links_test

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/links"
)

// fuzzProtocols are the protocols FuzzOf builds links for, by index.
var fuzzProtocols = []string{"vless", "vmess", "trojan", "shadowsocks", "hysteria"}

// FuzzOf builds links from arbitrary stored settings, stream settings and
// listen addresses. Whatever the JSON holds, every link must be one line
// that parses back as a URL of the protocol's scheme, pointing at the
// inbound's port or a proxy's, and named after the inbound and client.
func FuzzOf(f *testing.F) {
	seeds := []string{
		`{"network":"ws","security":"tls","wsSettings":{"path":"/p","headers":{"Host":["h"]}},` +
			`"tlsSettings":{"serverName":"s","alpn":["h2"],"settings":{"fingerprint":"chrome"}}}`,
		`{"network":"tcp","security":"reality","realitySettings":{"serverNames":["a","b"],` +
			`"shortIds":["", "01"],"settings":{"publicKey":"k","spiderX":"/"}}}`,
		`{"network":"xhttp","xhttpSettings":{"mode":"auto","xPaddingBytes":100,"xmux":{"a":1},` +
			`"headers":{"host":"x","A":"b"}},"finalmask":{"udp":[{"type":"salamander",` +
			`"settings":{"password":"p"}}],"quicParams":{"udpHop":{"ports":"1-2"}}}}`,
		`{"network":"kcp","kcpSettings":{"mtu":"1350","tti":1e3,"seed":5}}`,
		`{"network":"grpc","grpcSettings":{"serviceName":"s","multiMode":"yes"}}`,
		`{"tcpSettings":{"header":{"type":"http","request":{"path":"/"}}},"externalProxy":[` +
			`{"forceTls":"tls","dest":"d.example","port":"443","remark":"r #1"},` +
			`{"dest":"bad host/x"},{"port":70000},null,5]}`,
		`"{\"network\":\"ws\"}"`, `[]`, `null`, `{`, ``,
	}
	settings := []string{`{"decryption":"none"}`, `{"method":"aes-256-gcm"}`,
		`{"method":"2022-blake3-aes-128-gcm","password":"a+b/c="}`, `{"version":1}`, `x`}
	for i, stream := range seeds {
		f.Add(uint8(i), []byte(settings[i%len(settings)]), []byte(stream), "")
	}
	f.Add(uint8(0), []byte(`{}`), []byte(`{}`), "2001:db8::1")
	f.Add(uint8(1), []byte(`{}`), []byte(`{}`), "bad listen")

	f.Fuzz(func(t *testing.T, proto uint8, settings, stream []byte, listen string) {
		protocol := fuzzProtocols[int(proto)%len(fuzzProtocols)]
		in := &kv.Inbound{ID: 1, Protocol: protocol, Remark: "IN", Listen: listen,
			Port: 443, Settings: settings, StreamSettings: stream}
		c := &kv.Client{Email: "alice", UUID: "11111111-2222-4333-8444-555555555555",
			Password: "p@ss", Auth: "a/b", Inbounds: []kv.Attachment{{InboundID: 1,
				Flow: "xtls-rprx-vision"}}}
		for _, link := range links.Of(in, c, "example.com") {
			checkLink(t, protocol, link)
		}
	})
}

// checkLink fails the test unless link is a well-formed share link.
func checkLink(t *testing.T, protocol, link string) {
	t.Helper()
	if strings.ContainsFunc(link, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		t.Fatalf("link has a space or control character: %q", link)
	}
	if protocol == "vmess" {
		checkVMess(t, link)
		return
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("link does not parse: %v: %q", err, link)
	}
	schemes := map[string][]string{"vless": {"vless"}, "trojan": {"trojan"},
		"shadowsocks": {"ss"}, "hysteria": {"hysteria", "hysteria2"}}[protocol]
	if !slices.Contains(schemes, u.Scheme) {
		t.Fatalf("link scheme %q, want one of %q: %q", u.Scheme, schemes, link)
	}
	if u.User == nil || u.Hostname() == "" {
		t.Fatalf("link lacks user or host: %q", link)
	}
	if port, err := strconv.Atoi(u.Port()); err != nil || port < 1 || port > 65535 {
		t.Fatalf("link port %q: %q", u.Port(), link)
	}
	if !strings.HasPrefix(u.Fragment, "IN-") || !strings.HasSuffix(u.Fragment, "-alice") {
		t.Fatalf("link remark %q does not name the inbound and client", u.Fragment)
	}
	if _, err := url.ParseQuery(u.RawQuery); err != nil {
		t.Fatalf("link query does not parse: %v: %q", err, link)
	}
}

func checkVMess(t *testing.T, link string) {
	t.Helper()
	b64, ok := strings.CutPrefix(link, "vmess://")
	if !ok {
		t.Fatalf("vmess link has another scheme: %q", link)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("vmess link is not base64: %v", err)
	}
	var o struct {
		V    string `json:"v"`
		ID   string `json:"id"`
		Port int    `json:"port"`
		PS   string `json:"ps"`
		Add  string `json:"add"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("vmess object does not decode: %v: %s", err, raw)
	}
	if o.V != "2" || o.ID == "" || o.Port < 1 || o.Add == "" ||
		!strings.HasPrefix(o.PS, "IN-") || !strings.HasSuffix(o.PS, "-alice") {
		t.Fatalf("vmess object is incomplete: %s", raw)
	}
}

// FuzzParse reads arbitrary text as a share link, as the lines of an
// external subscription arrive. Whatever it is, Parse must not panic,
// and a link it accepts must name a server, a port and a credential.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"vless://" + "11111111-2222-4333-8444-555555555555@h:443?type=ws&path=%2F&security=tls#n",
		"trojan://p%40ss@[2001:db8::1]:443?security=reality&pbk=k&sid=01#x",
		"ss://YWVzLTI1Ni1nY206cHcrLz0@h:8388?plugin=obfs-local%3Bobfs%3Dhttp#s",
		"ss://2022-blake3-aes-128-gcm:a%3D:b%3D@h:1#t",
		"ss://YWVzLTI1Ni1nY206cHdAaDoxMjM0#legacy",
		"hy2://auth@h:443?obfs=salamander&mport=1-2,5",
		vmLink(`{"v":"2","add":"h","port":"443","id":"u","net":"grpc","type":"multi","path":"s"}`),
		"vmess://%%%", "ss://@:", "vless://@h:0", "x://y", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, link string) {
		o, err := links.Parse(link)
		if err != nil {
			return
		}
		if o.Host == "" || o.Port < 1 || o.Port > 65535 {
			t.Fatalf("accepted %q without server or port: %+v", link, o)
		}
		if o.UUID == "" && o.Password == "" {
			t.Fatalf("accepted %q without a credential: %+v", link, o)
		}
	})
}

func vmLink(text string) string {
	return "vmess://" + base64.StdEncoding.EncodeToString([]byte(text))
}
