package panel

import (
	"time"

	"github.com/xpanel/xpanel/kv"
)

// Enforce applies the rules that time and usage trigger, in this order:
// auto-renewal of expired clients that renew, periodic usage resets,
// then disabling every client that has used up its quota or expired.
// Each change goes through the store like any other, so the proxy core
// drops a disabled client's users and connections before Enforce
// returns.
func (s *Service) Enforce() error {
	now := s.now()
	if err := s.renewExpired(now.UnixMilli()); err != nil {
		return err
	}
	if err := s.periodicResets(now); err != nil {
		return err
	}
	if err := s.disableSpent(now.UnixMilli()); err != nil {
		return err
	}
	return s.noteExpiring(now.UnixMilli())
}

// pick returns the ids of the clients for which want holds now.
func (s *Service) pick(want func(c *kv.Client, t *kv.Traffic) bool) []int64 {
	var ids []int64
	s.store.View(func(v *kv.View) error {
		v.EachClient(func(c *kv.Client, t *kv.Traffic) bool {
			if want(c, t) {
				ids = append(ids, c.ID)
			}
			return true
		})
		return nil
	})
	return ids
}

// changeEach runs step on each client picked, in batches, re-reading it
// inside the transaction. Step returns the event its change makes, if
// any; it is noted in the transaction, for the journal to announce,
// and emitted once its batch has committed.
func (s *Service) changeEach(ids []int64, step func(tx *kv.Tx, c *kv.Client) (*Event, error)) error {
	var events []Event
	_, err := s.batch(len(ids), func(tx *kv.Tx, i int) error {
		c := tx.Client(ids[i])
		if c == nil {
			return nil // deleted since it was picked
		}
		ev, err := step(tx, c)
		if ev != nil && err == nil {
			events = append(events, *ev)
			tx.Note(*ev) // for the journal, in this transaction
		}
		return err
	})
	if err == nil {
		s.emit(events...)
	}
	return err
}

// renewable reports whether an expired client renews itself now.
func renewable(c *kv.Client, t *kv.Traffic, now int64) bool {
	if c.Reset <= 0 && c.ResetDay <= 0 {
		return false
	}
	if c.ExpiryTime <= 0 || c.ExpiryTime > now || len(c.Inbounds) == 0 {
		return false
	}
	return c.ResetMax <= 0 || t == nil || t.ResetCount < c.ResetMax
}

// renewExpired gives every renewing client whose period has run out the
// periods it is owed, up to its cap. A client that lands in the future
// starts afresh: usage zero, enabled. One whose cap ran out first keeps
// the periods it got and stays expired.
func (s *Service) renewExpired(now int64) error {
	ids := s.pick(func(c *kv.Client, t *kv.Traffic) bool { return renewable(c, t, now) })
	return s.changeEach(ids, func(tx *kv.Tx, c *kv.Client) (*Event, error) {
		t := tx.Traffic(c.Email)
		if !renewable(c, t, now) {
			return nil, nil
		}
		count := 0
		if t != nil {
			count = t.ResetCount
		}
		expiry, steps := s.renewal(c, count, now)
		if steps == 0 {
			return nil, nil
		}
		return s.applyRenewal(tx, c, expiry, count+steps, now)
	})
}

// renewal advances an expiry period by period until it lies after now
// or the cap stops it, and returns the new expiry and how many periods
// it took. Interval mode adds reset days; calendar mode jumps to the
// next resetDay of a month, at midnight.
func (s *Service) renewal(c *kv.Client, count int, now int64) (int64, int) {
	expiry, steps := c.ExpiryTime, 0
	for expiry <= now && steps < maxRenewals {
		if c.ResetMax > 0 && count+steps >= c.ResetMax {
			break
		}
		if c.ResetDay > 0 {
			expiry = nextMonthDay(expiry, c.ResetDay, s.location())
		} else {
			expiry += int64(c.Reset) * dayMs
		}
		steps++
	}
	return expiry, steps
}

// maxRenewals bounds the periods one renewal may grant, so that a client
// expired for decades with a one-day period cannot stall the poller.
const maxRenewals = 100_000

// nextMonthDay is the first midnight after fromMs that falls on day of
// a month, or on the month's last day when it is shorter.
func nextMonthDay(fromMs int64, day int, loc *time.Location) int64 {
	from := time.UnixMilli(fromMs).In(loc)
	y, m, _ := from.Date()
	for {
		last := time.Date(y, m+1, 0, 0, 0, 0, 0, loc).Day()
		at := time.Date(y, m, min(day, last), 0, 0, 0, 0, loc)
		if at.After(from) {
			return at.UnixMilli()
		}
		m++
	}
}

// applyRenewal stores a renewal. A renewal into the future zeroes the
// usage and enables the client again.
func (s *Service) applyRenewal(tx *kv.Tx, c *kv.Client, expiry int64, count int, now int64) (*Event, error) {
	fresh := expiry > now
	n := c.Clone()
	n.ExpiryTime, n.UpdatedAt = expiry, now
	if fresh {
		n.Enable = true
		if err := s.lowerGroupBaseline(tx, c); err != nil {
			return nil, err
		}
	}
	if err := tx.PutClient(n); err != nil {
		return nil, err
	}

	row := kv.Traffic{Email: c.Email, Enable: true, InboundID: firstInbound(c)}
	if t := tx.Traffic(c.Email); t != nil {
		row = *t
	}
	row.ResetCount = count
	if fresh {
		row.Up, row.Down, row.Enable = 0, 0, true
	}
	if err := tx.PutTraffic(&row); err != nil {
		return nil, err
	}
	if !fresh {
		return nil, nil
	}
	return &Event{Kind: EventRenewed, Email: c.Email, ClientID: c.ID}, nil
}

// spent reports whether an active client has used up its quota or
// passed its expiry, and so must be disabled.
func spent(c *kv.Client, t *kv.Traffic, now int64) bool {
	return c.Enable && (t == nil || t.Enable) && depleted(c, t, now)
}

// disableSpent disables every active client that has used up its quota
// or expired: its usage row and its record, so that the proxy core
// drops it and the lists show it as deactive and depleted.
func (s *Service) disableSpent(now int64) error {
	ids := s.pick(func(c *kv.Client, t *kv.Traffic) bool { return spent(c, t, now) })
	return s.changeEach(ids, func(tx *kv.Tx, c *kv.Client) (*Event, error) {
		t := tx.Traffic(c.Email)
		if !spent(c, t, now) {
			return nil, nil
		}
		if t != nil {
			row := *t
			row.Enable = false
			if err := tx.PutTraffic(&row); err != nil {
				return nil, err
			}
		}
		n := c.Clone()
		n.Enable, n.UpdatedAt = false, now
		if err := tx.PutClient(n); err != nil {
			return nil, err
		}
		kind := EventDepleted
		if c.ExpiryTime > 0 && c.ExpiryTime <= now {
			kind = EventExpired
		}
		return &Event{Kind: kind, Email: c.Email, ClientID: c.ID}, nil
	})
}

// location is the time zone of calendar rules.
func (s *Service) location() *time.Location {
	if s.opts.Location != nil {
		return s.opts.Location
	}
	return time.Local
}
