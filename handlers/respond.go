package handlers

import (
	"log/slog"

	json "github.com/goccy/go-json"
	"github.com/valyala/fasthttp"
	"github.com/xpanel/xpanel/panel"
)

// Failure prefixes and success texts, as the API this server is
// compatible with words them.
const (
	prefixObtain  = "Obtain"
	prefixFailed  = "Something went wrong"
	prefixTraffic = "Error getting traffic."
	prefixClearIP = "The update was successful."

	msgAdded        = "Inbound client(s) have been added."
	msgUpdated      = "Inbound client has been updated."
	msgDeleted      = "Inbound client has been deleted."
	msgAllReset     = "Traffic for all clients has been reset."
	msgTrafficReset = "Traffic has been reset."
	msgIPsCleared   = "The log has been cleared."
)

// envelope is the body of every API answer.
type envelope struct {
	Success bool   `json:"success"`
	Msg     string `json:"msg"`
	Obj     any    `json:"obj"`
}

// ok answers success with an object and no message.
func (h *Handler) ok(ctx *fasthttp.RequestCtx, obj any) {
	h.write(ctx, fasthttp.StatusOK, envelope{Success: true, Obj: obj})
}

// done answers success with a message and no object.
func (h *Handler) done(ctx *fasthttp.RequestCtx, msg string) {
	h.write(ctx, fasthttp.StatusOK, envelope{Success: true, Msg: msg})
}

// fail answers a failed call. A refusal's text goes to the caller as
// "<prefix> (<reason>)"; any other error is logged and the caller is told
// only that something failed inside.
func (h *Handler) fail(ctx *fasthttp.RequestCtx, prefix string, err error) {
	reason := err.Error()
	if !panel.IsRefusal(err) {
		h.log.Error("request failed", slog.String("route", routeOf(ctx)), slog.Any("err", err))
		reason = "internal error"
		ctx.SetUserValue(outcomeKey, OutcomeError)
	}
	h.write(ctx, fasthttp.StatusOK, envelope{Msg: prefix + " (" + reason + ")"})
}

// badBody answers a body that did not decode.
func (h *Handler) badBody(ctx *fasthttp.RequestCtx, err error) {
	h.write(ctx, fasthttp.StatusOK, envelope{Msg: prefixFailed + " (" + err.Error() + ")"})
}

func (h *Handler) write(ctx *fasthttp.RequestCtx, status int, body envelope) {
	b, err := json.Marshal(body)
	if err != nil {
		h.log.Error("encode answer", slog.String("route", routeOf(ctx)), slog.Any("err", err))
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		return
	}
	recordOutcome(ctx, status, body.Success)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json; charset=utf-8")
	ctx.SetBody(b)
}

// routeOf names the matched route of a request for the log, never the
// raw path, which carries emails.
func routeOf(ctx *fasthttp.RequestCtx) string {
	if r, ok := ctx.UserValue(routeKey).(string); ok {
		return r
	}
	return "unmatched"
}
