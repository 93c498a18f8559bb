package panel

import (
	"hash/fnv"
	"maps"
	"slices"
	"strings"

	"github.com/xpanel/xpanel/kv"
)

// Delta is a number of bytes counted up and down. It is the store's
// own type, so that what the core counted reaches the store without a
// copy; the core leaves its SeenMs zero.
type Delta = kv.UsageDelta

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

// RecordUsage adds the counted bytes to the usage rows and inbounds in
// one commit, notes when each client was last online and from which
// addresses, and starts the clock of delayed-start clients on their
// first traffic.
//
// Once the bytes are committed it empties u.Clients and u.Inbounds; a
// call that fails leaves them, for the next call to carry over, so no
// byte is lost or counted twice. Emails without a usage row are ignored.
func (s *Service) RecordUsage(u *Usage) error {
	now := s.now()
	nowMs := now.UnixMilli()
	delayed := s.delayedStarts(u.Clients)
	var started []Event
	err := s.update(func(tx *kv.Tx) error {
		started = started[:0]
		for email, d := range u.Clients {
			seen := kv.UsageDelta{Up: d.Up, Down: d.Down, SeenMs: nowMs}
			if tx.AddUsage(email, seen) == nil || !delayed[email] {
				continue
			}
			ev, err := startClock(tx, email, nowMs)
			if err != nil {
				return err
			}
			if ev != nil {
				started = append(started, *ev)
			}
		}
		return countInbounds(tx, u.Inbounds)
	})
	if err != nil {
		return err
	}
	clear(u.Clients)
	clear(u.Inbounds)
	s.emit(started...)
	return s.recordLive(u.Live, now.Unix())
}

// delayedStarts returns which of the counted emails belong to
// delayed-start clients, read from the committed state with one pass
// over the clients, so that counting the others looks nothing up.
func (s *Service) delayedStarts(counted map[string]Delta) map[string]bool {
	out := map[string]bool{}
	s.store.View(func(v *kv.View) error {
		v.EachClient(func(c *kv.Client, _ *kv.Traffic) bool {
			if c.ExpiryTime >= 0 {
				return true
			}
			if _, moved := counted[c.Email]; moved {
				out[c.Email] = true
			}
			return true
		})
		return nil
	})
	return out
}

// startClock gives a delayed-start client its expiry, counted from now;
// the event says so.
func startClock(tx *kv.Tx, email string, nowMs int64) (*Event, error) {
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
		n.Up, n.Down = kv.AddBytes(n.Up, d.Up), kv.AddBytes(n.Down, d.Down)
		if err := tx.PutInbound(&n); err != nil {
			return err
		}
	}
	return nil
}

// recordLive notes the addresses of the users with live connections and
// bumps their last-online time, as traffic would.
//
// An address list is rewritten only when its addresses or refusals
// changed, or when a live address's stamp has aged past restampAfter:
// rewriting every online user's list on every poll cost more than the
// traffic itself at 100,000 users, for stamps nobody needs to the
// second. Which users need a write is found from the committed state
// first, without a transaction.
func (s *Service) recordLive(live map[string]LiveUser, nowSec int64) error {
	due := s.liveDue(live, nowSec)
	_, err := s.batch(len(due), func(tx *kv.Tx, i int) error {
		c, err := tx.ClientByFold(due[i])
		if err != nil || c == nil {
			return err
		}
		lu := live[due[i]]
		if len(lu.IPs) > 0 {
			touchOnline(tx, c.Email, nowSec*1000)
		}
		stored := tx.IPs(c.Email)
		if !ipsMoved(stored, lu, nowSec, restampAfter(due[i])) {
			return nil
		}
		return tx.PutIPs(c.Email, mergeIPs(stored, lu, nowSec))
	})
	return err
}

// liveDue returns, sorted, the folded emails of live whose last-online
// time or address list needs a write.
func (s *Service) liveDue(live map[string]LiveUser, nowSec int64) []string {
	var due []string
	s.store.View(func(v *kv.View) error {
		for folded, lu := range live {
			c := v.ClientByFold(folded)
			if c == nil {
				continue
			}
			t := v.Traffic(c.Email)
			stale := len(lu.IPs) > 0 && t != nil && t.LastOnline < nowSec*1000
			if stale || ipsMoved(v.IPs(c.Email), lu, nowSec, restampAfter(folded)) {
				due = append(due, folded)
			}
		}
		return nil
	})
	slices.Sort(due)
	return due
}

// restampBase is how old a live address's stored stamp may grow before
// its list is rewritten; restampAfter adds up to as much again, fixed per
// email, so that users who came online together are not all rewritten
// in the same poll.
const restampBase = 60

func restampAfter(folded string) int64 {
	h := fnv.New32a()
	h.Write([]byte(folded))
	return restampBase + int64(h.Sum32()%restampBase)
}

// ipsMoved reports whether merging what the core sees now into stored
// would change an address or a refusal, or move a stamp by window
// seconds or more.
func ipsMoved(stored []kv.IPEntry, lu LiveUser, nowSec, window int64) bool {
	find := func(ip string) (kv.IPEntry, bool) {
		i := slices.IndexFunc(stored, func(e kv.IPEntry) bool { return e.IP == ip })
		if i < 0 {
			return kv.IPEntry{}, false
		}
		return stored[i], true
	}
	for _, ip := range lu.IPs {
		e, ok := find(ip)
		if !ok || e.Refused || nowSec-e.Timestamp >= window {
			return true
		}
	}
	for ip, at := range lu.Refused {
		if slices.Contains(lu.IPs, ip) {
			continue // live now: admitted after all
		}
		e, ok := find(ip)
		if !ok || !e.Refused || at-e.Timestamp >= window {
			return true
		}
	}
	return false
}

// touchOnline moves the last-online time of a usage row to nowMs. Like
// traffic, it goes to the usage record rather than rewriting the row.
func touchOnline(tx *kv.Tx, email string, nowMs int64) {
	if t := tx.Traffic(email); t != nil && t.LastOnline < nowMs {
		tx.AddUsage(email, kv.UsageDelta{SeenMs: nowMs})
	}
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
