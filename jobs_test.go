package main

import (
	"errors"
	"log/slog"
	"testing"

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
