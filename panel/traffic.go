package panel

import (
	"github.com/xpanel/xpanel/kv"
)

// depleted reports whether the client has used up its quota or passed
// its expiry at now.
func depleted(c *kv.Client, t *kv.Traffic, now int64) bool {
	return kv.QuotaDepleted(c, t) || (c.ExpiryTime > 0 && c.ExpiryTime <= now)
}

// ResetAllTraffics zeroes every usage row and lifts every enforcement
// flag. Client records are left alone: a disabled client stays disabled.
func (s *Service) ResetAllTraffics() error {
	var emails []string
	var groups []*kv.Group
	s.store.View(func(v *kv.View) error {
		for _, t := range v.Traffics() {
			emails = append(emails, t.Email)
		}
		groups = v.StoredGroups()
		return nil
	})
	_, err := s.batch(len(emails), func(tx *kv.Tx, i int) error {
		return zeroTraffic(tx, emails[i])
	})
	if err != nil {
		return err
	}
	return s.update(func(tx *kv.Tx) error {
		for _, g := range groups {
			if g.ResetUp != 0 || g.ResetDown != 0 {
				if err := tx.PutGroup(&kv.Group{Name: g.Name}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// zeroTraffic zeroes one usage row and lifts its enforcement flag.
func zeroTraffic(tx *kv.Tx, email string) error {
	t := tx.Traffic(email)
	if t == nil || (t.Up == 0 && t.Down == 0 && t.Enable) {
		return nil
	}
	n := *t
	n.Up, n.Down, n.Enable = 0, 0, true
	return tx.PutTraffic(&n)
}

// ResetTraffic zeroes the client's usage and enables it again, whatever
// disabled it.
func (s *Service) ResetTraffic(email string) error {
	return s.update(func(tx *kv.Tx) error {
		c, err := tx.ClientByEmail(email)
		if err != nil {
			return err
		}
		if c == nil {
			return errRecordNotFound
		}
		_, err = s.resetTraffic(tx, c)
		return err
	})
}

// resetTraffic reports whether the client had a usage row to reset.
func (s *Service) resetTraffic(tx *kv.Tx, c *kv.Client) (bool, error) {
	now := s.nowMs()
	if err := s.lowerGroupBaseline(tx, c); err != nil {
		return false, err
	}
	if !c.Enable {
		n := c.Clone()
		n.Enable, n.UpdatedAt = true, now
		if err := tx.PutClient(n); err != nil {
			return false, err
		}
	}
	for _, id := range c.InboundIDs() {
		if in := tx.Inbound(id); in != nil {
			n := *in
			n.LastTrafficResetTime = now
			if err := tx.PutInbound(&n); err != nil {
				return false, err
			}
		}
	}
	t := tx.Traffic(c.Email)
	if t == nil {
		return false, tx.PutTraffic(&kv.Traffic{Email: c.Email, Enable: true, InboundID: firstInbound(c)})
	}
	return true, zeroTraffic(tx, c.Email)
}

func firstInbound(c *kv.Client) int64 {
	if len(c.Inbounds) == 0 {
		return 0
	}
	return c.Inbounds[0].InboundID
}

// BulkResetTraffic resets the usage of every listed client, as
// ResetTraffic does, and returns how many usage rows it reset. Unknown
// emails are ignored.
func (s *Service) BulkResetTraffic(emails []string) (int, error) {
	emails = cleanEmails(emails)
	affected := 0
	_, err := s.batch(len(emails), func(tx *kv.Tx, i int) error {
		c, err := tx.ClientByEmail(emails[i])
		if err != nil || c == nil {
			return err
		}
		had, err := s.resetTraffic(tx, c)
		if had {
			affected++
		}
		return err
	})
	return affected, err
}

// UpdateTraffic sets, not adds, the usage counters of an email. An email
// with no usage row is a no-op, as in the API this server mirrors.
func (s *Service) UpdateTraffic(email string, up, down int64) error {
	if up < 0 || down < 0 {
		return refuse("upload and download must not be negative")
	}
	return s.update(func(tx *kv.Tx) error {
		t := tx.Traffic(email)
		if t == nil {
			return nil
		}
		n := *t
		n.Up, n.Down = up, down
		return tx.PutTraffic(&n)
	})
}

// DelDepleted deletes every client, with its usage, that has used up its
// quota or expired and does not renew itself. It returns how many.
func (s *Service) DelDepleted() (int, error) {
	now := s.nowMs()
	return s.deleteWhere(func(c *kv.Client, t *kv.Traffic) bool {
		return c.Reset == 0 && c.ResetDay == 0 && depleted(c, t, now)
	})
}

// DelOrphans deletes every client attached to no inbound, with its usage.
// It returns how many.
func (s *Service) DelOrphans() (int, error) {
	return s.deleteWhere(func(c *kv.Client, _ *kv.Traffic) bool {
		return len(c.Inbounds) == 0
	})
}

func (s *Service) deleteWhere(pick func(c *kv.Client, t *kv.Traffic) bool) (int, error) {
	var ids []int64
	s.store.View(func(v *kv.View) error {
		v.EachClient(func(c *kv.Client, t *kv.Traffic) bool {
			if pick(c, t) {
				ids = append(ids, c.ID)
			}
			return true
		})
		return nil
	})
	deleted := 0
	_, err := s.batch(len(ids), func(tx *kv.Tx, i int) error {
		c := tx.Client(ids[i])
		if c == nil || !pick(c, tx.Traffic(c.Email)) {
			return nil // changed since it was picked
		}
		deleted++
		return s.deleteClient(tx, c, false)
	})
	return deleted, err
}
