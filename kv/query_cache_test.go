package kv_test

import (
	"fmt"
	"testing"

	"github.com/xpanel/xpanel/kv"
)

// TestView_QuerySortAfterCommit proves that a cached sort order is
// dropped by the next commit: usage that changes after a sorted query
// reorders the next one, and the status filters read the new usage.
func TestView_QuerySortAfterCommit(t *testing.T) {
	s := openStore(t)
	for _, email := range []string{"a", "b", "c"} {
		putClient(t, s, &kv.Client{Email: email, Enable: true, TotalGB: 100})
	}
	setUsage := func(email string, used int64) {
		t.Helper()
		err := s.Update(func(tx *kv.Tx) error {
			return tx.PutTraffic(&kv.Traffic{Email: email, Down: used})
		})
		if err != nil {
			t.Fatalf("set usage of %s: %v", email, err)
		}
	}
	query := func(q kv.Query) string {
		t.Helper()
		q.Page, q.PageSize = 1, 25
		var emails []string
		s.View(func(v *kv.View) error {
			for _, it := range v.Query(q, kv.Status{}).Items {
				emails = append(emails, it.Client.Email)
			}
			return nil
		})
		return fmt.Sprint(emails)
	}
	byTraffic := kv.Query{Sort: "traffic", Descending: true}

	setUsage("a", 10)
	setUsage("b", 20)
	if got := query(byTraffic); got != "[b a c]" {
		t.Fatalf("before: %s, want [b a c]", got)
	}
	setUsage("c", 100)
	if got := query(byTraffic); got != "[c b a]" {
		t.Errorf("after c used its quota: %s, want [c b a]", got)
	}
	depleted := kv.Query{Buckets: []string{"depleted"}, Sort: "traffic"}
	if got := query(depleted); got != "[c]" {
		t.Errorf("depleted: %s, want [c]", got)
	}
}

// TestView_QueryPages proves that paging a filtered, sorted query counts
// every match and returns the page's slice of them.
func TestView_QueryPages(t *testing.T) {
	s := openStore(t)
	for i := range 7 {
		putClient(t, s, &kv.Client{Email: fmt.Sprintf("c%d", i), Enable: i%2 == 0})
	}
	tests := []struct {
		page     int
		want     string
		filtered int
	}{{1, "[c6 c4]", 4}, {2, "[c2 c0]", 4}, {3, "[]", 4}}
	for _, tt := range tests {
		t.Run(fmt.Sprint("page ", tt.page), func(t *testing.T) {
			q := kv.Query{Buckets: []string{"active"}, Sort: "email", Descending: true,
				Page: tt.page, PageSize: 2}
			var page kv.Page
			s.View(func(v *kv.View) error { page = v.Query(q, kv.Status{}); return nil })
			var emails []string
			for _, it := range page.Items {
				emails = append(emails, it.Client.Email)
			}
			if fmt.Sprint(emails) != tt.want || page.Filtered != tt.filtered || page.Total != 7 {
				t.Errorf("got %v filtered %d total %d, want %s filtered %d total 7",
					emails, page.Filtered, page.Total, tt.want, tt.filtered)
			}
		})
	}
}

// TestTx_ClientsBySubID proves that a transaction sees the subIds it
// staged itself as well as the committed ones, and not the subId a
// client it changed has left.
func TestTx_ClientsBySubID(t *testing.T) {
	s := openStore(t)
	putClient(t, s, &kv.Client{Email: "old", SubID: "shared"})
	emails := func(cs []*kv.Client) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Email)
		}
		return fmt.Sprint(out)
	}

	err := s.Update(func(tx *kv.Tx) error {
		if err := tx.PutClient(&kv.Client{Email: "new", SubID: "shared"}); err != nil {
			return err
		}
		if got := emails(tx.ClientsBySubID("shared")); got != "[old new]" {
			t.Errorf("staged and committed: %s, want [old new]", got)
		}
		old, err := tx.ClientByEmail("old")
		if err != nil {
			return err
		}
		moved := old.Clone()
		moved.SubID = "own"
		if err := tx.PutClient(moved); err != nil {
			return err
		}
		if got := emails(tx.ClientsBySubID("shared")); got != "[new]" {
			t.Errorf("after old moved away: %s, want [new]", got)
		}
		if got := emails(tx.ClientsBySubID("own")); got != "[old]" {
			t.Errorf("moved subId: %s, want [old]", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
}
