package sub

import (
	"strings"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/links"
)

// singboxOutbound is one proxy outbound of a sing-box configuration, in
// sing-box's option names.
type singboxOutbound struct {
	Type           string            `json:"type"`
	Tag            string            `json:"tag"`
	Server         string            `json:"server"`
	ServerPort     int               `json:"server_port"`
	UUID           string            `json:"uuid,omitempty"`
	Security       string            `json:"security,omitempty"` // vmess cipher
	Flow           string            `json:"flow,omitempty"`
	Method         string            `json:"method,omitempty"`
	Password       string            `json:"password,omitempty"`
	Plugin         string            `json:"plugin,omitempty"`
	PluginOpts     string            `json:"plugin_opts,omitempty"`
	ServerPorts    []string          `json:"server_ports,omitempty"`
	Obfs           *singboxObfs      `json:"obfs,omitempty"`
	TLS            *singboxTLS       `json:"tls,omitempty"`
	Transport      *singboxTransport `json:"transport,omitempty"`
	PacketEncoding string            `json:"packet_encoding,omitempty"`
}

type singboxObfs struct {
	Type     string `json:"type"`
	Password string `json:"password"`
}

type singboxTLS struct {
	Enabled    bool               `json:"enabled"`
	ServerName string             `json:"server_name,omitempty"`
	Insecure   bool               `json:"insecure,omitempty"`
	ALPN       []string           `json:"alpn,omitempty"`
	UTLS       *singboxUTLS       `json:"utls,omitempty"`
	Reality    *singboxRealityTLS `json:"reality,omitempty"`
}

type singboxUTLS struct {
	Enabled     bool   `json:"enabled"`
	Fingerprint string `json:"fingerprint"`
}

type singboxRealityTLS struct {
	Enabled   bool   `json:"enabled"`
	PublicKey string `json:"public_key"`
	ShortID   string `json:"short_id,omitempty"`
}

