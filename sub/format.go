package sub

import "strings"

// Formats a subscription is served in.
const (
	formatBase64  = "base64"  // base64 of the links, one a line
	formatPlain   = "plain"   // the links, one a line
	formatXray    = "json"    // an Xray client configuration per link
	formatClash   = "clash"   // a Clash/Mihomo YAML profile
	formatSingbox = "singbox" // a sing-box configuration
)

// format is a way of writing a subscription, with its content type.
type format struct {
	name, contentType string
}

var formats = map[string]format{
	formatBase64:  {formatBase64, "text/plain; charset=utf-8"},
	formatPlain:   {formatPlain, "text/plain; charset=utf-8"},
	formatXray:    {formatXray, "application/json; charset=utf-8"},
	formatClash:   {formatClash, "text/yaml; charset=utf-8"},
	formatSingbox: {formatSingbox, "application/json; charset=utf-8"},
}

// formatAliases are the other names ?format= accepts.
var formatAliases = map[string]string{
	"": formatBase64, "v2ray": formatBase64, "raw": formatPlain, "xray": formatXray,
	"mihomo": formatClash, "yaml": formatClash, "sing-box": formatSingbox,
}

// uaFormats pick a format by the app's User-Agent when the request names
// none: apps of the Clash family read YAML profiles and the sing-box
// apps (SFA, SFI, SFM, SFT) read sing-box configurations. Everything
// else, the v2ray family, Hiddify, Streisand and Happ included, reads
// base64 links. Prefixes match the start of the lower-cased agent.
var uaFormats = []struct {
	prefix, format string
}{
	{"clash", formatClash}, {"mihomo", formatClash}, {"stash", formatClash},
	{"flclash", formatClash}, {"koala-clash", formatClash},
	{"sing-box", formatSingbox}, {"sfa/", formatSingbox}, {"sfi/", formatSingbox},
	{"sfm/", formatSingbox}, {"sft/", formatSingbox},
}

// TODO(sub-info): there is no info page (?format=info, or HTML for a
// browser) showing the usage and links, as 3x-ui's subscription serves.

// formatOf chooses the format from the format query parameter, else
// from the User-Agent. It reports false for an unknown format name.
func formatOf(query, userAgent string) (format, bool) {
	query = strings.ToLower(strings.TrimSpace(query))
	if query != "" {
		name := query
		if alias, ok := formatAliases[query]; ok {
			name = alias
		}
		f, ok := formats[name]
		return f, ok
	}
	ua := strings.ToLower(userAgent)
	for _, u := range uaFormats {
		if strings.HasPrefix(ua, u.prefix) {
			return formats[u.format], true
		}
	}
	return formats[formatBase64], true
}
