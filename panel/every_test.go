package panel_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/xpanel/xpanel/panel"
)

// TestEvery calls its function until Stop, and none after it; a zero
// interval starts nothing.
func TestEvery(t *testing.T) {
	var calls atomic.Int64
	e := panel.StartEvery(time.Millisecond, func() { calls.Add(1) })
	for deadline := time.Now().Add(5 * time.Second); calls.Load() < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls in 5 s", calls.Load())
		}
		time.Sleep(time.Millisecond)
	}
	e.Stop()
	e.Stop()
	after := calls.Load()
	time.Sleep(20 * time.Millisecond)
	if calls.Load() != after {
		t.Errorf("called %d more times after Stop", calls.Load()-after)
	}

	if e := panel.StartEvery(0, func() { t.Error("called with interval 0") }); e != nil {
		t.Errorf("StartEvery(0) = %v, want nil", e)
	}
	var none *panel.Every
	none.Stop()
}
