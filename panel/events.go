package panel

import (
	"log/slog"
	"strconv"

	"github.com/xpanel/xpanel/kv"
)

// EventKind names what happened to a client.
type EventKind string

// The events the traffic poller and enforcement emit, for the hooks
// that operators script.
const (
	// EventStarted: a delayed-start client's first traffic started the
	// clock of its expiry.
	EventStarted EventKind = "started"
	// EventRenewed: an auto-renewing client got a new period.
	EventRenewed EventKind = "renewed"
	// EventTrafficReset: a periodic reset zeroed the client's usage.
	EventTrafficReset EventKind = "traffic_reset"
	// EventDepleted: the client used up its quota and was disabled.
	EventDepleted EventKind = "depleted"
	// EventExpired: the client's expiry passed and it was disabled.
	EventExpired EventKind = "expired"
	// EventOnline: the client came online after being away.
	EventOnline EventKind = "online"
	// EventOffline: the client was not seen for the online grace.
	EventOffline EventKind = "offline"
	// EventExpiring: the client's expiry came within the expiring
	// threshold.
	EventExpiring EventKind = "expiring"
)

// Event is one thing that happened to a client, emitted after the
// change it reports has been committed.
type Event struct {
	Kind     EventKind
	Email    string
	ClientID int64 // 0 when only the email is known
}

// emit hands committed events to the configured sink, in order.
func (s *Service) emit(events ...Event) {
	for _, ev := range events {
		s.log.Info("client event", "event", string(ev.Kind), "email", ev.Email)
		if s.opts.OnEvent != nil {
			s.opts.OnEvent(ev)
		}
	}
}

// announce records events that no stored change carries, such as a
// client coming online, through a commit of notes alone, so that they
// reach the outbox like every other event; then it emits them.
func (s *Service) announce(events []Event) {
	if len(events) == 0 {
		return
	}
	err := s.store.Update(func(tx *kv.Tx) error {
		for _, ev := range events {
			tx.Note(ev)
		}
		return nil
	})
	if err != nil {
		s.log.Error("record client events", slog.Any("err", err))
	}
	s.emit(events...)
}

// expiringMetaKey keeps when expiring clients were last looked for.
const expiringMetaKey = "expiring_checked_at"

// noteExpiring announces the clients whose expiry came within the
// expiring threshold since the last look, by the passing of time alone:
// a change that moved an expiry into the threshold announced itself.
// The first look only notes the time, so that a new server does not
// announce every client at once.
func (s *Service) noteExpiring(now int64) error {
	within := s.opts.ExpiringWithin.Milliseconds()
	if within <= 0 {
		return nil
	}
	last := s.metaInt(expiringMetaKey)
	var events []Event
	if last > 0 {
		ids := s.pick(func(c *kv.Client, t *kv.Traffic) bool {
			crossed := c.ExpiryTime - within
			return nearExpiry(c, now, within) && crossed > last && c.UpdatedAt < crossed
		})
		for _, id := range ids {
			events = append(events, Event{Kind: EventExpiring, ClientID: id})
		}
		if len(events) == 0 {
			return nil // the next look covers this one's span too
		}
	}
	err := s.update(func(tx *kv.Tx) error {
		for _, ev := range events {
			tx.Note(ev)
		}
		return tx.PutMeta(expiringMetaKey, strconv.FormatInt(now, 10))
	})
	if err == nil {
		s.emit(events...)
	}
	return err
}
