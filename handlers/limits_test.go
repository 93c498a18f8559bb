package handlers_test

import (
	"bufio"
	"context"
	"errors"
	"io"
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

// limitsTimeout is the read and idle timeout of the limits tests'
// server: short, so that the tests see it act.
const limitsTimeout = 400 * time.Millisecond

// closeWait bounds how long the tests wait for the server to close a
// connection its timeouts condemned, or to answer a request it must
// answer: far above limitsTimeout, since a loaded machine (CI's two
// cores under -race) delays the server's goroutines. A connection that
// is never closed still fails the test.
const closeWait = 10 * time.Second

// newLimitedAPI starts a server with small connection limits and
// timeouts, and returns a caller that opens a new connection from
// 127.0.0.1 for every request, so that each request proves the server
// still accepts.
func newLimitedAPI(t *testing.T, extra ...func(h *handlers.Handler)) (*api, string) {
	t.Helper()
	svc := panel.New(kvtest.Open(t), panel.Options{})
	h := handlers.New(svc, []handlers.Token{{Hash: handlers.HashToken(adminToken)}},
		slog.New(slog.DiscardHandler))
	for _, fn := range extra {
		fn(h)
	}
	srv := h.Server(handlers.Limits{MaxBodyBytes: 1 << 20, ReadTimeout: limitsTimeout,
		WriteTimeout: limitsTimeout, IdleTimeout: limitsTimeout, MaxConns: 64,
		MaxConnsPerIP: 32, MaxHeaderBytes: 4096})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go srv.Serve(handlers.Lingering(ln))
	t.Cleanup(func() { srv.Shutdown() })
	client := &http.Client{Timeout: closeWait,
		Transport: &http.Transport{DisableKeepAlives: true}}
	return &api{t: t, base: "http://" + ln.Addr().String(), token: adminToken, http: client},
		ln.Addr().String()
}

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedBy reports whether the server closed c within d: a read ends
// with EOF or a reset rather than the deadline.
func closedBy(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return err == nil || !(errors.As(err, &ne) && ne.Timeout())
}

// answersMeanwhile makes requests from 127.0.0.1 until stop closes;
// every one must succeed.
func answersMeanwhile(t *testing.T, a *api, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := 0; ; n++ {
			select {
			case <-stop:
				if n == 0 {
					t.Errorf("no request made during the attack")
				}
				return
			default:
			}
			req, _ := http.NewRequestWithContext(context.Background(), "GET",
				a.base+"/panel/api/inbounds/list", nil)
			req.Header.Set("Authorization", "Bearer "+adminToken)
			resp, err := a.http.Do(req)
			if err != nil {
				t.Errorf("request %d during the attack: %v", n, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("request %d during the attack: status %d", n, resp.StatusCode)
				return
			}
		}
	})
	return &wg
}

// TestServer_SlowLoris holds connections from 127.0.0.2 that send a
// header byte at a time: the API keeps answering 127.0.0.1, and the
// read timeout closes every slow connection.
func TestServer_SlowLoris(t *testing.T) {
	a, addr := newLimitedAPI(t)
	stop := make(chan struct{})
	wg := answersMeanwhile(t, a, stop)

	var conns []net.Conn
	for range 48 {
		c := dialFrom(t, "127.0.0.2", addr)
		c.Write([]byte("POST /panel/api/clients/add HTTP/1.1\r\nHost: x\r\n"))
		conns = append(conns, c)
	}
	for range 3 {
		for _, c := range conns {
			c.Write([]byte("X"))
		}
		time.Sleep(limitsTimeout / 4)
	}
	close(stop)
	wg.Wait()

	for i, c := range conns {
		if !closedBy(c, closeWait) {
			t.Fatalf("slow connection %d still open after %v", i, closeWait)
		}
	}
}

// TestServer_HalfOpenFlood opens more silent connections from 127.0.0.3
// than the server takes from one address: the API keeps answering
// 127.0.0.1, and every silent connection is closed.
func TestServer_HalfOpenFlood(t *testing.T) {
	a, addr := newLimitedAPI(t)
	stop := make(chan struct{})
	wg := answersMeanwhile(t, a, stop)

	var conns []net.Conn
	for range 200 {
		conns = append(conns, dialFrom(t, "127.0.0.3", addr))
	}
	time.Sleep(limitsTimeout / 2)
	close(stop)
	wg.Wait()

	for i, c := range conns {
		if !closedBy(c, closeWait) {
			t.Fatalf("silent connection %d still open after %v", i, closeWait)
		}
	}
}

// TestServer_HeaderCap refuses a request whose headers exceed the cap
// with a 4xx, and answers the next request.
func TestServer_HeaderCap(t *testing.T) {
	a, _ := newLimitedAPI(t)
	padding := strings.Repeat("p", 8<<10)
	status, _ := a.raw("GET", "/panel/api/inbounds/list", nil, "X-Padding", padding)
	if status < 400 || status >= 500 {
		t.Errorf("8 KiB header: status %d, want 4xx", status)
	}
	a.ok("GET", "/panel/api/inbounds/list", nil, nil)
}

// TestServer_IdleTimeout closes a keep-alive connection that stays idle
// past the idle timeout.
func TestServer_IdleTimeout(t *testing.T) {
	a, addr := newLimitedAPI(t)
	c := dialFrom(t, "127.0.0.1", addr)
	c.Write([]byte("GET /panel/api/inbounds/list HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
		adminToken + "\r\n\r\n"))
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(closeWait))
	if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		t.Fatalf("first answer: %q, %v", buf[:n], err)
	}
	if !closedBy(c, closeWait) {
		t.Fatalf("idle connection open after %v", closeWait)
	}
	a.ok("GET", "/panel/api/inbounds/list", nil, nil)
}

// TestServer_WriteTimeout cuts an answer its reader does not take in
// time: a test route answers 64 MiB to a client that waits before
// reading, and the client gets only part of it, while others are
// answered meanwhile.
func TestServer_WriteTimeout(t *testing.T) {
	const size = 64 << 20
	a, addr := newLimitedAPI(t, func(h *handlers.Handler) {
		h.Handle("GET", "/panel/api/test/big", true, func(ctx *fasthttp.RequestCtx) {
			ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
				chunk := make([]byte, 64<<10)
				for range size / len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			})
		})
	})
	c := dialFrom(t, "127.0.0.1", addr)
	c.Write([]byte("GET /panel/api/test/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
		adminToken + "\r\n\r\n"))
	stop := make(chan struct{})
	wg := answersMeanwhile(t, a, stop)
	time.Sleep(3 * limitsTimeout)
	close(stop)
	wg.Wait()

	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := io.Copy(io.Discard, c)
	if n >= size {
		t.Fatalf("the slow reader got all %d bytes; want the answer cut", n)
	}
	t.Logf("slow reader got %d of %d bytes", n, size)
}

// TestServer_RefusalOfHugeRequest sends requests whose line is far over
// the header cap, more than socket buffers hold: the server answers
// before the client has written it all, and the client must still get
// the refusal, not a broken pipe that throws the answer away.
func TestServer_RefusalOfHugeRequest(t *testing.T) {
	a, _ := newLimitedAPI(t)
	path := "/panel/api/clients/del/" + strings.Repeat("e", 8<<20)
	for i := range 5 {
		status, out := a.raw("POST", path, nil)
		if status < 400 || status >= 500 {
			t.Fatalf("try %d: status %d %.80q, want a 4xx", i, status, out)
		}
	}
}
