package kv

import (
	"fmt"
	"slices"
	"time"
)

// checkSearchIndex compares the search index of mem, as commits left it,
// with one built afresh from mem's rows: the same rows in id order, each
// in its own slot, and for every trigram the same clients. Trigrams are
// reported in hex: they are pieces of credentials.
func checkSearchIndex(mem *memory) []error {
	x := &mem.index
	var errs []error
	live := make([]*row, 0, len(x.rows))
	holes := 0
	for slot, r := range x.rows {
		switch {
		case r == nil:
			holes++
		case r.slot != uint32(slot):
			errs = append(errs, fmt.Errorf("search index: row of client %d in slot %d says %d",
				r.c.ID, slot, r.slot))
		default:
			live = append(live, r)
		}
	}
	if holes != x.holes {
		errs = append(errs, fmt.Errorf("search index counts %d holes, has %d", x.holes, holes))
	}
	if !slices.Equal(live, mem.rows) {
		return append(errs, fmt.Errorf("search index rows differ from the memory rows"))
	}

	ids := func(rows []*row, slots []uint32) []int64 {
		out := make([]int64, len(slots))
		for i, slot := range slots {
			out[i] = -1 // a hole
			if int(slot) < len(rows) && rows[slot] != nil {
				out[i] = rows[slot].c.ID
			}
		}
		return out
	}
	want := map[uint32][]int64{}
	for t, at := range postingsOf(mem.rows) {
		want[t] = ids(mem.rows, at.slots())
	}
	for t, l := range x.post {
		slots := l.slots()
		if len(slots) != l.n || !slices.IsSorted(slots) || !slices.Equal(ids(x.rows, slots), want[t]) {
			errs = append(errs, fmt.Errorf("search index list of trigram %06x is stale", t))
		}
		delete(want, t)
	}
	for t := range want {
		errs = append(errs, fmt.Errorf("search index misses the list of trigram %06x", t))
	}
	return errs
}

// checkStatusSets computes the status sets of mem for now and compares
// every bucket with the facts of each row.
func checkStatusSets(mem *memory) []error {
	st := Status{Now: time.Now().UnixMilli(), ExpiringMs: 3 * 24 * 3600 * 1000,
		ExpiringBytes: 1 << 30}
	sets := mem.computeStatus(&st)
	var errs []error
	for b := range numFilters {
		var want []uint32
		for slot, r := range mem.index.rows {
			if r != nil && st.facts(r).inBucket(b) {
				want = append(want, uint32(slot))
			}
		}
		got := union(sets.members[b], filterEdge(sets, mem, &st, b))
		if !slices.Equal(got, want) {
			errs = append(errs, fmt.Errorf("status set %d has %d rows, want %d", b, len(got), len(want)))
		}
	}
	return errs
}

func filterEdge(sets *statusSets, mem *memory, st *Status, bucket int) []uint32 {
	var out []uint32
	for _, slot := range sets.edge {
		if st.facts(mem.index.rows[slot]).inBucket(bucket) {
			out = append(out, slot)
		}
	}
	return out
}
