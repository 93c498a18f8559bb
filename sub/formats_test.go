package sub_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
	"github.com/sagernet/sing-box/option"
	sbjson "github.com/sagernet/sing/common/json"
	"github.com/sagernet/sing/service"
	"github.com/xtls/xray-core/infra/conf/serial"
	"gopkg.in/yaml.v2"

	"github.com/xpanel/xpanel/panel"
	"github.com/xpanel/xpanel/sub"
)

// formatNetworks and formatSecurities make an inbound of every
// transport and security the inbounds API accepts, with values real
// clients accept (a REALITY key of the right size, a pin in hex).
var formatNetworks = []string{
	`"network":"tcp"`,
	`"network":"tcp","tcpSettings":{"header":{"type":"http","request":{"path":["/g"],` +
		`"headers":{"Host":["cdn.test"]}}}}`,
	`"network":"ws","wsSettings":{"path":"/ws","host":"ws.test"}`,
	`"network":"grpc","grpcSettings":{"serviceName":"svc","multiMode":true}`,
	`"network":"httpupgrade","httpupgradeSettings":{"path":"/up","host":"up.test"}`,
	`"network":"xhttp","xhttpSettings":{"path":"/x","mode":"auto"}`,
	`"network":"kcp","kcpSettings":{"mtu":1350,"tti":20}`,
}

// realityOver reports whether the inbounds API accepts REALITY over the
// network described.
func realityOver(network string) bool {
	for _, n := range []string{`"tcp"`, `"grpc"`, `"xhttp"`} {
		if strings.HasPrefix(network, `"network":`+n) {
			return true
		}
	}
	return false
}

func formatSecurities(t *testing.T) []string {
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pbk := base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes())
	return []string{
		`"security":"none"`,
		`"security":"tls","tlsSettings":{"serverName":"tls.test","alpn":["h2","http/1.1"],` +
			`"settings":{"fingerprint":"chrome","pinnedPeerCertSha256":["` +
			strings.Repeat("ab", 32) + `"]}}`,
		`"security":"reality","realitySettings":{"serverNames":["r.test"],"shortIds":["0123abcd"],` +
			`"settings":{"publicKey":"` + pbk + `","fingerprint":"chrome","spiderX":"/"}}`,
	}
}

// matrixEnv stores one client, subId m, on an inbound of every protocol,
// transport and security, plus a Hysteria 2 external link.
func matrixEnv(t *testing.T) (*env, int) {
	e := newEnv(t, sub.Options{UpdateHours: 12})
	protocols := []struct{ protocol, settings string }{
		{"vless", `{"decryption":"none"}`}, {"vmess", `{}`}, {"trojan", `{}`},
		{"shadowsocks", `{"method":"aes-128-gcm"}`},
		{"shadowsocks", `{"method":"2022-blake3-aes-128-gcm"}`},
	}
	var ids []int64
	for _, p := range protocols {
		for _, n := range formatNetworks {
			for _, s := range formatSecurities(t) {
				if strings.Contains(s, "reality") && !realityOver(n) {
					continue // refused by the inbounds API
				}
				ids = append(ids, e.inbound(p.protocol, p.settings, "{"+n+","+s+"}"))
			}
		}
	}
	e.client(`{"email":"m@test","subId":"m","flow":"xtls-rprx-vision"}`, ids...)
	err := e.svc.SetExternalLinks("m@test", []panel.ExternalLinkInput{{Kind: "link",
		Value: "hysteria2://a%20b@hy.test:443?alpn=h3&obfs=salamander&obfs-password=o" +
			"&mport=20000-30000&security=tls&sni=hy.test#HY"}})
	if err != nil {
		t.Fatal(err)
	}
	return e, len(ids) + 1
}

func TestServer_XrayJSON(t *testing.T) {
	e, links := matrixEnv(t)
	_, body := e.get("GET", "m?format=json", "")
	var configs []json.RawMessage
	if err := json.Unmarshal(body, &configs); err != nil {
		t.Fatalf("not a JSON array: %v", err)
	}
	if len(configs) != links {
		t.Fatalf("%d configurations, want one per link (%d)", len(configs), links)
	}
	for i, raw := range configs {
		if _, err := serial.LoadJSONConfig(bytes.NewReader(raw)); err != nil {
			t.Errorf("configuration %d refused by Xray's loader: %v\n%s", i, err, raw)
		}
	}
}

