package links

import (
	"net"
	"strings"
	"unicode"

	"github.com/xpanel/xpanel/kv"
)

// localhost is advertised when the only host known is this machine's own.
const localhost = "localhost"

// DefaultHost returns the host advertised for inbounds that do not
// listen on one routable address. The configured public host wins; else
// the Host header of the request, without its port. A loopback or
// unspecified address, a missing header and one that is not a host name
// or address all give "localhost": none of them is reachable from
// elsewhere, and a malformed header must not break the links.
func DefaultHost(publicHost, hostHeader string) string {
	if h := strings.TrimSpace(publicHost); h != "" {
		return strings.Trim(h, "[]")
	}
	host := strings.TrimSpace(hostHeader)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() || ip.IsUnspecified() {
			return localhost
		}
		return host
	}
	if !hostName(host) {
		return localhost
	}
	return host
}

// hostName reports whether s is made of the letters, digits, dots,
// hyphens and underscores of a DNS name, internationalised or not.
func hostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '.', r == '-', r == '_':
		case r > unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
		default:
			return false
		}
	}
	return true
}

// validHost reports whether s can stand as the host of a link: an IP
// address, bracketed or not, or a host name.
func validHost(s string) bool {
	return net.ParseIP(strings.Trim(s, "[]")) != nil || hostName(s)
}

// advertised returns the host a client dials for the inbound: its share
// address when the operator set one (the inbound sits behind NAT or a
// name other than the panel's), else its listen address when that is one
// routable address, else host.
func advertised(in *kv.Inbound, host string) string {
	if share := strings.Trim(strings.TrimSpace(in.ShareAddr), "[]"); validHost(share) {
		return share
	}
	listen := strings.TrimSpace(in.Listen)
	if listen == "" || listen[0] == '@' || listen[0] == '/' {
		return host
	}
	if ip := net.ParseIP(strings.Trim(listen, "[]")); ip != nil {
		if ip.IsLoopback() || ip.IsUnspecified() {
			return host
		}
		return ip.String()
	}
	if !hostName(listen) {
		return host
	}
	return listen
}
