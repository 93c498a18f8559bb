package handlers_test

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/handlers"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/panel"
)

// Tokens the test server accepts.
const (
	adminToken    = "admin-token-for-tests-0123456789"
	readOnlyToken = "read-only-token-for-tests-012345"
)

// api is a real server on 127.0.0.1 over a real store, and a caller.
type api struct {
	t     testing.TB
	base  string
	token string
	store *kv.Store
	svc   *panel.Service
	http  *http.Client

	handler *handlers.Handler
}

// envelope is the body of every API answer, with obj left raw.
type envelope struct {
	Success bool            `json:"success"`
	Msg     string          `json:"msg"`
	Obj     json.RawMessage `json:"obj"`
}

// maxBody is the body cap of the test server.
const maxBody = 64 << 10

// newAPI starts a server on a free port of 127.0.0.1. It stops when the
// test ends, before the store is checked.
func newAPI(t testing.TB) *api {
	t.Helper()
	return newAPILimits(t, handlers.Limits{
		MaxBodyBytes: maxBody,
		ReadTimeout:  5 * time.Second,
		WriteTimeout: 5 * time.Second,
		IdleTimeout:  5 * time.Second,
		MaxConns:     256,
	})
}

// newAPILimits starts a server like newAPI's under other limits.
func newAPILimits(t testing.TB, limits handlers.Limits) *api {
	t.Helper()
	store := kvtest.Open(t)
	svc := panel.New(store, panel.Options{
		ExpiringWithin: 3 * 24 * time.Hour,
		ExpiringBytes:  1 << 30,
	})
	h := handlers.New(svc, []handlers.Token{
		{Hash: handlers.HashToken(adminToken)},
		{Hash: handlers.HashToken(readOnlyToken), ReadOnly: true},
	}, slog.New(slog.DiscardHandler))
	srv := h.Server(limits)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go srv.Serve(handlers.Lingering(ln))
	t.Cleanup(func() { srv.Shutdown() })

	return &api{
		t: t, base: "http://" + ln.Addr().String(), token: adminToken,
		store: store, svc: svc, http: &http.Client{Timeout: 10 * time.Second},
		handler: h,
	}
}

// as returns a caller of the same server presenting another token.
func (a *api) as(token string) *api {
	c := *a
	c.token = token
	return &c
}

