package handlers_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/xpanel/xpanel/handlers"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/panel"
)

// sortedRoutes lists the router's routes in a fixed order, so that a
// fuzz input's route index always names the same route.
func sortedRoutes(tb testing.TB) []string {
	h := handlers.New(panel.New(kvtest.Open(tb), panel.Options{}), nil, slog.New(slog.DiscardHandler))
	list := h.Routes()
	slices.Sort(list)
	return list
}

// fillParams puts param, escaped as one path segment, in place of every
// parameter of a route pattern.
func fillParams(pattern, param string) string {
	escaped := url.PathEscape(param)
	var b strings.Builder
	for {
		open := strings.IndexByte(pattern, '{')
		if open < 0 {
			b.WriteString(pattern)
			return b.String()
		}
		end := strings.IndexByte(pattern[open:], '}')
		b.WriteString(pattern[:open])
		b.WriteString(escaped)
		pattern = pattern[open+end+1:]
	}
}

// FuzzRoutes sends an arbitrary path parameter, query string and body to
// every route the router holds, so that a new route is fuzzed without
// being listed here. Whatever the input: no 5xx, the envelope (or an
// empty 404 when the parameter is not one path segment), a refusal
// changes nothing, and the store stays consistent.
func FuzzRoutes(f *testing.F) {
	a := newAPI(f)
	a.vlessInbound(4401)
	a.addClient(map[string]any{"email": "alice", "group": "G", "tgId": 7}, 1)
	a.ok("POST", "/panel/api/clients/groups/create", map[string]any{"name": "H"}, nil)
	routes := sortedRoutes(f)
	for i := range routes {
		for _, seed := range []struct{ param, query, body string }{
			{"alice", "", `{}`},
			{"1", "keepTraffic=1", `{"emails":["alice"],"inboundIds":[1]}`},
			{"G", "page=2&pageSize=1", `{"name":"G","newName":"K","emails":["alice"]}`},
			{"alice", "", `{"upload":1,"download":2,"totalGB":5,"enable":false}`},
			{"..", "%ff", ``},
			{"a/b", "a=1&a=2", `null`},
		} {
			f.Add(uint8(i), seed.param, seed.query, []byte(seed.body))
		}
	}

	f.Fuzz(func(t *testing.T, route uint8, param, query string, body []byte) {
		a := a.with(t)
		method, pattern, _ := strings.Cut(routes[int(route)%len(routes)], " ")
		switch pattern {
		case "/panel/api/backup", "/panel/api/openapi.json":
			return // the answer is a backup or a document, not the envelope
		}
		path := fillParams(pattern, param)
		before := a.snapshot()
		var sent any
		if len(body) > 0 {
			sent = body
		}
		req := path
		if query != "" {
			req += "?" + escapeQuery(query)
		}
		status, out := a.raw(method, req, sent)
		if status == http.StatusNotFound && strings.Contains(pattern, "{") && len(out) == 0 {
			return // the parameter did not stay one segment, or matched nothing
		}
		if !hostileAnswer(t, status, out) && a.snapshot() != before {
			t.Fatalf("refused %s %s changed the store: %s", method, req, out)
		}
		if err := a.store.Check(); err != nil {
			t.Fatalf("store check after %s %s: %v", method, req, err)
		}
	})
}

// escapeQuery escapes only what cannot travel in a request line, so
// that the server parses every other byte as sent.
func escapeQuery(query string) string {
	var b strings.Builder
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c <= ' ' || c >= 0x7f || c == '#' {
			b.WriteString("%" + strings.ToUpper(hexByte(c)))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
