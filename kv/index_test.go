package kv

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// openIndexStore opens a store in a temporary directory and checks it,
// indexes included, when the test ends.
func openIndexStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Check(); err != nil {
			t.Errorf("store check: %v", err)
		}
		s.Close()
	})
	return s
}

func mustUpdate(t testing.TB, s *Store, fn func(tx *Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// queryEmails runs q and returns the emails of the page and the count of
// matches.
func queryEmails(s *Store, q Query, st Status) ([]string, int) {
	var emails []string
	var filtered int
	s.View(func(v *View) error {
		p := v.Query(q, st)
		for _, it := range p.Items {
			emails = append(emails, it.Client.Email)
		}
		filtered = p.Filtered
		return nil
	})
	return emails, filtered
}

func TestSearchIndex_Search(t *testing.T) {
	s := openIndexStore(t)
	mustUpdate(t, s, func(tx *Tx) error {
		for _, c := range []*Client{
			{Email: "Olivia.u000001@mail.example", SubID: "abcdef", Comment: "paid"},
			{Email: "liam.u000002@mail.example", UUID: "0f4e-OLI", TgID: 4821},
			{Email: "emma.u000003@mail.example", Comment: "Olive oil"},
		} {
			if err := tx.PutClient(c); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		search string
		want   []string
	}{
		{"oli", []string{"Olivia.u000001@mail.example", "liam.u000002@mail.example",
			"emma.u000003@mail.example"}},
		{"OLIV", []string{"Olivia.u000001@mail.example", "emma.u000003@mail.example"}},
		{"olivia", []string{"Olivia.u000001@mail.example"}},
		{"u00000", []string{"Olivia.u000001@mail.example", "liam.u000002@mail.example",
			"emma.u000003@mail.example"}},
		{"4821", []string{"liam.u000002@mail.example"}},
		{"cdef", []string{"Olivia.u000001@mail.example"}},
		{"f\x00pai", []string{"Olivia.u000001@mail.example"}}, // across fields, as a scan
		{"xyz", nil},
		{"u000004", nil},
	}
	for _, tt := range tests {
		t.Run(tt.search, func(t *testing.T) {
			got, n := queryEmails(s, Query{Search: tt.search, Page: 1, PageSize: 25}, Status{})
			if !slices.Equal(got, tt.want) || n != len(tt.want) {
				t.Errorf("got %v (%d), want %v", got, n, tt.want)
			}
		})
	}
}

// TestSearchIndex_Maintain proves that the index follows changed texts,
// deletes, the compaction that deletes trigger, and a deleted client
// put back under its old id, as an undo does. The cleanup check compares
// the index with one built from the records.
func TestSearchIndex_Maintain(t *testing.T) {
	s := openIndexStore(t)
	const n = 2*minIndexHoles + 10
	mustUpdate(t, s, func(tx *Tx) error {
		for i := range n {
			err := tx.PutClient(&Client{Email: fmt.Sprintf("c%05d@x", i), Comment: "alpha"})
			if err != nil {
				return err
			}
		}
		return nil
	})
	search := func(text string) int {
		_, filtered := queryEmails(s, Query{Search: text, Page: 1, PageSize: 1}, Status{})
		return filtered
	}

	t.Run("changed text", func(t *testing.T) {
		mustUpdate(t, s, func(tx *Tx) error {
			c := tx.Client(1).Clone()
			c.Comment = "bravo"
			return tx.PutClient(c)
		})
		if a, b := search("alpha"), search("bravo"); a != n-1 || b != 1 {
			t.Errorf("alpha %d, bravo %d; want %d and 1", a, b, n-1)
		}
	})
	t.Run("deletes and compaction", func(t *testing.T) {
		for id := int64(2); id < minIndexHoles+200; id += 100 {
			mustUpdate(t, s, func(tx *Tx) error {
				for i := id; i < min(id+100, minIndexHoles+200); i++ {
					if err := tx.DeleteClient(i); err != nil {
						return err
					}
				}
				return nil
			})
		}
		want := n - 1 - (minIndexHoles + 198) // client 1 says bravo
		if got := search("alpha"); got != want {
			t.Errorf("alpha after deletes: %d, want %d", got, want)
		}
		if err := errors.Join(checkSearchIndex(s.mem)...); err != nil {
			t.Error(err)
		}
	})
	t.Run("undo puts back an old id", func(t *testing.T) {
		mustUpdate(t, s, func(tx *Tx) error {
			return tx.PutClient(&Client{ID: 5, Email: "back@x", Comment: "charlie"})
		})
		got, _ := queryEmails(s, Query{Search: "charlie", Page: 1, PageSize: 5}, Status{})
		if !slices.Equal(got, []string{"back@x"}) {
			t.Errorf("charlie: %v, want [back@x]", got)
		}
	})
}

// FuzzView_Query applies a sequence of client changes read from the
// input, then runs queries read from it, and compares every page with a
// brute-force scan of all rows: searches against the search index and
// the status filters against the status sets.
func FuzzView_Query(f *testing.F) {
	f.Add([]byte("\x00abc\x01\x02b.c\x03\x10abc\x11ab\x12\x05"))
	f.Add([]byte("\x00aaaa\x00aaab\x04\x01\x00baaa\x02a\x10aaa\x13\x02\x11a.a"))
	f.Add([]byte("\x00a.b@c\x00c@b.a\x05\x06\x07\x13\x04\x12\x01\x11@b."))
	s := openIndexStore(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data: data}
		for in.more() && in.peek() < 0x10 {
			if err := s.Update(func(tx *Tx) error { return fuzzChange(tx, in) }); err != nil {
				t.Fatalf("change: %v", err)
			}
		}
		for in.more() {
			q, st := fuzzQuery(in)
			s.View(func(v *View) error {
				for _, r := range v.m.rows {
					if r.c.ID%3 == 0 {
						st.Online[r.c.Email] = struct{}{}
					}
				}
				return nil
			})
			compareWithScan(t, s, q, st)
		}
		var errs []error
		s.View(func(v *View) error {
			errs = append(checkSearchIndex(v.m), checkStatusSets(v.m)...)
			errs = append(errs, checkUsageSlots(v.m)...)
			return nil
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	})
}

// fuzzNow is the clock of the fuzzed queries, on a second boundary, so
// that expiries near it exercise the rows judged per query.
const fuzzNow = 1_700_000_000_000

type fuzzInput struct {
	data []byte
}

func (in *fuzzInput) more() bool { return len(in.data) > 0 }

func (in *fuzzInput) peek() byte { return in.data[0] }

func (in *fuzzInput) byte() byte {
	if len(in.data) == 0 {
		return 0
	}
	b := in.data[0]
	in.data = in.data[1:]
	return b
}

// text reads up to max bytes over a small alphabet, so that texts share
// trigrams often.
func (in *fuzzInput) text(max int) string {
	n := int(in.byte()) % (max + 1)
	var b strings.Builder
	for range n {
		b.WriteByte("abcAB.@\x00"[in.byte()%8])
	}
	return b.String()
}

// fuzzChange stages one change: add, retext, delete, usage or expiry.
func fuzzChange(tx *Tx, in *fuzzInput) error {
	op := in.byte()
	ids := tx.s.mem.index.rows
	pick := func() *Client {
		if len(ids) == 0 {
			return nil
		}
		r := ids[int(in.byte())%len(ids)]
		if r == nil {
			return nil
		}
		return tx.Client(r.c.ID)
	}
	switch op % 6 {
	case 0:
		return putFuzzClient(tx, &Client{Email: fmt.Sprintf("%s#%d", in.text(6), len(ids)),
			Comment: in.text(4), Enable: in.byte()%4 != 0, TotalGB: int64(in.byte() % 3)})
	case 1:
		if c := pick(); c != nil {
			c = c.Clone()
			c.Comment, c.SubID = in.text(5), in.text(3)
			return putFuzzClient(tx, c)
		}
	case 2:
		if c := pick(); c != nil {
			return tx.DeleteClient(c.ID)
		}
	case 3:
		if c := pick(); c != nil {
			return fuzzUsage(tx, c.Email, in)
		}
	case 4, 5:
		if c := pick(); c != nil {
			c = c.Clone()
			c.ExpiryTime = fuzzNow + (int64(in.byte())-128)*16
			c.Enable = op%2 == 0
			return putFuzzClient(tx, c)
		}
	}
	return nil
}

// fuzzUsage writes a usage row whole, counts bytes on it, or deletes it.
func fuzzUsage(tx *Tx, email string, in *fuzzInput) error {
	switch in.byte() % 3 {
	case 0:
		return tx.PutTraffic(&Traffic{Email: email, Down: int64(in.byte() % 4)})
	case 1:
		tx.AddUsage(email, UsageDelta{Down: int64(in.byte() % 4)})
		return nil
	}
	return tx.DeleteTraffic(email)
}

// putFuzzClient puts c unless its email or subId collides, which a
// fuzzed text may make it do.
func putFuzzClient(tx *Tx, c *Client) error {
	if err := tx.PutClient(c); err != nil && !errors.Is(err, ErrUnique) {
		return err
	}
	return nil
}

var fuzzSorts = []string{"", "email", "traffic", "expiryTime", "remaining", "createdAt"}

var fuzzBuckets = []string{"active", "deactive", "depleted", "expiring", "online", "nope"}

// fuzzQuery reads a query and the instant it runs at.
func fuzzQuery(in *fuzzInput) (Query, Status) {
	in.byte()
	q := Query{Search: in.text(5), Sort: fuzzSorts[int(in.byte())%len(fuzzSorts)],
		Descending: in.byte()%2 == 0, Page: 1 + int(in.byte()%3), PageSize: 1 + int(in.byte()%4)}
	for mask := in.byte(); mask != 0; mask >>= 1 {
		if mask&1 != 0 {
			q.Buckets = append(q.Buckets, fuzzBuckets[int(mask)%len(fuzzBuckets)])
		}
	}
	if in.byte()%4 == 0 {
		q.HasComment = "yes"
	}
	st := Status{Now: fuzzNow + int64(in.byte())*4, ExpiringMs: 500, ExpiringBytes: 1,
		Online: map[string]struct{}{}, OnlineVersion: 1}
	return q, st
}

// compareWithScan runs q through Query and through a scan of every row
// in its sorted order, testing each row with every condition.
func compareWithScan(t *testing.T, s *Store, q Query, st Status) {
	t.Helper()
	s.View(func(v *View) error {
		page := v.Query(q, st)
		var got []int64
		for _, it := range page.Items {
			got = append(got, it.Client.ID)
		}

		scan := q
		filters := v.filters(&scan, &st)
		var want []int64
		filtered := 0
		start := (q.Page - 1) * q.PageSize
		for _, r := range sortRows(v.m.rows, q.Sort, q.Descending) {
			if !passes(r, filters) {
				continue
			}
			if filtered >= start && filtered < start+q.PageSize {
				want = append(want, r.c.ID)
			}
			filtered++
		}
		if !slices.Equal(got, want) || page.Filtered != filtered {
			t.Errorf("query %+v: got %v of %d, scan %v of %d", q, got, page.Filtered, want, filtered)
		}
		return nil
	})
}
