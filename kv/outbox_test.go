package kv_test

import (
	"fmt"
	"testing"

	"github.com/xpanel/xpanel/kv"
)

// journalClients makes one outbox entry per client a commit changes,
// plus one per string note.
func journalClients(tx *kv.Tx, ch *kv.Change, notes []any) ([]kv.Outgoing, error) {
	var out []kv.Outgoing
	for _, c := range ch.Clients {
		if c.After != nil {
			out = append(out, kv.Outgoing{Key: c.After.Email, Value: []byte("put " + c.After.Email)})
		}
	}
	for _, n := range notes {
		if s, ok := n.(string); ok {
			out = append(out, kv.Outgoing{Key: "note", Value: []byte(s)})
		}
	}
	return out, nil
}

func readAll(t *testing.T, s *kv.Store) []kv.OutboxEntry {
	t.Helper()
	got, err := s.ReadOutbox(0, 100)
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	return got
}

func TestStore_Outbox(t *testing.T) {
	t.Run("entries commit with their change and survive a reopen", func(t *testing.T) {
		dir := t.TempDir()
		s, err := kv.Open(dir, kv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.SetJournal(journalClients)
		putClient(t, s, &kv.Client{Email: "a", SubID: "s1"})
		putClient(t, s, &kv.Client{Email: "b", SubID: "s2"})
		select {
		case <-s.OutboxReady():
		default:
			t.Errorf("no ready signal after a commit with entries")
		}
		s.Close()

		s = openStoreAt(t, dir)
		got := readAll(t, s)
		if len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 {
			t.Fatalf("after reopen: %+v, want seqs 1 and 2", got)
		}
		if got[0].Key != "a" || string(got[1].Value) != "put b" {
			t.Errorf("entries %+v, want a then b", got)
		}
	})

	t.Run("ack removes and sequence numbers never repeat", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := kv.Open(dir, kv.Options{})
		s.SetJournal(journalClients)
		putClient(t, s, &kv.Client{Email: "a", SubID: "s1"})
		if err := s.AckOutbox([]uint64{1}); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, s); len(got) != 0 {
			t.Fatalf("after ack: %+v, want none", got)
		}
		s.Close()

		s = openStoreAt(t, dir)
		s.SetJournal(journalClients)
		putClient(t, s, &kv.Client{Email: "b", SubID: "s2"})
		if got := readAll(t, s); len(got) != 1 || got[0].Seq != 2 {
			t.Fatalf("after reopen and a commit: %+v, want seq 2", got)
		}
	})

	t.Run("a transaction of notes alone commits its entries", func(t *testing.T) {
		s := openStore(t)
		s.SetJournal(journalClients)
		if err := s.Update(func(tx *kv.Tx) error { tx.Note("hello"); return nil }); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, s); len(got) != 1 || string(got[0].Value) != "hello" {
			t.Fatalf("entries %+v, want the note", got)
		}
		if err := s.Update(func(tx *kv.Tx) error { tx.Note(42); return nil }); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, s); len(got) != 1 {
			t.Fatalf("a note the journal ignores wrote something: %+v", got)
		}
	})

	t.Run("a refused commit leaves no entry", func(t *testing.T) {
		s := openStore(t)
		s.SetJournal(journalClients)
		s.SetFollower(&refuser{refuse: "b"})
		putClient(t, s, &kv.Client{Email: "a", SubID: "s1"})
		err := s.Update(func(tx *kv.Tx) error {
			return tx.PutClient(&kv.Client{Email: "b", SubID: "s2"})
		})
		if err == nil {
			t.Fatal("the follower's refusal was not returned")
		}
		got := readAll(t, s)
		if len(got) != 1 || got[0].Key != "a" {
			t.Fatalf("entries %+v, want only a's", got)
		}
	})

	t.Run("read pages in order", func(t *testing.T) {
		s := openStore(t)
		s.SetJournal(journalClients)
		for i := range 5 {
			putClient(t, s, &kv.Client{Email: fmt.Sprint(i), SubID: fmt.Sprint("s", i)})
		}
		page, _ := s.ReadOutbox(2, 2)
		if len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
			t.Fatalf("page after 2: %+v, want 3 and 4", page)
		}
	})
}
