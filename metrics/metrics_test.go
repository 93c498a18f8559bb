package metrics_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/xpanel/xpanel/handlers"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/metrics"
	"github.com/xpanel/xpanel/panel"
	"github.com/xpanel/xpanel/xray"
	"github.com/xpanel/xpanel/xray/xraytest"
)

const token = "metrics-test-token-0123456789"

// aliceID is the uuid of the client the real proxy client speaks as.
const aliceID = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"

// server is the API and the metrics endpoint over one real store and a
// real proxy core, each on its own port of 127.0.0.1.
type server struct {
	t      *testing.T
	api    string
	scrape string
	svc    *panel.Service
	poller *panel.Poller
	client *http.Client
}

// coreMeter reads the core's counters for the poller; live connections
// are left out, as no test here makes any.
type coreMeter struct{ core *xray.Core }

func (m coreMeter) Usage() (clients, inbounds map[string]panel.Delta) { return m.core.Usage() }
func (m coreMeter) Live() map[string]panel.LiveUser                   { return nil }

// hookCounts stands in for the hook engine's counts, which come from
// another part; only the plumbing is under test here.
type hookCounts struct{ calls, errors, timeouts uint64 }

func (h hookCounts) HookCounts() (uint64, uint64, uint64) { return h.calls, h.errors, h.timeouts }

func start(t *testing.T, hooks metrics.HookCounter) *server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	store := kvtest.Open(t)
	var core *xray.Core
	err := store.View(func(v *kv.View) (err error) {
		core, err = xray.Start(v, xray.Options{Logger: log, LogLevel: "none"})
		return err
	})
	if err != nil {
		t.Fatalf("start core: %v", err)
	}
	store.SetFollower(core)
	t.Cleanup(func() { store.SetFollower(nil); core.Close() })

	seen := panel.NewSightings(time.Minute)
	svc := panel.New(store, panel.Options{ExpiringWithin: 72 * time.Hour,
		ExpiringBytes: 1 << 30, Presence: seen})
	poller := panel.NewPoller(svc, coreMeter{core}, seen, 0)
	m := metrics.New(metrics.Sources{Service: svc, Store: store, Core: core,
		Poller: poller, Hooks: hooks})
	h := handlers.New(svc, []handlers.Token{{Hash: handlers.HashToken(token)}}, log)
	h.SetObserver(m)

	apiLn := listen(t)
	srv := h.Server(handlers.Limits{MaxBodyBytes: 1 << 20, ReadTimeout: 5 * time.Second,
		WriteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second, MaxConns: 64})
	go srv.Serve(apiLn)
	t.Cleanup(func() { srv.Shutdown() })

	metricsLn := listen(t)
	ms := metrics.Serve(metricsLn, m, log)
	t.Cleanup(func() {
		if err := ms.Close(context.Background()); err != nil {
			t.Errorf("close metrics server: %v", err)
		}
	})
	return &server{t: t, api: "http://" + apiLn.Addr().String(),
		scrape: "http://" + metricsLn.Addr().String() + "/metrics",
		svc:    svc, poller: poller, client: &http.Client{Timeout: 10 * time.Second}}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

// send calls the API with the token and returns the answer's body.
func (s *server) send(method, path string, body any) []byte {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.api+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return raw
}

// post calls the API and returns whether the envelope says success.
func (s *server) post(path string, body any) bool {
	s.t.Helper()
	raw := s.send("POST", path, body)
	var env struct{ Success bool }
	if err := json.Unmarshal(raw, &env); err != nil {
		s.t.Fatalf("POST %s: %v: %s", path, err, raw)
	}
	return env.Success
}

// families scrapes the endpoint and parses it with Prometheus's parser.
func (s *server) families() map[string]*dto.MetricFamily {
	s.t.Helper()
	resp, err := s.client.Get(s.scrape)
	if err != nil {
		s.t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("scrape: status %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		s.t.Fatalf("parse scrape: %v", err)
	}
	return fams
}

// value returns the value of the series of family name with exactly the
// labels given as name, value pairs, and whether it exists.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Summary != nil:
			return float64(m.Summary.GetSampleCount()), true
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, labels []string) bool {
	if len(m.GetLabel()) != len(labels)/2 {
		return false
	}
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
		}
		if !found {
			return false
		}
	}
	return true
}

