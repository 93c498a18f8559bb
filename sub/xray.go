package sub

import (
	"errors"
	"strings"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/links"
)

// errNoXray is returned for a link Xray's client cannot carry.
var errNoXray = errors.New("no Xray outbound for this link")

// xrayConfig is a whole Xray client configuration for one link, as the
// apps that run Xray (v2rayN, v2rayNG, Streisand, Happ) import a JSON
// subscription: an array of these, each named by its remarks.
type xrayConfig struct {
	Remarks   string         `json:"remarks"`
	Log       map[string]any `json:"log"`
	Inbounds  []any          `json:"inbounds"`
	Outbounds []any          `json:"outbounds"`
	Routing   map[string]any `json:"routing"`
}

// privateNets are sent direct by every Xray configuration: addresses
// that never lie behind the proxy. They are listed rather than named by
// geoip:private, which would need the app to ship the geoip file.
var privateNets = []string{"10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
	"169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7",
	"fe80::/10"}

// xrayConfigs renders one client configuration per link Xray can carry.
func xrayConfigs(outs []*links.Outbound) ([]byte, error) {
	configs := make([]xrayConfig, 0, len(outs))
	for _, o := range outs {
		ob, err := XrayOutbound(o)
		if err != nil {
			continue
		}
		ob.Tag = "proxy"
		configs = append(configs, xrayConfig{
			Remarks: o.Name,
			Log:     map[string]any{"loglevel": "warning"},
			Inbounds: []any{
				map[string]any{"tag": "socks", "protocol": "socks", "listen": "127.0.0.1",
					"port": 10808, "settings": map[string]any{"udp": true},
					"sniffing": map[string]any{"enabled": true,
						"destOverride": []string{"http", "tls", "quic"}}},
				map[string]any{"tag": "http", "protocol": "http", "listen": "127.0.0.1",
					"port": 10809},
			},
			Outbounds: []any{ob,
				map[string]any{"tag": "direct", "protocol": "freedom"},
				map[string]any{"tag": "block", "protocol": "blackhole"}},
			Routing: map[string]any{"domainStrategy": "AsIs", "rules": []any{
				map[string]any{"type": "field", "ip": privateNets, "outboundTag": "direct"}}},
		})
	}
	return json.MarshalIndent(configs, "", "  ")
}

// XrayOutboundConfig is an Xray outbound object in the JSON of Xray's own
// configuration files.
type XrayOutboundConfig struct {
	Tag            string       `json:"tag,omitempty"`
	Protocol       string       `json:"protocol"`
	Settings       xraySettings `json:"settings"`
	StreamSettings *xrayStream  `json:"streamSettings,omitempty"`
}

// xraySettings is the flat server form every proxy outbound accepts.
type xraySettings struct {
	Address    string `json:"address"`
	Port       int    `json:"port"`
	ID         string `json:"id,omitempty"`
	Password   string `json:"password,omitempty"`
	Method     string `json:"method,omitempty"`
	Security   string `json:"security,omitempty"` // vmess cipher
	Encryption string `json:"encryption,omitempty"`
	Flow       string `json:"flow,omitempty"`
	Version    int    `json:"version,omitempty"` // hysteria
}

type xrayStream struct {
	Network             string          `json:"network"`
	Security            string          `json:"security"`
	TLSSettings         *xrayTLS        `json:"tlsSettings,omitempty"`
	RealitySettings     *xrayReality    `json:"realitySettings,omitempty"`
	TCPSettings         map[string]any  `json:"tcpSettings,omitempty"`
	WSSettings          *xrayPathHost   `json:"wsSettings,omitempty"`
	HTTPUpgradeSettings *xrayPathHost   `json:"httpupgradeSettings,omitempty"`
	XHTTPSettings       *xrayXHTTP      `json:"xhttpSettings,omitempty"`
	GRPCSettings        *xrayGRPC       `json:"grpcSettings,omitempty"`
	KCPSettings         *xrayKCP        `json:"kcpSettings,omitempty"`
	HysteriaSettings    map[string]any  `json:"hysteriaSettings,omitempty"`
	FinalMask           json.RawMessage `json:"finalmask,omitempty"`
}

