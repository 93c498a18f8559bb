package panel

import (
	"slices"
	"testing"
	"time"
)

func TestSightings_observe(t *testing.T) {
	s := NewSightings(20 * time.Second)
	t0 := time.Date(2026, 4, 20, 12, 0, 0, 0, time.UTC)

	joined := s.observe(t0, []string{"a", "b"}, []string{"in-1"})
	if len(joined) != 2 {
		t.Errorf("joined = %v, want a and b", joined)
	}
	_, v1 := s.Online()

	if joined := s.observe(t0.Add(10*time.Second), []string{"a"}, nil); len(joined) != 0 {
		t.Errorf("joined again within the grace: %v", joined)
	}
	set, v2 := s.Online()
	if len(set) != 2 || v2 != v1 {
		t.Errorf("within the grace online = %v version %d -> %d, want both, same version", set, v1, v2)
	}

	left := s.observe(t0.Add(25*time.Second), nil, nil)
	if len(left) != 1 || left[0].Kind != EventOffline || left[0].Email != "b" {
		t.Errorf("after b's grace events = %v, want b offline", left)
	}
	set, v3 := s.Online()
	if _, ok := set["a"]; !ok || len(set) != 1 || v3 == v2 {
		t.Errorf("after b's grace online = %v version %d -> %d, want only a, new version", set, v2, v3)
	}
	if got := s.ActiveInbounds(); !slices.Equal(got, []string{}) && got != nil {
		t.Errorf("active inbounds after their grace = %v", got)
	}
}
