package kv

import (
	"cmp"
	"math/bits"
	"slices"
	"strings"
	"sync"
)

// Unlimited is the sort key of an unlimited quota or a never-ending
// expiry: it sorts after every real value.
const Unlimited int64 = 1<<62 - 1

// summaryListCap bounds each email list of a Summary.
const summaryListCap = 200

// Query selects, sorts and pages clients. Fields left zero do not narrow.
type Query struct {
	Search     string   // substring of email, subId, comment, credentials, tgId
	Buckets    []string // online, active, deactive, depleted, expiring (OR)
	Protocols  []string // attached to an inbound of one of these protocols
	Inbounds   []int64  // attached to one of these inbounds
	ExpiryFrom int64    // with ExpiryTo: expiry within, inclusive (ms)
	ExpiryTo   int64
	UsageFrom  int64  // used bytes at least
	UsageTo    int64  // used bytes at most
	AutoRenew  string // "on" or "off"
	HasTgID    string // "yes" or "no"
	HasComment string // "yes" or "no"
	Groups     []string
	Sort       string // enable, email, inboundIds, traffic, remaining, expiryTime, createdAt, updatedAt, lastOnline
	Descending bool
	Page       int // 1-based
	PageSize   int
}

// Status holds what a client's status depends on besides its records.
type Status struct {
	Now           int64 // ms
	ExpiringMs    int64 // expiring when the expiry is closer than this
	ExpiringBytes int64 // expiring when less than this quota is left
	Online        map[string]struct{}
	OnlineVersion uint64 // changes whenever Online does
}

// Item is one client of a page with its usage row (nil when none).
type Item struct {
	Client  *Client
	Traffic *Traffic
}

// Page is one page of a query's result.
type Page struct {
	Items    []Item
	Total    int // every client
	Filtered int // clients the query matched
	Page     int
	PageSize int
	Summary  *Summary
	Groups   []string
}

// Summary counts every client by status, independent of any filter.
type Summary struct {
	Total         int      `json:"total"`
	Active        int      `json:"active"`
	OnlineCount   int      `json:"onlineCount"`
	DepletedCount int      `json:"depletedCount"`
	ExpiringCount int      `json:"expiringCount"`
	DeactiveCount int      `json:"deactiveCount"`
	Online        []string `json:"online"`
	Depleted      []string `json:"depleted"`
	Expiring      []string `json:"expiring"`
	Deactive      []string `json:"deactive"`
}

// facts are the status predicates of one client at one moment.
type facts struct {
	enabled, depleted, near, online bool
}

func (st *Status) facts(r *row) facts {
	f := facts{enabled: r.enable}
	f.depleted = (r.total > 0 && r.used >= r.total) ||
		(r.expiry > 0 && r.expiry <= st.Now)
	f.near = (r.expiry > 0 && r.expiry-st.Now < st.ExpiringMs) ||
		(r.total > 0 && r.total-r.used < st.ExpiringBytes)
	if f.enabled && st.Online != nil {
		_, f.online = st.Online[r.c.Email]
	}
	return f
}

// inBucket reports whether the facts put a client in the bucket.
func (f facts) inBucket(bucket int) bool {
	switch bucket {
	case filterActive:
		return f.enabled && !f.depleted
	case filterDeactive:
		return !f.enabled
	case filterDepleted:
		return f.depleted
	case filterExpiring:
		return f.enabled && !f.depleted && f.near
	case filterOnline:
		return f.online
	}
	return false
}

