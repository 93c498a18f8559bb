package links

import (
	"net/url"
	"strconv"
	"strings"
)

// transport is what a link says of the inbound's transport, read once
// and written either as query parameters or into a VMess object.
type transport struct {
	network            string
	header             string // tcp or kcp header type
	path, host         string
	showPath, showHost bool   // present in the link even when empty
	service, authority string // grpc
	multi              bool   // grpc multi mode
	mode               string // xhttp
	hasMode            bool
	padding            string         // xhttp xPaddingBytes
	extra              map[string]any // xhttp fields both sides must agree on
	seed               string         // kcp
	mtu, tti           int            // kcp
}

// transportOf reads the transport settings of the profile's network.
func (p profile) transportOf() transport {
	t := transport{network: p.network}
	switch p.network {
	case "tcp":
		t.readTCP(p.tcpSettings())
	case "kcp":
		t.readKCP(p.stream)
	case "ws":
		t.readPathHost(p.stream.obj("wsSettings"))
	case "httpupgrade":
		t.readPathHost(p.stream.obj("httpupgradeSettings"))
	case "grpc":
		g := p.stream.obj("grpcSettings")
		t.service, t.authority = g.str("serviceName"), g.str("authority")
		t.multi = g.flag("multiMode")
	case "xhttp":
		x := p.stream.obj("xhttpSettings")
		t.readPathHost(x)
		t.mode, t.hasMode = x.str("mode"), x.has("mode")
		t.padding = x.text("xPaddingBytes")
		t.extra = xhttpExtra(x)
	}
	return t
}

// tcpSettings are the settings of a tcp transport, under either of the
// names Xray accepts.
func (p profile) tcpSettings() object {
	if s := p.stream.obj("tcpSettings"); s != nil {
		return s
	}
	return p.stream.obj("rawSettings")
}

// readTCP reads the HTTP header obfuscation of a tcp transport: the
// first request path, and the Host of the response headers, else of the
// request headers.
func (t *transport) readTCP(s object) {
	h := s.obj("header")
	t.header = h.str("type")
	if t.header != "http" {
		return
	}
	req := h.obj("request")
	if paths := req.list("path"); len(paths) > 0 {
		t.path, _ = paths[0].(string)
		t.showPath = true
	}
	t.host = hostOf(h.obj("response").obj("headers"))
	if t.host == "" {
		t.host = hostOf(req.obj("headers"))
	}
	t.showHost = true
}

// readKCP reads a kcp transport from kcpSettings and from the legacy
// mKCP masks of finalmask, which carry the seed or the header type.
func (t *transport) readKCP(stream object) {
	k := stream.obj("kcpSettings")
	t.header = k.obj("header").str("type")
	t.seed, t.mtu, t.tti = k.str("seed"), k.num("mtu"), k.num("tti")
	for _, raw := range stream.obj("finalmask").list("udp") {
		m, _ := raw.(map[string]any)
		mask := object(m)
		if mask.str("type") != "mkcp-legacy" {
			continue
		}
		s := mask.obj("settings")
		if header := s.str("header"); header == "" {
			t.seed = s.str("value")
		} else if name, ok := kcpMaskHeaders[header]; ok {
			t.header = name
		}
	}
}

// kcpMaskHeaders maps the header names of mKCP masks to the header types
// of share links.
var kcpMaskHeaders = map[string]string{
	"dns": "dns", "dtls": "dtls", "srtp": "srtp", "utp": "utp",
	"wechat": "wechat-video", "wireguard": "wireguard",
}

// readPathHost reads the path and host of ws, httpupgrade and xhttp: the
// host setting, else the Host header.
func (t *transport) readPathHost(s object) {
	t.path = s.str("path")
	t.host = s.str("host")
	if t.host == "" {
		t.host = hostOf(s.obj("headers"))
	}
	t.showPath, t.showHost = true, true
}

// params writes the transport as query parameters, after type.
func (t transport) params(q url.Values) {
	q.Set("type", t.network)
	if t.showPath {
		q.Set("path", t.path)
	}
	if t.showHost {
		q.Set("host", t.host)
	}
	switch t.network {
	case "tcp":
		if t.header == "http" {
			q.Set("headerType", "http")
		}
	case "kcp":
		if t.header != "" && t.header != "none" {
			q.Set("headerType", t.header)
		}
		setNonEmpty(q, "seed", t.seed)
		setPositive(q, "mtu", t.mtu)
		setPositive(q, "tti", t.tti)
	case "grpc":
		q.Set("serviceName", t.service)
		q.Set("authority", t.authority)
		if t.multi {
			q.Set("mode", "multi")
		}
	case "xhttp":
		if t.hasMode {
			q.Set("mode", t.mode)
		}
		setNonEmpty(q, "x_padding_bytes", t.padding)
		if len(t.extra) > 0 {
			q.Set("extra", compact(t.extra))
		}
	}
}

