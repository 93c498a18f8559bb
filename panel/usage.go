package panel

import (
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/xpanel/xpanel/kv"
)

// Delta is a number of bytes counted up and down.
type Delta struct {
	Up, Down int64
}

// Usage is what the proxy core observed since the last report.
type Usage struct {
	// Clients holds the bytes counted per email, as the core names its
	// users: exactly as the client record spells the email.
	Clients map[string]Delta

	// Inbounds holds the bytes counted per inbound tag.
	Inbounds map[string]Delta

	// Live holds, by lower-cased email, the source addresses of each
	// user's live connections and those its IP limit refused.
	Live map[string]LiveUser
}

// LiveUser is what the core sees of one user's connections now.
type LiveUser struct {
	IPs []string

	// Refused maps each address the IP limit turned away or cut to the
	// Unix second it last did.
	Refused map[string]int64
}

// keptIPs bounds the addresses remembered per client: the newest are
// kept, so that a client roaming over many networks does not grow its
// record without end.
const keptIPs = 32

// RecordUsage adds the counted bytes to the usage rows and inbounds,
// notes when each client was last online and from which addresses, and
// starts the clock of delayed-start clients on their first traffic.
//
// It removes from u.Clients and u.Inbounds what it committed, so that a
// caller whose call failed part way can hand the rest to the next call
// without counting a byte twice. Emails without a usage row are ignored.
//
// TODO(poll-speed): at 100,000 moving users this writes about 300,000
// Badger entries in about 35 transactions and takes seconds, far above
// the 200 ms target.
func (s *Service) RecordUsage(u *Usage) error {
	now := s.now()
	emails := slices.Sorted(maps.Keys(u.Clients))
	delayed := s.delayedStarts(emails)
	var started []Event

	_, err := s.batch(len(emails), func(tx *kv.Tx, i int) error {
		email := emails[i]
		ev, err := s.countClient(tx, email, u.Clients[email], delayed[email], now.UnixMilli())
		if ev != nil {
			started = append(started, *ev)
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, email := range emails {
		delete(u.Clients, email)
	}
	s.emit(started...)

	if err := s.update(func(tx *kv.Tx) error { return countInbounds(tx, u.Inbounds) }); err != nil {
		return err
	}
	clear(u.Inbounds)
	return s.recordLive(u.Live, now.Unix())
}

// delayedStarts returns which of the emails belong to delayed-start
// clients, read from the committed state, so that counting the others
// need not look their records up.
func (s *Service) delayedStarts(emails []string) map[string]bool {
	out := map[string]bool{}
	s.store.View(func(v *kv.View) error {
		for _, email := range emails {
			if c := v.ClientByEmail(email); c != nil && c.ExpiryTime < 0 {
				out[email] = true
			}
		}
		return nil
	})
	return out
}

// countClient adds one email's bytes to its usage row. A delayed-start
// client gets its expiry now; the event says so.
func (s *Service) countClient(tx *kv.Tx, email string, d Delta, delayed bool, nowMs int64) (*Event, error) {
	t := tx.Traffic(email)
	if t == nil {
		return nil, nil
	}
	n := *t
	n.Up, n.Down = clampAdd(n.Up, d.Up), clampAdd(n.Down, d.Down)
	n.LastOnline = max(n.LastOnline, nowMs)
	if err := tx.PutTraffic(&n); err != nil || !delayed {
		return nil, err
	}

	c, err := tx.ClientByEmail(email)
	if err != nil || c == nil || c.ExpiryTime >= 0 {
		return nil, err
	}
	started := c.Clone()
	started.ExpiryTime = nowMs - c.ExpiryTime
	started.UpdatedAt = nowMs
	if err := tx.PutClient(started); err != nil {
		return nil, err
	}
	return &Event{Kind: EventStarted, Email: c.Email, ClientID: c.ID}, nil
}

// clampAdd adds a byte count, saturating instead of overflowing.
func clampAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// countInbounds adds the bytes counted per inbound tag.
func countInbounds(tx *kv.Tx, byTag map[string]Delta) error {
	for tag, d := range byTag {
		id, ok, err := tx.InboundByTag(tag)
		if err != nil {
			return err
		}
		in := tx.Inbound(id)
		if !ok || in == nil {
			continue
		}
		n := *in
		n.Up, n.Down = clampAdd(n.Up, d.Up), clampAdd(n.Down, d.Down)
		if err := tx.PutInbound(&n); err != nil {
			return err
		}
	}
	return nil
}

// recordLive notes the addresses of the users with live connections and
// bumps their last-online time, as traffic would.
func (s *Service) recordLive(live map[string]LiveUser, nowSec int64) error {
	folded := slices.Sorted(maps.Keys(live))
	_, err := s.batch(len(folded), func(tx *kv.Tx, i int) error {
		c, err := tx.ClientByFold(folded[i])
		if err != nil || c == nil {
			return err
		}
		lu := live[folded[i]]
		if len(lu.IPs) > 0 {
			if err := touchOnline(tx, c.Email, nowSec*1000); err != nil {
				return err
			}
		}
		ips := mergeIPs(tx.IPs(c.Email), lu, nowSec)
		if slices.Equal(ips, tx.IPs(c.Email)) {
			return nil
		}
		return tx.PutIPs(c.Email, ips)
	})
	return err
}

// touchOnline moves the last-online time of a usage row to nowMs.
func touchOnline(tx *kv.Tx, email string, nowMs int64) error {
	t := tx.Traffic(email)
	if t == nil || t.LastOnline >= nowMs {
		return nil
	}
	n := *t
	n.LastOnline = nowMs
	return tx.PutTraffic(&n)
}

// mergeIPs adds what the core sees now to the stored addresses: a live
// address is stamped now and counts as admitted, a refused one carries
// the time of its refusal and is marked. The newest keptIPs entries stay, newest first.
func mergeIPs(stored []kv.IPEntry, lu LiveUser, nowSec int64) []kv.IPEntry {
	byIP := map[string]kv.IPEntry{}
	for _, e := range stored {
		byIP[e.IP] = e
	}
	for ip, at := range lu.Refused {
		byIP[ip] = kv.IPEntry{IP: ip, Timestamp: at, Refused: true}
	}
	for _, ip := range lu.IPs {
		byIP[ip] = kv.IPEntry{IP: ip, Timestamp: nowSec}
	}

	out := slices.Collect(maps.Values(byIP))
	slices.SortFunc(out, func(a, b kv.IPEntry) int {
		if a.Timestamp != b.Timestamp {
			return int(b.Timestamp - a.Timestamp)
		}
		return strings.Compare(a.IP, b.IP)
	})
	return out[:min(len(out), keptIPs)]
}
