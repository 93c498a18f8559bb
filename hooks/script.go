package hooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xpanel/xpanel/panel"
	lua "github.com/yuin/gopher-lua"
)

// script is one loaded file: its Lua state and what it registered.
type script struct {
	name string // file name, such as "vip.lua"
	eng  *Engine

	L       *lua.LState
	sem     chan struct{} // held by the call running in L
	loading bool          // registrations are allowed only while loading
	call    *callState    // the call running, for actions; guarded by sem
	refusal *lua.LTable   // metatable marking a deliberate refusal

	handlers map[string][]*lua.LFunction
	before   map[string][]*lua.LFunction
	timers   []timerSpec
	loadErr  *LoadError

	calls, errors atomic.Int64
	mu            sync.Mutex // guards lastErr, lastErrAt
	lastErr       string
	lastErrAt     int64
}

// timerSpec is a function registered with xpanel.every.
type timerSpec struct {
	every time.Duration
	fn    *lua.LFunction
}

// callState is what the actions of the call running need to know.
type callState struct {
	origin panel.Origin
	budget *budget
}

// loadDir loads every *.lua file of the directory, in name order.
func (e *Engine) loadDir() ([]*script, error) {
	entries, err := os.ReadDir(e.opts.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return []*script{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read scripts dir: %w", err)
	}
	names := []string{}
	for _, de := range entries {
		if !de.IsDir() && strings.HasSuffix(de.Name(), ".lua") {
			names = append(names, de.Name())
		}
	}
	sort.Strings(names)

	loaded := make([]*script, 0, len(names))
	for _, name := range names {
		loaded = append(loaded, e.load(name))
	}
	return loaded, nil
}

// load reads and runs one script. A script that fails is returned
// closed, with its load error and nothing registered.
func (e *Engine) load(name string) *script {
	sc := &script{name: name, eng: e, sem: make(chan struct{}, 1),
		handlers: map[string][]*lua.LFunction{}, before: map[string][]*lua.LFunction{}}
	src, err := os.ReadFile(filepath.Join(e.opts.Dir, name))
	if err != nil {
		sc.loadErr = &LoadError{File: name, Message: err.Error()}
		return sc
	}
	sc.L = e.newState(sc)

	fn, err := sc.L.Load(strings.NewReader(string(src)), name)
	if err == nil {
		sc.loading = true
		_, err = sc.run(panel.Origin{Script: name, Depth: 1}, fn)
		sc.loading = false
	}
	if err != nil {
		sc.loadErr = loadErrorOf(name, err)
		sc.handlers, sc.before, sc.timers = map[string][]*lua.LFunction{}, nil, nil
		sc.L.Close()
		sc.L = nil
	}
	return sc
}

// lineOf finds the line number in a Lua error message: "name:12:" for
// a runtime error, "line:12(column:3)" for a syntax error.
var lineOf = regexp.MustCompile(`(?::(\d+):|line:(\d+))`)

func loadErrorOf(name string, err error) *LoadError {
	msg := err.Error()
	if m := lineOf.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1] + m[2])
		return &LoadError{File: name, Line: n, Message: firstLine(msg)}
	}
	return &LoadError{File: name, Message: firstLine(msg)}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// close releases the Lua state once no call runs in it.
func (sc *script) close() {
	if sc.L == nil {
		return
	}
	sc.sem <- struct{}{}
	sc.L.Close()
	sc.L = nil
	<-sc.sem
}

// Refusal is a script's deliberate error("message"). In a before-hook
// it refuses the change; anywhere else it is the script's failure.
type Refusal struct{ Message, Where string }

func (r *Refusal) Error() string { return r.Where + r.Message }

// errTimeout is the failure of a call that ran out of its time.
var errTimeout = errors.New("stopped: time limit exceeded")

// invoke runs fn with args in the script's state, waiting at most the
// time limit for another call to finish, and records the outcome. It
// returns fn's first result. When vetting, a *Refusal is the script's
// answer, not its failure.
// The arguments are built by args, in the script's state once it is
// free.
func (sc *script) invoke(vetting bool, o panel.Origin, fn *lua.LFunction,
	args func(L *lua.LState) []lua.LValue) (lua.LValue, error) {
	if err := sc.acquire(vetting); err != nil {
		return lua.LNil, err
	}
	defer func() { <-sc.sem }()
	if sc.L == nil {
		return lua.LNil, errClosed // replaced by a reload
	}
	ret, err := sc.run(o, fn, args(sc.L)...)
	sc.calls.Add(1)
	sc.eng.calls.Add(1)
	var r *Refusal
	if err != nil && !(vetting && errors.As(err, &r)) {
		sc.failed(err)
	}
	return ret, err
}

