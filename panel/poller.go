package panel

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/xpanel/xpanel/kv"
)

// Meter is the running proxy core as the poller reads it.
type Meter interface {
	// Usage reads and resets the core's counters: bytes up and down
	// since the last call, by email and by inbound tag.
	Usage() (clients, inbounds map[string]Delta)

	// Live returns, by lower-cased email, what the core sees of each
	// user's connections now.
	Live() map[string]LiveUser
}

// Poller reads the proxy core's counters and connections into the store
// every interval and then enforces quotas, expiry and renewals. It also
// keeps the online set the API answers from.
//
// Bytes read from the core but not yet committed are kept and added to
// the next round, so a failed commit loses nothing and a byte is never
// counted twice. A kill -9 loses at most one interval of counts.
type Poller struct {
	svc      *Service
	meter    Meter
	seen     *Sightings
	interval time.Duration
	log      *slog.Logger

	mu      sync.Mutex // one round at a time
	pending Usage
	fails   int
	rounds  uint64
	live    liveMarks

	stats pollRecord // for monitoring; has its own lock

	every *Every
}

// NewPoller returns a poller of meter into svc that reports presence to
// seen. Interval zero means Open starts nothing and the caller runs each
// round with Poll, as tests do.
func NewPoller(svc *Service, meter Meter, seen *Sightings, interval time.Duration) *Poller {
	return &Poller{
		svc: svc, meter: meter, seen: seen, interval: interval,
		log:     svc.log.With(slog.String("system", "poller")),
		pending: Usage{Clients: map[string]Delta{}, Inbounds: map[string]Delta{}},
		stats:   pollRecord{s: PollStats{Since: time.Now()}},
	}
}

// Open starts polling every interval until Close.
func (p *Poller) Open() {
	p.every = StartEvery(p.interval, p.pollLogged)
}

// pollLogged runs one round and logs a failure. A failure that repeats
// is logged at the first time and then once a minute's worth of rounds,
// with the count, so that a stuck store does not flood the log.
func (p *Poller) pollLogged() {
	err := p.pollRecovered()
	if err == nil {
		if p.fails > 0 {
			p.log.Info("traffic poll recovered", slog.Int("failed_rounds", p.fails))
		}
		p.fails = 0
		return
	}
	p.fails++
	every := max(int(time.Minute/max(p.interval, time.Second)), 1)
	if p.fails == 1 || p.fails%every == 0 {
		p.log.Error("traffic poll failed", slog.Int("failed_rounds", p.fails),
			slog.Any("err", err))
	}
}

// Close stops polling and runs a last round, so that the bytes counted
// since the previous one reach the store before it closes. Call it
// before the core and the store close.
func (p *Poller) Close() error {
	p.every.Stop()
	if err := p.pollRecovered(); err != nil {
		return fmt.Errorf("last traffic poll: %w", err)
	}
	return nil
}

// pollRecovered runs one round and turns a panic in it into an error,
// logged with its stack and counted, so that a bug in one round does not
// stop the server or the rounds after it.
func (p *Poller) pollRecovered() (err error) {
	defer func() {
		if v := recover(); v != nil {
			p.svc.faults.Recovered(p.log, "traffic poll", v)
			err = fmt.Errorf("traffic poll panicked: %v", v)
		}
	}()
	return p.Poll()
}

// Poll runs one round: read the core, commit usage and addresses, update
// the online set, enforce.
func (p *Poller) Poll() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	err := p.round()
	p.stats.add(start, err)
	return err
}

// round is one Poll; the caller holds mu.
func (p *Poller) round() error {
	now := p.svc.now()
	clients, inbounds := p.meter.Usage()
	p.pending.Clients = addDeltas(p.pending.Clients, clients)
	p.pending.Inbounds = addDeltas(p.pending.Inbounds, inbounds)

	// Only the connected users whose connections changed, or whose
	// marks are due, are recorded this round.
	p.rounds++
	p.live.reset(p.svc.cleared.Load())
	known, fresh := p.live.split(p.meter.Live(), now.Unix(), p.rounds)
	p.pending.Live = fresh
	emails := p.svc.liveEmails(fresh)

	// What moved or is connected is online now, whether or not the
	// commit below succeeds.
	online := slices.AppendSeq(known, maps.Keys(p.pending.Clients))
	for folded, lu := range fresh {
		if email, ok := emails[folded]; ok && len(lu.IPs) > 0 {
			online = append(online, email)
		}
	}
	tags := slices.Collect(maps.Keys(p.pending.Inbounds))
	p.svc.announce(p.seen.observe(now, online, tags))

	if err := p.svc.RecordUsage(&p.pending); err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	p.live.note(fresh, emails, now.Unix(), p.rounds)
	if err := p.svc.Enforce(); err != nil {
		return fmt.Errorf("enforce: %w", err)
	}
	return nil
}

// addDeltas adds the counts in from to into and returns the sum. When
// into is empty, as after every committed round, from becomes the sum.
func addDeltas(into, from map[string]Delta) map[string]Delta {
	if len(into) == 0 {
		return from
	}
	for k, d := range from {
		sum := into[k]
		sum.Up, sum.Down = kv.AddBytes(sum.Up, d.Up), kv.AddBytes(sum.Down, d.Down)
		into[k] = sum
	}
	return into
}

// Sightings is the online set: the clients and inbounds seen active
// within a grace period. It implements Presence.
type Sightings struct {
	grace time.Duration

	mu      sync.Mutex
	clients map[string]time.Time // email -> last seen
	tags    map[string]time.Time // inbound tag -> last moved
	online  map[string]struct{}
	version uint64
}

// NewSightings returns an empty online set whose members stay for grace
// after they were last seen.
func NewSightings(grace time.Duration) *Sightings {
	return &Sightings{
		grace:   grace,
		clients: map[string]time.Time{}, tags: map[string]time.Time{},
		online: map[string]struct{}{},
	}
}

// observe notes the emails and tags seen at now, drops those not seen
// within the grace, and returns an online event for each email that
// joined the set and an offline event for each that left it.
func (s *Sightings) observe(now time.Time, emails, tags []string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	joined := 0
	for _, e := range emails {
		if _, known := s.clients[e]; !known {
			joined++
		}
		s.clients[e] = now
	}
	for _, t := range tags {
		s.tags[t] = now
	}
	cutoff := now.Add(-s.grace)
	stale := func(_ string, at time.Time) bool { return at.Before(cutoff) }
	before := len(s.clients)
	maps.DeleteFunc(s.clients, stale)
	maps.DeleteFunc(s.tags, stale)
	if joined == 0 && len(s.clients) == before {
		return nil // the same clients as the round before
	}

	// The set is shared with readers, so it is replaced, and only when
	// it changed.
	var events []Event
	for e := range s.clients {
		if _, was := s.online[e]; !was {
			events = append(events, Event{Kind: EventOnline, Email: e})
		}
	}
	for e := range s.online {
		if _, still := s.clients[e]; !still {
			events = append(events, Event{Kind: EventOffline, Email: e})
		}
	}
	if len(events) == 0 {
		return nil
	}
	online := make(map[string]struct{}, len(s.clients))
	for e := range s.clients {
		online[e] = struct{}{}
	}
	s.version++
	s.online = online
	return events
}

// Online returns the emails online and the version of the set. The set
// is shared and must not be modified.
func (s *Sightings) Online() (map[string]struct{}, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.online, s.version
}

// ActiveInbounds returns the tags of the inbounds that moved bytes
// within the grace, sorted.
func (s *Sightings) ActiveInbounds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.tags))
}
