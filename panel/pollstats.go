package panel

import (
	"sync"
	"time"
)

// PollStats describes the rounds a Poller has run, for monitoring. Times
// are of the wall clock, whatever clock the Service judges clients by.
type PollStats struct {
	Rounds   uint64        // rounds run, failed ones included
	Failures uint64        // rounds that returned an error
	Total    time.Duration // time spent in all rounds
	Last     time.Duration // time the last round took

	// Since is when the poller was made; LastSuccess is when the last
	// successful round ended, zero before the first.
	Since       time.Time
	LastSuccess time.Time
}

// Stats returns what the poller has done so far. It does not wait for a
// round in progress.
func (p *Poller) Stats() PollStats {
	return p.stats.get()
}

// pollRecord keeps PollStats under a lock of its own, so that reading
// them never waits for a round.
type pollRecord struct {
	mu sync.Mutex
	s  PollStats
}

// add counts a round that started at start and returned err.
func (r *pollRecord) add(start time.Time, err error) {
	end := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Rounds++
	r.s.Last = end.Sub(start)
	r.s.Total += r.s.Last
	if err != nil {
		r.s.Failures++
		return
	}
	r.s.LastSuccess = end
}

func (r *pollRecord) get() PollStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.s
}
