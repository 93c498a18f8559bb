package kv

import (
	"errors"
	"fmt"
)

// Follower mirrors the store somewhere else, such as a running proxy
// core. Follow is called after every commit that changed records, in
// commit order, before Update returns; v shows the state after the
// commit. An error makes Update restore the records the commit changed
// and return the error, so the store never claims what the follower does
// not hold.
type Follower interface {
	Follow(ch *Change, v *View) error
}

// Change lists the records one commit changed, each with its state before
// and after. A nil Before is a record created; a nil After one deleted.
type Change struct {
	Clients  []ClientChange
	Traffic  []TrafficChange
	Inbounds []InboundChange

	groups map[string]*Group
	ips    map[string][]IPEntry
	outbox []uint64 // sequence numbers of the outbox entries it made
}

// ClientChange is a client record before and after a commit.
type ClientChange struct{ Before, After *Client }

// TrafficChange is a usage row before and after a commit.
type TrafficChange struct{ Before, After *Traffic }

// InboundChange is an inbound before and after a commit.
type InboundChange struct{ Before, After *Inbound }

// FollowError is the error of a commit that the follower refused. The
// commit has been undone.
type FollowError struct {
	Err error
}

func (e *FollowError) Error() string { return e.Err.Error() }
func (e *FollowError) Unwrap() error { return e.Err }

// SetFollower makes f follow every later commit. Call it before the store
// is shared; nil stops following.
func (s *Store) SetFollower(f Follower) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.follower = f
}

// changeOf records what tx is about to change, reading the state before
// from memory. It must run after stageUsage has dropped the counts that
// whole writes superseded, and before the commit is applied to memory.
func changeOf(tx *Tx, m *memory) *Change {
	ch := &Change{groups: map[string]*Group{}, ips: map[string][]IPEntry{}}
	for id, after := range tx.clients {
		ch.Clients = append(ch.Clients, ClientChange{Before: m.clients[id], After: after})
	}
	ch.Traffic = trafficChanges(tx, m)
	for id, after := range tx.inbound {
		ch.Inbounds = append(ch.Inbounds, InboundChange{Before: m.inbounds[id], After: after})
	}
	for name := range tx.groups {
		ch.groups[name] = m.groups[name]
	}
	for email := range tx.ips {
		ch.ips[email] = m.ips[email]
	}
	for key := range tx.deleted {
		if email, ok := cutIPKey(key); ok {
			ch.ips[email] = m.ips[email]
		}
	}
	return ch
}

// trafficChanges lists the usage rows tx changed. A row's first change
// in tx was either a count, whose entry holds the row's slot, or a whole
// write or delete. Counts that a whole write followed are gone from
// tx.usage by now, so no row is listed twice.
func trafficChanges(tx *Tx, m *memory) []TrafficChange {
	out := make([]TrafficChange, 0, len(tx.usage)+len(tx.whole))
	for _, e := range tx.usage {
		if e.first {
			out = append(out, TrafficChange{Before: e.slot.t, After: e.slot.pending})
		}
	}
	for email := range tx.whole {
		out = append(out, TrafficChange{Before: m.trafficOf(email), After: tx.traffic[email]})
	}
	return out
}

// follow hands a commit to the follower and, if it refuses, undoes the
// commit. The caller holds writeMu.
func (s *Store) follow(ch *Change) error {
	if s.follower == nil {
		return nil
	}
	err := s.tell(ch)
	if err == nil {
		return nil
	}

	undo, rerr := s.commit(func(tx *Tx) error { return ch.undo(tx) })
	if rerr != nil {
		s.log.Error("undo a commit the follower refused", "err", rerr)
		return errors.Join(&FollowError{Err: err}, fmt.Errorf("undo: %w", rerr))
	}
	if undo != nil {
		if ferr := s.tell(undo); ferr != nil {
			s.log.Error("follower refused the undo of its refusal", "err", ferr)
		}
	}
	return &FollowError{Err: err}
}

// tell hands one change to the follower with a view of the new state.
func (s *Store) tell(ch *Change) error {
	var err error
	s.View(func(v *View) error {
		err = s.follower.Follow(ch, v)
		return nil
	})
	return err
}

// undo stages the states before ch. Deletes go first, so that a record
// restored under a unique key never meets the record that took it.
func (ch *Change) undo(tx *Tx) error {
	if err := ch.undoOutbox(tx); err != nil {
		return err
	}
	for _, c := range ch.Clients {
		if c.After != nil && (c.Before == nil || c.Before.Email != c.After.Email) {
			if err := tx.DeleteClient(c.After.ID); err != nil {
				return err
			}
		}
	}
	for _, c := range ch.Clients {
		if c.Before != nil {
			if err := tx.PutClient(c.Before); err != nil {
				return err
			}
		}
	}
	for _, t := range ch.Traffic {
		var err error
		if t.Before == nil {
			err = tx.DeleteTraffic(t.After.Email)
		} else {
			err = tx.PutTraffic(t.Before)
		}
		if err != nil {
			return err
		}
	}
	return ch.undoRest(tx)
}

func (ch *Change) undoRest(tx *Tx) error {
	for _, in := range ch.Inbounds {
		var err error
		if in.Before == nil {
			err = tx.DeleteInbound(in.After.ID)
		} else {
			err = tx.PutInbound(in.Before)
		}
		if err != nil {
			return err
		}
	}
	for name, g := range ch.groups {
		var err error
		if g == nil {
			err = tx.DeleteGroup(name)
		} else {
			err = tx.PutGroup(g)
		}
		if err != nil {
			return err
		}
	}
	for email, ips := range ch.ips {
		if err := tx.PutIPs(email, ips); err != nil {
			return err
		}
	}
	return nil
}
