package hooks_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/hooks"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/panel"
)

// TestEngine_Runaway stops a script that never returns at its time limit,
// in a before-hook and in a handler, while the operation goes on and the
// other scripts get their events.
func TestEngine_Runaway(t *testing.T) {
	f := newFixture(t, map[string]string{
		"a_loop.lua": `
xpanel.before("client.create", function(c) while true do end end)
xpanel.on("client.created", function(e)
  while true do pcall(function() while true do end end) end
end)`,
		"b_ok.lua": `xpanel.on("client.created", function(e) xpanel.http_post("{{URL}}", e.email) end)`,
	}, func(o *hooks.Options) { o.Timeout = 50 * time.Millisecond })

	start := time.Now()
	if err := f.add("a", nil); err != nil {
		t.Fatalf("add under a runaway before-hook failed: %v", err)
	}
	// Without the limit the add would never return; the bound is loose
	// because a loaded machine is slow.
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("add took %v under a runaway before-hook", took)
	}
	if f.client("a") == nil {
		t.Fatal("client not stored")
	}
	waitFor(t, "the other script's event", func() bool { return len(f.recv.posts()) == 1 })
	waitFor(t, "both runaway calls to be stopped", func() bool { return f.status("a_loop.lua").Errors == 2 })

	st := f.status("a_loop.lua")
	if !strings.Contains(st.LastError, "time limit exceeded (50ms)") {
		t.Errorf("last error %q, want the time limit", st.LastError)
	}
	if f.status("b_ok.lua").Errors != 0 {
		t.Errorf("the well-behaved script failed: %+v", f.status("b_ok.lua"))
	}
	if calls, errs, timeouts := f.eng.HookCounts(); calls < 3 || errs != 2 || timeouts != 2 {
		t.Errorf("hook counts = %d calls, %d errors, %d timeouts; want >= 3, 2, 2",
			calls, errs, timeouts)
	}
	if err := f.add("b", nil); err != nil {
		t.Errorf("a second add after the runaway: %v", err)
	}
}

// TestEngine_LoadErrors reports each script that does not load with its
// file and line, and runs the others.
func TestEngine_LoadErrors(t *testing.T) {
	f := newFixture(t, map[string]string{
		"a_syntax.lua":  "xpanel.on('client.created', function(e)\n  if then\nend)\n",
		"b_raises.lua":  "local x = 1\nerror('not configured')\n",
		"c_unknown.lua": "\n\nxpanel.on('client.exploded', function(e) end)\n",
		"d_ok.lua":      `xpanel.on("client.created", function(e) xpanel.http_post("{{URL}}", e.email) end)`,
	}, nil)

	cases := []struct {
		name string
		line int
		msg  string
	}{
		{"a_syntax.lua", 2, "syntax error"},
		{"b_raises.lua", 2, "not configured"},
		{"c_unknown.lua", 3, "unknown event"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := f.status(c.name)
			if st.Loaded || st.LoadError == nil {
				t.Fatalf("status %+v, want a load error", st)
			}
			if st.LoadError.File != c.name || st.LoadError.Line != c.line ||
				!strings.Contains(st.LoadError.Message, c.msg) {
				t.Errorf("load error %+v, want line %d and %q", st.LoadError, c.line, c.msg)
			}
		})
	}
	f.mustAdd("a", nil)
	waitFor(t, "the loaded script's event", func() bool { return len(f.recv.posts()) == 1 })
	if !strings.Contains(f.logs.String(), "script=a_syntax.lua line=2") {
		t.Errorf("load failure not logged with its line:\n%s", f.logs)
	}
}

// TestEngine_Sandbox keeps files, code loading and the process out of
// reach, and bounds what one call can allocate.
func TestEngine_Sandbox(t *testing.T) {
	f := newFixture(t, map[string]string{"s.lua": `
local reachable = {}
for _, name in ipairs({"os", "io", "debug", "package", "load", "loadstring",
    "loadfile", "dofile", "require", "module", "getfenv", "setfenv", "print"}) do
  if _G[name] ~= nil then table.insert(reachable, name) end
end
local ok = pcall(string.rep, "x", 1e9)
xpanel.every(60, function()
  local registered = pcall(xpanel.on, "client.created", function() end)
  xpanel.http_post("{{URL}}", table.concat(reachable, ",") .. "|" ..
    tostring(ok) .. "|" .. tostring(registered) .. "|" .. string.format("%d", math.floor(2.5)))
end)`}, nil)
	f.eng.RunTimers()
	got := f.recv.lines()
	if !slices.Equal(got, []string{"|false|false|2"}) {
		t.Errorf("sandbox report %q, want nothing reachable, string.rep and late registration refused", got)
	}
}

