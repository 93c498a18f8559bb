package panel

import (
	"strconv"
	"time"

	"github.com/xpanel/xpanel/kv"
)

// resetPeriods are the trafficReset values that reset usage, each with
// the start of its current period.
var resetPeriods = []struct {
	name  string
	start func(now time.Time) time.Time
}{
	{"hourly", func(now time.Time) time.Time { return now.Truncate(time.Hour) }},
	{"daily", midnight},
	{"weekly", func(now time.Time) time.Time {
		return midnight(now).AddDate(0, 0, -int(now.Weekday())) // Sunday
	}},
	{"monthly", midnight}, // checked daily; each client names its day
}

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// resetMetaKey stores when a period's resets last ran, in Unix ms.
func resetMetaKey(period string) string { return "traffic_reset_at:" + period }

// periodicResets zeroes the usage of the clients, and of the inbounds,
// whose trafficReset period has begun anew since the last run. The first
// run only notes the current periods, so that a new server, or one
// upgraded, does not reset everyone at once.
//
// A client disabled while it was not depleted, which is by hand, is left
// alone: a reset would enable it again.
func (s *Service) periodicResets(now time.Time) error {
	now = now.In(s.location())
	for _, p := range resetPeriods {
		start := p.start(now).UnixMilli()
		last := s.metaInt(resetMetaKey(p.name))
		if last >= start {
			continue
		}
		if last > 0 {
			if err := s.resetPeriod(p.name, now); err != nil {
				return err
			}
		}
		err := s.update(func(tx *kv.Tx) error {
			return tx.PutMeta(resetMetaKey(p.name), strconv.FormatInt(start, 10))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// metaInt reads a stored number, 0 when absent.
func (s *Service) metaInt(key string) int64 {
	var n int64
	s.store.View(func(v *kv.View) error {
		n, _ = strconv.ParseInt(v.Meta(key), 10, 64)
		return nil
	})
	return n
}

// resetPeriod resets every client due under the period: its own
// trafficReset says so, or one of its inbounds' does.
func (s *Service) resetPeriod(period string, now time.Time) error {
	inbounds := map[int64]bool{}
	s.store.View(func(v *kv.View) error {
		for _, in := range v.Inbounds() {
			if dueToday(in.TrafficReset, in.TrafficResetDay, period, now) {
				inbounds[in.ID] = true
			}
		}
		return nil
	})
	nowMs := now.UnixMilli()
	due := func(c *kv.Client, t *kv.Traffic) bool {
		if !c.Enable && !depleted(c, t, nowMs) {
			return false // disabled by hand
		}
		if dueToday(c.TrafficReset, c.TrafficResetDay, period, now) {
			return true
		}
		for _, a := range c.Inbounds {
			if inbounds[a.InboundID] {
				return true
			}
		}
		return false
	}

	ids := s.pick(due)
	err := s.changeEach(ids, func(tx *kv.Tx, c *kv.Client) (*Event, error) {
		if !due(c, tx.Traffic(c.Email)) {
			return nil, nil
		}
		if _, err := s.resetTraffic(tx, c); err != nil {
			return nil, err
		}
		return &Event{Kind: EventTrafficReset, Email: c.Email, ClientID: c.ID}, nil
	})
	if err != nil {
		return err
	}
	return s.zeroInbounds(inbounds)
}

// dueToday reports whether a trafficReset setting fires for period now.
// A monthly one fires on its day, or on the month's last day when the
// month is shorter.
func dueToday(setting string, day int, period string, now time.Time) bool {
	if setting != period {
		return false
	}
	if period != "monthly" {
		return true
	}
	last := time.Date(now.Year(), now.Month()+1, 0, 0, 0, 0, 0, now.Location()).Day()
	return now.Day() == min(max(day, 1), last)
}

// zeroInbounds zeroes the counters of the inbounds.
func (s *Service) zeroInbounds(ids map[int64]bool) error {
	if len(ids) == 0 {
		return nil
	}
	now := s.nowMs()
	return s.update(func(tx *kv.Tx) error {
		for id := range ids {
			in := tx.Inbound(id)
			if in == nil {
				continue
			}
			n := *in
			n.Up, n.Down, n.LastTrafficResetTime = 0, 0, now
			if err := tx.PutInbound(&n); err != nil {
				return err
			}
		}
		return nil
	})
}
