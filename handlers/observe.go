package handlers

import (
	"time"

	"github.com/valyala/fasthttp"
)

// RequestObserver is told about every request once it has been
// answered: the route pattern it matched (never the raw path, which
// carries emails), its outcome and how long it took. It must be safe for
// concurrent use and quick; it runs on the request's goroutine.
type RequestObserver interface {
	ObserveRequest(route, outcome string, elapsed time.Duration)
}

// Outcomes of a request, as a RequestObserver is told them.
const (
	OutcomeSuccess         = "success"         // the envelope says success
	OutcomeFailure         = "failure"         // refused: bad input, unknown record, conflict
	OutcomeError           = "error"           // failed inside the server
	OutcomeForbidden       = "forbidden"       // a read-only token on a writing route
	OutcomeUnauthenticated = "unauthenticated" // no valid token
	OutcomeNotFound        = "not_found"       // no such route
)

// outcomeKey is the request value under which the outcome is kept once
// the answer has been written.
const outcomeKey = "xpanel.outcome"

// SetObserver makes h report every request from now on to o; nil stops
// reporting.
func (h *Handler) SetObserver(o RequestObserver) {
	if o == nil {
		h.observer.Store(nil)
		return
	}
	h.observer.Store(&o)
}

// observe reports to o a finished request that started at start.
func observe(o RequestObserver, ctx *fasthttp.RequestCtx, start time.Time) {
	o.ObserveRequest(routeOf(ctx), outcomeOf(ctx), time.Since(start))
}

// outcomeOf tells how a request ended: as the envelope writer recorded
// it, or, for the answers written without an envelope, from the token
// check and the status.
func outcomeOf(ctx *fasthttp.RequestCtx) string {
	if o, ok := ctx.UserValue(outcomeKey).(string); ok {
		return o
	}
	switch {
	case ctx.UserValue(tokenKey) == nil:
		return OutcomeUnauthenticated
	case ctx.Response.StatusCode() == fasthttp.StatusNotFound:
		return OutcomeNotFound
	case ctx.Response.StatusCode() >= fasthttp.StatusInternalServerError:
		return OutcomeError
	}
	return OutcomeSuccess
}

// recordOutcome notes the outcome of an answer written with status and
// an envelope whose success flag is ok, unless an earlier step already
// did (an internal failure marks itself).
func recordOutcome(ctx *fasthttp.RequestCtx, status int, ok bool) {
	if _, set := ctx.UserValue(outcomeKey).(string); set {
		return
	}
	outcome := OutcomeFailure
	switch {
	case status == fasthttp.StatusForbidden:
		outcome = OutcomeForbidden
	case status >= fasthttp.StatusInternalServerError:
		outcome = OutcomeError
	case ok:
		outcome = OutcomeSuccess
	}
	ctx.SetUserValue(outcomeKey, outcome)
}
