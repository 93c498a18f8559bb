package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// driver sends requests to one server on 127.0.0.1 over keep-alive
// connections.
type driver struct {
	hc    *fasthttp.HostClient
	base  string // http://127.0.0.1:port
	auth  string // Authorization header value; empty for none
	conns int
}

func newDriver(addr, token string, conns int) *driver {
	d := &driver{
		hc: &fasthttp.HostClient{
			Addr:                     addr,
			MaxConns:                 conns,
			ReadTimeout:              60 * time.Second,
			WriteTimeout:             60 * time.Second,
			MaxIdleConnDuration:      time.Minute,
			NoDefaultUserAgentHeader: true,
			DisablePathNormalizing:   true,
		},
		base:  "http://" + addr,
		conns: conns,
	}
	if token != "" {
		d.auth = "Bearer " + token
	}
	return d
}

// prepare fills req for one call.
func (d *driver) prepare(req *fasthttp.Request, method, path string, body []byte) {
	req.Reset()
	req.Header.SetMethod(method)
	req.SetRequestURI(d.base + path)
	if d.auth != "" {
		req.Header.Set("Authorization", d.auth)
	}
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	}
}

// call sends one request and returns the status and a copy of the body.
func (d *driver) call(method, path string, body []byte) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	d.prepare(req, method, path, body)
	if err := d.hc.Do(req, resp); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), slices.Clone(resp.Body()), nil
}

// envelope is the body of every API answer.
type envelope struct {
	Success bool            `json:"success"`
	Msg     string          `json:"msg"`
	Obj     json.RawMessage `json:"obj"`
}

// api sends body as JSON and decodes the answer's obj into out (when
// not nil). A failed call is an error carrying the server's message.
func (d *driver) api(method, path string, body, out any) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode %s body: %w", path, err)
		}
	}
	status, answer, err := d.call(method, path, raw)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	var env envelope
	if err := json.Unmarshal(answer, &env); err != nil || status != 200 {
		return fmt.Errorf("%s %s: status %d: %.200s", method, path, status, answer)
	}
	if !env.Success {
		return fmt.Errorf("%s %s: refused: %s", method, path, env.Msg)
	}
	if out != nil {
		if err := json.Unmarshal(env.Obj, out); err != nil {
			return fmt.Errorf("%s %s: decode obj: %w", method, path, err)
		}
	}
	return nil
}

// waitListening polls until the server accepts a request.
func (d *driver) waitListening(ctx context.Context) error {
	for range 200 {
		if _, _, err := d.call("GET", "/", nil); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
	return fmt.Errorf("nothing answers on %s", d.base)
}

// scenario is one kind of request driven for a fixed time.
type scenario struct {
	name   string
	paged  bool // a paged list view, compared with the ceiling
	method string
	path   func(w *worker) string
	body   func(w *worker) []byte // nil sends no body
}

// worker is one connection's loop and its private state.
type worker struct {
	rng       *rand.Rand
	id        int
	latencies []time.Duration
	requests  int
	errors    int
	bytes     int64 // answer bodies
	firstErr  string
}

// result is what one scenario measured.
type result struct {
	name     string
	paged    bool
	requests int
	errors   int
	bytes    int64
	elapsed  time.Duration
	p50, p99 time.Duration
	firstErr string
}

// rate is the completed requests per second.
func (r result) rate() float64 {
	return float64(r.requests) / r.elapsed.Seconds()
}

// meanBytes is the mean size of an answer body.
func (r result) meanBytes() int64 {
	if r.requests == 0 {
		return 0
	}
	return r.bytes / int64(r.requests)
}

// successPrefix starts every successful answer: the envelope encodes
// success first.
var successPrefix = []byte(`{"success":true`)

// drive runs s on d.conns connections for dur, after a short warm-up
// that is not counted. A request is an error when it fails in transport,
// answers other than 200, or answers success false.
func (d *driver) drive(ctx context.Context, s scenario, dur time.Duration) (result, error) {
	warm := min(dur/10, time.Second)
	from := time.Now().Add(warm)
	until := from.Add(dur)

	workers := make([]*worker, d.conns)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{id: i, rng: rand.New(rand.NewPCG(uint64(i)+1, 0x5eed))}
		workers[i] = w
		wg.Go(func() { d.loop(ctx, s, w, from, until) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	return merge(s, workers, dur), nil
}

// loop sends requests until the window closes, recording those started
// inside it.
func (d *driver) loop(ctx context.Context, s scenario, w *worker, from, until time.Time) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	for ctx.Err() == nil {
		var body []byte
		if s.body != nil {
			body = s.body(w)
		}
		d.prepare(req, s.method, s.path(w), body)

		start := time.Now()
		if !start.Before(until) {
			return
		}
		err := d.hc.Do(req, resp)
		elapsed := time.Since(start)
		if start.Before(from) {
			continue
		}
		w.record(elapsed, failure(err, resp), len(resp.Body()))
	}
}

// failure describes why an answer counts as an error, or is empty.
func failure(err error, resp *fasthttp.Response) string {
	switch {
	case err != nil:
		return err.Error()
	case resp.StatusCode() != fasthttp.StatusOK:
		return fmt.Sprintf("status %d", resp.StatusCode())
	case !bytes.HasPrefix(resp.Body(), successPrefix):
		return fmt.Sprintf("%.200s", resp.Body())
	}
	return ""
}

func (w *worker) record(latency time.Duration, failed string, size int) {
	w.requests++
	w.bytes += int64(size)
	w.latencies = append(w.latencies, latency)
	if failed != "" {
		w.errors++
		if w.firstErr == "" {
			w.firstErr = failed
		}
	}
}

// merge sums the workers' counts and takes percentiles over every
// latency they recorded.
func merge(s scenario, workers []*worker, dur time.Duration) result {
	r := result{name: s.name, paged: s.paged, elapsed: dur}
	var all []time.Duration
	for _, w := range workers {
		r.requests += w.requests
		r.errors += w.errors
		r.bytes += w.bytes
		all = append(all, w.latencies...)
		if r.firstErr == "" {
			r.firstErr = w.firstErr
		}
	}
	slices.Sort(all)
	r.p50, r.p99 = percentile(all, 50), percentile(all, 99)
	return r
}

// percentile returns the value p percent of sorted lies at or below.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}
