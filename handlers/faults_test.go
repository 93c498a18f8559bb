package handlers_test

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/xpanel/xpanel/handlers"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/panel"
)

// syncLog is a log sink shared by the server's goroutines and the test.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestHandler_PanicRecovered registers a route that panics through the
// exported Handle hook: the caller gets a 500 in the envelope, the panic
// is logged with its stack and counted, and the server keeps answering,
// on the same connection and on others.
func TestHandler_PanicRecovered(t *testing.T) {
	var logs syncLog
	svc := panel.New(kvtest.Open(t), panel.Options{})
	h := handlers.New(svc, []handlers.Token{{Hash: handlers.HashToken(adminToken)}},
		slog.New(slog.NewTextHandler(&logs, nil)))
	h.Handle("POST", "/panel/api/test/panic", false, func(*fasthttp.RequestCtx) {
		panic("handler exploded")
	})
	srv := h.Server(handlers.Limits{MaxBodyBytes: 1 << 20, ReadTimeout: 5 * time.Second,
		WriteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second, MaxConns: 64})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go srv.Serve(handlers.Lingering(ln))
	t.Cleanup(func() { srv.Shutdown() })
	a := &api{t: t, base: "http://" + ln.Addr().String(), token: adminToken,
		http: &http.Client{Timeout: 5 * time.Second}}

	for round := 1; round <= 3; round++ {
		status, body := a.raw("POST", "/panel/api/test/panic", "{}")
		if status != http.StatusInternalServerError ||
			string(body) != `{"success":false,"msg":"Something went wrong (internal error)","obj":null}` {
			t.Fatalf("panicking route: status %d body %s", status, body)
		}
		a.ok("GET", "/panel/api/inbounds/list", nil, nil)
		if got := svc.Faults().Count(); got != int64(round) {
			t.Fatalf("faults counted %d after %d panics", got, round)
		}
	}
	out := logs.String()
	for _, want := range []string{"recovered from a panic", `where="POST /panel/api/test/panic"`,
		"handler exploded", "faults_test.go"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