// TestEngine_ChainCut cuts a chain of handlers whose actions fire
// themselves at the depth limit, with a log line.
func TestEngine_ChainCut(t *testing.T) {
	f := newFixture(t, map[string]string{"echo.lua": `
xpanel.on("client.updated", function(e)
  assert(xpanel.update(e.email, {comment = "depth " .. e.depth}))
end)`}, func(o *hooks.Options) { o.MaxDepth = 2 })
	f.mustAdd("a", nil)
	c := "start"
	if err := f.svc.UpdateClient("a", &panel.ClientInput{Comment: &c}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the chain to be cut", func() bool {
		return strings.Contains(f.logs.String(), "event chain cut")
	})
	waitFor(t, "the outbox to drain", f.outboxEmpty)
	if got := f.client("a").Comment; got != "depth 2" {
		t.Errorf("comment %q, want the handler's at depth 2", got)
	}
	if st := f.status("echo.lua"); st.Calls != 3 || st.Errors != 0 {
		t.Errorf("status %+v, want 3 calls (depths 0 to 2)", st)
	}
}

// TestEngine_Store keeps each script's values in the store, across a
// reload, apart from other scripts'.
func TestEngine_Store(t *testing.T) {
	f := newFixture(t, map[string]string{
		"a.lua": `xpanel.every(3600, function()
  local n = (xpanel.store.get("n") or 0) + 1
  assert(xpanel.store.set("n", n))
  assert(xpanel.store.set("t", {list = {1, 2}, name = "x"}))
  xpanel.http_post("{{URL}}", "a " .. n .. " " .. xpanel.store.get("t").list[2])
end)`,
		"b.lua": `xpanel.every(3600, function()
  xpanel.http_post("{{URL}}", "b " .. tostring(xpanel.store.get("n")))
end)`,
	}, nil)
	f.eng.RunTimers()
	f.eng.RunTimers()
	if _, err := f.eng.Reload(); err != nil {
		t.Fatal(err)
	}
	f.eng.RunTimers()
	want := []string{"a 1 2", "b nil", "a 2 2", "b nil", "a 3 2", "b nil"}
	if got := f.recv.lines(); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestEngine_SurvivesCrash delivers the events committed before a crash
// that came between their commit and their delivery: the first engine
// is stuck in a handler when its store goes away under it, and the
// events come out of the reopened store, with the same ids.
func TestEngine_SurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	script := `xpanel.on("client.created", function(e)
  xpanel.http_post("{{URL}}", e.email .. " " .. e.eventId, {timeout = 30})
end)`

	// A receiver that holds every request until the test ends.
	hold := make(chan struct{})
	arrived := make(chan string, 8)
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.URL.Path
		<-hold
	}))
	defer stuck.Close()
	defer close(hold)

	scripts := t.TempDir()
	first := kvOpen(t, dir)
	svc := panel.New(first, panel.Options{})
	writeFile(t, scripts, "c.lua", strings.ReplaceAll(script, "{{URL}}", stuck.URL))
	eng, err := hooks.Open(first, svc, hooks.Options{Dir: scripts})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	inbound := addInbound(t, svc)
	for _, email := range []string{"a", "b", "c"} {
		on := true
		err := svc.AddClient(&panel.AddRequest{Client: panel.ClientInput{Email: &email, Enable: &on},
			InboundIDs: []int64{inbound}})
		if err != nil {
			t.Fatal(err)
		}
	}
	<-arrived // the first event is in its handler, none is delivered
	first.Close()

	// The next start delivers all three.
	f := &fixture{t: t, dir: scripts, recv: newReceiver(t), logs: &syncBuffer{}}
	f.write("c.lua", script)
	f.store = kvtest.OpenAt(t, dir)
	f.svc = panel.New(f.store, panel.Options{})
	f.open(nil)
	waitFor(t, "the events after restart", func() bool { return len(f.recv.posts()) == 3 })
	want := []string{"a 1", "b 2", "c 3"}
	got := f.recv.lines()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("after restart got %q, want %q", got, want)
	}
}

