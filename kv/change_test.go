package kv_test

import (
	"errors"
	"testing"

	"github.com/xpanel/xpanel/kv"
)

// refuser is a follower that records what it was told and refuses
// changes to one email.
type refuser struct {
	refuse string
	seen   []*kv.Change
}

func (r *refuser) Follow(ch *kv.Change, v *kv.View) error {
	r.seen = append(r.seen, ch)
	for _, c := range ch.Clients {
		if c.After != nil && c.After.Email == r.refuse {
			return errors.New("core refused " + r.refuse)
		}
	}
	return nil
}

func TestStore_FollowerSeesCommits(t *testing.T) {
	s := openStore(t)
	f := &refuser{}
	s.SetFollower(f)
	putClient(t, s, &kv.Client{ID: 1, Email: "a", SubID: "s1", Enable: true})
	if len(f.seen) != 1 || len(f.seen[0].Clients) != 1 {
		t.Fatalf("follower saw %d commits, want 1 with one client", len(f.seen))
	}
	c := f.seen[0].Clients[0]
	if c.Before != nil || c.After == nil || c.After.Email != "a" {
		t.Fatalf("change %+v, want a created", c)
	}
}

func TestStore_FollowerRefusalUndoes(t *testing.T) {
	s := openStore(t)
	putClient(t, s, &kv.Client{ID: 1, Email: "a", SubID: "s1", Enable: true,
		Inbounds: []kv.Attachment{{InboundID: 1}}})
	f := &refuser{refuse: "b"}
	s.SetFollower(f)

	err := s.Update(func(tx *kv.Tx) error {
		old := tx.Client(1).Clone()
		old.Email = "b"
		if err := tx.PutClient(old); err != nil {
			return err
		}
		return tx.PutClient(&kv.Client{ID: 2, Email: "a", SubID: "s2"})
	})
	var fe *kv.FollowError
	if !errors.As(err, &fe) {
		t.Fatalf("update error %v, want a FollowError", err)
	}
	s.View(func(v *kv.View) error {
		if c := v.ClientByEmail("a"); c == nil || c.ID != 1 {
			t.Errorf("client a after undo: %+v, want id 1", c)
		}
		if v.ClientByEmail("b") != nil || v.Client(2) != nil {
			t.Errorf("refused changes survived the undo")
		}
		return nil
	})
	if len(f.seen) != 2 {
		t.Fatalf("follower told %d times, want the change and its undo", len(f.seen))
	}
}

// A refused commit that counted bytes is undone: the follower saw the
// count, and the row is back where it was. (The usage record stays on
// disk; TestUndoneUsageIsNotReplayed shows a reload skips it.)
func TestStore_FollowerRefusalUndoesUsage(t *testing.T) {
	s := openStore(t)
	seedRows(t, s, "a", "b")
	f := &refuser{refuse: "b"}
	s.SetFollower(f)
	err := s.Update(func(tx *kv.Tx) error {
		tx.AddUsage("a", kv.UsageDelta{Up: 10})
		c := tx.Client(2).Clone()
		c.Comment = "refused"
		return tx.PutClient(c)
	})
	var fe *kv.FollowError
	if !errors.As(err, &fe) {
		t.Fatalf("update error %v, want a FollowError", err)
	}
	if ch := f.seen[0]; len(ch.Traffic) != 1 || ch.Traffic[0].Before.Up != 0 ||
		ch.Traffic[0].After.Up != 10 {
		t.Fatalf("follower saw traffic %+v, want a counted from 0 to 10", ch.Traffic)
	}
	if got := rowOf(t, s, "a"); got.Up != 0 {
		t.Fatalf("row a after the undo counts %d, want 0", got.Up)
	}
}
