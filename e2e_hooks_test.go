package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xpanel/xpanel/config"
	"github.com/xpanel/xpanel/xray/xraytest"
)

// TestE2E_HookPresence tells a script when a client that really
// connects through the core comes online and when it goes away.
func TestE2E_HookPresence(t *testing.T) {
	hook := newWebhook(t)
	hook.holding = false
	scripts := t.TempDir()
	src := `for _, name in ipairs({"client.online", "client.offline"}) do
  xpanel.on(name, function(e) assert(xpanel.http_post("` + hook.srv.URL + `", e.event .. " " .. e.email)) end)
end`
	if err := os.WriteFile(filepath.Join(scripts, "presence.lua"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startE2EWith(t, t.TempDir(), func(c *config.Config) {
		c.ScriptsDir = scripts
		c.OnlineGrace.Duration = 300 * time.Millisecond
	})
	e.backend = xraytest.StartBackend(t)
	in := e.addInbound("vless")
	alice := e.addClient(in, "alice@e2e", viaA, nil)

	alice.MustGet(t, xraytest.FastPath)
	e.poll()
	waitFor(t, "the online event", func() bool { _, done := hook.got(); return len(done) == 1 }, 0)
	waitFor(t, "the offline event", func() bool {
		time.Sleep(100 * time.Millisecond) // the core drops a closed connection soon after
		e.poll()
		_, done := hook.got()
		return len(done) == 2
	}, 0)

	_, done := hook.got()
	if want := []string{"client.online alice@e2e", "client.offline alice@e2e"}; !slices.Equal(done, want) {
		t.Errorf("events %q, want %q", done, want)
	}
}
