package handlers

import (
	"github.com/valyala/fasthttp"
	"github.com/xpanel/xpanel/panel"
)

// emailList is the body of the bulk calls that name clients only.
type emailList struct {
	Emails []string `json:"emails"`
}

// pairList is the body of bulkAttach and bulkDetach.
type pairList struct {
	Emails     []string `json:"emails"`
	InboundIDs []int64  `json:"inboundIds"`
}

func (h *Handler) bulkAdjust(ctx *fasthttp.RequestCtx) {
	var req panel.AdjustRequest
	if !h.decode(ctx, &req) {
		return
	}
	res, err := h.svc.BulkAdjust(&req)
	h.answer(ctx, res, err)
}

func (h *Handler) bulkEnable(ctx *fasthttp.RequestCtx)  { h.setEnabled(ctx, true) }
func (h *Handler) bulkDisable(ctx *fasthttp.RequestCtx) { h.setEnabled(ctx, false) }

func (h *Handler) setEnabled(ctx *fasthttp.RequestCtx, enable bool) {
	var body emailList
	if !h.decode(ctx, &body) {
		return
	}
	res, err := h.svc.SetEnabled(body.Emails, enable)
	h.answer(ctx, res, err)
}

// deleteList is the body of bulkDel.
type deleteList struct {
	Emails      []string `json:"emails"`
	KeepTraffic bool     `json:"keepTraffic"`
}

func (h *Handler) bulkDelete(ctx *fasthttp.RequestCtx) {
	var body deleteList
	if !h.decode(ctx, &body) {
		return
	}
	res, err := h.svc.BulkDelete(body.Emails, body.KeepTraffic)
	h.answer(ctx, res, err)
}

func (h *Handler) bulkCreate(ctx *fasthttp.RequestCtx) {
	var items []panel.AddRequest
	if !h.decode(ctx, &items) {
		return
	}
	res, err := h.svc.BulkCreate(items)
	h.answer(ctx, res, err)
}

// attachJSON and detachJSON are the answers of bulkAttach and bulkDetach;
// every list is null when the request named no client or no inbound.
type attachJSON struct {
	Attached []string `json:"attached"`
	panel.PairResult
}

type detachJSON struct {
	Detached []string `json:"detached"`
	panel.PairResult
}

func (h *Handler) bulkAttach(ctx *fasthttp.RequestCtx) {
	var body pairList
	if !h.decode(ctx, &body) {
		return
	}
	if len(body.Emails) == 0 || len(body.InboundIDs) == 0 {
		h.ok(ctx, attachJSON{})
		return
	}
	res, err := h.svc.BulkAttach(body.Emails, body.InboundIDs)
	res = filled(res)
	h.answer(ctx, attachJSON{Attached: res.Done, PairResult: res}, err)
}

func (h *Handler) bulkDetach(ctx *fasthttp.RequestCtx) {
	var body pairList
	if !h.decode(ctx, &body) {
		return
	}
	if len(body.Emails) == 0 || len(body.InboundIDs) == 0 {
		h.ok(ctx, detachJSON{})
		return
	}
	res, err := h.svc.BulkDetach(body.Emails, body.InboundIDs)
	res = filled(res)
	h.answer(ctx, detachJSON{Detached: res.Done, PairResult: res}, err)
}

// filled turns the empty lists of a pair result into empty arrays, so
// that a request that named clients and inbounds never answers null.
func filled(res panel.PairResult) panel.PairResult {
	if res.Done == nil {
		res.Done = []string{}
	}
	if res.Skipped == nil {
		res.Skipped = []string{}
	}
	if res.Errors == nil {
		res.Errors = []string{}
	}
	return res
}

func (h *Handler) bulkResetTraffic(ctx *fasthttp.RequestCtx) {
	var body emailList
	if !h.decode(ctx, &body) {
		return
	}
	n, err := h.svc.BulkResetTraffic(body.Emails)
	h.answer(ctx, affected{n}, err)
}

// affected is the answer of calls that count the clients they changed.
type affected struct {
	Affected int `json:"affected"`
}

// deleted is the answer of calls that count the clients they deleted.
type deleted struct {
	Deleted int `json:"deleted"`
}

func (h *Handler) delOrphans(ctx *fasthttp.RequestCtx) {
	n, err := h.svc.DelOrphans()
	h.answer(ctx, deleted{n}, err)
}

func (h *Handler) delDepleted(ctx *fasthttp.RequestCtx) {
	n, err := h.svc.DelDepleted()
	h.answer(ctx, deleted{n}, err)
}

func (h *Handler) resetAllTraffics(ctx *fasthttp.RequestCtx) {
	if err := h.svc.ResetAllTraffics(); err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.done(ctx, msgAllReset)
}

func (h *Handler) resetTraffic(ctx *fasthttp.RequestCtx) {
	if err := h.svc.ResetTraffic(param(ctx, "email")); err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.done(ctx, msgTrafficReset)
}

// trafficBody is the body of updateTraffic: the counters to set.
type trafficBody struct {
	Upload   int64 `json:"upload"`
	Download int64 `json:"download"`
}

func (h *Handler) updateTraffic(ctx *fasthttp.RequestCtx) {
	var body trafficBody
	if !h.decode(ctx, &body) {
		return
	}
	if err := h.svc.UpdateTraffic(param(ctx, "email"), body.Upload, body.Download); err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.done(ctx, msgUpdated)
}

// answer sends obj on success and the failure otherwise, for the calls
// that fail with the generic prefix.
func (h *Handler) answer(ctx *fasthttp.RequestCtx, obj any, err error) {
	if err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.ok(ctx, obj)
}
