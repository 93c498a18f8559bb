package kv

// Size returns the bytes the LSM tree and the value log take on disk, as
// Badger last measured them: when the store opened and then once a
// minute, so a figure may be up to a minute old.
func (s *Store) Size() (lsm, vlog int64) {
	if s.closed.Load() {
		return 0, 0
	}
	return s.db.Size()
}

// Summary counts every client by status under st, as the paged list's
// summary does. The result is shared and cached until the next commit,
// the next second or a change of the online set; do not modify it.
func (v *View) Summary(st Status) *Summary {
	return v.summary(&st)
}

// TrafficTotals sums the counters of every usage row, those kept after
// their client was deleted included, without copying the rows out.
func (v *View) TrafficTotals() (up, down int64) {
	for _, t := range v.m.traffic {
		up, down = up+t.Up, down+t.Down
	}
	return up, down
}