// Query runs q against every client under the status st.
//
// The search text and the status buckets are answered from indexes: the
// search index gives the few rows that may contain the text and the
// status sets the members of each bucket, so such a query reads only
// those rows. Any other condition is tested on the rows that remain, or
// on every row when neither narrows.
//
// Rows come out in the requested order, sorted once per commit and
// cached, because sorting 100,000 rows on every request cost tens of
// milliseconds. Filtering a sorted list gives the same sequence as
// sorting the filtered one, since ties break by id.
func (v *View) Query(q Query, st Status) Page {
	sets := v.status(&st)
	page := Page{
		Total:    len(v.m.rows),
		Page:     q.Page,
		PageSize: q.PageSize,
		Summary:  sets.summary,
		Groups:   v.GroupNames(),
	}
	start := max(q.Page-1, 0) * q.PageSize
	end := start + q.PageSize
	slots, narrowed := v.narrow(&q, &st, sets)
	filters := v.filters(&q, &st)
	order := v.ordered(q.Sort, q.Descending)
	if narrowed {
		v.pick(&page, order, keep(v.m.index.rows, slots, filters), start, end)
		return page
	}

	rows := order.rows
	page.Items = make([]Item, 0, max(min(end, len(rows))-start, 0))
	if len(filters) == 0 {
		page.Filtered = len(rows)
		for _, r := range rows[min(start, len(rows)):min(end, len(rows))] {
			page.Items = append(page.Items, Item{Client: r.c, Traffic: r.t})
		}
		return page
	}
	for _, r := range rows {
		if !passes(r, filters) {
			continue
		}
		if page.Filtered >= start && page.Filtered < end {
			page.Items = append(page.Items, Item{Client: r.c, Traffic: r.t})
		}
		page.Filtered++
	}
	return page
}

// narrow answers the search text and the status buckets of q from the
// indexes, when it has them. It returns the ascending slots of the rows
// that may match, reports whether it narrowed at all, and clears from q
// the conditions every slot it returns meets.
func (v *View) narrow(q *Query, st *Status, sets *statusSets) ([]uint32, bool) {
	var slots []uint32
	narrowed := false
	if len(q.Buckets) > 0 && !slices.ContainsFunc(q.Buckets, unknownBucket) {
		slots, narrowed = sets.inBuckets(&v.m.index, q.Buckets, st), true
		q.Buckets = nil
	}
	// TODO(search): a text under three bytes has no trigram and is tested
	// on every row (or every member of the buckets asked for).
	text := strings.ToLower(q.Search)
	if len(text) < 3 || (narrowed && len(slots) == 0) {
		return slots, narrowed
	}
	found, exact := v.m.index.search(text)
	if exact {
		q.Search = ""
	}
	if narrowed {
		return intersect(found, slots), true
	}
	return found, true
}

// keep returns the slots, filtered in place, whose rows pass filters.
func keep(rows []*row, slots []uint32, filters []filter) []uint32 {
	if len(filters) == 0 {
		return slots
	}
	out := slots[:0]
	for _, slot := range slots {
		if passes(rows[slot], filters) {
			out = append(out, slot)
		}
	}
	return out
}

// pick fills the page with the rows of the matching slots that fall on
// it in order o.
func (v *View) pick(page *Page, o *order, matched []uint32, start, end int) {
	page.Filtered = len(matched)
	start, end = min(start, len(matched)), min(end, len(matched))
	page.Items = make([]Item, 0, end-start)
	if o.rank == nil {
		for _, slot := range matched[start:end] {
			r := v.m.index.rows[slot]
			page.Items = append(page.Items, Item{Client: r.c, Traffic: r.t})
		}
		return
	}
	for _, at := range o.positions(matched, start, end) {
		r := o.rows[at]
		page.Items = append(page.Items, Item{Client: r.c, Traffic: r.t})
	}
}

func passes(r *row, filters []filter) bool {
	for _, keep := range filters {
		if !keep(r) {
			return false
		}
	}
	return true
}

type filter func(r *row) bool

