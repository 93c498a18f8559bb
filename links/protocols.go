package links

import (
	"encoding/base64"
	"maps"
	"net/url"
	"strings"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
)

// render makes one link per endpoint from the query every endpoint
// shares, adding each endpoint's security layer with secure.
func render(prefix string, base url.Values, eps []endpoint,
	secure func(q url.Values, e endpoint)) []string {
	out := make([]string, 0, len(eps))
	for _, e := range eps {
		q := cloneValues(base)
		secure(q, e)
		out = append(out, assemble(prefix, e, q))
	}
	return out
}

// vlessLinks: vless://<uuid>@host:port, the uuid inserted as is.
func (p profile) vlessLinks(c *kv.Client, flow string, eps []endpoint) []string {
	if c.UUID == "" {
		return nil
	}
	q := url.Values{}
	p.transportOf().params(q)
	if enc, ok := p.vlessEncryption(); ok {
		q.Set("encryption", enc)
	}
	setNonEmpty(q, "fm", p.finalMask())
	if flow != "" && p.vlessCarriesFlow() {
		q.Set("flow", flow)
	}
	key := clientKey(c)
	return render("vless://"+c.UUID+"@", q, eps, func(q url.Values, e endpoint) {
		p.securityParams(q, e, key)
	})
}

// vlessEncryption is the encryption a VLESS client uses: the inbound's
// encryption setting, else "none" when the inbound does not decrypt.
// A decrypting inbound without an encryption setting names none, as the
// client's key cannot be derived from the server's.
func (p profile) vlessEncryption() (string, bool) {
	if p.settings.has("encryption") {
		return p.settings.str("encryption"), true
	}
	if dec := p.settings.str("decryption"); dec == "" || dec == secNone {
		return secNone, true
	}
	return "", false
}

// vlessCarriesFlow reports whether a VLESS link carries the client's
// XTLS flow: tcp with TLS or REALITY, or xhttp with VLESS encryption,
// unless the inbound disables flows.
func (p profile) vlessCarriesFlow() bool {
	if p.in.DisableFlow {
		return false
	}
	switch p.network {
	case "tcp":
		return p.security != secNone
	case "xhttp":
		for _, k := range []string{"encryption", "decryption"} {
			if v := p.settings.str(k); v != "" && v != secNone {
				return true
			}
		}
	}
	return false
}

// trojanLinks: trojan://<escaped password>@host:port. A flow is carried
// only over tcp with REALITY.
func (p profile) trojanLinks(c *kv.Client, flow string, eps []endpoint) []string {
	if c.Password == "" {
		return nil
	}
	q := url.Values{}
	p.transportOf().params(q)
	setNonEmpty(q, "fm", p.finalMask())
	if flow != "" && !p.in.DisableFlow && p.network == "tcp" && p.security == secReality {
		q.Set("flow", flow)
	}
	key := clientKey(c)
	return render("trojan://"+escape(c.Password)+"@", q, eps, func(q url.Values, e endpoint) {
		p.securityParams(q, e, key)
	})
}

// shadowsocksLinks: ss://<userinfo>@host:port in SIP002 form. Legacy
// ciphers put base64url(method:password) in the userinfo; 2022 ciphers
// put method, server key and user key, each query-escaped, unencoded.
func (p profile) shadowsocksLinks(c *kv.Client, eps []endpoint) []string {
	method := p.settings.str("method")
	if c.Password == "" || method == "" {
		return nil
	}
	var user string
	if strings.HasPrefix(method, "2022") {
		user = url.QueryEscape(method) + ":" + url.QueryEscape(p.settings.str("password")) +
			":" + url.QueryEscape(c.Password)
	} else {
		user = base64.RawURLEncoding.EncodeToString([]byte(method + ":" + c.Password))
	}

	q := url.Values{}
	p.transportOf().params(q)
	setNonEmpty(q, "fm", p.finalMask())
	obfsPlugin(q)
	return render("ss://"+user+"@", q, eps, p.shadowsocksSecurity)
}

// obfsPlugin rewrites tcp HTTP header obfuscation as the obfs-local
// plugin, the one form SIP002 apps read.
func obfsPlugin(q url.Values) {
	if q.Get("type") != "tcp" || q.Get("headerType") != "http" {
		return
	}
	host := q.Get("host")
	for _, k := range []string{"type", "headerType", "host", "path"} {
		q.Del(k)
	}
	q.Set("plugin", "obfs-local;obfs=http;obfs-host="+host)
}

// shadowsocksSecurity names TLS when the endpoint uses it. Otherwise the
// inbound's own link names no security; an external proxy's names none.
func (p profile) shadowsocksSecurity(q url.Values, e endpoint) {
	switch {
	case e.security == secTLS:
		q.Set("security", secTLS)
		p.tlsOf(e.proxy).each(q.Set)
	case e.proxy != nil:
		q.Set("security", secNone)
	}
}

// vmessLinks: vmess:// and the standard base64 of a JSON object with
// sorted keys and two-space indentation, as v2rayN reads it.
func (p profile) vmessLinks(c *kv.Client, eps []endpoint) []string {
	if c.UUID == "" {
		return nil
	}
	base := map[string]any{"v": "2", "type": "none", "id": c.UUID,
		"scy": vmessCipher(c.Security)}
	p.transportOf().vmess(base)
	if fm := p.finalMask(); fm != "" {
		base["fm"] = fm
	}

	out := make([]string, 0, len(eps))
	for _, e := range eps {
		o := maps.Clone(base)
		o["add"], o["port"], o["ps"] = strings.Trim(e.host, "[]"), e.port, e.remark
		o["tls"] = secNone
		switch e.security {
		case secTLS:
			o["tls"] = secTLS
			p.tlsOf(e.proxy).each(func(k, v string) { o[k] = v })
		case secReality:
			p.vmessReality(o, clientKey(c))
		}
		if link := vmessLink(o); link != "" {
			out = append(out, link)
		}
	}
	return out
}

// vmessReality names REALITY in a VMess object, with the parameters a
// VLESS link would carry under the same keys. The v2rayN object has no
// fields of its own for them; apps that read these keys can connect, and
// the others at least see that the server runs REALITY rather than none.
func (p profile) vmessReality(o map[string]any, key string) {
	q := url.Values{}
	p.realityParams(q, key)
	q.Del("security")
	for k, v := range q {
		o[k] = v[0]
	}
	o["tls"] = secReality
}

// vmessCipher is the cipher a VMess link names: the client's, with the
// ones current Xray refuses (none, zero) and a blank shown as auto.
func vmessCipher(security string) string {
	switch security {
	case "", "none", "zero":
		return "auto"
	}
	return security
}

func vmessLink(o map[string]any) string {
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return ""
	}
	return "vmess://" + base64.StdEncoding.EncodeToString(b)
}