func kvOpen(t *testing.T, dir string) *kv.Store {
	t.Helper()
	s, err := kv.Open(dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func addInbound(t *testing.T, svc *panel.Service) int64 {
	t.Helper()
	on := true
	in, err := svc.AddInbound(&panel.InboundInput{Remark: "v", Enable: &on, Port: 4433,
		Protocol: "vless", Settings: json.RawMessage(`{"decryption":"none"}`)})
	if err != nil {
		t.Fatalf("add inbound: %v", err)
	}
	return in.ID
}

// TestEngine_BulkEnableVetoed passes a bulk enable through the
// client.update before-hooks: a refused client is skipped with the
// script's reason and stays disabled, the others are enabled.
func TestEngine_BulkEnableVetoed(t *testing.T) {
	f := newFixture(t, map[string]string{"banned.lua": `
xpanel.before("client.update", function(c)
  if c.group == "banned" and c.enable then error("banned clients stay off") end
  if c.flow ~= "" then error("no flows here") end
end)`}, nil)
	off, banned := false, "banned"
	f.mustAdd("kept-off", func(in *panel.ClientInput) { in.Enable, in.Group = &off, &banned })
	f.mustAdd("let-on", func(in *panel.ClientInput) { in.Enable = &off })

	res, err := f.svc.SetEnabled([]string{"kept-off", "let-on"}, true)
	if err != nil || res.Changed != 1 || len(res.Skipped) != 1 ||
		res.Skipped[0].Reason != "banned clients stay off" {
		t.Fatalf("bulk enable: %+v, %v; want kept-off skipped with the script's reason", res, err)
	}
	if f.client("kept-off").Enable || !f.client("let-on").Enable {
		t.Errorf("after the bulk enable: kept-off %v, let-on %v; want false, true",
			f.client("kept-off").Enable, f.client("let-on").Enable)
	}

	// Labelling the enabled client "banned" is refused as a whole.
	_, err = f.svc.GroupAddClients([]string{"let-on"}, "banned")
	if !panel.IsRefusal(err) || !strings.Contains(err.Error(), "banned clients stay off") {
		t.Errorf("group add: %v, want the script's refusal", err)
	}
	if g := f.client("let-on").Group; g != "" {
		t.Errorf("let-on labelled %q after a refused group add", g)
	}

	// Renaming the group of the disabled client is checked too: the
	// script refuses "banned" only for enabled clients, so a rename to it
	// of a group holding let-on is refused, and nothing is relabelled.
	if _, err := f.svc.GroupAddClients([]string{"let-on"}, "vip"); err != nil {
		t.Fatalf("group add: %v", err)
	}
	_, err = f.svc.RenameGroup("vip", "banned")
	if !panel.IsRefusal(err) || f.client("let-on").Group != "vip" {
		t.Errorf("rename: %v, let-on in %q; want refused, vip", err, f.client("let-on").Group)
	}

	// A bulk flow change is refused per client.
	adj, err := f.svc.BulkAdjust(&panel.AdjustRequest{Emails: []string{"let-on"},
		Flow: "xtls-rprx-vision"})
	if err != nil || len(adj.Skipped) != 1 || adj.Skipped[0].Reason != "no flows here" {
		t.Errorf("bulk flow: %+v, %v; want let-on skipped with the script's reason", adj, err)
	}
}

// TestEngine_AttachVetoed passes attaching and detaching inbounds
// through the client.update before-hooks: the hook sees the inbound list
// the call would leave, and its refusal leaves the client where it was.
func TestEngine_AttachVetoed(t *testing.T) {
	f := newFixture(t, map[string]string{"one.lua": `
xpanel.before("client.update", function(c)
  if #c.inboundIds > 1 then error("one inbound per client") end
  if #c.inboundIds == 0 and c.group == "keep" then error("keep clients stay on") end
end)`}, nil)
	on, keep := true, "keep"
	second, err := f.svc.AddInbound(&panel.InboundInput{Remark: "w", Enable: &on, Port: 4434,
		Protocol: "vless", Settings: json.RawMessage(`{"decryption":"none"}`)})
	if err != nil {
		t.Fatal(err)
	}
	f.mustAdd("a", nil)
	f.mustAdd("kept", func(in *panel.ClientInput) { in.Group = &keep })

	err = f.svc.Attach("a", []int64{second.ID})
	if !panel.IsRefusal(err) || !strings.Contains(err.Error(), "one inbound per client") {
		t.Fatalf("attach: %v, want the script's refusal", err)
	}
	if ids := f.client("a").InboundIDs(); !slices.Equal(ids, []int64{f.inbound}) {
		t.Errorf("a is on %v after a refused attach, want only %d", ids, f.inbound)
	}

	// Moving a to the second inbound, one call at a time, passes.
	if err := f.svc.Detach("a", []int64{f.inbound}); err != nil {
		t.Fatalf("detach: %v", err)
	}
	if err := f.svc.Attach("a", []int64{second.ID}); err != nil {
		t.Fatalf("attach: %v", err)
	}

	err = f.svc.Detach("kept", []int64{f.inbound})
	if !panel.IsRefusal(err) || len(f.client("kept").Inbounds) != 1 {
		t.Errorf("detach of a kept client: %v; want refused, still on its inbound", err)
	}
}