// filters turns a query into predicates, cheapest first.
func (v *View) filters(q *Query, st *Status) []filter {
	var fs []filter
	if q.Search != "" {
		fs = append(fs, newMatcher(q.Search).match)
	}
	if len(q.Buckets) > 0 && !slices.ContainsFunc(q.Buckets, unknownBucket) {
		fs = append(fs, func(r *row) bool {
			f := st.facts(r)
			for _, b := range q.Buckets {
				if f.inBucket(bucketIndex(b)) {
					return true
				}
			}
			return false
		})
	}
	if len(q.Protocols) > 0 {
		fs = append(fs, attachedToAny(v.inboundsOf(q.Protocols)))
	}
	if len(q.Inbounds) > 0 {
		ids := map[int64]bool{}
		for _, id := range q.Inbounds {
			ids[id] = true
		}
		fs = append(fs, attachedToAny(ids))
	}
	if q.ExpiryFrom > 0 || q.ExpiryTo > 0 {
		fs = append(fs, func(r *row) bool {
			e := r.c.ExpiryTime
			return e > 0 && (q.ExpiryFrom <= 0 || e >= q.ExpiryFrom) &&
				(q.ExpiryTo <= 0 || e <= q.ExpiryTo)
		})
	}
	if q.UsageFrom > 0 || q.UsageTo > 0 {
		fs = append(fs, func(r *row) bool {
			u := r.used
			return (q.UsageFrom <= 0 || u >= q.UsageFrom) && (q.UsageTo <= 0 || u <= q.UsageTo)
		})
	}
	fs = appendSwitch(fs, q.AutoRenew, "on", "off", func(r *row) bool {
		return r.c.Reset > 0 || r.c.ResetDay > 0
	})
	fs = appendSwitch(fs, q.HasTgID, "yes", "no", func(r *row) bool { return r.c.TgID != 0 })
	fs = appendSwitch(fs, q.HasComment, "yes", "no", func(r *row) bool {
		return strings.TrimSpace(r.c.Comment) != ""
	})
	if len(q.Groups) > 0 {
		fs = append(fs, func(r *row) bool {
			return slices.Contains(q.Groups, FoldGroup(r.c.Group))
		})
	}
	return fs
}

// appendSwitch adds pred when value is on, its negation when value is
// off, and nothing otherwise.
func appendSwitch(fs []filter, value, on, off string, pred filter) []filter {
	switch value {
	case on:
		return append(fs, pred)
	case off:
		return append(fs, func(r *row) bool { return !pred(r) })
	}
	return fs
}

func unknownBucket(b string) bool {
	return bucketIndex(b) < 0
}

// inboundsOf returns the ids of the inbounds of the protocols.
func (v *View) inboundsOf(protocols []string) map[int64]bool {
	ids := map[int64]bool{}
	for id, in := range v.m.inbounds {
		if slices.Contains(protocols, strings.ToLower(in.Protocol)) {
			ids[id] = true
		}
	}
	return ids
}

func attachedToAny(ids map[int64]bool) filter {
	return func(r *row) bool {
		for _, a := range r.c.Inbounds {
			if ids[a.InboundID] {
				return true
			}
		}
		return false
	}
}

// sortKey is a row with the value it sorts by.
type sortKey struct {
	n int64
	s string
	r *row
}

// sortRows returns rows ordered by the named key, leaving rows as they
// were. Unknown keys keep id order. Ties break by ascending id, except for
// the timestamp keys, whose ties follow the sort direction.
func sortRows(rows []*row, key string, desc bool) []*row {
	value, ok := sortValues[key]
	if !ok {
		return rows
	}
	keys := make([]sortKey, len(rows))
	for i, r := range rows {
		keys[i] = value(r)
		keys[i].r = r
	}
	tieFollows := key == "createdAt" || key == "updatedAt" || key == "lastOnline"
	slices.SortFunc(keys, func(a, b sortKey) int {
		c := cmp.Or(cmp.Compare(a.n, b.n), strings.Compare(a.s, b.s))
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		if tieFollows && desc {
			return cmpInt(b.r.c.ID, a.r.c.ID)
		}
		return cmpInt(a.r.c.ID, b.r.c.ID)
	})
	out := make([]*row, len(keys))
	for i := range keys {
		out[i] = keys[i].r
	}
	return out
}

