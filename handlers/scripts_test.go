package handlers_test

import (
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xpanel/xpanel/handlers"
	"github.com/xpanel/xpanel/hooks"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/panel"
)

// engineAPI serves the scripts routes from a hook engine, as main does.
type engineAPI struct{ e *hooks.Engine }

func (s engineAPI) List() any            { return s.e.Status() }
func (s engineAPI) Reload() (any, error) { return s.e.Reload() }

// newScriptedAPI starts the API with a hook engine over the scripts
// written to a temporary directory, which it returns.
func newScriptedAPI(t *testing.T, scripts map[string]string) (*api, string) {
	t.Helper()
	dir := t.TempDir()
	for name, src := range scripts {
		writeScript(t, dir, name, src)
	}
	store := kvtest.Open(t)
	svc := panel.New(store, panel.Options{})
	h := handlers.New(svc, []handlers.Token{
		{Hash: handlers.HashToken(adminToken)},
		{Hash: handlers.HashToken(readOnlyToken), ReadOnly: true},
	}, slog.New(slog.DiscardHandler))
	eng, err := hooks.Open(store, svc, hooks.Options{Dir: dir,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open hooks: %v", err)
	}
	h.SetScripts(engineAPI{eng})

	srv := h.Server(handlers.Limits{MaxBodyBytes: maxBody, ReadTimeout: 5 * time.Second,
		WriteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second, MaxConns: 256})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go srv.Serve(handlers.Lingering(ln))
	t.Cleanup(func() {
		srv.Shutdown()
		eng.Close()
	})
	return &api{t: t, base: "http://" + ln.Addr().String(), token: adminToken,
		store: store, svc: svc, http: &http.Client{Timeout: 10 * time.Second}}, dir
}

func writeScript(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
}

// noter is a before-hook that changes the client it is handed.
const noter = `
xpanel.before("client.create", function(c)
  c.comment = "checked"
  return c
end)
`

// resellerCap is the example script that caps reseller clients.
func resellerCap(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../scripts/examples/reseller_cap.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const broken = `
xpanel.on("client.created", function(e)
  local x = = 1
end)
`

// TestHandler_Scripts lists the scripts, lets a before-hook refuse an
// add with its message, and reloads the scripts for admin callers only.
func TestHandler_Scripts(t *testing.T) {
	a, dir := newScriptedAPI(t, map[string]string{
		"a_cap.lua": resellerCap(t), "b_broken.lua": broken, "c_note.lua": noter})
	in := a.vlessInbound(4433)

	t.Run("listing shows handlers and load errors with the line", func(t *testing.T) {
		var list []hooks.Status
		a.as(readOnlyToken).ok("GET", "/panel/api/scripts", nil, &list)
		if len(list) != 3 || list[0].Name != "a_cap.lua" || list[1].Name != "b_broken.lua" {
			t.Fatalf("listing %+v, want the scripts in name order", list)
		}
		if !list[0].Loaded || len(list[0].Before) != 2 || list[0].Before[0] != "client.create" {
			t.Errorf("a_cap.lua listed as %+v", list[0])
		}
		le := list[1].LoadError
		if list[1].Loaded || le == nil || le.Line != 3 || le.File != "b_broken.lua" {
			t.Errorf("b_broken.lua listed as %+v, load error %+v, want line 3", list[1], le)
		}
	})

	t.Run("a veto refuses the add with the script's message", func(t *testing.T) {
		a.unchanged(func() {
			a.refused("POST", "/panel/api/clients/add", map[string]any{
				"client":     map[string]any{"email": "big", "group": "reseller", "totalGB": 200 << 30},
				"inboundIds": []int64{in},
			}, "Something went wrong (reseller clients are limited to 100 GB)")
		})
	})

	t.Run("a hook's changes are stored", func(t *testing.T) {
		a.addClient(map[string]any{"email": "small", "group": "reseller", "totalGB": 10 << 30}, in)
		var got struct {
			Client struct {
				Comment string `json:"comment"`
			} `json:"client"`
		}
		a.ok("GET", "/panel/api/clients/get/small", nil, &got)
		if got.Client.Comment != "checked" {
			t.Errorf("comment %q, want the hook's", got.Client.Comment)
		}
	})

	t.Run("reload is for admin tokens and picks up a fixed script", func(t *testing.T) {
		if status, _ := a.as(readOnlyToken).raw("POST", "/panel/api/scripts/reload", nil); status != 403 {
			t.Errorf("read-only reload: status %d, want 403", status)
		}
		writeScript(t, dir, "b_broken.lua", `xpanel.on("client.created", function(e) end)`)
		var list []hooks.Status
		a.ok("POST", "/panel/api/scripts/reload", nil, &list)
		if len(list) != 3 || !list[1].Loaded || len(list[1].Handlers) != 1 {
			t.Errorf("after reload %+v, want b_broken.lua loaded with its handler", list)
		}
	})
}

// TestHandler_ScriptsDisabled answers that no scripts run when the
// server has no engine.
func TestHandler_ScriptsDisabled(t *testing.T) {
	a := newAPI(t)
	a.refused("GET", "/panel/api/scripts", nil,
		"Scripts (Lua scripts are not enabled on this server)")
	a.refused("POST", "/panel/api/scripts/reload", nil,
		"Reloading scripts failed (Lua scripts are not enabled on this server)")
}
