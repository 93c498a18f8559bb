package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/xray/xraytest"
)

// testToken is the api_token of the servers the tests configure with one.
const testToken = "main-test-token-0123456789abcdef"

// The xpanel binary the tests run, built once by binary and removed by
// TestMain. It is shared across tests, so it cannot live in a test's
// own temporary directory.
var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

// TestMain removes the binary once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary returns the path of the xpanel binary, building it first if no
// test has yet.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "xpanel-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "xpanel")
		out, err := exec.Command("go", "build", "-o", binPath, "-ldflags",
			"-X main.version="+testVersion+" -X main.commit="+testCommit, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build xpanel: %v", buildErr)
	}
	return binPath
}

// settings are the config keys a test chooses; the others keep their
// defaults, except that every start logs at debug level so that a leaked
// secret has every chance to show.
type settings struct {
	dataDir    string
	token      string // empty: the server generates one
	metrics    string // metrics_listen; empty: none
	subListen  string // empty: a free port
	scriptsDir string // empty: the default, which holds no scripts
}

// file writes the configuration for a server listening on listen and
// returns its path.
func (s settings) file(t *testing.T, listen string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "listen = %q\ndata_dir = %q\n", listen, s.dataDir)
	fmt.Fprintf(&b, "sync_writes = true\nlog_level = \"debug\"\n")
	subListen := s.subListen
	if subListen == "" {
		subListen = freeAddr(t)
	}
	fmt.Fprintf(&b, "sub_listen = %q\n", subListen)
	if s.token != "" {
		fmt.Fprintf(&b, "api_token = %q\n", s.token)
	}
	if s.metrics != "" {
		fmt.Fprintf(&b, "metrics_listen = %q\n", s.metrics)
	}
	if s.scriptsDir != "" {
		fmt.Fprintf(&b, "scripts_dir = %q\n", s.scriptsDir)
	}
	path := filepath.Join(t.TempDir(), "xpanel.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("write config: %v", err)
	}
	return path
}

// freeAddr returns a 127.0.0.1 address with a port nothing listens on,
// drawn outside the kernel's ephemeral range (see xraytest.FreePort).
func freeAddr(t *testing.T) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(xraytest.FreePort(t)))
}

// syncBuffer is a bytes.Buffer the process's output copier and the test
// may use at once.
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

// proc is a running xpanel binary.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	config string // path of its configuration file
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed once the process has exited
	err    error         // what Wait returned; read it after done
}

// start runs xpanel with s and returns once it answers HTTP. The process
// is killed when the test ends, if it still runs.
//
// A port that was free when chosen may be bound by another process
// before xpanel binds it; xpanel then exits, and start tries again on
// new ports a few times.
func start(t *testing.T, s settings) *proc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p := launch(t, s)
		if p.waitServing() {
			return p
		}
		lost := strings.Contains(p.stderr.String(), "address already in use")
		if !lost || attempt == 3 {
			t.Fatalf("xpanel exited before serving: %v\n%s", p.err, p.stderr)
		}
		t.Logf("xpanel lost a port to another process, starting again:\n%s", p.stderr)
	}
}

// launch starts xpanel with s on a free address.
func launch(t *testing.T, s settings) *proc {
	t.Helper()
	listen := freeAddr(t)
	p := &proc{
		t: t, base: "http://" + listen,
		stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{}),
	}
	p.config = s.file(t, listen)
	p.cmd = exec.Command(binary(t), "-config", p.config)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start xpanel: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// waitServing polls the port until the server answers a request, which
// it does only after the store is open, and reports whether it did:
// false if the process exited first.
func (p *proc) waitServing() bool {
	p.t.Helper()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(30 * time.Second)
	for {
		resp, err := client.Get(p.base + "/panel/api/inbounds/list")
		if err == nil {
			resp.Body.Close()
			return true
		}
		select {
		case <-p.done:
			return false
		case <-timeout:
			p.t.Fatalf("xpanel not serving after 30s: %v\n%s", err, p.stderr)
		case <-tick.C:
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and requires a clean exit within 10 seconds.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("send SIGTERM: %v", err)
	}
	p.waitExit(10 * time.Second)
}

// waitExit requires the process to exit with status 0 within d.
func (p *proc) waitExit(d time.Duration) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("xpanel still running %v after SIGTERM\n%s", d, p.stderr)
	}
	if p.err != nil {
		p.t.Fatalf("xpanel exit: %v, want status 0\n%s", p.err, p.stderr)
	}
}

