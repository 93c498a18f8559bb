package links

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Outbound is one share link read back into what a client needs to
// connect: the fields every app derives from the URI, named once, so
// that each subscription format (Xray JSON, Clash, sing-box) is written
// from the same reading. It is the reverse of Of, and also reads the
// links operators paste as external links.
type Outbound struct {
	Protocol string // vless, vmess, trojan, shadowsocks or hysteria2
	Name     string // the remark
	Host     string // without brackets
	Port     int

	UUID       string // vless, vmess
	Password   string // trojan; shadowsocks (2022: "server:user"); hysteria auth
	Method     string // shadowsocks cipher
	Cipher     string // vmess security
	Flow       string // vless, trojan
	Encryption string // vless; "none" when the link names none

	Network    string // tcp, ws, grpc, httpupgrade, xhttp or kcp
	HeaderType string // tcp http obfuscation, kcp header
	Path       string // ws, httpupgrade, xhttp, tcp-http path; kcp seed
	HostHeader string // ws, httpupgrade, xhttp, tcp-http Host
	Service    string // grpc service name
	Authority  string // grpc authority
	MultiMode  bool   // grpc
	Mode       string // xhttp
	Extra      string // xhttp extra, compact JSON
	MTU, TTI   int    // kcp
	FinalMask  string // fm: compact JSON of streamSettings.finalmask

	Security    string // none, tls or reality
	SNI         string
	Fingerprint string
	ALPN        []string
	ECH         string
	VCN         string   // verify peer certificate by name
	Pins        []string // certificate SHA-256 pins, 64 hex digits each
	PublicKey   string   // reality
	ShortID     string   // reality
	SpiderX     string   // reality
	PQV         string   // reality ML-DSA-65 verify key
	Insecure    bool     // hysteria: skip certificate checks

	Plugin       string // shadowsocks SIP003 plugin with its options
	Obfs         string // hysteria2 obfuscation type (salamander)
	ObfsPassword string
	Ports        string // hysteria2 port hopping range
}

// Errors Parse returns, wrapped with the detail.
var (
	// ErrScheme is returned for a link of a scheme Parse does not read.
	ErrScheme = errors.New("unsupported link scheme")

	// ErrMalformed is returned for a link of a known scheme that lacks
	// a part a client needs or does not decode.
	ErrMalformed = errors.New("malformed share link")
)

// Parse reads a share link of the schemes Of writes (vless, vmess,
// trojan, ss, hysteria2 and its alias hy2) the way proxy apps read
// them. The result names a server, a port and a credential.
func Parse(link string) (*Outbound, error) {
	link = strings.TrimSpace(link)
	scheme, rest, ok := strings.Cut(link, "://")
	if !ok {
		return nil, fmt.Errorf("parse link: %w", ErrScheme)
	}
	var o *Outbound
	var err error
	switch strings.ToLower(scheme) {
	case "vmess":
		o, err = parseVMess(rest)
	case "vless", "trojan", "hysteria2", "hy2":
		o, err = parseURI(strings.ToLower(scheme), link)
	case "ss":
		o, err = parseShadowsocks(link)
	default:
		return nil, fmt.Errorf("parse %s link: %w", scheme, ErrScheme)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s link: %w", scheme, err)
	}
	if o.Host == "" || o.Port < 1 || o.Port > 65535 {
		return nil, fmt.Errorf("parse %s link: %w: no server or port", scheme, ErrMalformed)
	}
	return o, nil
}

// parseURI reads the URI form of vless, trojan and hysteria2 links.
func parseURI(scheme, link string) (*Outbound, error) {
	u, err := url.Parse(link)
	if err != nil || u.User == nil {
		return nil, fmt.Errorf("%w: not a URI with a user", ErrMalformed)
	}
	o := &Outbound{Protocol: scheme, Name: u.Fragment}
	if err := o.setAddress(u); err != nil {
		return nil, err
	}
	q := u.Query()
	secret := u.User.Username()
	if pw, ok := u.User.Password(); ok {
		secret += ":" + pw // hysteria auth may hold a colon
	}
	if secret == "" {
		return nil, fmt.Errorf("%w: no credential", ErrMalformed)
	}
	switch scheme {
	case "vless":
		o.UUID, o.Encryption = secret, q.Get("encryption")
		if o.Encryption == "" {
			o.Encryption = secNone
		}
	case "trojan":
		o.Password = secret
	default:
		o.Protocol, o.Password = "hysteria2", secret
		o.readHysteria(q)
		return o, nil
	}
	o.Flow = q.Get("flow")
	o.readTransport(q)
	o.readSecurity(q)
	return o, nil
}

