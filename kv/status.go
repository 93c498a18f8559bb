package kv

import "sync"

// The status buckets a query can filter on, as indexes of
// statusSets.members.
const (
	filterOnline = iota
	filterActive
	filterDeactive
	filterDepleted
	filterExpiring
	numFilters
)

// bucketIndex returns the index of a bucket name, or -1.
func bucketIndex(name string) int {
	switch name {
	case "online":
		return filterOnline
	case "active":
		return filterActive
	case "deactive":
		return filterDeactive
	case "depleted":
		return filterDepleted
	case "expiring":
		return filterExpiring
	}
	return -1
}

// statusSets are the summary and the members of every status bucket at
// one second, computed in one pass over the rows so that a filtered
// query reads only the members of its buckets.
//
// Expiry is compared with the clock in milliseconds, so a row whose
// expiry, or the start of its expiring window, falls within the second
// may change bucket during it. Such rows are left out of members and
// kept in edge, for a query to judge at its own instant.
type statusSets struct {
	summary *Summary
	members [numFilters][]uint32 // ascending slots of the search index
	edge    []uint32
}

// statusCache keeps the status sets last computed, valid while nothing
// is committed, the clock stays in the same second and the online set
// and thresholds are unchanged.
type statusCache struct {
	mu   sync.Mutex
	key  [5]int64
	sets *statusSets
}

// status returns the status sets under st, computing them when the cache
// holds none for st's second.
func (v *View) status(st *Status) *statusSets {
	key := [5]int64{int64(v.version), st.Now / 1000, st.ExpiringMs,
		st.ExpiringBytes, int64(st.OnlineVersion)}
	cache := v.cache
	cache.mu.Lock()
	defer cache.mu.Unlock()
	if cache.sets != nil && cache.key == key {
		return cache.sets
	}
	cache.key, cache.sets = key, v.m.computeStatus(st)
	return cache.sets
}

// computeStatus counts and sorts every row into the buckets at st.
func (m *memory) computeStatus(st *Status) *statusSets {
	s := &Summary{Total: len(m.rows), Online: []string{}, Depleted: []string{},
		Expiring: []string{}, Deactive: []string{}}
	sets := &statusSets{summary: s}
	second := st.Now / 1000 * 1000
	for slot, r := range m.index.rows {
		if r == nil {
			continue
		}
		f := st.facts(r)
		s.count(f, r.c.Email)
		if st.onEdge(r, second) {
			sets.edge = append(sets.edge, uint32(slot))
			continue
		}
		for b := range numFilters {
			if f.inBucket(b) {
				sets.members[b] = append(sets.members[b], uint32(slot))
			}
		}
	}
	return sets
}

// count adds one client to the summary. The summary's classes exclude
// each other, unlike the buckets a query filters on.
func (s *Summary) count(f facts, email string) {
	if f.online {
		s.OnlineCount++
		s.Online = appendCapped(s.Online, email)
	}
	switch {
	case f.depleted:
		s.DepletedCount++
		s.Depleted = appendCapped(s.Depleted, email)
	case !f.enabled:
		s.DeactiveCount++
		s.Deactive = appendCapped(s.Deactive, email)
	case f.near:
		s.ExpiringCount++
		s.Expiring = appendCapped(s.Expiring, email)
	default:
		s.Active++
	}
}

// onEdge reports whether r's expiry or the start of its expiring window
// falls within the second starting at second (ms), where its facts
// depend on the millisecond.
func (st *Status) onEdge(r *row, second int64) bool {
	if r.expiry <= 0 {
		return false
	}
	within := func(t int64) bool { return t >= second-1 && t <= second+1000 }
	return within(r.expiry) || within(r.expiry-st.ExpiringMs)
}

// inBuckets returns the ascending slots of the rows in any of buckets,
// which must all be known, at st's instant.
func (sets *statusSets) inBuckets(x *searchIndex, buckets []string, st *Status) []uint32 {
	var want [numFilters]bool
	lists := make([][]uint32, 0, numFilters+1)
	for _, name := range buckets {
		b := bucketIndex(name)
		if !want[b] {
			want[b] = true
			lists = append(lists, sets.members[b])
		}
	}

	var edge []uint32
	for _, slot := range sets.edge {
		f := st.facts(x.rows[slot])
		for b, wanted := range want {
			if wanted && f.inBucket(b) {
				edge = append(edge, slot)
				break
			}
		}
	}
	if len(edge) > 0 {
		lists = append(lists, edge)
	}
	return union(lists...)
}

func appendCapped(list []string, email string) []string {
	if len(list) >= summaryListCap {
		return list
	}
	return append(list, email)
}
