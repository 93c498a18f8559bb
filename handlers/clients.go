package handlers

import (
	"strconv"

	"github.com/valyala/fasthttp"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/panel"
)

// errNotFound is the reason given for an email or id nothing is stored
// under, in the words of the API this server mirrors.
var errNotFound = panel.Refusal("record not found")

func (h *Handler) listClients(ctx *fasthttp.RequestCtx) {
	var rows []clientRow
	h.svc.View(func(v *kv.View) error {
		rows = make([]clientRow, 0, v.ClientCount())
		v.EachClient(func(c *kv.Client, t *kv.Traffic) bool {
			rows = append(rows, clientRow{Client: c, InboundIDs: c.InboundIDs(),
				Traffic: trafficOf(t, c, false)})
			return true
		})
		return nil
	})
	h.ok(ctx, rows)
}

func (h *Handler) getClient(ctx *fasthttp.RequestCtx) {
	var d *clientDetail
	h.svc.View(func(v *kv.View) error {
		if c := v.ClientByEmail(param(ctx, "email")); c != nil {
			detail := detailOf(c, v.Traffic(c.Email))
			d = &detail
		}
		return nil
	})
	if d == nil {
		h.fail(ctx, prefixObtain, errNotFound)
		return
	}
	h.ok(ctx, d)
}

func (h *Handler) getByTgID(ctx *fasthttp.RequestCtx) {
	id, err := strconv.ParseInt(param(ctx, "tgId"), 10, 64)
	if err != nil {
		h.fail(ctx, prefixObtain, panel.Refusal(err.Error()))
		return
	}
	if id <= 0 {
		h.fail(ctx, prefixObtain, panel.Refusal("tg_id must be a positive integer"))
		return
	}
	out := []clientDetail{}
	h.svc.View(func(v *kv.View) error {
		v.EachClient(func(c *kv.Client, t *kv.Traffic) bool {
			if c.TgID == id {
				out = append(out, detailOf(c, t))
			}
			return true
		})
		return nil
	})
	h.ok(ctx, out)
}

func (h *Handler) clientTraffic(ctx *fasthttp.RequestCtx) {
	var t *trafficJSON
	h.svc.View(func(v *kv.View) error {
		email := param(ctx, "email")
		t = trafficOf(v.Traffic(email), v.ClientByEmail(email), true)
		return nil
	})
	h.ok(ctx, t)
}

func (h *Handler) exportClients(ctx *fasthttp.RequestCtx) {
	var out []exportItem
	h.svc.View(func(v *kv.View) error {
		out = make([]exportItem, 0, v.ClientCount())
		v.EachClient(func(c *kv.Client, _ *kv.Traffic) bool {
			out = append(out, exportOf(c))
			return true
		})
		return nil
	})
	h.ok(ctx, out)
}

func (h *Handler) addClient(ctx *fasthttp.RequestCtx) {
	var req panel.AddRequest
	if !h.decode(ctx, &req) {
		return
	}
	if err := h.svc.AddClient(&req); err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.done(ctx, msgAdded)
}

// updateClient patches a client. The inboundIds query parameter, with
// which the mirrored API limits which inbounds are rewritten, has no
// meaning here: every inbound renders from the one record.
func (h *Handler) updateClient(ctx *fasthttp.RequestCtx) {
	var in panel.ClientInput
	if !h.decode(ctx, &in) {
		return
	}
	if err := h.svc.UpdateClient(param(ctx, "email"), &in); err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.done(ctx, msgUpdated)
}

func (h *Handler) deleteClient(ctx *fasthttp.RequestCtx) {
	keep := string(ctx.QueryArgs().Peek("keepTraffic")) == "1"
	if err := h.svc.DeleteClient(param(ctx, "email"), keep); err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.done(ctx, msgDeleted)
}

// inboundList is the body of attach and detach.
type inboundList struct {
	InboundIDs []int64 `json:"inboundIds"`
}

func (h *Handler) attach(ctx *fasthttp.RequestCtx) {
	var body inboundList
	if !h.decode(ctx, &body) {
		return
	}
	if err := h.svc.Attach(param(ctx, "email"), body.InboundIDs); err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.done(ctx, msgAdded)
}

func (h *Handler) detach(ctx *fasthttp.RequestCtx) {
	var body inboundList
	if !h.decode(ctx, &body) {
		return
	}
	if err := h.svc.Detach(param(ctx, "email"), body.InboundIDs); err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.done(ctx, msgDeleted)
}

// linksBody is the body of externalLinks.
type linksBody struct {
	Links []panel.ExternalLinkInput `json:"externalLinks"`
}

func (h *Handler) externalLinks(ctx *fasthttp.RequestCtx) {
	var body linksBody
	if !h.decode(ctx, &body) {
		return
	}
	if err := h.svc.SetExternalLinks(param(ctx, "email"), body.Links); err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.done(ctx, msgUpdated)
}

// importBody is the body of import: an export, as a JSON string.
type importBody struct {
	Data string `json:"data"`
}

func (h *Handler) importClients(ctx *fasthttp.RequestCtx) {
	var body importBody
	if !h.decode(ctx, &body) {
		return
	}
	res, err := h.svc.Import(body.Data)
	if err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	h.ok(ctx, res)
}
