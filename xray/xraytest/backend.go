package xraytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// Backend endpoints. FastPath answers FastSize bytes at once. The slow
// one streams SlowChunk-byte chunks, as many as its chunks query
// parameter says, one every "every" (a Go duration), with the total
// Content-Length announced, so that a download cut short is an error.
const (
	FastPath  = "/fast"
	FastSize  = 20_000
	SlowChunk = 100
)

// SlowPath is the path of a slow download of n chunks, one every
// interval; the whole body is n*SlowChunk bytes.
func SlowPath(n int, every time.Duration) string {
	return fmt.Sprintf("/slow?chunks=%d&every=%s", n, every)
}

// Backend is an HTTP server on 127.0.0.1 behind the proxies.
type Backend struct {
	Addr string // host:port
	srv  *httptest.Server
}

// StartBackend starts a backend. When the test ends it drops all its
// connections first, so that a download the proxies left hanging cannot
// hold up the close.
func StartBackend(t testing.TB) *Backend {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+FastPath, serveFast)
	mux.HandleFunc("GET /slow", serveSlow)

	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return &Backend{Addr: srv.Listener.Addr().String(), srv: srv}
}

func serveFast(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Length", strconv.Itoa(FastSize))
	w.Write(make([]byte, FastSize))
}

func serveSlow(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("chunks"))
	every, err2 := time.ParseDuration(r.URL.Query().Get("every"))
	if err != nil || err2 != nil || n <= 0 || every <= 0 {
		http.Error(w, "want chunks and every", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(n*SlowChunk))
	flusher := w.(http.Flusher)
	chunk := make([]byte, SlowChunk)

	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; i < n; i++ {
		if _, err := w.Write(chunk); err != nil {
			return
		}
		flusher.Flush()
		if i == n-1 {
			return
		}
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		}
	}
}

// newHTTPClient makes an HTTP client that opens a new connection for
// every request, so that each request is one proxied connection.
func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
}

// Get fetches path through the client, as one new proxied connection,
// and returns the body. Any status but 200 is an error. A refused
// connection usually fails at once, but some clients (ss2022) only
// stall, so timeout bounds the wait.
func (c *Client) Get(path string, timeout time.Duration) ([]byte, error) {
	hc := newHTTPClient(timeout)
	defer hc.CloseIdleConnections()

	resp, err := hc.Get("http://" + c.Addr + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return body, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("status %s", resp.Status)
	}
	return body, nil
}

// MustGet fetches path through the client and fails the test unless it
// gets a full 200 answer.
func (c *Client) MustGet(t testing.TB, path string) []byte {
	t.Helper()
	body, err := c.Get(path, 5*time.Second)
	if err != nil {
		t.Fatalf("GET %s through %s: %v", path, c.Addr, err)
	}
	return body
}

// Download is a GET running in the background whose body is counted as
// it arrives.
type Download struct {
	bytes atomic.Int64
	done  chan struct{}
	err   error     // why it ended; nil for a full 200 body. Set before done closes.
	ended time.Time // set before done closes
}

// StartDownload starts a GET of path through the client. It is aborted
// when the test ends, if still running.
func (c *Client) StartDownload(t testing.TB, path string) *Download {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.Addr+path, nil)
	if err != nil {
		t.Fatalf("download request: %v", err)
	}
	d := &Download{done: make(chan struct{})}
	go d.run(req)
	t.Cleanup(func() {
		cancel()
		<-d.done
	})
	return d
}

func (d *Download) run(req *http.Request) {
	hc := newHTTPClient(0)
	defer hc.CloseIdleConnections()
	defer close(d.done)
	defer func() { d.ended = time.Now() }()

	resp, err := hc.Do(req)
	if err != nil {
		d.err = err
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		d.err = fmt.Errorf("status %s", resp.Status)
		return
	}

	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		d.bytes.Add(int64(n))
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			d.err = err
			return
		}
	}
}

// Bytes is how many body bytes have arrived so far.
func (d *Download) Bytes() int64 { return d.bytes.Load() }

// Done is closed when the download has ended, fully or not.
func (d *Download) Done() <-chan struct{} { return d.done }

// Ended reports whether the download has ended.
func (d *Download) Ended() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Wait waits up to within for the download to end and returns when it
// ended and why (nil for a full body). It fails the test if the
// download is still running after within.
func (d *Download) Wait(t testing.TB, within time.Duration) (time.Time, error) {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-d.done:
		return d.ended, d.err
	case <-timer.C:
	}
	if d.Ended() {
		return d.ended, d.err
	}
	t.Fatalf("download still running after %v (%d bytes so far)", within, d.Bytes())
	return time.Time{}, nil
}

// WaitBytes waits up to within until at least n bytes have arrived,
// failing the test otherwise.
func (d *Download) WaitBytes(t testing.TB, n int64, within time.Duration) {
	t.Helper()
	Eventually(t, within, func() bool { return d.Bytes() >= n || d.Ended() })
	if d.Bytes() < n {
		t.Fatalf("download ended after %d bytes, want at least %d: %v", d.Bytes(), n, d.err)
	}
}
