package handlers

import (
	"github.com/valyala/fasthttp"
)

// Scripts is the operator's Lua scripts as the API manages them. The
// hook engine implements it through a small adapter main.go makes.
type Scripts interface {
	// List describes every script: its handlers, calls, errors, last
	// error, or why it did not load. The value is encoded as obj.
	List() any

	// Reload loads every script again and returns the new listing. It
	// fails only when the scripts could not be read at all.
	Reload() (any, error)
}

// SetScripts serves the scripts routes from s. Without it they answer
// that no scripts run. Call it before the server starts.
func (h *Handler) SetScripts(s Scripts) {
	h.scripts = s
}

const (
	prefixScripts  = "Scripts"
	msgNoScripts   = "Lua scripts are not enabled on this server"
	msgReloaded    = "Scripts have been reloaded."
	prefixReloaded = "Reloading scripts failed"
)

// listScripts answers the listing of the loaded scripts.
func (h *Handler) listScripts(ctx *fasthttp.RequestCtx) {
	if h.scripts == nil {
		h.write(ctx, fasthttp.StatusOK, envelope{Msg: prefixScripts + " (" + msgNoScripts + ")"})
		return
	}
	h.ok(ctx, h.scripts.List())
}

// reloadScripts loads every script again. Scripts that fail to load are
// listed with their error; the call itself succeeds.
func (h *Handler) reloadScripts(ctx *fasthttp.RequestCtx) {
	if h.scripts == nil {
		h.write(ctx, fasthttp.StatusOK, envelope{Msg: prefixReloaded + " (" + msgNoScripts + ")"})
		return
	}
	list, err := h.scripts.Reload()
	if err != nil {
		h.fail(ctx, prefixReloaded, err)
		return
	}
	h.write(ctx, fasthttp.StatusOK, envelope{Success: true, Msg: msgReloaded, Obj: list})
}