// vmess writes the transport into a VMess link object.
func (t transport) vmess(o map[string]any) {
	o["net"] = t.network
	if t.showPath {
		o["path"] = t.path
	}
	if t.showHost {
		o["host"] = t.host
	}
	switch t.network {
	case "tcp":
		if t.header != "" {
			o["type"] = t.header
		}
	case "kcp":
		if t.header != "" && t.header != "none" {
			o["type"] = t.header
		}
		if t.seed != "" {
			o["path"] = t.seed
		}
		if t.mtu > 0 {
			o["mtu"] = t.mtu
		}
		if t.tti > 0 {
			o["tti"] = t.tti
		}
	case "grpc":
		o["path"], o["authority"] = t.service, t.authority
		if t.multi {
			o["type"] = "multi"
		}
	case "xhttp":
		if t.hasMode {
			o["mode"] = t.mode
		}
		if t.padding != "" {
			o["x_padding_bytes"] = t.padding
		}
		for k, v := range t.extra {
			o[k] = v
		}
	}
}

// xhttpStringFields are the xhttp settings both ends must agree on that
// links carry in extra when set, with the core default each may omit.
var xhttpStringFields = []struct{ name, coreDefault string }{
	{"uplinkHTTPMethod", ""},
	{"sessionIDPlacement", ""}, {"sessionIDKey", ""},
	{"sessionIDTable", ""}, {"sessionIDLength", ""},
	{"seqPlacement", ""}, {"seqKey", ""},
	{"uplinkDataPlacement", ""}, {"uplinkDataKey", ""},
	{"scMaxEachPostBytes", "1000000"}, {"scMinPostsIntervalMs", "30"},
}

// xhttpExtra collects the xhttp settings a client must match into the
// extra blob; nil when there are none. Values equal to the core's own
// defaults are left out: they change nothing and fingerprint the link.
func xhttpExtra(x object) map[string]any {
	extra := map[string]any{}
	if x.str("mode") != "" {
		extra["mode"] = x.str("mode")
	}
	if pad := x.text("xPaddingBytes"); pad != "" {
		extra["xPaddingBytes"] = pad
	}
	if x.flag("xPaddingObfsMode") {
		extra["xPaddingObfsMode"] = true
		for _, k := range []string{"xPaddingKey", "xPaddingHeader",
			"xPaddingPlacement", "xPaddingMethod"} {
			if v := x.str(k); v != "" {
				extra[k] = v
			}
		}
	}
	for _, f := range xhttpStringFields {
		if v := x.text(f.name); v != "" && v != f.coreDefault {
			extra[f.name] = v
		}
	}
	if n := x.num("uplinkChunkSize"); n != 0 {
		extra["uplinkChunkSize"] = n
	}
	if x.flag("noGRPCHeader") {
		extra["noGRPCHeader"] = true
	}
	for _, k := range []string{"xmux", "downloadSettings"} {
		if v := x.obj(k); len(v) > 0 {
			extra[k] = map[string]any(v)
		}
	}
	if headers := withoutHost(x.obj("headers")); len(headers) > 0 {
		extra["headers"] = headers
	}
	if len(extra) == 0 {
		return nil
	}
	return extra
}

// withoutHost copies headers without Host, which the link carries as its
// own parameter.
func withoutHost(headers object) map[string]any {
	out := map[string]any{}
	for k, v := range headers {
		if !strings.EqualFold(k, "host") {
			out[k] = v
		}
	}
	return out
}

// finalMask returns the stream's finalmask as the compact JSON of the fm
// parameter, or "" when it carries nothing.
func (p profile) finalMask() string {
	fm := p.stream.obj("finalmask")
	if !hasContent(map[string]any(fm)) {
		return ""
	}
	return compact(map[string]any(fm))
}

func setNonEmpty(q url.Values, key, v string) {
	if v != "" {
		q.Set(key, v)
	}
}

func setPositive(q url.Values, key string, n int) {
	if n > 0 {
		q.Set(key, strconv.Itoa(n))
	}
}
