package hooks_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/hooks"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/panel"
)

// fixture is a hook engine over a real store, with scripts in a
// temporary directory, one VLESS inbound and a webhook receiver.
type fixture struct {
	t       testing.TB
	dir     string
	store   *kv.Store
	svc     *panel.Service
	eng     *hooks.Engine
	inbound int64
	recv    *receiver
	logs    *syncBuffer
	clock   time.Time
}

// newFixture writes the scripts, each with {{URL}} replaced by the
// receiver's address, and opens the engine over a fresh store.
func newFixture(t testing.TB, scripts map[string]string, tune func(*hooks.Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), recv: newReceiver(t), logs: &syncBuffer{},
		clock: time.Now()}
	for name, src := range scripts {
		f.write(name, src)
	}
	f.store = kvtest.Open(t)
	f.svc = panel.New(f.store, panel.Options{
		ExpiringWithin: 3 * 24 * time.Hour, ExpiringBytes: 1 << 30,
		Now: func() time.Time { return f.clock }, Location: time.UTC,
	})
	on := true
	in, err := f.svc.AddInbound(&panel.InboundInput{
		Remark: "v", Enable: &on, Port: 4433, Protocol: "vless",
		Settings: json.RawMessage(`{"decryption":"none"}`),
	})
	if err != nil {
		t.Fatalf("add inbound: %v", err)
	}
	f.inbound = in.ID
	f.open(tune)
	return f
}

func (f *fixture) write(name, src string) {
	f.t.Helper()
	src = strings.ReplaceAll(src, "{{URL}}", f.recv.srv.URL)
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(src), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) open(tune func(*hooks.Options)) {
	f.t.Helper()
	opts := hooks.Options{Dir: f.dir, ManualTimers: true,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil))}
	if tune != nil {
		tune(&opts)
	}
	eng, err := hooks.Open(f.store, f.svc, opts)
	if err != nil {
		f.t.Fatalf("open hooks: %v", err)
	}
	f.eng = eng
	f.t.Cleanup(func() { eng.Close() })
}

// add creates a client on the inbound; set fills in its fields.
func (f *fixture) add(email string, set func(in *panel.ClientInput)) error {
	on := true
	in := panel.ClientInput{Email: &email, Enable: &on}
	if set != nil {
		set(&in)
	}
	return f.svc.AddClient(&panel.AddRequest{Client: in, InboundIDs: []int64{f.inbound}})
}

func (f *fixture) mustAdd(email string, set func(in *panel.ClientInput)) {
	f.t.Helper()
	if err := f.add(email, set); err != nil {
		f.t.Fatalf("add %s: %v", email, err)
	}
}

func (f *fixture) client(email string) *kv.Client {
	var c *kv.Client
	f.svc.View(func(v *kv.View) error {
		c = v.ClientByEmail(email)
		return nil
	})
	return c
}

// status returns the listing entry of a script.
func (f *fixture) status(name string) hooks.Status {
	f.t.Helper()
	for _, st := range f.eng.Status() {
		if st.Name == name {
			return st
		}
	}
	f.t.Fatalf("script %s not listed", name)
	return hooks.Status{}
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// outboxEmpty reports whether every event has been delivered.
func (f *fixture) outboxEmpty() bool {
	if !f.eng.Drained() {
		return false
	}
	entries, err := f.store.ReadOutbox(0, 1)
	return err == nil && len(entries) == 0
}

// receiver is a webhook endpoint on 127.0.0.1 that keeps what it got.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []posted
}

