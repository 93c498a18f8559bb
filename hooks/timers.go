package hooks

import (
	"context"
	"sync"
	"time"

	"github.com/xpanel/xpanel/panel"
	lua "github.com/yuin/gopher-lua"
)

// timerSet runs the xpanel.every functions of one loaded set of scripts.
type timerSet struct {
	scripts []*script
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// startTimers starts a goroutine per registered timer, unless timers
// are manual.
func (e *Engine) startTimers(scripts []*script) *timerSet {
	ctx, cancel := context.WithCancel(e.ctx)
	ts := &timerSet{scripts: scripts, cancel: cancel}
	if e.opts.ManualTimers {
		return ts
	}
	for _, sc := range scripts {
		for _, t := range sc.timers {
			ts.wg.Go(func() { sc.tick(ctx, t) })
		}
	}
	return ts
}

// stop ends the timers and waits for a call in flight.
func (ts *timerSet) stop() {
	if ts == nil {
		return
	}
	ts.cancel()
	ts.wg.Wait()
}

// tick calls t.fn every t.every until ctx ends.
func (sc *script) tick(ctx context.Context, t timerSpec) {
	ticker := time.NewTicker(t.every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			sc.fire(t)
		}
	}
}

// fire runs one timer function. Its actions start a chain at depth 1.
func (sc *script) fire(t timerSpec) {
	sc.invoke(false, panel.Origin{Script: sc.name, Depth: 1}, t.fn,
		func(*lua.LState) []lua.LValue { return nil })
}

// RunTimers runs every registered timer function once, now, in script
// name order, and returns when all have finished. Tests drive timers
// with it when Options.ManualTimers is set.
func (e *Engine) RunTimers() {
	for _, sc := range *e.scripts.Load() {
		for _, t := range sc.timers {
			sc.fire(t)
		}
	}
}
