package sub_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/panel"
	"github.com/xpanel/xpanel/sub"
)

// now is the fixed clock of the tests: 2026-01-01T00:00:00Z.
var now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// env is a subscription server on 127.0.0.1 over a real store.
type env struct {
	t     testing.TB
	store *kv.Store
	svc   *panel.Service
	srv   *sub.Server
	base  string // http://127.0.0.1:port/sub/
	port  int    // next inbound port
}

// newEnv starts a subscription server whose links advertise vpn.test.
// The fetcher reads external subscriptions with a short timeout.
func newEnv(t testing.TB, opts sub.Options) *env {
	t.Helper()
	store := kvtest.Open(t)
	svc := panel.New(store, panel.Options{
		Now:        func() time.Time { return now },
		PublicHost: "vpn.test",
		External:   sub.NewFetcher(500*time.Millisecond, time.Minute),
	})
	srv := sub.New(svc, opts)
	srv.Open()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	hs := srv.HTTPServer(sub.Limits{ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		IdleTimeout: 5 * time.Second, MaxConns: 64})
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Shutdown()
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &env{t: t, store: store, svc: svc, srv: srv, port: 20000,
		base: "http://" + ln.Addr().String() + "/sub/"}
}

// inbound adds an inbound and returns its id.
func (e *env) inbound(protocol, settings, stream string) int64 {
	e.t.Helper()
	e.port++
	in, err := e.svc.AddInbound(&panel.InboundInput{Remark: fmt.Sprintf("%s-%d", protocol, e.port),
		Port: e.port, Protocol: protocol, Settings: []byte(settings),
		StreamSettings: []byte(stream)})
	if err != nil {
		e.t.Fatalf("add inbound: %v", err)
	}
	return in.ID
}

// client adds a client with the JSON fields to the inbounds.
func (e *env) client(fields string, inboundIDs ...int64) {
	e.t.Helper()
	var in panel.ClientInput
	if err := json.Unmarshal([]byte(fields), &in); err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.AddClient(&panel.AddRequest{Client: in, InboundIDs: inboundIDs}); err != nil {
		e.t.Fatalf("add client: %v", err)
	}
}

