// Package panel holds the operations an operator performs on clients and
// inbounds: validation, the change planned against the store, and the
// commit. The HTTP handlers, bulk calls and scripts all reach the store
// through these operations, so that every path obeys the same rules.
package panel

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/xpanel/xpanel/kv"
)

// Error is a refusal whose text is meant for the caller: bad input, a
// conflict, something that does not exist. Any other error a Service
// returns is internal and its text must not reach an API caller.
type Error struct {
	msg string
}

func (e *Error) Error() string { return e.msg }

// refuse builds an *Error.
func refuse(format string, args ...any) error {
	return &Error{msg: fmt.Sprintf(format, args...)}
}

// IsRefusal reports whether err is a refusal meant for the caller.
func IsRefusal(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// errRecordNotFound is the refusal for an unknown client email, worded as
// the API this server is compatible with words it.
var errRecordNotFound = &Error{msg: "record not found"}

// Options configures a Service.
type Options struct {
	// ExpiringWithin and ExpiringBytes put a client in the expiring
	// bucket when its expiry or its remaining quota is this close.
	ExpiringWithin time.Duration
	ExpiringBytes  int64

	// Logger receives the service's log lines; nil discards them.
	Logger *slog.Logger

	// Now replaces the clock in tests; nil means time.Now.
	Now func() time.Time

	// Presence tells who is online; nil means nobody is, as when no
	// proxy core runs.
	Presence Presence

	// OnEvent, when set, receives every event after its change has
	// been committed, in order. It must not block.
	OnEvent func(Event)

	// Location is the time zone of calendar rules: renewals on a day of
	// the month and periodic usage resets. Nil means time.Local.
	Location *time.Location

	// PublicHost is the host share links advertise for inbounds that
	// set no share address and listen on no routable one; empty means
	// the host the request was sent to.
	PublicHost string

	// External fetches the external subscriptions clients carry; nil
	// leaves them out of subscriptions.
	External ExternalSource
}

// Presence is what the running proxy core observes.
type Presence interface {
	// Online returns the emails with live connections and a number
	// that changes whenever the set does. The set must not be modified.
	Online() (emails map[string]struct{}, version uint64)

	// ActiveInbounds returns the tags of inbounds that moved bytes
	// recently.
	ActiveInbounds() []string
}

// Service performs the operations. It is safe for concurrent use.
type Service struct {
	store  *kv.Store
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	origin Origin // who asks; see WithOrigin
	gate   *gateSlot

	fetches *fetchLog      // subscription fetches not yet flushed; shared by origins
	faults  *Faults        // recovered panics; shared by origins
	cleared *atomic.Uint64 // address lists cleared by ClearIPs; shared by origins
}

// New returns a Service over an open store.
func New(store *kv.Store, opts Options) *Service {
	s := &Service{store: store, opts: opts, log: opts.Logger, now: opts.Now,
		gate: &gateSlot{}, fetches: &fetchLog{}, faults: &Faults{}, cleared: &atomic.Uint64{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Faults returns the panic counter of this service's server, shared by
// its handlers and background jobs.
func (s *Service) Faults() *Faults {
	return s.faults
}

// nowMs is the current time in Unix milliseconds.
func (s *Service) nowMs() int64 {
	return s.now().UnixMilli()
}

// Status returns what client statuses are judged by at this moment.
func (s *Service) Status() kv.Status {
	st := kv.Status{
		Now:           s.nowMs(),
		ExpiringMs:    s.opts.ExpiringWithin.Milliseconds(),
		ExpiringBytes: s.opts.ExpiringBytes,
	}
	if s.opts.Presence != nil {
		st.Online, st.OnlineVersion = s.opts.Presence.Online()
	}
	return st
}

// View runs fn against the committed state of the store.
func (s *Service) View(fn func(v *kv.View) error) error {
	return s.store.View(fn)
}

// Refusal returns an error that tells the caller why its request was
// refused, for callers outside this package that refuse input themselves.
func Refusal(reason string) error {
	return &Error{msg: reason}
}
