package kv_test

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/xpanel/xpanel/kv"
)

// seedRows stores a client with a usage row for each email.
func seedRows(t *testing.T, s *kv.Store, emails ...string) {
	t.Helper()
	err := s.Update(func(tx *kv.Tx) error {
		for _, e := range emails {
			if err := tx.PutClient(&kv.Client{Email: e, Enable: true}); err != nil {
				return err
			}
			if err := tx.PutTraffic(&kv.Traffic{Email: e, Enable: true}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
}

func addUsage(t *testing.T, s *kv.Store, d kv.UsageDelta, emails ...string) {
	t.Helper()
	err := s.Update(func(tx *kv.Tx) error {
		for _, e := range emails {
			tx.AddUsage(e, d)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("add usage: %v", err)
	}
}

func rowOf(t *testing.T, s *kv.Store, email string) kv.Traffic {
	t.Helper()
	var row kv.Traffic
	s.View(func(v *kv.View) error {
		if r := v.Traffic(email); r != nil {
			row = *r
		}
		return nil
	})
	return row
}

func TestAddUsage_CountsAndSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := kv.Open(dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seedRows(t, s, "a", "b")
	addUsage(t, s, kv.UsageDelta{Up: 10, Down: 100, SeenMs: 5000}, "a", "b", "nobody")
	addUsage(t, s, kv.UsageDelta{Up: 1, Down: 2, SeenMs: 4000}, "a")

	want := kv.Traffic{ID: 1, Email: "a", Enable: true, Up: 11, Down: 102, LastOnline: 5000}
	if got := rowOf(t, s, "a"); got != want {
		t.Fatalf("row a = %+v, want %+v", got, want)
	}
	if records, rows := s.UsageBacklog(); records != 2 || rows != 2 {
		t.Fatalf("backlog = %d records, %d rows; want 2, 2", records, rows)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("check with records pending: %v", err)
	}

	// Close folds the records into the rows; the reopened store has
	// the same counts and nothing left to replay.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStoreAt(t, dir)
	if got := rowOf(t, s, "a"); got != want {
		t.Fatalf("row a after reopen = %+v, want %+v", got, want)
	}
	if got := rowOf(t, s, "b"); got.Up != 10 || got.Down != 100 {
		t.Fatalf("row b after reopen = %+v", got)
	}
	if records, rows := s.UsageBacklog(); records != 0 || rows != 0 {
		t.Fatalf("backlog after reopen = %d records, %d rows; want none", records, rows)
	}
}

func TestAddUsage_WholeRowWriteIsNotCountedTwice(t *testing.T) {
	s := openStore(t)
	seedRows(t, s, "a")
	addUsage(t, s, kv.UsageDelta{Up: 10}, "a")

	// A reset writes the row whole after the record that counted 10.
	err := s.Update(func(tx *kv.Tx) error {
		r := *tx.Traffic("a")
		r.Up = 0
		return tx.PutTraffic(&r)
	})
	if err != nil {
		t.Fatal(err)
	}
	addUsage(t, s, kv.UsageDelta{Up: 3}, "a")

	// The same commit counting bytes and then writing the row whole
	// leaves them in the row alone.
	err = s.Update(func(tx *kv.Tx) error {
		tx.AddUsage("a", kv.UsageDelta{Up: 4})
		r := *tx.Traffic("a")
		r.Down = 1
		return tx.PutTraffic(&r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rowOf(t, s, "a"); got.Up != 7 || got.Down != 1 {
		t.Fatalf("row = %+v, want up 7 down 1", got)
	}

	// Writing the row whole and then counting bytes in one commit
	// keeps both.
	err = s.Update(func(tx *kv.Tx) error {
		r := *tx.Traffic("a")
		r.Down = 2
		if err := tx.PutTraffic(&r); err != nil {
			return err
		}
		tx.AddUsage("a", kv.UsageDelta{Up: 5})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rowOf(t, s, "a"); got.Up != 12 || got.Down != 2 {
		t.Fatalf("row = %+v, want up 12 down 2", got)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("disk and memory differ: %v", err)
	}
}

func TestAddUsage_Saturates(t *testing.T) {
	s := openStore(t)
	seedRows(t, s, "a")
	addUsage(t, s, kv.UsageDelta{Up: math.MaxInt64 - 5, Down: -7}, "a")
	addUsage(t, s, kv.UsageDelta{Up: 10}, "a")
	if got := rowOf(t, s, "a"); got.Up != math.MaxInt64 || got.Down != 0 {
		t.Fatalf("row = %+v, want up saturated and negative down ignored", got)
	}
}

func TestAddUsage_DeletedRowStaysDeleted(t *testing.T) {
	dir := t.TempDir()
	s := openStoreAt(t, dir)
	seedRows(t, s, "a", "b")
	addUsage(t, s, kv.UsageDelta{Up: 10}, "a", "b")
	if err := s.Update(func(tx *kv.Tx) error { return tx.DeleteTraffic("a") }); err != nil {
		t.Fatal(err)
	}
	if records, rows := s.UsageBacklog(); records != 1 || rows != 1 {
		t.Fatalf("backlog = %d records, %d rows; want 1, 1", records, rows)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestFoldUsage(t *testing.T) {
	dir := t.TempDir()
	s := openStoreAt(t, dir)
	seedRows(t, s, "a", "b", "c")
	for range 5 {
		addUsage(t, s, kv.UsageDelta{Up: 1, Down: 2}, "a", "b")
	}
	n, err := s.FoldUsage()
	if err != nil || n != 2 {
		t.Fatalf("FoldUsage = %d, %v; want 2 rows", n, err)
	}
	if records, rows := s.UsageBacklog(); records != 0 || rows != 0 {
		t.Fatalf("backlog after fold = %d records, %d rows; want none", records, rows)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	addUsage(t, s, kv.UsageDelta{Up: 1}, "c")
	if got := rowOf(t, s, "a"); got.Up != 5 || got.Down != 10 {
		t.Fatalf("row a = %+v, want up 5 down 10", got)
	}
}

func TestAddUsage_AbandonedCountsLeaveNoTrace(t *testing.T) {
	s := openStore(t)
	seedRows(t, s, "a")
	boom := errors.New("boom")
	err := s.Update(func(tx *kv.Tx) error {
		tx.AddUsage("a", kv.UsageDelta{Up: 100})
		if got := tx.Traffic("a").Up; got != 100 {
			t.Errorf("the transaction sees up %d, want 100", got)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update = %v, want boom", err)
	}
	err = s.Update(func(tx *kv.Tx) error {
		if got := tx.Traffic("a").Up; got != 0 {
			t.Errorf("the next transaction sees up %d, want 0", got)
		}
		tx.AddUsage("a", kv.UsageDelta{Up: 1})
		tx.AddUsage("a", kv.UsageDelta{Up: 2})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rowOf(t, s, "a"); got.Up != 3 {
		t.Fatalf("row = %+v, want up 3", got)
	}
	if records, _ := s.UsageBacklog(); records != 1 {
		t.Fatalf("%d usage records, want 1", records)
	}
}

// A backup taken while usage records are pending restores to the same
// counts: the records travel with the rows and are replayed.
func TestAddUsage_BackupCarriesRecords(t *testing.T) {
	s := openStore(t)
	seedRows(t, s, "a", "b")
	addUsage(t, s, kv.UsageDelta{Up: 10, Down: 20, SeenMs: 7}, "a", "b")
	addUsage(t, s, kv.UsageDelta{Up: 1}, "a")
	if records, _ := s.UsageBacklog(); records != 2 {
		t.Fatalf("%d usage records before the backup, want 2", records)
	}
	var buf bytes.Buffer
	if err := s.Backup(&buf); err != nil {
		t.Fatalf("backup: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "restored")
	if err := kv.Restore(dir, &buf); err != nil {
		t.Fatalf("restore: %v", err)
	}
	r := openStoreAt(t, dir)
	for _, email := range []string{"a", "b"} {
		if got, want := rowOf(t, r, email), rowOf(t, s, email); got != want {
			t.Errorf("restored row %s = %+v, want %+v", email, got, want)
		}
	}
}