// setAddress takes the host and port of a parsed URI.
func (o *Outbound) setAddress(u *url.URL) error {
	o.Host = u.Hostname()
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return fmt.Errorf("%w: port %q", ErrMalformed, u.Port())
	}
	o.Port = port
	return nil
}

// readTransport reads the transport parameters of a URI link.
func (o *Outbound) readTransport(q url.Values) {
	o.Network = q.Get("type")
	switch o.Network {
	case "", "raw":
		o.Network = "tcp"
	case "http", "h2":
		// Older links name tcp with HTTP obfuscation by its header.
		o.Network, o.HeaderType = "tcp", "http"
	}
	if o.HeaderType == "" {
		o.HeaderType = q.Get("headerType")
	}
	o.Path, o.HostHeader = q.Get("path"), q.Get("host")
	o.Service, o.Authority = q.Get("serviceName"), q.Get("authority")
	o.Mode, o.Extra = q.Get("mode"), q.Get("extra")
	if o.Network == "grpc" {
		o.MultiMode, o.Mode = o.Mode == "multi", ""
	}
	if o.Network == "kcp" {
		o.Path = q.Get("seed")
		o.MTU, _ = strconv.Atoi(q.Get("mtu"))
		o.TTI, _ = strconv.Atoi(q.Get("tti"))
	}
	o.FinalMask = q.Get("fm")
}

// readSecurity reads the security layer of a URI link.
func (o *Outbound) readSecurity(q url.Values) {
	o.Security = q.Get("security")
	switch o.Security {
	case secTLS, secReality:
	default:
		o.Security = secNone
		return
	}
	o.SNI, o.Fingerprint = q.Get("sni"), q.Get("fp")
	o.ALPN = splitList(q.Get("alpn"))
	o.ECH, o.VCN = q.Get("ech"), q.Get("vcn")
	o.Pins = splitPins(q.Get("pcs"))
	o.PublicKey, o.ShortID = q.Get("pbk"), q.Get("sid")
	o.SpiderX, o.PQV = q.Get("spx"), q.Get("pqv")
}

// readHysteria reads the parameters of a hysteria2 link, which always
// runs over TLS.
func (o *Outbound) readHysteria(q url.Values) {
	o.Security = secTLS
	o.SNI, o.Fingerprint = q.Get("sni"), q.Get("fp")
	o.ALPN = splitList(q.Get("alpn"))
	o.ECH, o.VCN = q.Get("ech"), q.Get("vcn")
	o.Pins = splitPins(q.Get("pinSHA256"))
	o.Insecure = q.Get("insecure") == "1"
	o.Obfs, o.ObfsPassword = q.Get("obfs"), q.Get("obfs-password")
	o.Ports = q.Get("mport")
}

// splitPins reads a comma-separated list of certificate pins as hex.
func splitPins(s string) []string {
	var out []string
	for _, pin := range splitList(s) {
		out = append(out, hexPin(pin))
	}
	return out
}

// parseShadowsocks reads SIP002 links, with the userinfo in base64 or,
// for 2022 ciphers, in the clear, and the legacy form that encodes the
// whole "method:password@host:port" in base64.
func parseShadowsocks(link string) (*Outbound, error) {
	body, name, _ := strings.Cut(strings.TrimPrefix(link, "ss://"), "#")
	if !strings.Contains(body, "@") {
		decoded, ok := decodeBase64(strings.SplitN(body, "?", 2)[0])
		if !ok {
			return nil, fmt.Errorf("%w: neither SIP002 nor base64", ErrMalformed)
		}
		body = string(decoded)
	}
	u, err := url.Parse("ss://" + body)
	if err != nil || u.User == nil {
		return nil, fmt.Errorf("%w: not a URI with a user", ErrMalformed)
	}
	o := &Outbound{Protocol: shadowsocks}
	o.Name, _ = url.PathUnescape(name)
	if err := o.setAddress(u); err != nil {
		return nil, err
	}
	if err := o.readUserinfo(u.User); err != nil {
		return nil, err
	}
	q := u.Query()
	o.Plugin = q.Get("plugin")
	o.readTransport(q)
	if q.Get("security") == secTLS {
		o.readSecurity(q)
	} else {
		o.Security = secNone
	}
	return o, nil
}

