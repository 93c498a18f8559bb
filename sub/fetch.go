package sub

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/xpanel/xpanel/links"
)

// Limits of one external subscription: what is read of its body and how
// many of its links are kept.
const (
	maxExternalBody  = 1 << 20
	maxExternalLinks = 1000
)

// Fetcher fetches the external subscriptions clients carry and keeps
// each answer for a while, so that the apps polling a subscription do
// not each cost a request to the provider. A failure is kept too, for a
// shorter while, so that a provider that is down does not add its
// timeout to every answer. It implements panel.ExternalSource.
type Fetcher struct {
	client   *http.Client
	ttl      time.Duration
	errorTTL time.Duration
	now      func() time.Time

	mu      sync.Mutex
	entries map[string]*fetchEntry
}

// fetchEntry is the cached answer of one URL. ready is closed once the
// fetch that fills it ends; later callers wait on it instead of
// fetching the same URL again.
type fetchEntry struct {
	ready chan struct{}
	at    time.Time
	lines []string
	err   error
}

// NewFetcher returns a fetcher whose requests give up after timeout and
// whose answers are kept for ttl (failures for a tenth of it, at least
// a second).
func NewFetcher(timeout, ttl time.Duration) *Fetcher {
	return &Fetcher{
		client:   &http.Client{Timeout: timeout},
		ttl:      ttl,
		errorTTL: max(ttl/10, time.Second),
		now:      time.Now,
		entries:  map[string]*fetchEntry{},
	}
}

// Fetch returns the links behind url, from the cache while it is fresh.
// fresh reports that this call fetched it. Errors never quote the URL,
// which carries the provider's secret subscription id.
func (f *Fetcher) Fetch(url string) (lines []string, fresh bool, err error) {
	f.mu.Lock()
	e := f.entries[url]
	if e != nil && !f.expired(e) {
		f.mu.Unlock()
		<-e.ready
		return e.lines, false, e.err
	}
	e = &fetchEntry{ready: make(chan struct{})}
	f.entries[url] = e
	f.dropExpired()
	f.mu.Unlock()

	e.lines, e.err = f.get(url)
	e.at = f.now()
	close(e.ready)
	return e.lines, true, e.err
}

// expired reports whether a finished entry is past its time to live; an
// entry still being fetched is not. The caller holds mu.
func (f *Fetcher) expired(e *fetchEntry) bool {
	select {
	case <-e.ready:
	default:
		return false
	}
	ttl := f.ttl
	if e.err != nil {
		ttl = f.errorTTL
	}
	return f.now().Sub(e.at) >= ttl
}

// dropExpired forgets finished entries past their time, so that URLs no
// client carries any more do not stay in memory. The caller holds mu.
func (f *Fetcher) dropExpired() {
	for url, e := range f.entries {
		if f.expired(e) {
			delete(f.entries, url)
		}
	}
}

// get fetches url and reads its links.
func (f *Fetcher) get(url string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), f.client.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, errors.New("fetch external subscription: bad URL")
	}
	req.Header.Set("User-Agent", "xpanel")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch external subscription: %s", failure(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch external subscription: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxExternalBody))
	if err != nil {
		return nil, fmt.Errorf("fetch external subscription: read body: %s", failure(err))
	}
	lines := subscriptionLinks(body)
	if len(lines) == 0 {
		return nil, errors.New("fetch external subscription: no share links in the answer")
	}
	return lines, nil
}

// failure names why a request failed without the URL net/http quotes.
func failure(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap().Error()
	}
	return "request failed"
}

// subscriptionLinks reads a subscription body: share links one a line,
// as they are or in base64. Lines that are not share links are dropped.
func subscriptionLinks(body []byte) []string {
	body = bytes.TrimSpace(body)
	if !bytes.Contains(body, []byte("://")) {
		compact := bytes.Join(bytes.Fields(body), nil)
		if decoded, ok := links.DecodeBase64(string(compact)); ok {
			body = decoded
		}
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), maxExternalBody)
	for sc.Scan() && len(out) < maxExternalLinks {
		line := strings.TrimSpace(sc.Text())
		if _, err := links.Parse(line); err == nil {
			out = append(out, line)
		}
	}
	return out
}
