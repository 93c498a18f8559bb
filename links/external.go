package links

import (
	"encoding/base64"
	"strings"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
)

// External returns the line an external link adds to a subscription at
// nowMs (Unix milliseconds): its value, named by its remark when it has
// one. A disabled or expired link adds none, and so does one of kind
// "subscription": this server does not fetch other subscriptions.
func External(l kv.ExternalLink, nowMs int64) (string, bool) {
	if !l.Enable || (l.ExpiryTime > 0 && l.ExpiryTime <= nowMs) {
		return "", false
	}
	if l.Kind != "" && l.Kind != "link" {
		return "", false
	}
	link := strings.TrimSpace(l.Value)
	if link == "" {
		return "", false
	}
	name := strings.TrimSpace(l.Remark)
	if name == "" {
		return link, true
	}
	return rename(link, name), true
}

// rename gives a share link another display name: the ps of a VMess
// object, the fragment of any other link. A VMess link that does not
// decode is kept as it is.
func rename(link, name string) string {
	if b64, ok := strings.CutPrefix(link, "vmess://"); ok {
		return renameVMess(link, b64, name)
	}
	if i := strings.IndexByte(link, '#'); i >= 0 {
		link = link[:i]
	}
	return link + "#" + escape(name)
}

func renameVMess(link, b64, name string) string {
	raw, ok := decodeBase64(b64)
	if !ok {
		return link
	}
	o := parseObject(raw)
	if len(o) == 0 {
		return link
	}
	o["ps"] = name
	b, err := json.MarshalIndent(map[string]any(o), "", "  ")
	if err != nil {
		return link
	}
	return "vmess://" + base64.StdEncoding.EncodeToString(b)
}

// decodeBase64 decodes standard or URL-safe base64, padded or not, as
// share links are found in the wild.
func decodeBase64(s string) ([]byte, bool) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// Prefixed returns the link with prefix put before its display name, as
// the links of an external subscription are marked with their source.
// An empty prefix, or a link whose name cannot be read, is unchanged.
func Prefixed(link, prefix string) string {
	if prefix == "" {
		return link
	}
	o, err := Parse(link)
	if err != nil {
		return link
	}
	return rename(link, prefix+o.Name)
}

// DecodeBase64 decodes standard or URL-safe base64, padded or not: the
// encodings subscriptions and share links are found in.
func DecodeBase64(s string) ([]byte, bool) {
	return decodeBase64(s)
}
