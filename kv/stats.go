package kv

import (
	"os"
	"path/filepath"
)

// Size returns the bytes the LSM tree (.sst files) and the value log
// (.vlog files) take on disk now. Badger preallocates files, so their
// apparent sizes overstate what is used; this counts allocated blocks
// where the system reports them. Zero after Close.
func (s *Store) Size() (lsm, vlog int64) {
	if s.closed.Load() {
		return 0, 0
	}
	entries, err := os.ReadDir(s.db.Opts().Dir)
	if err != nil {
		return 0, 0
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue // removed by a compaction since the listing
		}
		switch filepath.Ext(e.Name()) {
		case ".sst":
			lsm += diskBytes(info)
		case ".vlog":
			vlog += diskBytes(info)
		}
	}
	return lsm, vlog
}

// Summary counts every client by status under st, as the paged list's
// summary does. The result is shared and cached until the next commit,
// the next second or a change of the online set; do not modify it.
func (v *View) Summary(st Status) *Summary {
	return v.status(&st).summary
}

// TrafficTotals sums the counters of every usage row, those kept after
// their client was deleted included, without copying the rows out.
func (v *View) TrafficTotals() (up, down int64) {
	for _, slot := range v.m.traffic {
		up, down = up+slot.t.Up, down+slot.t.Down
	}
	return up, down
}
