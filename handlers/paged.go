package handlers

import (
	"bytes"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	json "github.com/goccy/go-json"
	"github.com/valyala/fasthttp"
	"github.com/xpanel/xpanel/kv"
)

// pageJSON is the answer of a paged list. pagedClients writes it in
// parts; the struct is its shape and what tests compare the parts with.
type pageJSON struct {
	Items    []slimClient `json:"items"`
	Total    int          `json:"total"`
	Filtered int          `json:"filtered"`
	Page     int          `json:"page"`
	PageSize int          `json:"pageSize"`
	Summary  *kv.Summary  `json:"summary"`
	Groups   []string     `json:"groups"`
}

func (h *Handler) pagedClients(ctx *fasthttp.RequestCtx) {
	q, err := parseQuery(ctx.QueryArgs())
	if err != nil {
		h.fail(ctx, prefixObtain, err)
		return
	}
	var out pageJSON
	h.svc.View(func(v *kv.View) error {
		page := v.Query(q, h.svc.Status())
		out = pageJSON{Items: make([]slimClient, len(page.Items)),
			Total: page.Total, Filtered: page.Filtered, Page: page.Page,
			PageSize: page.PageSize, Summary: page.Summary, Groups: page.Groups}
		for i, it := range page.Items {
			out.Items[i] = slimOf(it.Client, it.Traffic)
		}
		return nil
	})
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer pageBuffers.Put(buf)
	if err := h.pages.encode(buf, &out); err != nil {
		h.fail(ctx, prefixObtain, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json; charset=utf-8")
	ctx.SetBody(buf.Bytes())
}

// pageBuffers hold answers being assembled. A paged answer is about 30 KB;
// allocating it afresh for every request kept the garbage collector busy.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// pageParts keeps the encoded end of the last paged answer: the summary
// and the group names. The store hands out the same summary until a
// commit, a new second or a change of who is online, and every page of
// that time carries it; its email lists are more than half of a page's
// bytes, so it is encoded once rather than per request.
type pageParts struct {
	last atomic.Pointer[pageTail]
}

// pageTail is the encoded summary and groups of one page, closing the
// answer's object and envelope.
type pageTail struct {
	summary *kv.Summary
	groups  []string
	bytes   []byte
}

// encode writes the whole answer, envelope included, for p to buf, which
// it resets first: the same bytes as encoding the envelope with p in it.
func (pp *pageParts) encode(buf *bytes.Buffer, p *pageJSON) error {
	tail, err := pp.tail(p.Summary, p.Groups)
	if err != nil {
		return err
	}
	buf.Reset()
	buf.WriteString(`{"success":true,"msg":"","obj":{"items":`)
	if err := json.NewEncoder(buf).Encode(p.Items); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // the newline Encode ends with

	b := buf.AvailableBuffer()
	for _, f := range []struct {
		name string
		n    int
	}{{`,"total":`, p.Total}, {`,"filtered":`, p.Filtered}, {`,"page":`, p.Page},
		{`,"pageSize":`, p.PageSize}} {
		b = append(b, f.name...)
		b = strconv.AppendInt(b, int64(f.n), 10)
	}
	buf.Write(b)
	buf.Write(tail)
	return nil
}

// tail returns the encoded summary and groups, reusing the last encoding
// when they are the same.
func (pp *pageParts) tail(s *kv.Summary, groups []string) ([]byte, error) {
	if t := pp.last.Load(); t != nil && t.summary == s &&
		(t.groups == nil) == (groups == nil) && slices.Equal(t.groups, groups) {
		return t.bytes, nil
	}
	sb, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	gb, err := json.Marshal(groups)
	if err != nil {
		return nil, err
	}
	b := append([]byte(`,"summary":`), sb...)
	b = append(append(b, `,"groups":`...), gb...)
	b = append(b, "}}"...)
	pp.last.Store(&pageTail{summary: s, groups: groups, bytes: b})
	return b, nil
}
