// Package hooks runs the operator's Lua scripts next to the data: event
// handlers fed from the store's outbox, before-hooks that vet client
// changes, timers, and actions that go through the same panel operations
// as the API.
//
// Every script lives in its own sandboxed Lua state and runs one call at
// a time. A call has a time limit; a failing or runaway script is
// reported in its status and the log, and nothing else stops.
package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/panel"
)

// Defaults of Options.
const (
	DefaultTimeout  = 100 * time.Millisecond
	DefaultMaxDepth = 3
)

// Options configures an Engine.
type Options struct {
	// Dir holds the scripts: every *.lua file, loaded in name order. A
	// missing directory means no scripts.
	Dir string

	// Timeout bounds the Lua execution of one call; 0 means
	// DefaultTimeout. Time spent waiting on a webhook or on the store
	// inside an action does not count.
	Timeout time.Duration

	// MaxDepth is the longest chain of events caused by handlers'
	// actions that is delivered: an event a handler's action causes is
	// one deeper than the event the handler got. 0 means
	// DefaultMaxDepth.
	MaxDepth int

	// Workers deliver events in parallel, each client's in order; 0
	// means 2.
	Workers int

	// ManualTimers leaves xpanel.every timers to RunTimers, for tests.
	ManualTimers bool

	// HTTPClient sends xpanel.http_post; nil means a client of its own.
	HTTPClient *http.Client

	// Logger receives the engine's and the scripts' log lines.
	Logger *slog.Logger
}

// Engine runs the scripts. It implements panel.Gate.
type Engine struct {
	store *kv.Store
	svc   *panel.Service
	opts  Options
	log   *slog.Logger
	http  *http.Client

	scripts atomic.Pointer[[]*script] // the loaded set, in name order
	wanted  atomic.Pointer[map[string]bool]
	reload  sync.Mutex // one reload at a time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	timers *timerSet

	cursor   atomic.Uint64 // last outbox entry handed to a worker
	inflight atomic.Int64  // entries handed out and not yet removed

	// Totals over every script since start; unlike the per-script
	// counts they survive a reload, as metrics need counts that only grow.
	calls, errors, timeouts atomic.Uint64
}

// HookCounts returns how many script calls ran since start, how many
// failed, and how many of those ran out of their time limit.
func (e *Engine) HookCounts() (calls, errors, timeouts uint64) {
	return e.calls.Load(), e.errors.Load(), e.timeouts.Load()
}

// Open loads the scripts in opts.Dir and starts delivering events and
// running timers. It makes svc's commits write events to store's outbox
// and svc's client changes pass the scripts' before-hooks. A script that
// fails to load is reported in Status and the others run.
func Open(store *kv.Store, svc *panel.Service, opts Options) (*Engine, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	e := &Engine{store: store, svc: svc, opts: opts, http: opts.HTTPClient,
		log: opts.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.http == nil {
		e.http = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.scripts.Store(&[]*script{})
	e.wanted.Store(&map[string]bool{})

	if _, err := e.Reload(); err != nil {
		e.cancel()
		return nil, err
	}
	store.SetJournal(e.journal)
	svc.SetGate(e)
	e.startDelivery()
	return e, nil
}

// journal writes to the outbox only the events some script handles.
func (e *Engine) journal(tx *kv.Tx, ch *kv.Change, notes []any) ([]kv.Outgoing, error) {
	wanted := *e.wanted.Load()
	if len(wanted) == 0 {
		return nil, nil
	}
	return e.svc.JournalOf(tx, ch, notes, wanted)
}

// Close stops the timers and the delivery, waits for the calls in
// flight and closes every script. Events not yet delivered stay in the
// outbox for the next start. Call it before the store closes.
func (e *Engine) Close() error {
	e.svc.SetGate(nil)
	e.cancel()
	e.timers.stop()
	e.wg.Wait()

	e.reload.Lock()
	defer e.reload.Unlock()
	for _, sc := range *e.scripts.Swap(&[]*script{}) {
		sc.close()
	}
	return nil
}

// Reload loads every script again, in name order, and swaps the new set
// in once all are loaded; calls in flight finish on the old set. It
// fails only when the directory cannot be read; a script that does not
// load is reported in the result and left out.
func (e *Engine) Reload() ([]Status, error) {
	e.reload.Lock()
	defer e.reload.Unlock()
	loaded, err := e.loadDir()
	if err != nil {
		return nil, err
	}

	wanted := map[string]bool{}
	for _, sc := range loaded {
		for name := range sc.handlers {
			wanted[name] = true
		}
	}
	old := e.scripts.Swap(&loaded)
	e.wanted.Store(&wanted)
	if e.timers != nil {
		e.timers.stop()
	}
	e.timers = e.startTimers(loaded)
	for _, sc := range *old {
		sc.close()
	}
	e.logLoaded(loaded)
	return e.Status(), nil
}

func (e *Engine) logLoaded(loaded []*script) {
	ok := 0
	for _, sc := range loaded {
		if sc.loadErr == nil {
			ok++
			continue
		}
		e.log.Error("script failed to load", slog.String("script", sc.name),
			slog.Int("line", sc.loadErr.Line), slog.String("err", sc.loadErr.Message))
	}
	e.log.Info("scripts loaded", slog.String("dir", e.opts.Dir),
		slog.Int("loaded", ok), slog.Int("failed", len(loaded)-ok))
}

// Status describes one script for the listing.
type Status struct {
	Name      string     `json:"name"`
	Loaded    bool       `json:"loaded"`
	LoadError *LoadError `json:"loadError,omitempty"`
	Handlers  []string   `json:"handlers"`
	Before    []string   `json:"before"`
	Timers    []string   `json:"timers"`
	Calls     int64      `json:"calls"`
	Errors    int64      `json:"errors"`
	LastError string     `json:"lastError,omitempty"`
	LastErrAt int64      `json:"lastErrorAt,omitempty"` // Unix ms
}

// LoadError is why a script did not load, with the line to look at.
type LoadError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
}

// Status lists the loaded scripts in name order.
func (e *Engine) Status() []Status {
	scripts := *e.scripts.Load()
	out := make([]Status, len(scripts))
	for i, sc := range scripts {
		out[i] = sc.status()
	}
	return out
}

// errBusy is the failure of a call that waited its whole time limit for
// the script to finish another call.
var errBusy = errors.New("script busy with another call for the whole time limit")