// posted is one request the receiver got.
type posted struct {
	Header http.Header
	Body   []byte
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, posted{Header: req.Header.Clone(), Body: body})
		r.mu.Unlock()
		w.Write([]byte("ok"))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) posts() []posted {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// lines returns the bodies received, as strings.
func (r *receiver) lines() []string {
	var out []string
	for _, p := range r.posts() {
		out = append(out, string(p.Body))
	}
	return out
}

// syncBuffer is a log sink the engine and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// recorder is a script that posts "event email" for every event.
const recorder = `
for _, name in ipairs({"client.created", "client.updated", "client.deleted",
    "client.enabled", "client.disabled", "client.depleted", "client.expired",
    "client.expiring", "client.renewed", "client.traffic_reset",
    "inbound.created", "inbound.updated", "inbound.deleted"}) do
  xpanel.on(name, function(e)
    local who = e.email or e.tag
    local ok, err = xpanel.http_post("{{URL}}", e.event .. " " .. who)
    if not ok then error(err) end
  end)
end
`

func TestEngine_EventsFireOncePerCause(t *testing.T) {
	f := newFixture(t, map[string]string{"rec.lua": recorder}, nil)
	gb := int64(1 << 30)

	// Each step and the events it must cause, for the client it names.
	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"add", func() error { return f.add("a", func(in *panel.ClientInput) { in.TotalGB = &gb }) },
			[]string{"client.created a"}},
		{"update", func() error {
			c := "vip"
			return f.svc.UpdateClient("a", &panel.ClientInput{Comment: &c})
		}, []string{"client.updated a"}},
		{"bulk disable", func() error { _, err := f.svc.SetEnabled([]string{"a"}, false); return err },
			[]string{"client.updated a", "client.disabled a"}},
		{"bulk enable", func() error { _, err := f.svc.SetEnabled([]string{"a"}, true); return err },
			[]string{"client.updated a", "client.enabled a"}},
		{"usage near the quota", func() error { return f.svc.UpdateTraffic("a", gb/2, gb/4) },
			[]string{"client.expiring a"}},
		{"usage over the quota", func() error { return f.svc.UpdateTraffic("a", gb, 0) }, nil},
		{"enforcement", f.svc.Enforce,
			[]string{"client.updated a", "client.disabled a", "client.depleted a"}},
		{"reset", func() error { return f.svc.ResetTraffic("a") },
			[]string{"client.updated a", "client.enabled a", "client.traffic_reset a"}},
		{"delete", func() error { return f.svc.DeleteClient("a", false) },
			[]string{"client.deleted a"}},
		{"inbound update", func() error {
			on := true
			_, err := f.svc.UpdateInbound(f.inbound, &panel.InboundInput{
				Remark: "renamed", Enable: &on, Port: 4433, Protocol: "vless",
				Settings: json.RawMessage(`{"decryption":"none"}`)})
			return err
		}, []string{"inbound.updated in-4433-tcp"}},
		{"inbound delete", func() error { return f.svc.DeleteInbound(f.inbound) },
			[]string{"inbound.deleted in-4433-tcp"}},
	}
	var want []string
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		want = append(want, s.want...)
		waitFor(t, s.name+"'s events", func() bool { return len(f.recv.posts()) >= len(want) })
	}
	waitFor(t, "the outbox to drain", f.outboxEmpty)
	time.Sleep(50 * time.Millisecond) // a duplicate would arrive by now

	if got := f.recv.lines(); !slices.Equal(got, want) {
		t.Errorf("events\n got %q\nwant %q", got, want)
	}
	if st := f.status("rec.lua"); st.Errors != 0 || st.Calls != int64(len(want)) {
		t.Errorf("status %+v, want %d calls and no error", st, len(want))
	}
}

func writeFile(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestEngine_EventTable hands a handler every field of the client, what
// changed and the record before, however the handler walks the table.
func TestEngine_EventTable(t *testing.T) {
	f := newFixture(t, map[string]string{"t.lua": `
xpanel.on("client.updated", function(e)
  local keys = 0
  for k, v in pairs(e) do keys = keys + 1 end
  local first = next(e) ~= nil
  xpanel.http_post("{{URL}}", table.concat({e.event, e.email, e.comment,
    e.before.comment, table.concat(e.changed, ","), tostring(e.up),
    tostring(#e.inboundIds), tostring(keys > 25), tostring(first),
    tostring(e.eventId > 0)}, "|"))
end)
xpanel.on("client.created", function(e)
  e.extra = 1 -- written before any read: the fields are still there
  xpanel.http_post("{{URL}}", e.email .. "|" .. e.extra .. "|" .. tostring(e.enable))
end)`}, nil)
	f.mustAdd("a", nil)
	if err := f.svc.UpdateTraffic("a", 5, 7); err != nil {
		t.Fatal(err)
	}
	c := "new"
	if err := f.svc.UpdateClient("a", &panel.ClientInput{Comment: &c}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both events", func() bool { return len(f.recv.posts()) == 2 })
	want := []string{"a|1|true", "client.updated|a|new||comment|5|1|true|true|true"}
	if got := f.recv.lines(); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// TestEngine_TimeEvents fires the events that time alone causes: a
// client coming within the expiring threshold, and a renewal.
func TestEngine_TimeEvents(t *testing.T) {
	f := newFixture(t, map[string]string{"rec.lua": recorder}, nil)
	day := 24 * time.Hour
	soon := f.clock.Add(4 * day).UnixMilli()
	f.mustAdd("soon", func(in *panel.ClientInput) { in.ExpiryTime = &soon })
	past, period := f.clock.Add(-time.Minute).UnixMilli(), 30
	f.mustAdd("renews", func(in *panel.ClientInput) { in.ExpiryTime, in.Reset = &past, &period })

	enforce := func() {
		if err := f.svc.Enforce(); err != nil {
			t.Fatal(err)
		}
	}
	enforce() // renews; the first look for expiring clients only notes the time
	f.clock = f.clock.Add(day + time.Hour)
	enforce() // soon is now 3 days minus an hour away
	enforce() // and nothing new happened since
	waitFor(t, "the outbox to drain", f.outboxEmpty)
	time.Sleep(50 * time.Millisecond)

	// Each client's events come in order; two clients' may interleave.
	want := map[string][]string{
		"soon":   {"client.created soon", "client.expiring soon"},
		"renews": {"client.created renews", "client.updated renews", "client.renewed renews"},
	}
	for email, events := range want {
		var got []string
		for _, line := range f.recv.lines() {
			if strings.HasSuffix(line, " "+email) {
				got = append(got, line)
			}
		}
		if !slices.Equal(got, events) {
			t.Errorf("events of %s\n got %q\nwant %q", email, got, events)
		}
	}
}
