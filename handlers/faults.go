package handlers

import (
	"slices"

	"github.com/valyala/fasthttp"
)

// SetTokens replaces the tokens the server accepts. Requests already
// past authentication finish under the tokens they were checked with.
func (h *Handler) SetTokens(tokens []Token) {
	tokens = slices.Clone(tokens)
	h.tokens.Store(&tokens)
}

// Handle adds a route behind the same token check, scope check and panic
// recovery as the API's own routes, for parts of the server outside this
// package. path must start with /panel/api/. Call it before serving.
func (h *Handler) Handle(method, path string, readOnly bool, serve fasthttp.RequestHandler) {
	h.router.Handle(method, path, h.guard(route{method, path, serve, readOnly}))
}

// recoverPanic, deferred by Serve, turns a panic in a handler into a 500
// answer in the envelope, logged with its stack and counted, so that one
// bad request cannot take the server down with everyone else's.
func (h *Handler) recoverPanic(ctx *fasthttp.RequestCtx) {
	v := recover()
	if v == nil {
		return
	}
	h.svc.Faults().Recovered(h.log, routeOf(ctx), v)
	ctx.Response.Reset()
	h.write(ctx, fasthttp.StatusInternalServerError,
		envelope{Msg: prefixFailed + " (internal error)"})
}
