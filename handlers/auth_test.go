package handlers_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/xpanel/xpanel/handlers"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/panel"
)

// routes lists every registered route of a handler.
func routes(t *testing.T) []string {
	t.Helper()
	h := handlers.New(panel.New(kvtest.Open(t), panel.Options{}), nil, slog.New(slog.DiscardHandler))
	list := h.Routes()
	if len(list) < 48 {
		t.Fatalf("only %d routes registered", len(list))
	}
	return list
}

// concrete fills the parameters of a route pattern.
func concrete(pattern string) string {
	r := strings.NewReplacer("{email}", "alice", "{tgId}", "1", "{name}", "g", "{id}", "1", "{subId}", "s")
	return r.Replace(pattern)
}

// TestAuth_EveryRouteNeedsToken walks the registered routes: without a
// token, with a wrong one or a malformed header, each answers an empty
// 404, or an empty 401 to a browser script.
func TestAuth_EveryRouteNeedsToken(t *testing.T) {
	a := newAPI(t)
	before := a.snapshot()
	for _, r := range routes(t) {
		method, pattern, _ := strings.Cut(r, " ")
		path := concrete(pattern)
		for _, tok := range []string{"", "wrong-token-wrong-token-wrong", adminToken + "x"} {
			status, body := a.as(tok).raw(method, path, `{"emails":["alice"]}`)
			if status != http.StatusNotFound || len(body) != 0 {
				t.Errorf("%s with token %q: status %d body %q, want empty 404", r, tok, status, body)
			}
			status, body = a.as(tok).raw(method, path, "{}", "X-Requested-With", "XMLHttpRequest")
			if status != http.StatusUnauthorized || len(body) != 0 {
				t.Errorf("%s (XHR) with token %q: status %d body %q, want empty 401", r, tok, status, body)
			}
		}
		for _, header := range []string{"bearer " + adminToken, "Basic " + adminToken, adminToken} {
			status, _ := a.as("").raw(method, path, nil, "Authorization", header)
			if status != http.StatusNotFound {
				t.Errorf("%s with Authorization %.6q...: status %d, want 404", r, header, status)
			}
		}
	}
	if after := a.snapshot(); after != before {
		t.Fatalf("unauthenticated calls changed the store")
	}
}

// TestAuth_ReadOnlyToken lets a read-only token call the read routes
// and answers 403 in the envelope on every other one, the backup (which
// holds every secret) included.
func TestAuth_ReadOnlyToken(t *testing.T) {
	a := newAPI(t)
	ro := a.as(readOnlyToken)
	readPosts := map[string]bool{
		"onlines": true, "onlinesByGuid": true, "clientIpsByGuid": true,
		"activeInbounds": true, "lastOnline": true, "ips": true,
	}
	for _, r := range routes(t) {
		method, pattern, _ := strings.Cut(r, " ")
		segs := strings.Split(strings.TrimPrefix(pattern, "/panel/api/clients/"), "/")
		backup := pattern == "/panel/api/backup"
		allowed := method == "GET" && !backup || readPosts[segs[0]]
		status, body := ro.raw(method, concrete(pattern), "{}")
		switch {
		case allowed && status != http.StatusOK:
			t.Errorf("%s: read-only token got %d", r, status)
		case !allowed && status != http.StatusForbidden:
			t.Errorf("%s: read-only token got %d, want 403", r, status)
		case !allowed && !strings.Contains(string(body), "not permitted"):
			t.Errorf("%s: 403 body %s", r, body)
		}
	}
}

// TestAuth_UnknownRoute answers 404 to a caller with a valid token.
func TestAuth_UnknownRoute(t *testing.T) {
	a := newAPI(t)
	for _, path := range []string{"/panel/api/clients/nope", "/panel/api/nope", "/", "/panel/api/clients/list/"} {
		if status, _ := a.raw("GET", path, nil); status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, status)
		}
	}
	if status, _ := a.raw("DELETE", "/panel/api/clients/list", nil); status != http.StatusNotFound {
		t.Errorf("DELETE list: status %d, want 404", status)
	}
}

// TestAuth_BodyTooLarge answers 413 in the envelope and stores nothing.
func TestAuth_BodyTooLarge(t *testing.T) {
	a := newAPI(t)
	big := `{"client":{"email":"big","comment":"` + strings.Repeat("x", maxBody) + `"},"inboundIds":[1]}`
	a.unchanged(func() {
		status, body := a.raw("POST", "/panel/api/clients/add", big)
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", status)
		}
		if !strings.Contains(string(body), `"success":false`) {
			t.Fatalf("body %s is not a failure envelope", body)
		}
	})
}