// raw sends a request and returns the status and body. A body that is a
// string or []byte is sent as is; anything else is encoded as JSON.
func (a *api) raw(method, path string, body any, header ...string) (int, []byte) {
	a.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			a.t.Fatalf("encode body: %v", err)
		}
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, a.base+path, r)
	if err != nil {
		a.t.Fatalf("new request: %v", err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.http.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// call sends a request that must answer 200 with the envelope.
func (a *api) call(method, path string, body any) envelope {
	a.t.Helper()
	status, out := a.raw(method, path, body)
	if status != http.StatusOK {
		a.t.Fatalf("%s %s: status %d, body %s", method, path, status, out)
	}
	var env envelope
	if err := json.Unmarshal(out, &env); err != nil {
		a.t.Fatalf("%s %s: answer is not the envelope: %v: %s", method, path, err, out)
	}
	return env
}

func (a *api) get(path string) envelope            { a.t.Helper(); return a.call("GET", path, nil) }
func (a *api) post(path string, body any) envelope { a.t.Helper(); return a.call("POST", path, body) }

// ok sends a request that must succeed and decodes its obj into out,
// when out is not nil.
func (a *api) ok(method, path string, body, out any) envelope {
	a.t.Helper()
	env := a.call(method, path, body)
	if !env.Success {
		a.t.Fatalf("%s %s: failed: %s", method, path, env.Msg)
	}
	if out != nil {
		if err := json.Unmarshal(env.Obj, out); err != nil {
			a.t.Fatalf("%s %s: decode obj: %v: %s", method, path, err, env.Obj)
		}
	}
	return env
}

// refused sends a request that must fail with exactly msg and returns
// the answer.
func (a *api) refused(method, path string, body any, msg string) envelope {
	a.t.Helper()
	env := a.call(method, path, body)
	if env.Success {
		a.t.Fatalf("%s %s: succeeded, want failure %q", method, path, msg)
	}
	if env.Msg != msg {
		a.t.Fatalf("%s %s: msg %q, want %q", method, path, env.Msg, msg)
	}
	return env
}

// inbound adds an inbound and returns its id.
func (a *api) inbound(body map[string]any) int64 {
	a.t.Helper()
	var in struct {
		ID int64 `json:"id"`
	}
	a.ok("POST", "/panel/api/inbounds/add", body, &in)
	return in.ID
}

// vlessInbound adds a VLESS TCP inbound on port and returns its id.
func (a *api) vlessInbound(port int) int64 {
	a.t.Helper()
	return a.inbound(map[string]any{
		"remark": "vless", "enable": true, "port": port, "protocol": "vless",
		"settings":       map[string]any{"decryption": "none"},
		"streamSettings": map[string]any{"network": "tcp", "security": "none"},
	})
}

// addClient adds a client with the given fields to the inbounds.
func (a *api) addClient(client map[string]any, inboundIDs ...int64) {
	a.t.Helper()
	a.ok("POST", "/panel/api/clients/add",
		map[string]any{"client": client, "inboundIds": inboundIDs}, nil)
}

// snapshot is every client and usage row as the store holds them, to
// prove that a refused call changed nothing.
func (a *api) snapshot() string {
	a.t.Helper()
	var buf bytes.Buffer
	a.store.View(func(v *kv.View) error {
		v.EachClient(func(c *kv.Client, t *kv.Traffic) bool {
			b, _ := json.Marshal(struct {
				C *kv.Client
				A []kv.Attachment
				L []kv.ExternalLink
				T *kv.Traffic
			}{c, c.Inbounds, c.Links, t})
			buf.Write(b)
			buf.WriteByte('\n')
			return true
		})
		for _, in := range v.Inbounds() {
			b, _ := json.Marshal(in)
			buf.Write(b)
			buf.WriteByte('\n')
		}
		groups := v.StoredGroups()
		slices.SortFunc(groups, func(x, y *kv.Group) int { return strings.Compare(x.Name, y.Name) })
		for _, g := range groups {
			b, _ := json.Marshal(g)
			buf.Write(b)
		}
		return nil
	})
	return buf.String()
}

// unchanged runs fn and fails the test if the store changed.
func (a *api) unchanged(fn func()) {
	a.t.Helper()
	before := a.snapshot()
	fn()
	if after := a.snapshot(); after != before {
		a.t.Fatalf("store changed:\nbefore %s\nafter  %s", before, after)
	}
}

// Fixtures that write to the store directly, as the traffic poller and
// the address tracker do, and read back what an operation stored.

// setUsage gives email a usage row with these counters and enforcement
// flag, keeping the other fields of a row it already has.
func (a *api) setUsage(email string, up, down int64, enable bool) {
	a.t.Helper()
	err := a.store.Update(func(tx *kv.Tx) error {
		row := kv.Traffic{Email: email}
		if t := tx.Traffic(email); t != nil {
			row = *t
		}
		row.Up, row.Down, row.Enable = up, down, enable
		return tx.PutTraffic(&row)
	})
	if err != nil {
		a.t.Fatalf("set usage of %s: %v", email, err)
	}
}

// setIPs records the source addresses email was seen from.
func (a *api) setIPs(email string, ips ...kv.IPEntry) {
	a.t.Helper()
	err := a.store.Update(func(tx *kv.Tx) error { return tx.PutIPs(email, ips) })
	if err != nil {
		a.t.Fatalf("set ips of %s: %v", email, err)
	}
}

// stored returns the client record and usage row of exactly email, each
// nil when missing. Both are shared with the store: read, never modify.
func (a *api) stored(email string) (*kv.Client, *kv.Traffic) {
	a.t.Helper()
	var c *kv.Client
	var t *kv.Traffic
	a.store.View(func(v *kv.View) error {
		c, t = v.ClientByEmail(email), v.Traffic(email)
		return nil
	})
	return c, t
}

// mustClient returns the record of email and fails the test without one.
func (a *api) mustClient(email string) *kv.Client {
	a.t.Helper()
	c, _ := a.stored(email)
	if c == nil {
		a.t.Fatalf("client %s is not stored", email)
	}
	return c
}

// realityInbound adds a VLESS TCP REALITY inbound on port, one that
// carries an XTLS flow, and returns its id.
func (a *api) realityInbound(port int) int64 {
	a.t.Helper()
	return a.inbound(map[string]any{
		"remark": "reality", "enable": true, "port": port, "protocol": "vless",
		"settings":       map[string]any{"decryption": "none"},
		"streamSettings": map[string]any{"network": "tcp", "security": "reality"},
	})
}

// protocolInbound adds an inbound of protocol on port with settings and
// plain TCP, and returns its id.
func (a *api) protocolInbound(protocol string, port int, settings map[string]any) int64 {
	a.t.Helper()
	return a.inbound(map[string]any{
		"remark": protocol, "enable": true, "port": port, "protocol": protocol,
		"settings":       settings,
		"streamSettings": map[string]any{"network": "tcp", "security": "none"},
	})
}
