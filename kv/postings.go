package kv

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// blockLen is the most slots a block of a posting list holds.
const blockLen = 128

// postingList is an ascending list of slots, kept as blocks of up to
// blockLen slots, each slot after a block's first stored as its distance
// from the previous one in a uvarint. Most distances fit in a byte or
// two, so a list takes about a third of the memory of plain uint32s; a
// change rewrites one block.
type postingList struct {
	blocks []postingBlock
	n      int
}

type postingBlock struct {
	first, last uint32
	n           int32
	gaps        []byte // uvarint distances after first
}

// decode appends the block's slots to dst.
func (b *postingBlock) decode(dst []uint32) []uint32 {
	dst = append(dst, b.first)
	v := b.first
	for p := 0; p < len(b.gaps); {
		gap, w := binary.Uvarint(b.gaps[p:])
		p += w
		v += uint32(gap)
		dst = append(dst, v)
	}
	return dst
}

// encodeBlock makes one block of ascending, non-empty slots.
func encodeBlock(slots []uint32) postingBlock {
	b := postingBlock{first: slots[0], last: slots[len(slots)-1], n: int32(len(slots))}
	var gaps []byte
	for i := 1; i < len(slots); i++ {
		gaps = binary.AppendUvarint(gaps, uint64(slots[i]-slots[i-1]))
	}
	b.gaps = bytes.Clone(gaps)
	return b
}

// push appends slot, which must be above every slot in the list.
func (l *postingList) push(slot uint32) {
	l.n++
	if k := len(l.blocks) - 1; k >= 0 && l.blocks[k].n < blockLen {
		b := &l.blocks[k]
		b.gaps = binary.AppendUvarint(b.gaps, uint64(slot-b.last))
		b.last, b.n = slot, b.n+1
		if b.n == blockLen {
			b.gaps = bytes.Clone(b.gaps) // sealed: drop the append slack
		}
		return
	}
	l.blocks = append(l.blocks, postingBlock{first: slot, last: slot, n: 1})
}

// block returns the index of the block that holds slot if any list
// does: the first whose last slot is not below it.
func (l *postingList) block(slot uint32) int {
	i, _ := slices.BinarySearchFunc(l.blocks, slot, func(b postingBlock, s uint32) int {
		return cmpInt(int64(b.last), int64(s))
	})
	return i
}

// insert adds slot anywhere in the list, if it is not there.
func (l *postingList) insert(slot uint32) {
	i := l.block(slot)
	if i == len(l.blocks) {
		l.push(slot)
		return
	}
	var buf [blockLen + 1]uint32
	slots := l.blocks[i].decode(buf[:0])
	at, found := slices.BinarySearch(slots, slot)
	if found {
		return
	}
	slots = slices.Insert(slots, at, slot)
	l.n++
	if len(slots) <= blockLen {
		l.blocks[i] = encodeBlock(slots)
		return
	}
	half := len(slots) / 2
	l.blocks[i] = encodeBlock(slots[:half])
	l.blocks = slices.Insert(l.blocks, i+1, encodeBlock(slots[half:]))
}

// remove takes slot out of the list, if it is there.
func (l *postingList) remove(slot uint32) {
	i := l.block(slot)
	if i == len(l.blocks) || l.blocks[i].first > slot {
		return
	}
	var buf [blockLen]uint32
	slots := l.blocks[i].decode(buf[:0])
	at, found := slices.BinarySearch(slots, slot)
	if !found {
		return
	}
	l.n--
	slots = slices.Delete(slots, at, at+1)
	if len(slots) == 0 {
		l.blocks = slices.Delete(l.blocks, i, i+1)
		return
	}
	l.blocks[i] = encodeBlock(slots)
}

// slots returns every slot of the list, ascending.
func (l *postingList) slots() []uint32 {
	out := make([]uint32, 0, l.n)
	for i := range l.blocks {
		out = l.blocks[i].decode(out)
	}
	return out
}

// keep keeps the slots of cands, ascending, that the list holds,
// filtering cands in place. It decodes only the blocks that may hold a
// candidate, and walks each decoded block alongside the candidates.
func (l *postingList) keep(cands []uint32) []uint32 {
	out := cands[:0]
	var buf [blockLen]uint32
	var slots []uint32
	k := -1
	for _, c := range cands {
		if k < 0 || l.blocks[k].last < c {
			rest := l.blocks[k+1:]
			i, _ := slices.BinarySearchFunc(rest, c, func(b postingBlock, s uint32) int {
				return cmpInt(int64(b.last), int64(s))
			})
			if i == len(rest) {
				break
			}
			k += 1 + i
			slots = l.blocks[k].decode(buf[:0])
		}
		for len(slots) > 0 && slots[0] < c {
			slots = slots[1:]
		}
		if len(slots) > 0 && slots[0] == c {
			out = append(out, c)
		}
	}
	return out
}