type xrayTLS struct {
	ServerName           string   `json:"serverName,omitempty"`
	Fingerprint          string   `json:"fingerprint,omitempty"`
	ALPN                 []string `json:"alpn,omitempty"`
	PinnedPeerCertSha256 string   `json:"pinnedPeerCertSha256,omitempty"`
	VerifyPeerCertByName string   `json:"verifyPeerCertByName,omitempty"`
	ECHConfigList        string   `json:"echConfigList,omitempty"`
}

type xrayReality struct {
	ServerName    string `json:"serverName,omitempty"`
	Fingerprint   string `json:"fingerprint,omitempty"`
	PublicKey     string `json:"publicKey"`
	ShortID       string `json:"shortId,omitempty"`
	SpiderX       string `json:"spiderX,omitempty"`
	Mldsa65Verify string `json:"mldsa65Verify,omitempty"`
}

type xrayPathHost struct {
	Path string `json:"path,omitempty"`
	Host string `json:"host,omitempty"`
}

type xrayXHTTP struct {
	Path  string          `json:"path,omitempty"`
	Host  string          `json:"host,omitempty"`
	Mode  string          `json:"mode,omitempty"`
	Extra json.RawMessage `json:"extra,omitempty"`
}

type xrayGRPC struct {
	ServiceName string `json:"serviceName"`
	Authority   string `json:"authority,omitempty"`
	MultiMode   bool   `json:"multiMode,omitempty"`
}

type xrayKCP struct {
	MTU int `json:"mtu,omitempty"`
	TTI int `json:"tti,omitempty"`
}

// XrayOutbound turns a parsed share link into the outbound an Xray
// client connects with.
func XrayOutbound(o *links.Outbound) (*XrayOutboundConfig, error) {
	if o.Protocol == "hysteria2" {
		return xrayHysteria(o)
	}
	ob := &XrayOutboundConfig{Protocol: o.Protocol,
		Settings: xraySettings{Address: o.Host, Port: o.Port}}
	switch o.Protocol {
	case "vless":
		ob.Settings.ID, ob.Settings.Flow = o.UUID, o.Flow
		ob.Settings.Encryption = o.Encryption
	case "vmess":
		ob.Settings.ID, ob.Settings.Security = o.UUID, o.Cipher
	case "trojan":
		ob.Settings.Password, ob.Settings.Flow = o.Password, o.Flow
	case "shadowsocks":
		if o.Plugin != "" && pluginOptions(o.Plugin)["obfs"] != "http" {
			return nil, errNoXray
		}
		ob.Settings.Method, ob.Settings.Password = o.Method, o.Password
	default:
		return nil, errNoXray
	}
	stream, err := xrayStreamOf(o)
	if err != nil {
		return nil, err
	}
	ob.StreamSettings = stream
	return ob, nil
}

// xrayHysteria renders a Hysteria 2 link: the hysteria transport with
// the auth, TLS, and the salamander obfuscation and port hopping as
// finalmask entries. A link that skips certificate checks without a pin
// has none, as Xray no longer skips them.
func xrayHysteria(o *links.Outbound) (*XrayOutboundConfig, error) {
	if o.Insecure && len(o.Pins) == 0 {
		return nil, errNoXray
	}
	s := &xrayStream{Network: "hysteria", Security: "tls",
		HysteriaSettings: map[string]any{"version": 2, "auth": o.Password},
		TLSSettings: &xrayTLS{ServerName: o.SNI, Fingerprint: o.Fingerprint, ALPN: o.ALPN,
			PinnedPeerCertSha256: strings.Join(o.Pins, ","), VerifyPeerCertByName: o.VCN,
			ECHConfigList: o.ECH}}
	mask := map[string]any{}
	if o.Obfs == "salamander" {
		mask["udp"] = []any{map[string]any{"type": "salamander",
			"settings": map[string]any{"password": o.ObfsPassword}}}
	}
	if o.Ports != "" {
		mask["quicParams"] = map[string]any{"udpHop": map[string]any{"ports": o.Ports}}
	}
	if len(mask) > 0 {
		s.FinalMask, _ = json.Marshal(mask)
	}
	return &XrayOutboundConfig{Protocol: "hysteria", StreamSettings: s,
		Settings: xraySettings{Address: o.Host, Port: o.Port, Version: 2}}, nil
}