// api returns a caller of the server presenting token.
func (p *proc) api(token string) *caller {
	return &caller{base: p.base, token: token, http: &http.Client{Timeout: 20 * time.Second}}
}

// envelope is the body of every API answer, with obj left raw.
type envelope struct {
	Success bool            `json:"success"`
	Msg     string          `json:"msg"`
	Obj     json.RawMessage `json:"obj"`
}

// caller sends API requests. Its do method reports errors instead of
// failing the test, so writer goroutines may use it.
type caller struct {
	base  string
	token string
	http  *http.Client
}

// request builds a request with the token and body encoded as JSON.
func (c *caller) request(
	ctx context.Context, method, path string, body any,
) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// send sends req and decodes the envelope of a 200 answer.
func (c *caller) send(req *http.Request) (envelope, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return envelope{}, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return envelope{}, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return envelope{}, fmt.Errorf("status %d: %s", resp.StatusCode, out)
	}
	var env envelope
	if err := json.Unmarshal(out, &env); err != nil {
		return envelope{}, fmt.Errorf("answer is not the envelope: %w: %s", err, out)
	}
	return env, nil
}

// do sends one request and returns its envelope.
func (c *caller) do(method, path string, body any) (envelope, error) {
	req, err := c.request(context.Background(), method, path, body)
	if err != nil {
		return envelope{}, err
	}
	return c.send(req)
}