// expect fails the test unless the series has the value.
func expect(t *testing.T, fams map[string]*dto.MetricFamily, want float64,
	name string, labels ...string) {
	t.Helper()
	got, ok := value(fams, name, labels...)
	if !ok {
		t.Errorf("series %s%v missing", name, labels)
		return
	}
	if got != want {
		t.Errorf("series %s%v = %v, want %v", name, labels, got, want)
	}
}

func TestMetrics_Scrape(t *testing.T) {
	s := start(t, hookCounts{calls: 7, errors: 2, timeouts: 1})
	port := xraytest.FreePort(t)

	t.Run("empty server", func(t *testing.T) {
		fams := s.families()
		for _, status := range []string{"active", "expiring", "depleted", "deactive"} {
			expect(t, fams, 0, "xpanel_clients", "status", status)
		}
		expect(t, fams, 0, "xpanel_clients_online")
		expect(t, fams, 0, "xpanel_core_inbounds_running")
		expect(t, fams, 0, "xpanel_traffic_poll_duration_seconds")
		expect(t, fams, 0, "xpanel_traffic_poll_failures_total")
		expect(t, fams, 7, "xpanel_hook_calls_total")
		expect(t, fams, 2, "xpanel_hook_errors_total")
		expect(t, fams, 1, "xpanel_hook_timeouts_total")
		if _, ok := value(fams, "xpanel_badger_lsm_bytes"); !ok {
			t.Error("badger lsm size missing")
		}
		if vlog, _ := value(fams, "xpanel_badger_vlog_bytes"); vlog <= 0 {
			t.Errorf("badger value log of %v bytes", vlog)
		}
		if _, ok := value(fams, "go_goroutines"); !ok {
			t.Error("go runtime series missing")
		}
	})

	t.Run("client added", func(t *testing.T) {
		ok := s.post("/panel/api/inbounds/add", map[string]any{
			"remark": "m", "enable": true, "port": port, "protocol": "vless",
			"listen": "127.0.0.1", "tag": "in-metrics",
			"settings":       map[string]any{"decryption": "none"},
			"streamSettings": map[string]any{"network": "tcp", "security": "none"},
		})
		if !ok {
			t.Fatal("add inbound failed")
		}
		ids := map[string]string{"alice": aliceID, "bob": "0d9e8f7a-6b5c-4d3e-9f2a-1b0c9d8e7f6a"}
		for _, email := range []string{"alice", "bob"} {
			if !s.post("/panel/api/clients/add", map[string]any{
				"client":     map[string]any{"email": email, "enable": true, "id": ids[email]},
				"inboundIds": []int{1},
			}) {
				t.Fatalf("add client %s failed", email)
			}
		}
		if !s.post("/panel/api/clients/bulkDisable", map[string]any{"emails": []string{"bob"}}) {
			t.Fatal("disable bob failed")
		}
		if s.post("/panel/api/clients/add", map[string]any{"client": map[string]any{}}) {
			t.Fatal("a client without email was added")
		}

		fams := s.families()
		expect(t, fams, 1, "xpanel_clients", "status", "active")
		expect(t, fams, 1, "xpanel_clients", "status", "deactive")
		expect(t, fams, 1, "xpanel_core_inbounds_running")
		expect(t, fams, 1, "xpanel_core_users_running")
		const add = "POST /panel/api/clients/add"
		expect(t, fams, 2, "xpanel_api_requests_total", "route", add, "outcome", "success")
		expect(t, fams, 1, "xpanel_api_requests_total", "route", add, "outcome", "failure")
		expect(t, fams, 3, "xpanel_api_request_duration_seconds", "route", add)
	})

	t.Run("traffic", func(t *testing.T) {
		if !s.post("/panel/api/clients/updateTraffic/alice",
			map[string]any{"upload": 1000, "download": 5000}) {
			t.Fatal("updateTraffic failed")
		}
		err := s.svc.RecordUsage(&panel.Usage{
			Clients:  map[string]panel.Delta{"alice": {Up: 10, Down: 20}},
			Inbounds: map[string]panel.Delta{"in-metrics": {Up: 300, Down: 4000}},
		})
		if err != nil {
			t.Fatalf("record usage: %v", err)
		}
		if err := s.poller.Poll(); err != nil {
			t.Fatalf("poll: %v", err)
		}

		fams := s.families()
		expect(t, fams, 1010, "xpanel_clients_traffic_bytes", "direction", "up")
		expect(t, fams, 5020, "xpanel_clients_traffic_bytes", "direction", "down")
		expect(t, fams, 300, "xpanel_inbound_traffic_bytes_total",
			"inbound", "in-metrics", "direction", "up")
		expect(t, fams, 4000, "xpanel_inbound_traffic_bytes_total",
			"inbound", "in-metrics", "direction", "down")
		expect(t, fams, 1, "xpanel_traffic_poll_duration_seconds")
		if lag, _ := value(fams, "xpanel_traffic_poll_lag_seconds"); lag > 60 {
			t.Errorf("poll lag %v s right after a round", lag)
		}
	})

	t.Run("real client online", func(t *testing.T) {
		backend := xraytest.StartBackend(t)
		ep := xraytest.Endpoint{Protocol: xraytest.VLESS, Port: port, Email: "alice",
			Secret: aliceID}
		client := xraytest.StartClient(t, ep, "127.0.0.2", backend.Addr)
		client.MustGet(t, xraytest.FastPath)
		if err := s.poller.Poll(); err != nil {
			t.Fatalf("poll: %v", err)
		}

		fams := s.families()
		expect(t, fams, 1, "xpanel_clients_online")
		down, _ := value(fams, "xpanel_clients_traffic_bytes", "direction", "down")
		if down <= 5020 {
			t.Errorf("client download %v bytes after a proxied GET, want over 5020", down)
		}
		in, _ := value(fams, "xpanel_inbound_traffic_bytes_total",
			"inbound", "in-metrics", "direction", "down")
		if in <= 4000 {
			t.Errorf("inbound download %v bytes after a proxied GET, want over 4000", in)
		}
		expect(t, fams, 2, "xpanel_traffic_poll_duration_seconds")
	})

	t.Run("unauthenticated and unknown routes", func(t *testing.T) {
		resp, err := s.client.Get(s.api + "/panel/api/clients/get/alice")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		fams := s.families()
		expect(t, fams, 1, "xpanel_api_requests_total",
			"route", "unmatched", "outcome", "unauthenticated")
	})
}

// TestMetrics_NoSecrets checks that no label value of any series is an
// email, a token or a raw path.
func TestMetrics_NoSecrets(t *testing.T) {
	s := start(t, nil)
	port := xraytest.FreePort(t)
	s.post("/panel/api/inbounds/add", map[string]any{
		"remark": "m", "enable": true, "port": port, "protocol": "vless",
		"listen": "127.0.0.1", "settings": map[string]any{"decryption": "none"},
	})
	s.post("/panel/api/clients/add", map[string]any{
		"client": map[string]any{"email": "secret-carol", "enable": true}, "inboundIds": []int{1},
	})
	got := s.send("GET", "/panel/api/clients/get/secret-carol", nil)
	if !bytes.Contains(got, []byte("secret-carol")) {
		t.Fatalf("get answered %s", got)
	}

	resp, err := s.client.Get(s.scrape)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, secret := range []string{"secret-carol", token} {
		if bytes.Contains(body, []byte(secret)) {
			t.Errorf("scrape carries %q", secret)
		}
	}
	fams := s.families()
	expect(t, fams, 0, "xpanel_hook_calls_total")
	expect(t, fams, 1, "xpanel_clients", "status", "active")
}