// realityNetworks are the transports Xray runs REALITY over.
var realityNetworks = map[string]bool{"tcp": true, "xhttp": true, "grpc": true}

// xrayStreamOf renders the transport and security of a link.
func xrayStreamOf(o *links.Outbound) (*xrayStream, error) {
	s := &xrayStream{Network: o.Network, Security: o.Security}
	switch o.Network {
	case "tcp":
		if o.HeaderType == "http" || o.Plugin != "" {
			s.TCPSettings = httpHeader(o)
		}
	case "ws":
		s.WSSettings = &xrayPathHost{Path: o.Path, Host: o.HostHeader}
	case "httpupgrade":
		s.HTTPUpgradeSettings = &xrayPathHost{Path: o.Path, Host: o.HostHeader}
	case "xhttp":
		s.XHTTPSettings = &xrayXHTTP{Path: o.Path, Host: o.HostHeader, Mode: o.Mode}
		if o.Extra != "" && json.Valid([]byte(o.Extra)) {
			s.XHTTPSettings.Extra = json.RawMessage(o.Extra)
		}
	case "grpc":
		s.GRPCSettings = &xrayGRPC{ServiceName: o.Service, Authority: o.Authority,
			MultiMode: o.MultiMode}
	case "kcp":
		s.KCPSettings = &xrayKCP{MTU: o.MTU, TTI: o.TTI}
	default:
		return nil, errNoXray
	}
	if o.FinalMask != "" && json.Valid([]byte(o.FinalMask)) {
		s.FinalMask = json.RawMessage(o.FinalMask)
	}

	if o.Security == "reality" && !realityNetworks[o.Network] {
		return nil, errNoXray
	}
	switch o.Security {
	case "tls":
		s.TLSSettings = &xrayTLS{ServerName: o.SNI, Fingerprint: o.Fingerprint,
			ALPN: o.ALPN, PinnedPeerCertSha256: strings.Join(o.Pins, ","),
			VerifyPeerCertByName: o.VCN, ECHConfigList: o.ECH}
	case "reality":
		s.RealitySettings = &xrayReality{ServerName: o.SNI, Fingerprint: o.Fingerprint,
			PublicKey: o.PublicKey, ShortID: o.ShortID, SpiderX: o.SpiderX,
			Mldsa65Verify: o.PQV}
	}
	return s, nil
}

// httpHeader is the tcp HTTP obfuscation of a link, from its own
// parameters or from a Shadowsocks obfs-local plugin.
func httpHeader(o *links.Outbound) map[string]any {
	path, host := o.Path, o.HostHeader
	if opts := pluginOptions(o.Plugin); opts != nil {
		host = opts["obfs-host"]
	}
	if path == "" {
		path = "/"
	}
	req := map[string]any{"path": []string{path}}
	if host != "" {
		req["headers"] = map[string]any{"Host": []string{host}}
	}
	return map[string]any{"header": map[string]any{"type": "http", "request": req}}
}

// pluginOptions reads "obfs-local;obfs=http;obfs-host=h" into its
// options; nil for any other plugin.
func pluginOptions(plugin string) map[string]string {
	parts := strings.Split(plugin, ";")
	if parts[0] != "obfs-local" && parts[0] != "simple-obfs" {
		return nil
	}
	opts := map[string]string{}
	for _, p := range parts[1:] {
		if k, v, ok := strings.Cut(p, "="); ok {
			opts[k] = v
		}
	}
	return opts
}
