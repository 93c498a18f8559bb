package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// webhook is a receiver on 127.0.0.1 that, while holding, keeps every
// request waiting, and otherwise answers it; it keeps what it got.
type webhook struct {
	srv     *httptest.Server
	mu      sync.Mutex
	holding bool
	held    []string
	done    []string
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{holding: true}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		holding := w.holding
		if holding {
			w.held = append(w.held, string(body))
		} else {
			w.done = append(w.done, string(body))
		}
		w.mu.Unlock()
		if holding {
			<-r.Context().Done() // the server that sent it dies first
		}
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) got() (held, done []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.held), slices.Clone(w.done)
}

// TestMain_HookEventsSurviveKillNine kills the server while a handler is
// delivering the events of acknowledged adds: after the restart every
// event is delivered, the interrupted one again with the same id.
func TestMain_HookEventsSurviveKillNine(t *testing.T) {
	hook := newWebhook(t)
	scripts := t.TempDir()
	src := `xpanel.on("client.created", function(e)
  assert(xpanel.http_post("` + hook.srv.URL + `", e.email .. " " .. e.eventId, {timeout = 30}))
end)`
	if err := os.WriteFile(filepath.Join(scripts, "notify.lua"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := settings{dataDir: t.TempDir(), token: testToken, scriptsDir: scripts}

	p := start(t, conf)
	api := p.api(testToken)
	inbound := api.vlessInbound(t, 20445)
	for _, email := range []string{"a", "b", "c"} {
		api.ok(t, "POST", "/panel/api/clients/add", addItem(email, 0, inbound), nil)
	}
	waitFor(t, "the first event's webhook", func() bool {
		held, _ := hook.got()
		return len(held) == 1
	}, 0)
	p.kill()

	hook.mu.Lock()
	hook.holding = false
	hook.mu.Unlock()
	p = start(t, conf)
	waitFor(t, "every event after the restart", func() bool {
		_, done := hook.got()
		return len(done) == 3
	}, 0)

	held, done := hook.got()
	slices.Sort(done)
	if !slices.Equal(done, []string{"a 1", "b 2", "c 3"}) {
		t.Errorf("delivered after restart %q, want a, b and c with ids 1 to 3", done)
	}
	if !slices.Contains(done, held[0]) {
		t.Errorf("interrupted delivery %q not repeated with its id in %q", held[0], done)
	}
	time.Sleep(100 * time.Millisecond)
	if _, again := hook.got(); len(again) != 3 {
		t.Errorf("events delivered again after the restart: %q", again)
	}
	p.stop()
}

// TestMain_ReloadOnHangup reloads the scripts on SIGHUP: a script added
// to the directory shows in the listing, with its handler.
func TestMain_ReloadOnHangup(t *testing.T) {
	scripts := t.TempDir()
	p := start(t, settings{dataDir: t.TempDir(), token: testToken, scriptsDir: scripts})
	api := p.api(testToken)

	type listed struct {
		Name     string   `json:"name"`
		Handlers []string `json:"handlers"`
	}
	var list []listed
	api.ok(t, "GET", "/panel/api/scripts", nil, &list)
	if len(list) != 0 {
		t.Fatalf("listing %+v, want no script", list)
	}
	src := []byte(`xpanel.on("client.deleted", function(e) end)`)
	if err := os.WriteFile(filepath.Join(scripts, "new.lua"), src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload", func() bool {
		api.ok(t, "GET", "/panel/api/scripts", nil, &list)
		return len(list) == 1
	}, 0)
	if list[0].Name != "new.lua" || !slices.Equal(list[0].Handlers, []string{"client.deleted"}) {
		t.Errorf("after SIGHUP %+v", list)
	}
	p.stop()
}
