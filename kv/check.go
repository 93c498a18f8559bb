package kv

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// Check verifies the store against itself: every secondary index entry
// must follow from a primary record and every record must have all of
// its entries; the memory copy must equal what Badger holds, and the
// search index and status sets must follow from it. It returns
// every disagreement found, joined. It reads the whole database and
// blocks writes while it runs.
func (s *Store) Check() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}

	disk, _, err := s.load()
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	var errs []error
	errs = append(errs, s.checkIndexes(disk)...)
	errs = append(errs, compareMemory(s.mem, disk)...)
	errs = append(errs, checkSearchIndex(s.mem)...)
	errs = append(errs, checkStatusSets(s.mem)...)
	return errors.Join(errs...)
}

// checkIndexes compares the index entries on disk with the ones the
// records on disk call for.
func (s *Store) checkIndexes(disk *memory) []error {
	want := map[string][]byte{}
	for _, c := range disk.clients {
		for _, k := range clientIndexes(c) {
			want[k.key] = indexValue(k)
		}
	}
	for _, in := range disk.inbounds {
		for _, k := range inboundIndexes(in) {
			want[k.key] = indexValue(k)
		}
	}

	var errs []error
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			key := it.Item().Key()
			if key[0] < 'A' || key[0] > 'Z' {
				continue
			}
			val, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			exp, ok := want[string(key)]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("stray index entry %q", key))
			case !bytes.Equal(exp, val):
				errs = append(errs, fmt.Errorf("index entry %q points at the wrong record", key))
			}
			delete(want, string(key))
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("scan indexes: %w", err))
	}
	for key := range want {
		errs = append(errs, fmt.Errorf("missing index entry %q", key))
	}
	return errs
}

func indexValue(k indexKey) []byte {
	if k.unique {
		return u64(k.owner)
	}
	return nil
}

// compareMemory reports where the served copy differs from the disk.
func compareMemory(mem, disk *memory) []error {
	var errs []error
	same := func(what string, a, b any) {
		if !sameJSON(a, b) {
			errs = append(errs, fmt.Errorf("memory %s differ from disk", what))
		}
	}
	same("clients", clientEncodings(mem), clientEncodings(disk))
	same("traffic rows", trafficRows(mem), trafficRows(disk))
	errs = append(errs, checkUsageSlots(mem)...)
	same("inbounds", mem.inbounds, disk.inbounds)
	same("groups", mem.groups, disk.groups)
	same("ip lists", mem.ips, disk.ips)
	same("settings", mem.meta, disk.meta)
	same("email index", foldIDs(mem), foldIDs(disk))
	same("inbound members", nonEmpty(mem.members), nonEmpty(disk.members))

	if len(mem.rows) != len(disk.rows) {
		return append(errs, fmt.Errorf("memory has %d rows for %d clients", len(mem.rows), len(disk.rows)))
	}
	for i, r := range mem.rows {
		d := disk.rows[i]
		copies := r.used == d.used && r.total == d.total && r.expiry == d.expiry &&
			r.enable == d.enable
		if r.c.ID != d.c.ID || !sameJSON(r.t, d.t) || r.hay != d.hay || !copies {
			errs = append(errs, fmt.Errorf("memory row of client %d is stale", d.c.ID))
		}
	}
	for sub, ids := range mem.bySubID {
		if !slices.Equal(sorted(ids), sorted(disk.bySubID[sub])) {
			errs = append(errs, fmt.Errorf("memory subId index of %q is stale", sub))
		}
	}
	return errs
}

// trafficRows returns the usage rows of m by email.
func trafficRows(m *memory) map[string]*Traffic {
	out := make(map[string]*Traffic, len(m.traffic))
	for email, slot := range m.traffic {
		out[email] = slot.t
	}
	return out
}

// checkUsageSlots reports usage slots that do not point at the row of
// the client with exactly their email, or whose row shows other usage.
func checkUsageSlots(m *memory) []error {
	var errs []error
	for email, slot := range m.traffic {
		want := m.byFold[FoldEmail(email)]
		if want != nil && want.c.Email != email {
			want = nil
		}
		if slot.r != want || (want != nil && (want.t != slot.t || want.used != slot.t.Used())) {
			errs = append(errs, fmt.Errorf("usage slot of %q is stale", email))
		}
	}
	return errs
}

// foldIDs returns the email index as folded email -> client id.
func foldIDs(m *memory) map[string]int64 {
	out := make(map[string]int64, len(m.byFold))
	for fold, r := range m.byFold {
		out[fold] = r.c.ID
	}
	return out
}

func nonEmpty(m map[int64]map[int64]struct{}) map[int64]map[int64]struct{} {
	out := map[int64]map[int64]struct{}{}
	for k, v := range m {
		if len(v) > 0 {
			out[k] = v
		}
	}
	return out
}

func sorted(ids []int64) []int64 {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

// sameJSON compares two values by their encoding, which is what the disk
// holds: a nil and an empty slice, say, are the same record.
func sameJSON(a, b any) bool {
	x, errA := encode(a)
	y, errB := encode(b)
	return errA == nil && errB == nil && bytes.Equal(x, y)
}

func clientEncodings(m *memory) map[int64]string {
	out := make(map[int64]string, len(m.clients))
	for id, c := range m.clients {
		b, _ := encodeClient(c)
		out[id] = string(b)
	}
	return out
}