type singboxTransport struct {
	Type        string            `json:"type"`
	Path        string            `json:"path,omitempty"`
	Host        any               `json:"host,omitempty"` // a list for http
	Method      string            `json:"method,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	ServiceName string            `json:"service_name,omitempty"`
}

// singboxFingerprints are the uTLS fingerprints sing-box knows; a link's
// other ones are left to sing-box's default.
var singboxFingerprints = map[string]bool{"chrome": true, "firefox": true, "edge": true,
	"safari": true, "360": true, "qq": true, "ios": true, "android": true, "random": true,
	"randomized": true}

// singboxConfig renders a sing-box configuration: a local mixed proxy,
// the outbounds sing-box can carry, a selector over them that routing
// ends in, and a direct outbound. Links it cannot carry (kcp, xhttp,
// Shadowsocks over another transport or TLS) are left out.
func singboxConfig(outs []*links.Outbound) ([]byte, error) {
	names := uniqueNames{}
	var proxies []any
	var tags []string
	for _, o := range outs {
		ob, ok := singboxOutboundOf(o)
		if !ok {
			continue
		}
		ob.Tag = names.take(o.Name)
		proxies = append(proxies, ob)
		tags = append(tags, ob.Tag)
	}
	tags = append(tags, "direct")
	selector := map[string]any{"type": "selector", "tag": "select", "outbounds": tags,
		"default": tags[0]}

	config := map[string]any{
		"log": map[string]any{"level": "warn"},
		"inbounds": []any{map[string]any{"type": "mixed", "tag": "mixed-in",
			"listen": "127.0.0.1", "listen_port": 2080}},
		"outbounds": append(append([]any{selector}, proxies...),
			map[string]any{"type": "direct", "tag": "direct"}),
		"route": map[string]any{"final": "select", "auto_detect_interface": true},
	}
	return json.MarshalIndent(config, "", "  ")
}

// singboxOutboundOf maps a link to a sing-box outbound, reporting false
// for one sing-box cannot carry.
func singboxOutboundOf(o *links.Outbound) (*singboxOutbound, bool) {
	ob := &singboxOutbound{Type: o.Protocol, Server: o.Host, ServerPort: o.Port}
	switch o.Protocol {
	case "vless":
		if o.Encryption != "" && o.Encryption != "none" {
			return nil, false // sing-box has no VLESS encryption
		}
		ob.UUID, ob.Flow, ob.PacketEncoding = o.UUID, o.Flow, "xudp"
	case "vmess":
		ob.UUID, ob.Security = o.UUID, o.Cipher
	case "trojan":
		if o.Flow != "" {
			return nil, false // sing-box's Trojan has no XTLS flow
		}
		ob.Password = o.Password
	case "shadowsocks":
		return singboxShadowsocks(ob, o)
	case "hysteria2":
		ob.Password = o.Password
		if o.Ports != "" {
			ob.ServerPorts = portRanges(o.Ports)
		}
		if o.Obfs != "" {
			ob.Obfs = &singboxObfs{Type: o.Obfs, Password: o.ObfsPassword}
		}
		ob.TLS = singboxTLSOf(o)
		ob.TLS.Insecure = o.Insecure
		return ob, true
	default:
		return nil, false
	}
	if o.Flow != "" && o.Network != "tcp" {
		return nil, false
	}
	t, ok := singboxTransportOf(o)
	if !ok {
		return nil, false
	}
	ob.Transport = t
	if o.Security != "none" {
		ob.TLS = singboxTLSOf(o)
	}
	return ob, true
}

// singboxShadowsocks fills a Shadowsocks outbound: plain TCP, or with
// the obfs-local HTTP plugin.
func singboxShadowsocks(ob *singboxOutbound, o *links.Outbound) (*singboxOutbound, bool) {
	ob.Method, ob.Password = o.Method, o.Password
	if o.Network != "tcp" || o.Security != "none" {
		return nil, false
	}
	if o.Plugin != "" {
		opts := pluginOptions(o.Plugin)
		if opts["obfs"] != "http" {
			return nil, false
		}
		ob.Plugin = "obfs-local"
		ob.PluginOpts = "obfs=http;obfs-host=" + opts["obfs-host"]
	}
	return ob, true
}

// singboxTransportOf maps the link's transport; plain tcp has none.
func singboxTransportOf(o *links.Outbound) (*singboxTransport, bool) {
	switch o.Network {
	case "tcp":
		if o.HeaderType != "http" {
			return nil, true
		}
		t := &singboxTransport{Type: "http", Path: orSlash(o.Path), Method: "GET"}
		if o.HostHeader != "" {
			t.Host = []string{o.HostHeader}
		}
		return t, true
	case "ws":
		t := &singboxTransport{Type: "ws", Path: orSlash(o.Path)}
		if o.HostHeader != "" {
			t.Headers = map[string]string{"Host": o.HostHeader}
		}
		return t, true
	case "httpupgrade":
		t := &singboxTransport{Type: "httpupgrade", Path: orSlash(o.Path)}
		if o.HostHeader != "" {
			t.Host = o.HostHeader
		}
		return t, true
	case "grpc":
		return &singboxTransport{Type: "grpc", ServiceName: o.Service}, true
	}
	return nil, false
}

// singboxTLSOf maps TLS or REALITY.
func singboxTLSOf(o *links.Outbound) *singboxTLS {
	t := &singboxTLS{Enabled: true, ServerName: o.SNI, ALPN: o.ALPN}
	fp := o.Fingerprint
	if o.Security == "reality" {
		t.Reality = &singboxRealityTLS{Enabled: true, PublicKey: o.PublicKey, ShortID: o.ShortID}
		if fp == "" {
			fp = "chrome" // sing-box's REALITY runs over uTLS
		}
	}
	if singboxFingerprints[fp] {
		t.UTLS = &singboxUTLS{Enabled: true, Fingerprint: fp}
	}
	return t
}

// portRanges writes hysteria port hopping "20000-30000,443" in
// sing-box's form: a list of ranges "20000:30000", "443:443".
func portRanges(ports string) []string {
	var out []string
	for _, r := range strings.Split(ports, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		lo, hi, ok := strings.Cut(r, "-")
		if !ok {
			hi = lo
		}
		out = append(out, lo+":"+hi)
	}
	return out
}