// acquire waits for the script to be free. A before-hook waits at most
// the time limit, since an API call waits on it; events and timers wait
// their turn until the engine closes.
func (sc *script) acquire(vetting bool) error {
	var expired <-chan time.Time
	if vetting {
		wait := time.NewTimer(sc.eng.opts.Timeout)
		defer wait.Stop()
		expired = wait.C
	}
	select {
	case sc.sem <- struct{}{}:
		return nil
	case <-expired:
		sc.failed(errBusy)
		return errBusy
	case <-sc.eng.ctx.Done():
		return errClosed
	}
}

// errClosed is the failure of a call that waited until the engine closed.
var errClosed = errors.New("hooks: engine closed")

// run calls fn under a fresh time budget. The caller holds sem.
func (sc *script) run(o panel.Origin, fn *lua.LFunction,
	args ...lua.LValue) (ret lua.LValue, err error) {
	b := newBudget(sc.eng.opts.Timeout)
	defer b.stop()
	sc.call = &callState{origin: o, budget: b}
	sc.L.SetContext(b.ctx)
	defer func() {
		sc.L.RemoveContext()
		sc.call = nil
		if p := recover(); p != nil {
			sc.eng.svc.Faults().Recovered(sc.eng.log, "script "+sc.name, p)
			ret, err = lua.LNil, fmt.Errorf("panic: %v", p)
		}
	}()

	err = sc.L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true}, args...)
	if err != nil {
		sc.L.SetTop(0)
		return lua.LNil, sc.explain(err, b)
	}
	ret = sc.L.Get(-1)
	sc.L.Pop(1)
	return ret, nil
}

// explain turns a failed call's error into a refusal, a timeout or the
// script's own message.
func (sc *script) explain(err error, b *budget) error {
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		if t, ok := ae.Object.(*lua.LTable); ok && sc.refusal != nil &&
			sc.L.GetMetatable(t) == sc.refusal {
			return &Refusal{Message: lua.LVAsString(t.RawGetString("message")),
				Where: lua.LVAsString(t.RawGetString("where"))}
		}
		if b.expired() {
			return fmt.Errorf("%w (%s)", errTimeout, sc.eng.opts.Timeout)
		}
		return errors.New(firstLine(ae.Object.String()))
	}
	if b.expired() || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w (%s)", errTimeout, sc.eng.opts.Timeout)
	}
	return err
}

// failed records an error of the script and logs it.
func (sc *script) failed(err error) {
	sc.errors.Add(1)
	sc.eng.errors.Add(1)
	if errors.Is(err, errTimeout) {
		sc.eng.timeouts.Add(1)
	}
	sc.mu.Lock()
	sc.lastErr, sc.lastErrAt = err.Error(), time.Now().UnixMilli()
	sc.mu.Unlock()
	sc.eng.log.Warn("script call failed", "script", sc.name, "err", err.Error())
}

func (sc *script) status() Status {
	st := Status{Name: sc.name, Loaded: sc.loadErr == nil, LoadError: sc.loadErr,
		Handlers: sortedKeys(sc.handlers), Before: sortedKeys(sc.before), Timers: []string{},
		Calls: sc.calls.Load(), Errors: sc.errors.Load()}
	for _, t := range sc.timers {
		st.Timers = append(st.Timers, t.every.String())
	}
	sc.mu.Lock()
	st.LastError, st.LastErrAt = sc.lastErr, sc.lastErrAt
	sc.mu.Unlock()
	return st
}

func sortedKeys(m map[string][]*lua.LFunction) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TODO(hooks): no memory limit; gopher-lua cannot bound a state's heap,
// so a script may allocate as much as its time limit lets it.

// budget is a call's time limit. It can be paused while the call waits
// on something outside Lua that has its own bound, such as a webhook.
// It is wall-clock time, so a call descheduled on an overloaded machine
// can overrun it.
type budget struct {
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
	left   time.Duration
	since  time.Time
	done   atomic.Bool
}

func newBudget(d time.Duration) *budget {
	ctx, cancel := context.WithCancel(context.Background())
	b := &budget{ctx: ctx, cancel: cancel, left: d, since: time.Now()}
	b.timer = time.AfterFunc(d, b.expire)
	return b
}

func (b *budget) expire() {
	b.done.Store(true)
	b.cancel()
}

func (b *budget) expired() bool { return b.done.Load() }

// pause stops the clock; resume starts it again with what was left.
func (b *budget) pause() {
	if b.timer.Stop() {
		b.left -= time.Since(b.since)
	}
}

func (b *budget) resume() {
	if b.done.Load() {
		return
	}
	if b.left <= 0 {
		b.expire()
		return
	}
	b.since = time.Now()
	b.timer = time.AfterFunc(b.left, b.expire)
}

func (b *budget) stop() {
	b.timer.Stop()
	b.cancel()
}
