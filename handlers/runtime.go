package handlers

import (
	"time"

	"github.com/valyala/fasthttp"
	"github.com/xpanel/xpanel/kv"
)

// recentIPs is how far back clientIpsByGuid reports source addresses.
const recentIPs = 30 * time.Minute

// ipJSON is a source address as the ips call shows it.
type ipJSON struct {
	IP   string `json:"ip"`
	Time string `json:"time"` // server-local, empty when unknown
	Node string `json:"node"` // the remote node that saw it; always this server for now

	// Refused marks an address the client's IP limit turned away or cut.
	Refused bool `json:"refused,omitempty"`
}

// clientIPs never fails: an unknown email has no addresses.
func (h *Handler) clientIPs(ctx *fasthttp.RequestCtx) {
	out := []ipJSON{}
	h.svc.View(func(v *kv.View) error {
		for _, e := range v.IPs(param(ctx, "email")) {
			j := ipJSON{IP: e.IP, Refused: e.Refused}
			if e.Timestamp > 0 {
				j.Time = time.Unix(e.Timestamp, 0).Format(time.DateTime)
			}
			out = append(out, j)
		}
		return nil
	})
	h.ok(ctx, out)
}

func (h *Handler) clearIPs(ctx *fasthttp.RequestCtx) {
	if err := h.svc.ClearIPs(param(ctx, "email")); err != nil {
		h.fail(ctx, prefixClearIP, err)
		return
	}
	h.done(ctx, msgIPsCleared)
}

func (h *Handler) onlines(ctx *fasthttp.RequestCtx) {
	h.ok(ctx, h.svc.Onlines())
}

func (h *Handler) onlinesByGUID(ctx *fasthttp.RequestCtx) {
	h.byGUID(ctx, h.svc.Onlines())
}

func (h *Handler) activeInbounds(ctx *fasthttp.RequestCtx) {
	h.byGUID(ctx, h.svc.ActiveInbounds())
}

// byGUID answers a list under this server's GUID; an empty list is left
// out, as the mirrored API leaves out nodes with nothing to report.
func (h *Handler) byGUID(ctx *fasthttp.RequestCtx, list []string) {
	guid, err := h.svc.GUID()
	if err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	out := map[string][]string{}
	if len(list) > 0 {
		out[guid] = list
	}
	h.ok(ctx, out)
}

// seenIP is a source address as clientIpsByGuid shows it.
type seenIP struct {
	IP        string `json:"ip"`
	Timestamp int64  `json:"timestamp"` // Unix seconds
}

func (h *Handler) clientIPsByGUID(ctx *fasthttp.RequestCtx) {
	guid, err := h.svc.GUID()
	if err != nil {
		h.fail(ctx, prefixFailed, err)
		return
	}
	since := time.Now().Add(-recentIPs).Unix()
	byEmail := map[string][]seenIP{}
	h.svc.View(func(v *kv.View) error {
		v.EachIPs(func(email string, ips []kv.IPEntry) {
			for _, e := range ips {
				if e.Timestamp >= since {
					byEmail[email] = append(byEmail[email], seenIP{e.IP, e.Timestamp})
				}
			}
		})
		return nil
	})
	out := map[string]map[string][]seenIP{}
	if len(byEmail) > 0 {
		out[guid] = byEmail
	}
	h.ok(ctx, out)
}

func (h *Handler) lastOnline(ctx *fasthttp.RequestCtx) {
	out := map[string]int64{}
	h.svc.View(func(v *kv.View) error {
		for _, t := range v.Traffics() {
			out[t.Email] = t.LastOnline
		}
		return nil
	})
	h.ok(ctx, out)
}
