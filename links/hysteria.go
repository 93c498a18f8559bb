package links

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"

	"github.com/xpanel/xpanel/kv"
)

// hysteriaLinks: hysteria2://<escaped auth>@host:port, or hysteria:// for
// an inbound of version 1. Hysteria always runs over TLS; its certificate
// pins travel as hex pinSHA256. An external proxy entry lends only its
// address, its pins and allowInsecure: it fronts the same certificate.
func (p profile) hysteriaLinks(c *kv.Client, eps []endpoint) []string {
	if c.Auth == "" {
		return nil
	}
	scheme := "hysteria2"
	if p.settings.num("version") == 1 {
		scheme = "hysteria"
	}
	s := p.stream.obj("tlsSettings").obj("settings")
	q := url.Values{}
	q.Set("security", secTLS)
	h := p.tlsOf(nil)
	h.pcs = ""
	h.each(q.Set)
	setNonEmpty(q, "pinSHA256", hexPins(s.strs("pinnedPeerCertSha256")))
	if pw := salamander(p.stream.obj("finalmask")); pw != "" {
		q.Set("obfs", "salamander")
		q.Set("obfs-password", pw)
	}
	if eps[0].proxy == nil {
		hop := p.stream.obj("finalmask").obj("quicParams").obj("udpHop")
		setNonEmpty(q, "mport", strings.TrimSpace(hop.text("ports")))
	}

	return render(scheme+"://"+escape(c.Auth)+"@", q, eps, func(q url.Values, e endpoint) {
		if e.proxy == nil {
			return
		}
		setNonEmpty(q, "pinSHA256", hexPins(e.proxy.strs("pinnedPeerCertSha256")))
		if e.proxy.flag("allowInsecure") {
			q.Set("insecure", "1")
		}
	})
}

// salamander returns the password of the first salamander UDP mask.
func salamander(fm object) string {
	for _, raw := range fm.list("udp") {
		m, _ := raw.(map[string]any)
		mask := object(m)
		if mask.str("type") != "salamander" {
			continue
		}
		if pw := mask.obj("settings").str("password"); pw != "" {
			return pw
		}
	}
	return ""
}

// hexPins joins certificate pins as the 64 lowercase hex digits Hysteria
// clients decode. Pins are stored as base64 or as hex, bare or colon
// separated; one that is neither a SHA-256 in hex nor in base64 is kept
// as it is rather than dropped.
func hexPins(pins []string) string {
	out := make([]string, len(pins))
	for i, pin := range pins {
		out[i] = hexPin(strings.TrimSpace(pin))
	}
	return strings.Join(out, ",")
}

func hexPin(pin string) string {
	bare := strings.ReplaceAll(pin, ":", "")
	if len(bare) == hex.EncodedLen(sha256.Size) {
		if _, err := hex.DecodeString(bare); err == nil {
			return strings.ToLower(bare)
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(pin); err == nil && len(b) == sha256.Size {
			return hex.EncodeToString(b)
		}
	}
	return pin
}
