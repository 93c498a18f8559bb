package links

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net/url"
	"strings"
)

// tlsHints are the TLS parameters a client needs, by link key.
type tlsHints struct {
	alpn, sni, fp, ech, vcn, pcs string
}

// tlsOf reads the TLS hints of the inbound: alpn and serverName from
// tlsSettings, the rest from the panel-only tlsSettings.settings. The
// non-empty hints of an external proxy entry replace the inbound's.
func (p profile) tlsOf(proxy object) tlsHints {
	t := p.stream.obj("tlsSettings")
	s := t.obj("settings")
	h := tlsHints{
		alpn: strings.Join(t.strs("alpn"), ","),
		sni:  t.str("serverName"),
		fp:   s.str("fingerprint"),
		ech:  s.str("echConfigList"),
		vcn:  strings.TrimSpace(s.str("verifyPeerCertByName")),
		pcs:  strings.Join(s.strs("pinnedPeerCertSha256"), ","),
	}
	if proxy == nil {
		return h
	}
	override(&h.sni, proxy.str("sni"))
	override(&h.fp, proxy.str("fingerprint"))
	override(&h.alpn, strings.Join(proxy.strs("alpn"), ","))
	override(&h.pcs, strings.Join(proxy.strs("pinnedPeerCertSha256"), ","))
	override(&h.vcn, strings.TrimSpace(proxy.str("verifyPeerCertByName")))
	override(&h.ech, proxy.str("echConfigList"))
	return h
}

func override(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// each calls fn with every non-empty hint.
func (h tlsHints) each(fn func(key, value string)) {
	for _, kv := range [...][2]string{{"alpn", h.alpn}, {"sni", h.sni}, {"fp", h.fp},
		{"ech", h.ech}, {"vcn", h.vcn}, {"pcs", h.pcs}} {
		if kv[1] != "" {
			fn(kv[0], kv[1])
		}
	}
}

// securityParams writes the endpoint's security layer as query
// parameters. A layer of none carries no hint at all, also when the
// inbound itself uses TLS and only an external proxy strips it.
func (p profile) securityParams(q url.Values, e endpoint, key string) {
	switch e.security {
	case secTLS:
		q.Set("security", secTLS)
		p.tlsOf(e.proxy).each(q.Set)
	case secReality:
		p.realityParams(q, key)
	default:
		q.Set("security", secNone)
	}
}

// realityParams writes the REALITY parameters: one of the server names
// and one of the short ids, picked at random as the mirrored panel does,
// the public key, fingerprint and ML-DSA verify key from the panel-only
// settings, and a spider path derived per client.
func (p profile) realityParams(q url.Values, key string) {
	r := p.stream.obj("realitySettings")
	s := r.obj("settings")
	q.Set("security", secReality)
	setNonEmpty(q, "sni", pick(r.strs("serverNames")))
	setNonEmpty(q, "sid", pick(r.strs("shortIds")))
	setNonEmpty(q, "pbk", s.str("publicKey"))
	setNonEmpty(q, "fp", s.str("fingerprint"))
	setNonEmpty(q, "pqv", s.str("mldsa65Verify"))
	q.Set("spx", spiderX(s.str("spiderX"), key))
}

// spiderX derives the client's spider path from the inbound's spiderX
// and the client key: "/" and the first 15 hex digits of
// SHA-256(spiderX + "|" + key), stable across fetches. With neither
// input there is nothing to derive from, and the path is random.
func spiderX(seed, key string) string {
	if seed == "" && key == "" {
		return "/" + randomHex(15)
	}
	sum := sha256.Sum256([]byte(seed + "|" + key))
	return "/" + hex.EncodeToString(sum[:])[:15]
}

// pick returns a random element of list, or "" for an empty one.
func pick(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[rand.IntN(len(list))]
}

// randomHex returns n random hex digits; they name a path, not a secret.
func randomHex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rand.IntN(len(digits))]
	}
	return string(b)
}
