package handlers

import (
	"github.com/valyala/fasthttp"
)

// TODO(proxy-host): links advertise the Host header when no public host
// is set; X-Forwarded-Host from a trusted reverse proxy is not read.

// clientLinks answers the share links of one client on each inbound it
// is attached to: null for a client attached to none, as the mirrored
// API answers.
func (h *Handler) clientLinks(ctx *fasthttp.RequestCtx) {
	list, err := h.svc.ClientLinks(param(ctx, "email"), string(ctx.Host()))
	if err != nil {
		h.fail(ctx, prefixObtain, err)
		return
	}
	h.ok(ctx, list)
}

// subLinks answers the lines of a subscription as a JSON array, the
// same links its subscription URL serves; an unknown id gets [].
func (h *Handler) subLinks(ctx *fasthttp.RequestCtx) {
	out := []string{}
	if sub := h.svc.Subscription(param(ctx, "subId"), string(ctx.Host())); sub != nil {
		out = append(out, sub.Links...)
	}
	h.ok(ctx, out)
}