// ok sends a request that must succeed and decodes its obj into out,
// when out is not nil.
func (c *caller) ok(t *testing.T, method, path string, body, out any) {
	t.Helper()
	env, err := c.do(method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if !env.Success {
		t.Fatalf("%s %s: failed: %s", method, path, env.Msg)
	}
	if out != nil {
		if err := json.Unmarshal(env.Obj, out); err != nil {
			t.Fatalf("%s %s: decode obj: %v: %s", method, path, err, env.Obj)
		}
	}
}

// status sends a GET and returns only the status code.
func (c *caller) status(t *testing.T, path string) int {
	t.Helper()
	req, err := c.request(context.Background(), "GET", path, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// vlessInbound adds a VLESS TCP inbound and returns its id.
func (c *caller) vlessInbound(t *testing.T, port int) int64 {
	t.Helper()
	var in struct {
		ID int64 `json:"id"`
	}
	c.ok(t, "POST", "/panel/api/inbounds/add", map[string]any{
		"remark": "vless", "enable": true, "port": port, "protocol": "vless",
		"settings":       map[string]any{"decryption": "none"},
		"streamSettings": map[string]any{"network": "tcp", "security": "none"},
	}, &in)
	return in.ID
}

// addItem is one client of an add or bulkCreate body.
func addItem(email string, totalGB, inboundID int64) map[string]any {
	return map[string]any{
		"client":     map[string]any{"email": email, "totalGB": totalGB, "enable": true},
		"inboundIds": []int64{inboundID},
	}
}

// createResult is the obj of a bulkCreate answer.
type createResult struct {
	Created int               `json:"created"`
	Skipped []json.RawMessage `json:"skipped"`
}

// seen is what a store or a server holds for one client.
type seen struct {
	total    int64
	inbounds []int64
}

// storedClients reads every client straight from store.
func storedClients(store *kv.Store) map[string]seen {
	got := map[string]seen{}
	store.View(func(v *kv.View) error {
		v.EachClient(func(c *kv.Client, _ *kv.Traffic) bool {
			got[c.Email] = seen{total: c.TotalGB, inbounds: c.InboundIDs()}
			return true
		})
		return nil
	})
	return got
}

// servedClients reads every client through GET /clients/list.
func servedClients(t *testing.T, api *caller) map[string]seen {
	t.Helper()
	var rows []struct {
		Email      string  `json:"email"`
		TotalGB    int64   `json:"totalGB"`
		InboundIDs []int64 `json:"inboundIds"`
	}
	api.ok(t, "GET", "/panel/api/clients/list", nil, &rows)
	got := make(map[string]seen, len(rows))
	for _, r := range rows {
		got[r.Email] = seen{total: r.TotalGB, inbounds: r.InboundIDs}
	}
	return got
}

// openStore opens the store of a stopped server and checks every index.
// The store is closed when the test ends, or earlier by the caller.
func openStore(t *testing.T, dataDir string) *kv.Store {
	t.Helper()
	store, err := kv.Open(filepath.Join(dataDir, "db"), kv.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Check(); err != nil {
		t.Errorf("store check: %v", err)
	}
	return store
}

// op is one write a writer sends, and the state of its emails once the
// server has applied it.
type op struct {
	path   string
	body   any
	emails []string
	total  int64 // totalGB of every email afterwards; unused by a delete
	del    bool
	bulk   bool // the answer must report every email created
}

// writer sends writes for its own emails, one at a time, and keeps what
// the server acknowledged. Since no other writer touches its emails and it
// waits for each answer, at most one write of its own is in doubt when
// the server dies: the one it was waiting for.
type writer struct {
	id      int
	rng     *rand.Rand
	seq     int64
	live    []string         // acknowledged present, for picking
	total   map[string]int64 // acknowledged totalGB of each live email
	gone    map[string]bool  // acknowledged deleted
	doubt   *op              // sent, answer never read
	refusal []string         // writes the server refused
}

func newWriter(id int) *writer {
	return &writer{
		id: id, rng: rand.New(rand.NewPCG(uint64(id), 7)),
		total: map[string]int64{}, gone: map[string]bool{},
	}
}

// next picks the next write: an add, a bulkCreate, an update or a delete.
func (w *writer) next(inboundID int64) op {
	w.seq++
	value := int64(1<<30) + int64(w.id)<<32 + w.seq
	switch r := w.rng.IntN(100); {
	case r < 25 && len(w.live) > 0:
		email := w.live[w.rng.IntN(len(w.live))]
		return op{path: "/panel/api/clients/update/" + url.PathEscape(email),
			body: map[string]any{"totalGB": value}, emails: []string{email}, total: value}
	case r < 45 && len(w.live) > 0:
		email := w.live[w.rng.IntN(len(w.live))]
		return op{path: "/panel/api/clients/del/" + url.PathEscape(email),
			emails: []string{email}, del: true}
	case r < 65:
		return w.bulkCreate(inboundID, value, 5+w.rng.IntN(25))
	default:
		email := w.email(0)
		return op{path: "/panel/api/clients/add", body: addItem(email, value, inboundID),
			emails: []string{email}, total: value}
	}
}

// email names a new client of this writer; i tells apart the items of one
// bulk create.
func (w *writer) email(i int) string {
	return fmt.Sprintf("w%d-%d-%d@kill.test", w.id, w.seq, i)
}

func (w *writer) bulkCreate(inboundID, value int64, n int) op {
	o := op{path: "/panel/api/clients/bulkCreate", total: value, bulk: true}
	items := make([]map[string]any, n)
	for i := range items {
		o.emails = append(o.emails, w.email(i))
		items[i] = addItem(o.emails[i], value, inboundID)
	}
	o.body = items
	return o
}

// run sends writes until halt is set or a request gets no answer, which
// is how it sees the server die.
func (w *writer) run(api *caller, inboundID int64, halt *atomic.Bool, acks *atomic.Int64) {
	for !halt.Load() {
		o := w.next(inboundID)
		env, err := api.do("POST", o.path, o.body)
		if err != nil {
			w.doubt = &o
			return
		}
		if err := o.confirm(env); err != nil {
			w.refusal = append(w.refusal, fmt.Sprintf("POST %s: %v", o.path, err))
			return
		}
		for _, e := range o.emails {
			w.set(e, !o.del, o.total)
		}
		acks.Add(1)
	}
}

// confirm checks that env acknowledges all of o.
func (o op) confirm(env envelope) error {
	if !env.Success {
		return fmt.Errorf("refused: %s", env.Msg)
	}
	if !o.bulk {
		return nil
	}
	var res createResult
	if err := json.Unmarshal(env.Obj, &res); err != nil {
		return fmt.Errorf("decode obj: %w: %s", err, env.Obj)
	}
	if res.Created != len(o.emails) || len(res.Skipped) > 0 {
		return fmt.Errorf("created %d of %d, skipped %s", res.Created, len(o.emails), res.Skipped)
	}
	return nil
}

// set records that email is present with totalGB total, or absent.
func (w *writer) set(email string, present bool, total int64) {
	_, was := w.total[email]
	switch {
	case present && !was:
		w.live = append(w.live, email)
	case !present && was:
		i := slices.Index(w.live, email)
		w.live[i] = w.live[len(w.live)-1]
		w.live = w.live[:len(w.live)-1]
	}
	if present {
		w.total[email] = total
		delete(w.gone, email)
	} else {
		delete(w.total, email)
		w.gone[email] = true
	}
}

// settle decides the write in doubt from what the store holds: each of
// its emails must show the state from before the write or after it (a
// bulk create may have stored some items only). The ledger then follows
// the store.
func (w *writer) settle(got map[string]seen) []string {
	o := w.doubt
	w.doubt = nil
	if o == nil {
		return nil
	}
	var errs []string
	for _, e := range o.emails {
		g, present := got[e]
		total, was := w.total[e]
		after := present != o.del && (o.del || g.total == o.total)
		before := present == was && (!was || g.total == total)
		if !before && !after {
			errs = append(errs, fmt.Sprintf("%s: %+v after a write in doubt, "+
				"neither before (present %v, total %d) nor after it", e, g, was, total))
			continue
		}
		w.set(e, present, g.total)
	}
	return errs
}

// fleet is the writers of a test, kept across server restarts.
type fleet []*writer

// write runs every writer against api until the server dies, and kills
// it once at least minTime has passed and minAcks writes were answered.
func (f fleet) write(t *testing.T, p *proc, inboundID int64, minTime time.Duration) {
	t.Helper()
	api := p.api(testToken)
	var halt atomic.Bool
	var acks atomic.Int64
	var wg sync.WaitGroup
	for _, w := range f {
		wg.Go(func() { w.run(api, inboundID, &halt, &acks) })
	}

	waitFor(t, "20 acknowledged writes", func() bool { return acks.Load() >= 20 }, minTime)
	p.kill()
	halt.Store(true)
	wg.Wait()
	t.Logf("killed after %d acknowledged writes", acks.Load())

	for _, w := range f {
		for _, r := range w.refusal {
			t.Errorf("writer %d: %s", w.id, r)
		}
	}
}

// waitFor returns once minTime has passed and cond holds, polling it;
// what names the condition in the failure.
func waitFor(t *testing.T, what string, cond func() bool, minTime time.Duration) {
	t.Helper()
	began := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(minTime + 10*time.Second)
	for range tick.C {
		if time.Since(began) >= minTime && cond() {
			return
		}
		select {
		case <-timeout:
			t.Fatalf("%s: not within %v", what, minTime+10*time.Second)
		default:
		}
	}
}

// settle decides every write in doubt from got.
func (f fleet) settle(t *testing.T, got map[string]seen) {
	t.Helper()
	for _, w := range f {
		for _, e := range w.settle(got) {
			t.Errorf("writer %d: %s", w.id, e)
		}
	}
}

// compare requires got to hold exactly the acknowledged clients, each
// with its acknowledged totalGB and attached to the inbound.
func (f fleet) compare(t *testing.T, where string, got map[string]seen, inboundID int64) {
	t.Helper()
	var errs []string
	want := 0
	for _, w := range f {
		want += len(w.total)
		for e, total := range w.total {
			g, ok := got[e]
			switch {
			case !ok:
				errs = append(errs, fmt.Sprintf("%s: acknowledged, missing", e))
			case g.total != total:
				errs = append(errs, fmt.Sprintf("%s: totalGB %d, acknowledged %d", e, g.total, total))
			case !slices.Equal(g.inbounds, []int64{inboundID}):
				errs = append(errs, fmt.Sprintf("%s: inbounds %v, want [%d]", e, g.inbounds, inboundID))
			}
		}
		errs = append(errs, w.resurrected(got)...)
	}
	if len(got) != want {
		errs = append(errs, fmt.Sprintf("%d clients, %d acknowledged", len(got), want))
	}
	for i, e := range errs {
		if i == 10 {
			t.Errorf("%s: %d more", where, len(errs)-i)
			break
		}
		t.Errorf("%s: %s", where, e)
	}
}

// resurrected lists the emails whose acknowledged delete did not hold.
func (w *writer) resurrected(got map[string]seen) []string {
	var errs []string
	for e := range w.gone {
		if _, ok := got[e]; ok {
			errs = append(errs, fmt.Sprintf("%s: present after an acknowledged delete", e))
		}
	}
	return errs
}

// TestMain_KillNine kills the server in the middle of concurrent writes,
// three times over the same data directory. After each kill the store
// must be consistent and hold every acknowledged write, and the
// restarted server must serve exactly that.
func TestMain_KillNine(t *testing.T) {
	dataDir := t.TempDir()
	conf := settings{dataDir: dataDir, token: testToken}
	f := fleet{newWriter(1), newWriter(2), newWriter(3), newWriter(4)}

	var inboundID int64
	for cycle := range 3 {
		p := start(t, conf)
		api := p.api(testToken)
		if cycle == 0 {
			inboundID = api.vlessInbound(t, freePort(t))
		} else {
			f.compare(t, fmt.Sprintf("served after kill %d", cycle), servedClients(t, api), inboundID)
		}
		if t.Failed() {
			return
		}

		f.write(t, p, inboundID, time.Duration(300+250*cycle)*time.Millisecond)
		store := openStore(t, dataDir)
		got := storedClients(store)
		f.settle(t, got)
		f.compare(t, fmt.Sprintf("stored after kill %d", cycle+1), got, inboundID)
		if err := store.Close(); err != nil {
			t.Fatalf("close store: %v", err)
		}
	}

	p := start(t, conf)
	f.compare(t, "served after kill 3", servedClients(t, p.api(testToken)), inboundID)
	p.stop()
}

// TestMain_GracefulShutdown sends SIGTERM while a large bulk create is in
// flight: the server must finish and answer it, store it, and exit 0.
func TestMain_GracefulShutdown(t *testing.T) {
	dataDir := t.TempDir()
	p := start(t, settings{dataDir: dataDir, token: testToken})
	api := p.api(testToken)
	inboundID := api.vlessInbound(t, freePort(t))

	const n = 3000
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = addItem(fmt.Sprintf("drain-%d@shutdown.test", i), 1<<30, inboundID)
	}
	env, err := api.sendAfterHeaders("/panel/api/clients/bulkCreate", items, func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
	})
	if err != nil {
		t.Fatalf("bulkCreate cut off by shutdown: %v\n%s", err, p.stderr)
	}
	if err := (op{bulk: true, emails: make([]string, n)}).confirm(env); err != nil {
		t.Fatalf("bulkCreate: %v", err)
	}
	p.waitExit(10 * time.Second)

	store := openStore(t, dataDir)
	if got := storedClients(store); len(got) != n {
		t.Errorf("%d clients stored, want %d", len(got), n)
	}
}

// sendAfterHeaders posts body with Expect: 100-continue and calls
// onHeaders once the server has read the headers, before the body goes
// out: from then on the request is in flight on the server.
func (c *caller) sendAfterHeaders(path string, body any, onHeaders func()) (envelope, error) {
	trace := &httptrace.ClientTrace{Got100Continue: onHeaders}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	req, err := c.request(ctx, "POST", path, body)
	if err != nil {
		return envelope{}, err
	}
	req.Header.Set("Expect", "100-continue")

	transport := &http.Transport{ExpectContinueTimeout: 10 * time.Second}
	defer transport.CloseIdleConnections()
	sender := &caller{http: &http.Client{Transport: transport, Timeout: 20 * time.Second}}
	return sender.send(req)
}

// TestMain_TokenFile starts without api_token: the server generates a
// token, shows it once on stdout, keeps it in a private file and accepts
// it, also after a restart, and never logs it.
func TestMain_TokenFile(t *testing.T) {
	dataDir := t.TempDir()
	p := start(t, settings{dataDir: dataDir})
	token := p.printedToken()

	path := filepath.Join(dataDir, "api_token")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("token file mode %v, want 0600", perm)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != token {
		t.Errorf("token file holds %q, stdout showed another token", b)
	}
	requireToken(t, p, token)
	p.stop()
	if n := strings.Count(p.stdout.String(), token); n != 1 {
		t.Errorf("token shown %d times on stdout, want once", n)
	}
	noSecret(t, p, token)

	again := start(t, settings{dataDir: dataDir})
	requireToken(t, again, token)
	again.stop()
	if out := again.stdout.String(); out != "" {
		t.Errorf("second start wrote to stdout: %q", out)
	}
	noSecret(t, again, token)
}

// printedToken waits for the token on stdout: the last of the lines the
// server prints there.
func (p *proc) printedToken() string {
	p.t.Helper()
	var token string
	waitFor(p.t, "token on stdout", func() bool {
		lines := strings.Split(strings.TrimSpace(p.stdout.String()), "\n")
		token = strings.TrimSpace(lines[len(lines)-1])
		return len(lines) >= 2
	}, 0)
	if len(token) < 16 || strings.ContainsAny(token, " \t") {
		p.t.Fatalf("stdout shows no usable token: %q", p.stdout)
	}
	return token
}

// requireToken checks that the server accepts token as Bearer and hides
// itself from a wrong one.
func requireToken(t *testing.T, p *proc, token string) {
	t.Helper()
	var inbounds []json.RawMessage
	p.api(token).ok(t, "GET", "/panel/api/inbounds/list", nil, &inbounds)
	if got := p.api(token+"x").status(t, "/panel/api/inbounds/list"); got != http.StatusNotFound {
		t.Errorf("wrong token: status %d, want 404", got)
	}
}

// noSecret fails the test if the server's log shows secret.
func noSecret(t *testing.T, p *proc, secret string) {
	t.Helper()
	if strings.Contains(p.stderr.String(), secret) {
		t.Errorf("token in the log:\n%s", p.stderr)
	}
}

// TestMain_BadConfig requires a configuration the server cannot use to
// stop it at start with a non-zero status and a message naming the key
// or file at fault, and never quoting a secret.
func TestMain_BadConfig(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want string // the key the message must name
	}{
		{"unknown key", "listen_addr = \"127.0.0.1:1\"\n", `"listen_addr"`},
		{"out of range", "max_conns = 3\n", `"max_conns"`},
		{"wrong type", "sync_writes = \"yes\"\n", `"sync_writes"`},
		{"bad duration", "read_timeout = \"soon\"\n", `"read_timeout"`},
		{"short token", "api_token = \"tiny secret\"\n", `"api_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "xpanel.toml")
			text := fmt.Sprintf("data_dir = %q\n%s", filepath.Join(dir, "data"), tt.toml)
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatalf("write config: %v", err)
			}
			msg := failStart(t, "-config", path)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not name %s", msg, tt.want)
			}
			if strings.Contains(msg, "tiny secret") {
				t.Errorf("message quotes the token: %q", msg)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "absent.toml")
		msg := failStart(t, "-config", path)
		if !strings.Contains(msg, path) || !strings.Contains(msg, "no such file") {
			t.Errorf("message %q does not say %s is missing", msg, path)
		}
	})
}

// failStart runs xpanel with args, requires it to exit non-zero on its
// own and without output on stdout, and returns what it wrote to stderr.
func failStart(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()

	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
		t.Fatalf("xpanel %v: %v, want a non-zero exit\n%s", args, err, &stderr)
	}
	if stdout.Len() > 0 {
		t.Errorf("stdout: %q, want nothing", &stdout)
	}
	return stderr.String()
}