func TestServer_SingBox(t *testing.T) {
	e, _ := matrixEnv(t)
	_, body := e.get("GET", "m", "sing-box 1.14.1")
	var opts option.Options
	if err := sbjson.UnmarshalContext(singboxContext(), body, &opts); err != nil {
		t.Fatalf("sing-box refuses the configuration: %v\n%s", err, body)
	}

	// vless, vmess and trojan over tcp, tcp-http and grpc with each
	// security and over ws and httpupgrade without REALITY; Shadowsocks
	// (legacy and 2022) over tcp and tcp-http without TLS (its links do
	// not name REALITY); Hysteria 2; the selector and direct.
	tags := map[string]bool{}
	for _, ob := range opts.Outbounds {
		if tags[ob.Tag] {
			t.Errorf("tag %q repeats", ob.Tag)
		}
		tags[ob.Tag] = true
	}
	if want := 3*13 + 2*4 + 1 + 2; len(opts.Outbounds) != want {
		t.Errorf("%d outbounds, want %d", len(opts.Outbounds), want)
	}
	sel, ok := opts.Outbounds[0].Options.(*option.SelectorOutboundOptions)
	if !ok || len(sel.Outbounds) != len(opts.Outbounds)-1 {
		t.Errorf("first outbound is not a selector over all the others: %+v", opts.Outbounds[0])
	}
}

// singboxContext registers the option types of the outbounds and the
// inbound the configuration uses, as sing-box's own registries do.
func singboxContext() context.Context {
	out := optionRegistry{
		"vless":       func() any { return &option.VLESSOutboundOptions{} },
		"vmess":       func() any { return &option.VMessOutboundOptions{} },
		"trojan":      func() any { return &option.TrojanOutboundOptions{} },
		"shadowsocks": func() any { return &option.ShadowsocksOutboundOptions{} },
		"hysteria2":   func() any { return &option.Hysteria2OutboundOptions{} },
		"selector":    func() any { return &option.SelectorOutboundOptions{} },
		"direct":      func() any { return &option.DirectOutboundOptions{} },
	}
	in := optionRegistry{"mixed": func() any { return &option.HTTPMixedInboundOptions{} }}
	ctx := service.ContextWith[option.OutboundOptionsRegistry](context.Background(), out)
	return service.ContextWith[option.InboundOptionsRegistry](ctx, in)
}

type optionRegistry map[string]func() any

func (r optionRegistry) OptionTypes() []string {
	var out []string
	for k := range r {
		out = append(out, k)
	}
	return out
}

func (r optionRegistry) CreateOptions(typ string) (any, bool) {
	if f, ok := r[typ]; ok {
		return f(), true
	}
	return nil, false
}

func TestServer_Clash(t *testing.T) {
	e, _ := matrixEnv(t)
	_, body := e.get("GET", "m", "clash-verge/v2.0.3")
	var profile struct {
		Proxies []map[string]any `yaml:"proxies"`
		Groups  []struct {
			Name    string   `yaml:"name"`
			Type    string   `yaml:"type"`
			Proxies []string `yaml:"proxies"`
		} `yaml:"proxy-groups"`
		Rules []string `yaml:"rules"`
	}
	if err := yaml.Unmarshal(body, &profile); err != nil {
		t.Fatalf("not a YAML profile: %v\n%s", err, body)
	}
	// The same as sing-box's, but VMess without REALITY.
	if want := 2*13 + 10 + 2*4 + 1; len(profile.Proxies) != want {
		t.Errorf("%d proxies, want %d", len(profile.Proxies), want)
	}
	names := map[string]bool{}
	for _, p := range profile.Proxies {
		name := fmt.Sprint(p["name"])
		if names[name] || p["server"] == nil || p["port"] == nil || p["type"] == nil {
			t.Errorf("proxy repeats its name or lacks server, port or type: %v", p)
		}
		names[name] = true
	}
	if len(profile.Groups) != 1 || len(profile.Groups[0].Proxies) != len(profile.Proxies) {
		t.Errorf("groups = %+v, want one selector over every proxy", profile.Groups)
	}
	if len(profile.Rules) != 1 || profile.Rules[0] != "MATCH,"+profile.Groups[0].Name {
		t.Errorf("rules = %q", profile.Rules)
	}
}
