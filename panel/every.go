package panel

import (
	"sync"
	"time"
)

// Every runs a function at a fixed interval in its own goroutine: the
// shape of the traffic poller, the subscription server's flush and the
// server's background jobs alike.
type Every struct {
	stop    chan struct{}
	done    chan struct{}
	stopped sync.Once
}

// StartEvery calls fn every interval until Stop. An interval of zero or
// less starts nothing, and the returned Every's Stop does nothing.
func StartEvery(interval time.Duration, fn func()) *Every {
	if interval <= 0 {
		return nil
	}
	e := &Every{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(e.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-e.stop:
				return
			case <-tick.C:
				fn()
			}
		}
	}()
	return e
}

// Stop ends the calls and waits for one in progress. It may be called on
// a nil Every, and more than once.
func (e *Every) Stop() {
	if e == nil {
		return
	}
	e.stopped.Do(func() { close(e.stop) })
	<-e.done
}