var sortValues = map[string]func(r *row) sortKey{
	"enable": func(r *row) sortKey { return sortKey{n: boolInt(r.c.Enable)} },
	"email":  func(r *row) sortKey { return sortKey{s: strings.ToLower(r.c.Email)} },
	"inboundIds": func(r *row) sortKey {
		return sortKey{n: int64(len(r.c.Inbounds))}
	},
	"traffic": func(r *row) sortKey { return sortKey{n: r.used} },
	"remaining": func(r *row) sortKey {
		if r.total <= 0 {
			return sortKey{n: Unlimited}
		}
		return sortKey{n: r.total - r.used}
	},
	"expiryTime": func(r *row) sortKey {
		if r.c.ExpiryTime <= 0 {
			return sortKey{n: Unlimited}
		}
		return sortKey{n: r.c.ExpiryTime}
	},
	"createdAt": func(r *row) sortKey { return sortKey{n: r.c.CreatedAt} },
	"updatedAt": func(r *row) sortKey { return sortKey{n: r.c.UpdatedAt} },
	"lastOnline": func(r *row) sortKey {
		if r.t == nil {
			return sortKey{}
		}
		return sortKey{n: r.t.LastOnline}
	},
}

// order is every row in one sort order. rank gives the position in rows
// of the row in each slot of the search index; it is nil for id order,
// where slots ascend with the rows.
type order struct {
	rows []*row
	rank []int32
}

// positions returns the positions in o of the rows of slots that come
// start-th to end-th among them in o, ascending.
func (o *order) positions(slots []uint32, start, end int) []int32 {
	if len(slots) <= 4096 {
		ranks := make([]int32, len(slots))
		for i, slot := range slots {
			ranks[i] = o.rank[slot]
		}
		slices.Sort(ranks)
		return ranks[start:end]
	}

	// Many matches: mark their positions in a bitmap and read it in order.
	marks := make([]uint64, (len(o.rows)+63)/64)
	for _, slot := range slots {
		at := o.rank[slot]
		marks[at/64] |= 1 << (at % 64)
	}
	out := make([]int32, 0, end-start)
	seen := 0
	for w, word := range marks {
		n := bits.OnesCount64(word)
		if seen+n <= start {
			seen += n
			continue
		}
		for ; word != 0 && seen < end; word &= word - 1 {
			if seen >= start {
				out = append(out, int32(w*64+bits.TrailingZeros64(word)))
			}
			seen++
		}
		if seen >= end {
			break
		}
	}
	return out
}

// ordered returns every row in the order of the sort key, id order for
// an unknown or empty one. The order is shared: callers must not modify
// it.
func (v *View) ordered(key string, desc bool) *order {
	if _, ok := sortValues[key]; !ok {
		return &order{rows: v.m.rows}
	}
	return v.orders.get(v.version, orderKey{key, desc}, func() *order {
		rows := sortRows(v.m.rows, key, desc)
		rank := make([]int32, len(v.m.index.rows))
		for i, r := range rows {
			rank[r.slot] = int32(i)
		}
		return &order{rows: rows, rank: rank}
	})
}

// orderKey names one sorted order of the rows.
type orderKey struct {
	sort string
	desc bool
}

// maxOrders bounds the orders cached at once; each holds a pointer and
// a rank per client.
const maxOrders = 4

// orderCache keeps the sorted orders of the rows asked for since the last
// commit. Sort keys do not depend on the clock, so an order stays valid
// until the next commit.
type orderCache struct {
	mu      sync.Mutex
	version uint64
	orders  map[orderKey]*order
}

// get returns the order under key at version, sorting it with sort when
// it is not cached. Concurrent callers wait for one sort rather than
// each doing their own.
func (c *orderCache) get(version uint64, key orderKey, sort func() *order) *order {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.orders == nil || c.version != version {
		c.version, c.orders = version, make(map[orderKey]*order, maxOrders)
	}
	if o, ok := c.orders[key]; ok {
		return o
	}
	if len(c.orders) >= maxOrders {
		clear(c.orders)
	}
	o := sort()
	c.orders[key] = o
	return o
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