// usage sets the counters of email's usage row.
func (e *env) usage(email string, up, down int64) {
	e.t.Helper()
	err := e.store.Update(func(tx *kv.Tx) error {
		t := *tx.Traffic(email)
		t.Up, t.Down = up, down
		return tx.PutTraffic(&t)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// get requests the subscription path with the method and User-Agent.
func (e *env) get(method, path, userAgent string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, body
}

// twoClients stores alice (enabled, 10 GiB, 0.5 GiB used, subId s1) on
// a VLESS and a Shadowsocks inbound, and bob (disabled, subId sb) on the
// VLESS one, both expiring in 30 days.
func twoClients(e *env) {
	vl := e.inbound("vless", `{"decryption":"none"}`,
		`{"network":"ws","wsSettings":{"path":"/p","host":"h.test"}}`)
	ss := e.inbound("shadowsocks", `{"method":"aes-256-gcm"}`, `{}`)
	expiry := now.Add(30 * 24 * time.Hour).UnixMilli()
	e.client(fmt.Sprintf(`{"email":"alice","subId":"s1","totalGB":10737418240,`+
		`"expiryTime":%d,"enable":true}`, expiry), vl, ss)
	e.client(fmt.Sprintf(`{"email":"bob","subId":"sb","totalGB":10737418240,`+
		`"expiryTime":%d,"enable":false}`, expiry), vl)
	e.usage("alice", 1<<29, 0)
}

// shareSubID gives email's client the subscription id directly in the
// store, as records imported from the mirrored panel may share one; the
// API refuses a taken subId.
func (e *env) shareSubID(email, subID string) {
	e.t.Helper()
	err := e.store.Update(func(tx *kv.Tx) error {
		c, err := tx.ClientByEmail(email)
		if err != nil {
			return err
		}
		n := c.Clone()
		n.SubID = subID
		return tx.PutClient(n)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func TestServer_Serve(t *testing.T) {
	e := newEnv(t, sub.Options{UpdateHours: 12})
	twoClients(e)
	expire := now.Add(30 * 24 * time.Hour).Unix()
	wantInfo := fmt.Sprintf("upload=536870912; download=0; total=10737418240; expire=%d", expire)

	t.Run("GET answers base64 links and every header", func(t *testing.T) {
		resp, body := e.get("GET", "s1", "v2rayNG/1.9.0")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		checkHeaders(t, resp, wantInfo, "alice")
		text, err := base64.StdEncoding.DecodeString(string(body))
		if err != nil {
			t.Fatalf("body is not base64: %v", err)
		}
		lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("got %d links, want alice's on vless and ss: %q", len(lines), lines)
		}
		for i, prefix := range []string{"vless://", "ss://"} {
			if !strings.HasPrefix(lines[i], prefix) || !strings.Contains(lines[i], "@vpn.test:") {
				t.Errorf("link %d = %s, want %s... at vpn.test", i, lines[i], prefix)
			}
		}
	})

	t.Run("a disabled client is still answered", func(t *testing.T) {
		resp, body := e.get("GET", "sb?format=plain", "")
		if resp.StatusCode != 200 || !strings.HasSuffix(string(body), "-bob\n") {
			t.Fatalf("status %d, body %q; want bob's link", resp.StatusCode, body)
		}
		info := fmt.Sprintf("upload=0; download=0; total=10737418240; expire=%d", expire)
		checkHeaders(t, resp, info, "bob")
	})

	t.Run("HEAD answers the headers alone", func(t *testing.T) {
		resp, body := e.get("HEAD", "s1", "")
		if resp.StatusCode != 200 || len(body) != 0 {
			t.Fatalf("HEAD: status %d, %d body bytes; want 200 and none", resp.StatusCode, len(body))
		}
		checkHeaders(t, resp, wantInfo, "alice")
	})

	t.Run("unknown and malformed requests get an empty 404", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{"GET", "nope"}, {"GET", ""}, {"GET", "s1/x"}, {"POST", "s1"}, {"DELETE", "s1"},
		} {
			resp, body := e.get(c.method, c.path, "")
			if resp.StatusCode != 404 || len(body) != 0 {
				t.Errorf("%s %s: status %d, body %q; want an empty 404", c.method, c.path,
					resp.StatusCode, body)
			}
		}
	})

	t.Run("unknown format is refused", func(t *testing.T) {
		if resp, _ := e.get("GET", "s1?format=pdf", ""); resp.StatusCode != 400 {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})
}

// checkHeaders checks the headers every answer carries.
func checkHeaders(t *testing.T, resp *http.Response, info, title string) {
	t.Helper()
	want := map[string]string{
		"Subscription-Userinfo":   info,
		"Profile-Update-Interval": "12",
		"Profile-Title":           "base64:" + base64.StdEncoding.EncodeToString([]byte(title)),
		"Content-Disposition":     `attachment; filename="` + title + `"; filename*=UTF-8''` + title,
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestServer_Userinfo(t *testing.T) {
	e := newEnv(t, sub.Options{UpdateHours: 6, Title: "My VPN"})
	in := e.inbound("trojan", `{}`, `{}`)
	e.client(`{"email":"carol","subId":"s2","totalGB":1000,"expiryTime":-172800000}`, in)
	e.client(`{"email":"dan","subId":"s3","totalGB":1000,"expiryTime":1}`, in)
	e.client(`{"email":"erin","totalGB":0}`, in)
	e.shareSubID("erin", "s3")
	e.client(`{"email":"fay","subId":"s4","totalGB":1000,"expiryTime":1767225600000}`, in)
	e.client(`{"email":"gil","totalGB":2000,"expiryTime":1767225600000}`, in)
	e.shareSubID("gil", "s4")
	e.usage("fay", 10, 20)
	e.usage("gil", 1, 2)

	cases := []struct{ sub, info string }{
		// Shared subscriptions sum usage and quotas, with the common
		// expiry in seconds.
		{"s4", "upload=11; download=22; total=3000; expire=1767225600"},
		// A delayed start expires its duration from now.
		{"s2", fmt.Sprintf("upload=0; download=0; total=1000; expire=%d",
			now.Add(48*time.Hour).Unix())},
		// An unlimited member makes the total unlimited; differing
		// expiries give none.
		{"s3", "upload=0; download=0; total=0; expire=0"},
	}
	for _, c := range cases {
		t.Run(c.sub, func(t *testing.T) {
			resp, _ := e.get("GET", c.sub, "")
			if got := resp.Header.Get("Subscription-Userinfo"); got != c.info {
				t.Errorf("Subscription-Userinfo = %q, want %q", got, c.info)
			}
			if got := resp.Header.Get("Profile-Title"); got != "base64:TXkgVlBO" {
				t.Errorf("Profile-Title = %q, want the configured title", got)
			}
			if got := resp.Header.Get("Profile-Update-Interval"); got != "6" {
				t.Errorf("Profile-Update-Interval = %q, want 6", got)
			}
		})
	}
}

func TestServer_Format(t *testing.T) {
	e := newEnv(t, sub.Options{UpdateHours: 12})
	twoClients(e)
	cases := []struct {
		name, query, agent, contentType, start string
	}{
		{"default is base64", "", "", "text/plain; charset=utf-8", "dmxlc3M6Ly"},
		{"v2rayN gets base64", "", "v2rayN/7.0", "text/plain; charset=utf-8", "dmxlc3M6Ly"},
		{"plain", "?format=plain", "", "text/plain; charset=utf-8", "vless://"},
		{"xray json", "?format=json", "", "application/json; charset=utf-8", "["},
		{"clash by query", "?format=clash", "", "text/yaml; charset=utf-8", "mixed-port:"},
		{"clash by agent", "", "ClashMetaForAndroid/2.10.1", "text/yaml; charset=utf-8",
			"mixed-port:"},
		{"mihomo by agent", "", "mihomo/1.19.0", "text/yaml; charset=utf-8", "mixed-port:"},
		{"sing-box by agent", "", "SFA/1.11.0 (Android)", "application/json; charset=utf-8", "{"},
		{"query beats agent", "?format=base64", "clash-verge/2.0", "text/plain; charset=utf-8",
			"dmxlc3M6Ly"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.get("GET", "s1"+c.query, c.agent)
			if got := resp.Header.Get("Content-Type"); got != c.contentType {
				t.Errorf("Content-Type = %q, want %q", got, c.contentType)
			}
			if !strings.HasPrefix(string(body), c.start) {
				t.Errorf("body starts %.40q, want %q", body, c.start)
			}
		})
	}
}

func TestServer_LastSubFetch(t *testing.T) {
	e := newEnv(t, sub.Options{UpdateHours: 12})
	twoClients(e)
	e.get("HEAD", "s1", "")
	if err := e.srv.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := lastSubFetch(e, "alice"); got != 0 {
		t.Errorf("a HEAD stamped lastSubFetch = %d", got)
	}

	e.get("GET", "s1", "")
	if got := lastSubFetch(e, "alice"); got != 0 {
		t.Errorf("lastSubFetch written before the flush: %d", got)
	}
	if err := e.srv.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := lastSubFetch(e, "alice"); got != now.UnixMilli() {
		t.Errorf("lastSubFetch of alice = %d, want %d", got, now.UnixMilli())
	}
	if got := lastSubFetch(e, "bob"); got != 0 {
		t.Errorf("lastSubFetch of bob, whose subscription was not fetched, = %d", got)
	}
}

func lastSubFetch(e *env, email string) int64 {
	var at int64
	e.store.View(func(v *kv.View) error {
		at = v.Traffic(email).LastSubFetch
		return nil
	})
	return at
}

func TestServer_LogRedactsSubscriptionIDs(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, sub.Options{UpdateHours: 12, Logger: log})
	srv := e.srv.HTTPServer(sub.Limits{})
	srv.Logger.Printf("error when serving %q: GET /sub/secret-id?format=json HTTP/1.1", "x")
	if strings.Contains(buf.String(), "secret-id") {
		t.Errorf("log quotes the subscription id: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "/sub/[redacted]") {
		t.Errorf("log lost the rest of the message: %s", buf.String())
	}
}
