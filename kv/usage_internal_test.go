package kv

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// crashAt opens a store in dir, lets work run, then closes Badger under
// it without folding, leaving the disk as a crash would after work's
// last commit.
func crashAt(t *testing.T, dir string, work func(s *Store)) {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	work(s)
	s.closed.Store(true)
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
}

func seed(t *testing.T, s *Store, emails ...string) {
	t.Helper()
	mustUpdate(t, s, func(tx *Tx) error {
		for _, e := range emails {
			if err := tx.PutClient(&Client{Email: e, Enable: true}); err != nil {
				return err
			}
			if err := tx.PutTraffic(&Traffic{Email: e}); err != nil {
				return err
			}
		}
		return nil
	})
}

func count(t *testing.T, s *Store, up int64, emails ...string) {
	t.Helper()
	mustUpdate(t, s, func(tx *Tx) error {
		for _, e := range emails {
			tx.AddUsage(e, UsageDelta{Up: up})
		}
		return nil
	})
}

func ups(s *Store) map[string]int64 {
	out := map[string]int64{}
	for e, slot := range s.mem.traffic {
		out[e] = slot.t.Up
	}
	return out
}

// A crash in the middle of a fold, with some rows written and none of
// the records deleted, must neither lose nor double any byte.
func TestFoldUsage_CrashPartWay(t *testing.T) {
	dir := t.TempDir()
	var want map[string]int64
	crashAt(t, dir, func(s *Store) {
		seed(t, s, "a", "b", "c")
		count(t, s, 1, "a", "b", "c")
		count(t, s, 10, "a", "b")
		if _, _, err := s.foldRows([]string{"a"}); err != nil {
			t.Fatal(err)
		}
		count(t, s, 100, "a", "c")
		want = ups(s)
	})

	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := ups(s); !maps.Equal(got, want) {
		t.Fatalf("after the crash rows count %v, want %v", got, want)
	}
	if records, rows := s.UsageBacklog(); records != 3 || rows != 3 {
		t.Fatalf("replay left %d records and %d rows behind, want 3 and 3", records, rows)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// Records deleted by a fold must not let a later record reuse a number
// that a row already claims to include.
func TestUsage_NumbersOutliveFolds(t *testing.T) {
	dir := t.TempDir()
	crashAt(t, dir, func(s *Store) {
		seed(t, s, "a")
		count(t, s, 1, "a")
		if _, err := s.FoldUsage(); err != nil {
			t.Fatal(err)
		}
	})
	crashAt(t, dir, func(s *Store) { count(t, s, 5, "a") })

	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.mem.trafficOf("a").Up; got != 6 {
		t.Fatalf("row a counts %d after reopen, want 6", got)
	}
}

// A database written before the status and used-bytes indexes were
// retired loses their entries on open.
func TestOpen_DropsRetiredIndexes(t *testing.T) {
	dir := t.TempDir()
	crashAt(t, dir, func(s *Store) {
		seed(t, s, "a")
		mustUpdate(t, s, func(tx *Tx) error {
			if err := tx.set([]byte("Ba\x00\x00\x00\x00\x00\x00\x00\x01"), nil); err != nil {
				return err
			}
			return tx.set([]byte("N\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"), nil)
		})
		if err := s.Check(); err == nil {
			t.Fatal("check passed with stray index entries")
		}
	})

	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatalf("retired entries still there: %v", err)
	}
}

func FuzzDecodeUsage(f *testing.F) {
	f.Add(encodeUsage([]usageEntry{{email: "a@x", d: UsageDelta{Up: 1, Down: 2, SeenMs: 3}}}))
	f.Add([]byte{1, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		var rows []usageEntry
		collect := func(email string, d UsageDelta) {
			rows = append(rows, usageEntry{email: email, d: d})
		}
		if decodeUsage(b, collect) != nil {
			return
		}
		for _, e := range rows {
			if e.d.Up < 0 || e.d.Down < 0 || e.d.SeenMs < 0 {
				t.Fatalf("decoded a negative count: %+v", e.d)
			}
		}
		var again []usageEntry
		err := decodeUsage(encodeUsage(rows), func(email string, d UsageDelta) {
			again = append(again, usageEntry{email: email, d: d})
		})
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !slices.Equal(rows, again) {
			t.Fatal("record changed through encode and decode")
		}
	})
}

// refuseAll is a follower that refuses every change.
type refuseAll struct{}

func (refuseAll) Follow(*Change, *View) error { return errors.New("refused") }

// The undo of a refused commit writes the rows it counted on whole, past
// the commit's usage record, so a reload after a crash does not replay
// the record.
func TestUndoneUsageIsNotReplayed(t *testing.T) {
	dir := t.TempDir()
	crashAt(t, dir, func(s *Store) {
		seed(t, s, "a")
		s.SetFollower(refuseAll{})
		err := s.Update(func(tx *Tx) error {
			tx.AddUsage("a", UsageDelta{Up: 10})
			return nil
		})
		if err == nil {
			t.Fatal("the refused commit succeeded")
		}
		s.SetFollower(nil)
	})

	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.usage.records) != 1 {
		t.Fatalf("%d usage records on disk, want the refused one", len(s.usage.records))
	}
	if got := s.mem.trafficOf("a").Up; got != 0 {
		t.Fatalf("row a counts %d after reload, want 0", got)
	}
}

// A fold of more rows than one transaction holds writes them all, in
// several.
func TestFoldUsage_ManyTransactions(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 400)
	var emails []string
	for i := range 4000 {
		emails = append(emails, fmt.Sprintf("%s-%d", long, i))
	}
	var want map[string]int64
	crashAt(t, dir, func(s *Store) {
		for chunk := range slices.Chunk(emails, 500) {
			seed(t, s, chunk...)
		}
		count(t, s, 7, emails...)
		n, err := s.FoldUsage()
		if err != nil || n != len(emails) {
			t.Fatalf("FoldUsage = %d, %v; want %d rows", n, err, len(emails))
		}
		want = ups(s)
	})

	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if records, rows := s.UsageBacklog(); records != 0 || rows != 0 {
		t.Fatalf("backlog after the fold: %d records, %d rows", records, rows)
	}
	if got := ups(s); !maps.Equal(got, want) {
		t.Fatal("rows after the fold differ from before it")
	}
}

// A commit counting more rows than one record holds writes several, all
// replayed after a crash.
func TestUsage_SeveralRecordsInOneCommit(t *testing.T) {
	defer func(n int) { usageRecordRows = n }(usageRecordRows)
	usageRecordRows = 2
	dir := t.TempDir()
	emails := []string{"a", "b", "c", "d", "e"}
	crashAt(t, dir, func(s *Store) {
		seed(t, s, emails...)
		count(t, s, 3, emails...)
	})

	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if records, rows := s.UsageBacklog(); records != 3 || rows != 5 {
		t.Fatalf("backlog = %d records, %d rows; want 3 records over 5 rows", records, rows)
	}
	for _, e := range emails {
		if got := s.mem.trafficOf(e).Up; got != 3 {
			t.Errorf("row %s counts %d after the crash, want 3", e, got)
		}
	}
}