// readUserinfo takes the method and password of a Shadowsocks link: a
// plain "method:password" (2022 ciphers, where the password is
// "server key:user key"), or base64 of it.
func (o *Outbound) readUserinfo(user *url.Userinfo) error {
	text := user.Username()
	if pw, ok := user.Password(); ok {
		text += ":" + pw
	} else if decoded, ok := decodeBase64(text); ok {
		text = string(decoded)
	}
	method, password, ok := strings.Cut(text, ":")
	if !ok || method == "" || password == "" {
		return fmt.Errorf("%w: userinfo is not method:password", ErrMalformed)
	}
	o.Method, o.Password = method, password
	return nil
}

// parseVMess reads a vmess link: base64 of the v2rayN JSON object.
func parseVMess(b64 string) (*Outbound, error) {
	b64, _, _ = strings.Cut(b64, "#")
	raw, ok := decodeBase64(b64)
	if !ok {
		return nil, fmt.Errorf("%w: not base64", ErrMalformed)
	}
	v := parseObject(raw)
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	o := &Outbound{Protocol: vmess, Name: v.str("ps"), Host: strings.Trim(v.text("add"), "[]"),
		Port: v.num("port"), UUID: v.str("id"), Cipher: vmessCipher(v.str("scy"))}
	if o.UUID == "" {
		return nil, fmt.Errorf("%w: no id", ErrMalformed)
	}
	o.readVMessTransport(v)
	o.Security = secNone
	if tls := v.str("tls"); tls == secTLS || tls == secReality {
		o.Security = tls
		o.SNI, o.Fingerprint = v.str("sni"), v.str("fp")
		o.ALPN = splitList(v.str("alpn"))
		o.ECH, o.VCN = v.str("ech"), v.str("vcn")
		o.Pins = splitPins(v.str("pcs"))
		o.PublicKey, o.ShortID, o.SpiderX = v.str("pbk"), v.str("sid"), v.str("spx")
	}
	return o, nil
}

// readVMessTransport reads the transport fields of a vmess object, where
// path and type mean different things per network.
func (o *Outbound) readVMessTransport(v object) {
	o.Network = v.str("net")
	if o.Network == "" || o.Network == "raw" {
		o.Network = "tcp"
	}
	typ := v.str("type")
	o.Path, o.HostHeader = v.text("path"), v.str("host")
	switch o.Network {
	case "tcp":
		if typ == "http" {
			o.HeaderType = typ
		}
	case "kcp":
		if typ != "none" {
			o.HeaderType = typ
		}
		o.MTU, o.TTI = v.num("mtu"), v.num("tti")
	case "grpc":
		o.Service, o.Path = o.Path, ""
		o.Authority, o.MultiMode = v.str("authority"), typ == "multi"
	case "xhttp":
		o.Mode = v.str("mode")
		o.Extra = vmessExtra(v)
	}
	o.FinalMask = v.str("fm")
}

// vmessExtra collects the xhttp fields a vmess object carries flattened
// back into the extra blob of the URI form.
func vmessExtra(v object) string {
	extra := map[string]any{}
	for k, val := range v {
		switch k {
		case "v", "add", "port", "id", "scy", "net", "type", "path", "host", "ps", "tls",
			"sni", "alpn", "fp", "ech", "vcn", "pcs", "fm", "x_padding_bytes", "aid":
			continue
		}
		extra[k] = val
	}
	if len(extra) == 0 {
		return ""
	}
	return compact(extra)
}
