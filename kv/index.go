package kv

import (
	"slices"
)

// Compaction bounds of the search index: removed clients leave holes in
// its slot table, and the table is rebuilt without them once they are
// both this many and a quarter of it.
const (
	minIndexHoles  = 1024
	indexHoleShare = 4
)

// searchIndex finds the rows whose search text contains a query without
// reading every row. Every row has a slot, and for each trigram (three
// consecutive bytes) of the folded search texts the index keeps the
// ascending slots of the rows that contain it. A query of three bytes or
// more can only match the rows in every list of its trigrams.
//
// Slots ascend with client ids, so a list of slots is also in id order.
// New clients take the next slot; a removed client leaves a hole until
// compaction renumbers the rows. It changes only under the store's write
// lock, with the rows.
type searchIndex struct {
	rows  []*row                  // slot -> row; nil where a client was removed
	post  map[uint32]*postingList // trigram -> ascending slots
	holes int
}

// trigram packs three bytes of a text into one key.
func trigram(s string, i int) uint32 {
	return uint32(s[i])<<16 | uint32(s[i+1])<<8 | uint32(s[i+2])
}

// trigramsOf returns the distinct trigrams of text, ascending.
func trigramsOf(text string) []uint32 {
	if len(text) < 3 {
		return nil
	}
	out := make([]uint32, 0, len(text)-2)
	for i := 0; i+3 <= len(text); i++ {
		out = append(out, trigram(text, i))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// build indexes rows, which must be in ascending id order, from scratch.
func (x *searchIndex) build(rows []*row) {
	x.rows = slices.Clone(rows)
	x.holes = 0
	for slot, r := range x.rows {
		r.slot = uint32(slot)
	}
	x.post = postingsOf(rows)
}

// postingsOf returns the lists of the trigrams of rows, naming each row
// by its position.
func postingsOf(rows []*row) map[uint32]*postingList {
	post := map[uint32]*postingList{}
	for i, r := range rows {
		for _, t := range trigramsOf(r.hay) {
			l := post[t]
			if l == nil {
				l = &postingList{}
				post[t] = l
			}
			l.push(uint32(i))
		}
	}
	return post
}

// add gives a new client's row the next slot. It reports false, changing
// nothing, when the row's id is not above every indexed id (a deleted
// client put back by an undo): the caller must rebuild.
func (x *searchIndex) add(r *row) bool {
	if n := len(x.rows); n > 0 && x.lastID() >= r.c.ID {
		return false
	}
	r.slot = uint32(len(x.rows))
	x.rows = append(x.rows, r)
	for _, t := range trigramsOf(r.hay) {
		l := x.post[t]
		if l == nil {
			l = &postingList{}
			x.post[t] = l
		}
		l.push(r.slot)
	}
	return true
}

// lastID returns the id of the last live row, or 0.
func (x *searchIndex) lastID() int64 {
	for i := len(x.rows) - 1; i >= 0; i-- {
		if x.rows[i] != nil {
			return x.rows[i].c.ID
		}
	}
	return 0
}

// replace puts r in the slot of old, the row of the same client it
// supersedes, and moves the slot between lists where the text changed.
func (x *searchIndex) replace(old, r *row) {
	r.slot = old.slot
	x.rows[r.slot] = r
	if old.hay == r.hay {
		return
	}
	gone, came := trigramsOf(old.hay), trigramsOf(r.hay)
	for _, t := range gone {
		if _, kept := slices.BinarySearch(came, t); !kept {
			x.unlist(t, r.slot)
		}
	}
	for _, t := range came {
		if _, had := slices.BinarySearch(gone, t); !had {
			x.list(t, r.slot)
		}
	}
}

// remove frees the slot of a deleted client's row. It reports whether
// the holes have grown enough that the caller should rebuild.
func (x *searchIndex) remove(old *row) bool {
	x.rows[old.slot] = nil
	for _, t := range trigramsOf(old.hay) {
		x.unlist(t, old.slot)
	}
	x.holes++
	return x.holes >= minIndexHoles && x.holes*indexHoleShare >= len(x.rows)
}

// list inserts slot into the list of t.
func (x *searchIndex) list(t uint32, slot uint32) {
	l := x.post[t]
	if l == nil {
		l = &postingList{}
		x.post[t] = l
	}
	l.insert(slot)
}

// unlist removes slot from the list of t, and the list when it empties.
func (x *searchIndex) unlist(t uint32, slot uint32) {
	l := x.post[t]
	if l == nil {
		return
	}
	l.remove(slot)
	if l.n == 0 {
		delete(x.post, t)
	}
}

// search returns the ascending slots of the rows whose text may contain
// text, which must be folded and at least three bytes long. Every row
// that contains it is among them; exact reports that every slot does.
// The slice is the caller's.
func (x *searchIndex) search(text string) (slots []uint32, exact bool) {
	grams := trigramsOf(text)
	lists := make([]*postingList, 0, len(grams))
	for _, t := range grams {
		l, ok := x.post[t]
		if !ok {
			return nil, true
		}
		lists = append(lists, l)
	}
	slices.SortFunc(lists, func(a, b *postingList) int { return a.n - b.n })

	slots = lists[0].slots()
	for _, l := range lists[1:] {
		if len(slots) == 0 {
			break
		}
		slots = l.keep(slots)
	}
	return slots, len(text) == 3
}

// intersect keeps the elements of a, in place, that are also in b; both
// ascending. It steps through b by binary search when a is much the
// shorter, and merges otherwise.
func intersect(a, b []uint32) []uint32 {
	out := a[:0]
	if len(a)*16 < len(b) {
		for _, v := range a {
			i, found := slices.BinarySearch(b, v)
			if found {
				out = append(out, v)
			}
			b = b[i:]
		}
		return out
	}
	j := 0
	for _, v := range a {
		for j < len(b) && b[j] < v {
			j++
		}
		if j == len(b) {
			break
		}
		if b[j] == v {
			out = append(out, v)
		}
	}
	return out
}

// union merges ascending slot lists into a new one without duplicates.
func union(lists ...[]uint32) []uint32 {
	var out []uint32
	for i, l := range lists {
		if i == 0 {
			out = slices.Clone(l)
			continue
		}
		out = merge(out, l)
	}
	return out
}

// merge returns the ascending union of two ascending lists.
func merge(a, b []uint32) []uint32 {
	out := make([]uint32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}
