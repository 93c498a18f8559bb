package sub

import (
	"bytes"
	"strconv"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/links"
)

// clashProxy is one proxy of a Clash/Mihomo profile, in Mihomo's field
// names. It is written as a JSON object, which YAML reads as a flow
// mapping, so that every string is quoted and nothing needs escaping
// rules of our own.
type clashProxy struct {
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	Server      string            `json:"server"`
	Port        int               `json:"port"`
	UDP         bool              `json:"udp"`
	UUID        string            `json:"uuid,omitempty"`
	AlterID     *int              `json:"alterId,omitempty"`
	Cipher      string            `json:"cipher,omitempty"`
	Password    string            `json:"password,omitempty"`
	Flow        string            `json:"flow,omitempty"`
	Encryption  string            `json:"encryption,omitempty"`
	TLS         bool              `json:"tls,omitempty"`
	ServerName  string            `json:"servername,omitempty"`
	SNI         string            `json:"sni,omitempty"`
	Fingerprint string            `json:"client-fingerprint,omitempty"`
	ALPN        []string          `json:"alpn,omitempty"`
	Insecure    bool              `json:"skip-cert-verify,omitempty"`
	Reality     map[string]string `json:"reality-opts,omitempty"`
	Network     string            `json:"network,omitempty"`
	WSOpts      map[string]any    `json:"ws-opts,omitempty"`
	GRPCOpts    map[string]any    `json:"grpc-opts,omitempty"`
	HTTPOpts    map[string]any    `json:"http-opts,omitempty"`
	Plugin      string            `json:"plugin,omitempty"`
	PluginOpts  map[string]any    `json:"plugin-opts,omitempty"`
	Obfs        string            `json:"obfs,omitempty"`
	ObfsPass    string            `json:"obfs-password,omitempty"`
	Ports       string            `json:"ports,omitempty"`
}

// clashGroup is the name of the one proxy group, which every rule
// sends traffic to.
const clashGroup = "Proxy"

// clashProfile renders a Clash/Mihomo profile: the proxies Mihomo can
// carry, one selector group over them, and a rule sending everything
// through it. Links it cannot carry (kcp, xhttp, REALITY on VMess,
// Shadowsocks over another transport) are left out.
func clashProfile(outs []*links.Outbound) ([]byte, error) {
	names := uniqueNames{}
	var proxies bytes.Buffer
	var members []string
	for _, o := range outs {
		p, ok := clashProxyOf(o)
		if !ok {
			continue
		}
		p.Name = names.take(o.Name)
		line, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		proxies.WriteString("  - ")
		proxies.Write(line)
		proxies.WriteByte('\n')
		members = append(members, p.Name)
	}

	var b bytes.Buffer
	b.WriteString("mixed-port: 7890\nallow-lan: false\nmode: rule\nlog-level: warning\n")
	if len(members) == 0 {
		b.WriteString("proxies: []\n")
		members = append(members, "DIRECT")
	} else {
		b.WriteString("proxies:\n")
		b.Write(proxies.Bytes())
	}
	group, err := json.Marshal(map[string]any{"name": clashGroup, "type": "select",
		"proxies": members})
	if err != nil {
		return nil, err
	}
	b.WriteString("proxy-groups:\n  - ")
	b.Write(group)
	b.WriteString("\nrules:\n  - \"MATCH," + clashGroup + "\"\n")
	return b.Bytes(), nil
}

// clashProxyOf maps a link to a Mihomo proxy, reporting false for one
// Mihomo cannot carry.
func clashProxyOf(o *links.Outbound) (clashProxy, bool) {
	p := clashProxy{Type: o.Protocol, Server: o.Host, Port: o.Port, UDP: true}
	switch o.Protocol {
	case "vless":
		p.UUID, p.Flow = o.UUID, o.Flow
		if o.Encryption != "" && o.Encryption != "none" {
			p.Encryption = o.Encryption
		}
	case "vmess":
		zero := 0
		p.UUID, p.AlterID, p.Cipher = o.UUID, &zero, o.Cipher
		if o.Security == "reality" {
			return p, false
		}
	case "trojan":
		if o.Flow != "" {
			return p, false // Mihomo's Trojan has no XTLS flow
		}
		p.Password = o.Password
	case "shadowsocks":
		p.Type = "ss"
		return clashShadowsocks(p, o)
	case "hysteria2":
		p.Password, p.SNI, p.ALPN, p.Insecure = o.Password, o.SNI, o.ALPN, o.Insecure
		p.Obfs, p.ObfsPass, p.Ports = o.Obfs, o.ObfsPassword, o.Ports
		return p, true
	default:
		return p, false
	}
	if !clashTransport(&p, o) {
		return p, false
	}
	clashSecurity(&p, o)
	return p, true
}

// clashShadowsocks fills a Shadowsocks proxy: plain TCP, or with the
// simple-obfs HTTP plugin; Mihomo has no other Xray transport for it.
func clashShadowsocks(p clashProxy, o *links.Outbound) (clashProxy, bool) {
	p.Cipher, p.Password = o.Method, o.Password
	if o.Network != "tcp" || o.Security != "none" {
		return p, false
	}
	if o.Plugin != "" {
		opts := pluginOptions(o.Plugin)
		if opts["obfs"] != "http" {
			return p, false
		}
		p.Plugin = "obfs"
		p.PluginOpts = map[string]any{"mode": "http", "host": opts["obfs-host"]}
	}
	return p, true
}

// clashTransport sets the transport options, reporting false for a
// transport Mihomo lacks.
func clashTransport(p *clashProxy, o *links.Outbound) bool {
	switch o.Network {
	case "tcp":
		if o.HeaderType == "http" {
			p.Network = "http"
			p.HTTPOpts = map[string]any{"method": "GET", "path": []string{orSlash(o.Path)}}
			if o.HostHeader != "" {
				p.HTTPOpts["headers"] = map[string]any{"Host": []string{o.HostHeader}}
			}
		}
	case "ws", "httpupgrade":
		p.Network = "ws"
		p.WSOpts = map[string]any{"path": orSlash(o.Path)}
		if o.HostHeader != "" {
			p.WSOpts["headers"] = map[string]any{"Host": o.HostHeader}
		}
		if o.Network == "httpupgrade" {
			p.WSOpts["v2ray-http-upgrade"] = true
		}
	case "grpc":
		p.Network = "grpc"
		p.GRPCOpts = map[string]any{"grpc-service-name": o.Service}
	default:
		return false
	}
	return true
}

// clashSecurity sets TLS or REALITY.
func clashSecurity(p *clashProxy, o *links.Outbound) {
	if o.Security == "none" {
		return
	}
	if p.Type == "trojan" {
		p.SNI = o.SNI
	} else {
		p.TLS, p.ServerName = true, o.SNI
	}
	p.Fingerprint, p.ALPN = o.Fingerprint, o.ALPN
	if o.Security == "reality" {
		p.Reality = map[string]string{"public-key": o.PublicKey, "short-id": o.ShortID}
		if p.Fingerprint == "" {
			p.Fingerprint = "chrome" // Mihomo's REALITY needs a uTLS fingerprint
		}
	}
}

func orSlash(path string) string {
	if path == "" {
		return "/"
	}
	return path
}

// uniqueNames hands out display names that no earlier one repeats, as
// Clash and sing-box refuse two proxies of one name.
type uniqueNames map[string]bool

func (u uniqueNames) take(name string) string {
	if name == "" {
		name = "proxy"
	}
	out := name
	for i := 2; u[out]; i++ {
		out = name + " " + strconv.Itoa(i)
	}
	u[out] = true
	return out
}
