package handlers

import (
	"strconv"

	"github.com/valyala/fasthttp"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/panel"
)

// Success texts of the inbound calls.
const (
	msgInboundAdded   = "Inbound has been created."
	msgInboundUpdated = "Inbound has been updated."
	msgInboundDeleted = "Inbound has been deleted."
)

func (h *Handler) listInbounds(ctx *fasthttp.RequestCtx) {
	var out []inboundJSON
	err := h.svc.View(func(v *kv.View) error {
		inbounds := v.Inbounds()
		out = make([]inboundJSON, 0, len(inbounds))
		for _, in := range inbounds {
			j, err := inboundOf(v, in)
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	if err != nil {
		h.fail(ctx, prefixObtain, err)
		return
	}
	h.ok(ctx, out)
}

func (h *Handler) getInbound(ctx *fasthttp.RequestCtx) {
	id, ok := h.inboundID(ctx, prefixObtain)
	if !ok {
		return
	}
	var out *inboundJSON
	err := h.svc.View(func(v *kv.View) error {
		in := v.Inbound(id)
		if in == nil {
			return errNotFound
		}
		j, err := inboundOf(v, in)
		out = &j
		return err
	})
	if err != nil {
		h.fail(ctx, prefixObtain, err)
		return
	}
	h.ok(ctx, out)
}

func (h *Handler) addInbound(ctx *fasthttp.RequestCtx) {
	var input panel.InboundInput
	if !h.decode(ctx, &input) {
		return
	}
	in, err := h.svc.AddInbound(&input)
	h.answerInbound(ctx, in, err, msgInboundAdded)
}

func (h *Handler) updateInbound(ctx *fasthttp.RequestCtx) {
	id, ok := h.inboundID(ctx, prefixFailed)
	if !ok {
		return
	}
	var input panel.InboundInput
	if !h.decode(ctx, &input) {
		return
	}
	in, err := h.svc.UpdateInbound(id, &input)
	h.answerInbound(ctx, in, err, msgInboundUpdated)
}

// answerInbound renders a stored inbound as the answer of a change.
func (h *Handler) answerInbound(ctx *fasthttp.RequestCtx, in *kv.Inbound, err error, msg string) {
	if err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	var out inboundJSON
	err = h.svc.View(func(v *kv.View) error {
		if stored := v.Inbound(in.ID); stored != nil {
			in = stored
		}
		out, err = inboundOf(v, in)
		return err
	})
	if err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.write(ctx, fasthttp.StatusOK, envelope{Success: true, Msg: msg, Obj: out})
}

func (h *Handler) deleteInbound(ctx *fasthttp.RequestCtx) {
	id, ok := h.inboundID(ctx, prefixFailed)
	if !ok {
		return
	}
	if err := h.svc.DeleteInbound(id); err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.done(ctx, msgInboundDeleted)
}

// enableBody is the body of setEnable; enable is required.
type enableBody struct {
	Enable *bool `json:"enable"`
}

func (h *Handler) setInboundEnabled(ctx *fasthttp.RequestCtx) {
	id, ok := h.inboundID(ctx, prefixFailed)
	if !ok {
		return
	}
	var body enableBody
	if !h.decode(ctx, &body) {
		return
	}
	if body.Enable == nil {
		h.fail(ctx, prefixFailed, panel.Refusal("enable is required"))
		return
	}
	if err := h.svc.SetInboundEnabled(id, *body.Enable); err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.done(ctx, msgInboundUpdated)
}

// inboundID reads the id path parameter, answering the caller itself
// when it is not a positive integer.
func (h *Handler) inboundID(ctx *fasthttp.RequestCtx, prefix string) (int64, bool) {
	id, err := strconv.ParseInt(param(ctx, "id"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(ctx, prefix, panel.Refusal("inbound id must be a positive integer"))
		return 0, false
	}
	return id, true
}
