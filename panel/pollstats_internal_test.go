package panel

import (
	"errors"
	"testing"
	"time"
)

func TestPollRecord_add(t *testing.T) {
	since := time.Now()
	r := pollRecord{s: PollStats{Since: since}}

	r.add(time.Now().Add(-30*time.Millisecond), nil)
	first := r.get()
	if first.Rounds != 1 || first.Failures != 0 || first.LastSuccess.IsZero() {
		t.Fatalf("after a success: %+v", first)
	}
	if first.Last < 30*time.Millisecond || first.Total != first.Last {
		t.Errorf("durations after one round of 30ms: last %v total %v", first.Last, first.Total)
	}

	r.add(time.Now(), errors.New("store closed"))
	second := r.get()
	if second.Rounds != 2 || second.Failures != 1 {
		t.Errorf("after a failure: rounds %d failures %d", second.Rounds, second.Failures)
	}
	if !second.LastSuccess.Equal(first.LastSuccess) {
		t.Error("a failed round moved the last success")
	}
	if second.Total < first.Total+second.Last || !second.Since.Equal(since) {
		t.Errorf("total %v, since %v", second.Total, second.Since)
	}
}
