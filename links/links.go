// Package links makes the share links of a client: the vless://,
// vmess://, trojan://, ss:// and hysteria2:// URIs a proxy app imports to
// reach one inbound as that client. Links are built from the stored
// inbound and client records alone, in the format the mirrored panel
// emits: query keys sorted, values query-escaped, the remark as fragment.
//
// Nothing here touches the store; the caller reads the records and
// decides which host to advertise (see DefaultHost).
package links

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/xpanel/xpanel/kv"
)

// Protocols that have share links.
const (
	vless       = "vless"
	vmess       = "vmess"
	trojan      = "trojan"
	shadowsocks = "shadowsocks"
	hysteria    = "hysteria"
)

// Security layers a link can name.
const (
	secTLS     = "tls"
	secReality = "reality"
	secNone    = "none"
)

// TODO(fallback-links): a VLESS or Trojan inbound that serves as another's
// fallback on loopback gets links with its own port and security, not its
// master's port, security and external proxies as 3x-ui projects them.

// Of returns the share links of client c on inbound in. There is one
// link for the inbound's own address, or one per entry when its stream
// settings list external proxies. host is advertised when the inbound
// does not listen on one routable address. An inbound of a protocol
// without share links gives none; so does a client lacking the
// credential the protocol needs.
func Of(in *kv.Inbound, c *kv.Client, host string) []string {
	p := profileOf(in)
	flow := ""
	if a, ok := c.Attachment(in.ID); ok {
		flow = a.Flow
	}
	eps := p.endpoints(host, c.Email)
	switch in.Protocol {
	case vless:
		return p.vlessLinks(c, flow, eps)
	case vmess:
		return p.vmessLinks(c, eps)
	case trojan:
		return p.trojanLinks(c, flow, eps)
	case shadowsocks:
		return p.shadowsocksLinks(c, eps)
	case hysteria:
		return p.hysteriaLinks(c, eps)
	}
	return nil
}

// profile is an inbound with its stored JSON decoded once.
type profile struct {
	in       *kv.Inbound
	settings object
	stream   object
	network  string // "tcp" also for an absent network and for "raw"
	security string // secTLS, secReality or secNone
}

func profileOf(in *kv.Inbound) profile {
	p := profile{in: in, settings: parseObject(in.Settings),
		stream: parseObject(in.StreamSettings)}
	p.network = p.stream.str("network")
	if p.network == "" || p.network == "raw" {
		p.network = "tcp"
	}
	switch sec := p.stream.str("security"); sec {
	case secTLS, secReality:
		p.security = sec
	default:
		p.security = secNone
	}
	return p
}

// endpoint is one address a link points at, with the security layer the
// client uses there.
type endpoint struct {
	host     string
	port     int
	remark   string
	security string
	proxy    object // the external proxy entry; nil for the inbound itself
}

// endpoints lists where the inbound is reached: each external proxy
// entry, or else the inbound's own advertised address. An entry without
// a destination or a valid port borrows the inbound's; one whose
// destination is not a host name or address is left out, as no link
// could carry it.
func (p profile) endpoints(host, email string) []endpoint {
	own := endpoint{host: advertised(p.in, host), port: p.in.Port,
		remark: remark(p.in.Remark, "", email), security: p.security}
	var out []endpoint
	for _, raw := range p.stream.list("externalProxy") {
		m, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		ep := object(m)
		e := own
		e.proxy = ep
		e.remark = remark(p.in.Remark, ep.str("remark"), email)
		if dest := strings.TrimSpace(ep.str("dest")); dest != "" {
			if !validHost(dest) {
				continue
			}
			e.host = dest
		}
		if port := ep.num("port"); port > 0 && port <= 65535 {
			e.port = port
		}
		switch ep.str("forceTls") {
		case secTLS:
			e.security = secTLS
		case secNone:
			e.security = secNone
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return []endpoint{own}
	}
	return out
}

// remark names a link: the non-empty parts joined by "-".
func remark(parts ...string) string {
	var kept []string
	for _, s := range parts {
		if s != "" {
			kept = append(kept, s)
		}
	}
	return strings.Join(kept, "-")
}

// assemble writes scheme+userinfo, the endpoint's address, the query and
// the remark into one link. The link is never re-parsed, which would undo
// the escaping of the userinfo.
func assemble(prefix string, e endpoint, q url.Values) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(hostPort(e.host, e.port))
	if enc := q.Encode(); enc != "" {
		b.WriteByte('?')
		b.WriteString(enc)
	}
	if e.remark != "" {
		b.WriteByte('#')
		b.WriteString(escape(e.remark))
	}
	return b.String()
}

// escape encodes a fragment or userinfo: query escaping, with a space as
// %20, so that @ / + = : and # never reach the link literally.
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// hostPort joins host and port, bracketing an IPv6 address once.
func hostPort(host string, port int) string {
	return net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
}

func cloneValues(q url.Values) url.Values {
	out := make(url.Values, len(q)+8)
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// clientKey is the per-client seed of derived values: the subscription
// id, else the email.
func clientKey(c *kv.Client) string {
	if c.SubID != "" {
		return c.SubID
	}
	return c.Email
}
