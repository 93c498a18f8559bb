package handlers

import (
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/panel"
)

// Paging bounds of the paged list.
const (
	defaultPageSize = 25
	maxPageSize     = 200

	// maxPage keeps the offset of a page far from overflowing.
	maxPage = 1 << 40 / maxPageSize
)

// parseQuery reads the parameters of a paged list. Every parameter is
// optional; a number that does not parse is refused, as the mirrored API
// refuses it, and everything else unknown narrows nothing.
func parseQuery(args *fasthttp.Args) (kv.Query, error) {
	var q kv.Query
	var err error
	num := func(name string) int64 {
		raw := strings.TrimSpace(string(args.Peek(name)))
		if raw == "" || err != nil {
			return 0
		}
		n, perr := strconv.ParseInt(raw, 10, 64)
		if perr != nil {
			err = panel.Refusal(perr.Error())
		}
		return n
	}

	page, size := num("page"), num("pageSize")
	q.ExpiryFrom, q.ExpiryTo = num("expiryFrom"), num("expiryTo")
	q.UsageFrom, q.UsageTo = num("usageFrom"), num("usageTo")
	if err != nil {
		return kv.Query{}, err
	}
	q.Page = int(min(max(page, 1), maxPage))
	q.PageSize = int(size)
	if size <= 0 {
		q.PageSize = defaultPageSize
	}
	q.PageSize = min(q.PageSize, maxPageSize)

	q.Search = strings.ToLower(strings.TrimSpace(string(args.Peek("search"))))
	q.Buckets = csv(args.Peek("filter"), true)
	q.Protocols = csv(args.Peek("protocol"), true)
	q.Groups = csv(args.Peek("group"), true)
	q.Inbounds = positiveIDs(csv(args.Peek("inbound"), false))
	q.AutoRenew = strings.ToLower(strings.TrimSpace(string(args.Peek("autoRenew"))))
	q.HasTgID = strings.ToLower(strings.TrimSpace(string(args.Peek("hasTgId"))))
	q.HasComment = strings.ToLower(strings.TrimSpace(string(args.Peek("hasComment"))))
	q.Sort = strings.TrimSpace(string(args.Peek("sort")))
	q.Descending = string(args.Peek("order")) == "descend"
	return q, nil
}

// csv splits a comma-separated parameter, trimming each value and
// dropping empty ones.
func csv(raw []byte, lower bool) []string {
	if len(raw) == 0 {
		return nil
	}
	var out []string
	for part := range strings.SplitSeq(string(raw), ",") {
		part = strings.TrimSpace(part)
		if lower {
			part = strings.ToLower(part)
		}
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}

// positiveIDs keeps the values that are positive integers.
func positiveIDs(values []string) []int64 {
	var out []int64
	for _, v := range values {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
			out = append(out, id)
		}
	}
	return out
}
