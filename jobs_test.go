package main

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/panel"
)

// TestPeriodic_Run recovers a round that panics, counts it, and runs
// the next round; a failed round is logged, not counted.
func TestPeriodic_Run(t *testing.T) {
	var faults panel.Faults
	rounds := 0
	p := &periodic{name: "test job", faults: &faults, log: slog.New(slog.DiscardHandler),
		round: func() error {
			rounds++
			switch rounds {
			case 1:
				panic("round exploded")
			case 2:
				return errors.New("round failed")
			}
			return nil
		}}
	p.Open() // interval 0: starts nothing
	for range 3 {
		p.Run()
	}
	p.Close()
	if rounds != 3 || faults.Count() != 1 {
		t.Errorf("%d rounds, %d faults; want 3 rounds, 1 fault", rounds, faults.Count())
	}
}

// TestUsageFold_Run writes back the usage rows a poll counted on and
// leaves no usage record behind.
func TestUsageFold_Run(t *testing.T) {
	store := kvtest.Open(t)
	err := store.Update(func(tx *kv.Tx) error {
		if err := tx.PutClient(&kv.Client{Email: "a", Enable: true}); err != nil {
			return err
		}
		return tx.PutTraffic(&kv.Traffic{Email: "a", Enable: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = store.Update(func(tx *kv.Tx) error {
		tx.AddUsage("a", kv.UsageDelta{Up: 5, Down: 7})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if records, rows := store.UsageBacklog(); records != 1 || rows != 1 {
		t.Fatalf("backlog before the fold: %d records, %d rows; want 1, 1", records, rows)
	}

	var faults panel.Faults
	newUsageFold(store, &faults, slog.New(slog.DiscardHandler)).Run()
	if records, rows := store.UsageBacklog(); records != 0 || rows != 0 || faults.Count() != 0 {
		t.Fatalf("after the fold: %d records, %d rows, %d faults; want none",
			records, rows, faults.Count())
	}
}
