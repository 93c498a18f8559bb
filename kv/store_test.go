package kv_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/kv/kvtest"
)

// openStore opens a store in a temporary directory. When the test ends it
// checks every index and the memory copy against the records, then
// closes the store.
func openStore(t testing.TB) *kv.Store {
	t.Helper()
	return kvtest.Open(t)
}

func openStoreAt(t testing.TB, dir string) *kv.Store {
	t.Helper()
	return kvtest.OpenAt(t, dir)
}

func putClient(t testing.TB, s *kv.Store, c *kv.Client) {
	t.Helper()
	if err := s.Update(func(tx *kv.Tx) error { return tx.PutClient(c) }); err != nil {
		t.Fatalf("put client %s: %v", c.Email, err)
	}
}

func TestStore_PutClient(t *testing.T) {
	s := openStore(t)
	putClient(t, s, &kv.Client{Email: "Alice@x", SubID: "s1", Enable: true,
		Inbounds: []kv.Attachment{{InboundID: 2}, {InboundID: 1}}})

	s.View(func(v *kv.View) error {
		c := v.ClientByEmail("Alice@x")
		if c == nil || c.ID != 1 {
			t.Fatalf("ClientByEmail = %+v, want id 1", c)
		}
		if v.ClientByEmail("alice@x") != nil {
			t.Error("exact lookup matched another case")
		}
		if v.ClientByFold("ALICE@X") != c {
			t.Error("folded lookup missed")
		}
		if got := c.InboundIDs(); len(got) != 2 || got[0] != 1 {
			t.Errorf("InboundIDs = %v, want [1 2]", got)
		}
		if n := len(v.ClientsInInbound(2)); n != 1 {
			t.Errorf("ClientsInInbound(2) has %d clients, want 1", n)
		}
		return nil
	})
}

func TestStore_UniqueIndexes(t *testing.T) {
	s := openStore(t)
	putClient(t, s, &kv.Client{Email: "alice", UUID: "b831381d-6324-4d53-ad4f-8cda48b30811"})

	cases := map[string]*kv.Client{
		"email folded": {Email: "ALICE"},
		"uuid bytes 6-7": {Email: "bob",
			UUID: "b831381d-6324-ffff-ad4f-8cda48b30811"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := s.Update(func(tx *kv.Tx) error { return tx.PutClient(c) })
			var ue *kv.UniqueError
			if !errors.As(err, &ue) || ue.Owner != 1 {
				t.Fatalf("err = %v, want a UniqueError owned by 1", err)
			}
		})
	}
	s.View(func(v *kv.View) error {
		if n := v.ClientCount(); n != 1 {
			t.Errorf("%d clients stored, want 1", n)
		}
		return nil
	})
}

func TestStore_UpdateRollsBack(t *testing.T) {
	s := openStore(t)
	err := s.Update(func(tx *kv.Tx) error {
		if err := tx.PutClient(&kv.Client{Email: "a"}); err != nil {
			return err
		}
		return fmt.Errorf("refused")
	})
	if err == nil {
		t.Fatal("Update returned nil for a failing fn")
	}
	s.View(func(v *kv.View) error {
		if v.ClientCount() != 0 {
			t.Error("a failed update left a client behind")
		}
		return nil
	})
}

func TestStore_Reopen(t *testing.T) {
	dir := t.TempDir()
	s, err := kv.Open(dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	putClient(t, s, &kv.Client{Email: "a", TotalGB: 10})
	s.Update(func(tx *kv.Tx) error {
		return tx.PutTraffic(&kv.Traffic{Email: "a", Up: 7, Enable: true})
	})
	s.Close()

	s = openStoreAt(t, dir)
	s.View(func(v *kv.View) error {
		if v.ClientByEmail("a") == nil || v.Traffic("a").Up != 7 {
			t.Error("records lost across reopen")
		}
		return nil
	})
	putClient(t, s, &kv.Client{Email: "b"})
	s.View(func(v *kv.View) error {
		if c := v.ClientByEmail("b"); c == nil || c.ID != 2 {
			t.Errorf("id sequence restarted: %+v", c)
		}
		return nil
	})
}

func TestStore_ConcurrentSameEmail(t *testing.T) {
	s := openStore(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 50 {
		wg.Go(func() {
			err := s.Update(func(tx *kv.Tx) error {
				if c, _ := tx.ClientByFold("same"); c != nil {
					return errors.New("taken")
				}
				return tx.PutClient(&kv.Client{Email: "same"})
			})
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent adds of one email won, want 1", wins)
	}
}

func TestView_Query(t *testing.T) {
	s := openStore(t)
	now := int64(1_000_000_000_000)
	day := int64(86_400_000)
	clients := []*kv.Client{
		{Email: "active", Enable: true},
		{Email: "disabled", Enable: false, Comment: "Blocked_user"},
		{Email: "expired", Enable: true, ExpiryTime: now - day},
		{Email: "soon", Enable: true, ExpiryTime: now + day},
		{Email: "quota", Enable: true, TotalGB: 100},
	}
	for _, c := range clients {
		putClient(t, s, c)
	}
	s.Update(func(tx *kv.Tx) error {
		return tx.PutTraffic(&kv.Traffic{Email: "quota", Up: 60, Down: 40})
	})
	st := kv.Status{Now: now, ExpiringMs: 3 * day}

	cases := []struct {
		name string
		q    kv.Query
		want []string
	}{
		{"all", kv.Query{}, []string{"active", "disabled", "expired", "soon", "quota"}},
		{"depleted", kv.Query{Buckets: []string{"depleted"}}, []string{"expired", "quota"}},
		{"expiring", kv.Query{Buckets: []string{"expiring"}}, []string{"soon"}},
		{"active", kv.Query{Buckets: []string{"active"}}, []string{"active", "soon"}},
		{"unknown bucket", kv.Query{Buckets: []string{"x"}}, []string{"active", "disabled", "expired", "soon", "quota"}},
		{"search literal underscore", kv.Query{Search: "d_u"}, []string{"disabled"}},
		{"sort email desc", kv.Query{Sort: "email", Descending: true}, []string{"soon", "quota", "expired", "disabled", "active"}},
		{"sort traffic desc", kv.Query{Sort: "traffic", Descending: true}, []string{"quota", "active", "disabled", "expired", "soon"}},
		{"sort expiry", kv.Query{Sort: "expiryTime"}, []string{"expired", "soon", "active", "disabled", "quota"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Page, tc.q.PageSize = 1, 25
			var page kv.Page
			s.View(func(v *kv.View) error { page = v.Query(tc.q, st); return nil })
			var got []string
			for _, it := range page.Items {
				got = append(got, it.Client.Email)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			sum := page.Summary
			if sum.Active+sum.DepletedCount+sum.ExpiringCount+sum.DeactiveCount != sum.Total {
				t.Errorf("summary buckets do not add up: %+v", sum)
			}
		})
	}
}
