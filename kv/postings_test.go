package kv

import (
	"slices"
	"testing"
)

// FuzzPostingList applies inserts, removes and pushes read from the
// input to a posting list and to a plain sorted slice, and compares the
// two after every step, with a keep of every other slot.
func FuzzPostingList(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 1, 1, 2, 9, 0, 200, 0, 3})
	f.Add(slices.Repeat([]byte{2, 7, 0, 100}, 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		var l postingList
		var want []uint32
		for len(data) >= 2 {
			op, v := data[0], uint32(data[1])*uint32(1+data[0]>>2)
			data = data[2:]
			switch op % 3 {
			case 0:
				l.insert(v)
				if i, found := slices.BinarySearch(want, v); !found {
					want = slices.Insert(want, i, v)
				}
			case 1:
				l.remove(v)
				if i, found := slices.BinarySearch(want, v); found {
					want = slices.Delete(want, i, i+1)
				}
			case 2:
				next := v
				if len(want) > 0 {
					next += want[len(want)-1] + 1
				}
				l.push(next)
				want = append(want, next)
			}
			if got := l.slots(); !slices.Equal(got, want) || l.n != len(want) {
				t.Fatalf("slots %v (n %d), want %v", got, l.n, want)
			}
		}
		var probe, kept []uint32
		for v := range uint32(600) {
			probe = append(probe, v*2)
			if _, found := slices.BinarySearch(want, v*2); found {
				kept = append(kept, v*2)
			}
		}
		if got := l.keep(probe); !slices.Equal(got, kept) {
			t.Errorf("keep: %v, want %v", got, kept)
		}
	})
}
