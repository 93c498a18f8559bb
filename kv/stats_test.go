package kv_test

import (
	"testing"

	"github.com/xpanel/xpanel/kv"
)

func TestView_TrafficTotals(t *testing.T) {
	s := openStore(t)
	err := s.Update(func(tx *kv.Tx) error {
		if err := tx.PutClient(&kv.Client{Email: "a", Enable: true}); err != nil {
			return err
		}
		if err := tx.PutTraffic(&kv.Traffic{Email: "a", Up: 10, Down: 100}); err != nil {
			return err
		}
		// A row kept after its client was deleted still counts.
		return tx.PutTraffic(&kv.Traffic{Email: "gone", Up: 1, Down: 2})
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(func(v *kv.View) error {
		if up, down := v.TrafficTotals(); up != 11 || down != 102 {
			t.Errorf("totals %d up %d down, want 11 and 102", up, down)
		}
		sum := v.Summary(kv.Status{Now: 1})
		if sum.Total != 1 || sum.Active != 1 {
			t.Errorf("summary %+v, want one active client", sum)
		}
		return nil
	})
	// The value log exists from the start.
	if lsm, vlog := s.Size(); lsm < 0 || vlog <= 0 {
		t.Errorf("size %d lsm, %d vlog", lsm, vlog)
	}
}
