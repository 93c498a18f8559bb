package kv

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// memory is the read side of the store: every committed record, plus the
// per-client rows that list queries scan. It changes only in apply, under
// the store's write lock; records in it are never modified in place.
//
// TODO(memory): records are held decoded, with maps and rows, about 1 KB
// a client; the 150 MB target at 100,000 clients needs a packed layout.
type memory struct {
	clients  map[int64]*Client
	rows     []*row          // one per client, ascending id
	byFold   map[string]*row // folded email -> the client's row
	bySubID  map[string][]int64
	members  map[int64]map[int64]struct{} // inbound id -> client ids
	traffic  map[string]*usageSlot        // by exact email
	inbounds map[int64]*Inbound
	groups   map[string]*Group
	ips      map[string][]IPEntry
	meta     map[string]string
	index    searchIndex // over rows
}

// usageSlot holds one email's usage row in memory, and the row of the
// client with exactly that email, if there is one. A traffic poll counts
// bytes on most rows at once; AddUsage finds the slot, and the commit
// then updates both through it without looking either up again.
type usageSlot struct {
	t      *Traffic
	r      *row // nil when no client has exactly this email
	behind bool // the copy on disk lacks bytes of some usage record

	// pending is the row as the write transaction numbered tx counted
	// it, until that transaction is applied or abandoned. Only the
	// writer, holding the store's write lock, reads or writes these.
	pending *Traffic
	tx      uint64
}

// trafficOf returns the usage row of exactly this email, or nil.
func (m *memory) trafficOf(email string) *Traffic {
	if slot := m.traffic[email]; slot != nil {
		return slot.t
	}
	return nil
}

// row is what a list query needs of one client, precomputed: the record,
// its usage row, the folded text a search matches against, and its slot
// in the search index.
//
// It also copies the few numbers the status filters read, so that a scan
// of every row reads the rows alone: following c and t to their records,
// scattered over the heap, costs a cache miss each and made the scan of
// 100,000 clients several times slower.
type row struct {
	c    *Client
	t    *Traffic
	hay  string
	slot uint32

	used   int64 // t.Used()
	total  int64 // c.TotalGB
	expiry int64 // c.ExpiryTime
	enable bool  // c.Enable
}

func newMemory() *memory {
	return &memory{
		clients:  map[int64]*Client{},
		byFold:   map[string]*row{},
		bySubID:  map[string][]int64{},
		members:  map[int64]map[int64]struct{}{},
		traffic:  map[string]*usageSlot{},
		inbounds: map[int64]*Inbound{},
		groups:   map[string]*Group{},
		ips:      map[string][]IPEntry{},
		meta:     map[string]string{},
	}
}

// load reads every primary record into a fresh memory and replays the
// usage records over the usage rows.
func (s *Store) load() (*memory, *usageState, error) {
	m := newMemory()
	replay := newUsageReplay()
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			took, err := replay.loadItem(m, it.Item())
			if err == nil && !took {
				err = m.loadItem(it.Item())
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	m.rebuildRows()
	m.index.build(m.rows)
	return m, &replay.state, nil
}

func (m *memory) loadItem(item *badger.Item) error {
	key := item.Key()
	switch key[0] {
	case pClient:
		var c *Client
		err := item.Value(func(b []byte) (err error) { c, err = decodeClient(b); return err })
		if err != nil {
			return fmt.Errorf("decode client record: %w", err)
		}
		m.putClient(c, false)
	case pInbound:
		in, err := decode[Inbound](item)
		if err != nil {
			return err
		}
		m.inbounds[in.ID] = in
	case pGroup:
		g, err := decode[Group](item)
		if err != nil {
			return err
		}
		m.groups[g.Name] = g
	case pIPs:
		ips, err := decode[[]IPEntry](item)
		if err != nil {
			return err
		}
		m.ips[string(key[1:])] = *ips
	case pMeta:
		return item.Value(func(v []byte) error {
			m.meta[string(key[1:])] = string(v)
			return nil
		})
	}
	return nil
}

// apply folds a committed transaction into memory.
func (m *memory) apply(tx *Tx) {
	m.applyWholeTraffic(tx)
	for id, in := range tx.inbound {
		if in == nil {
			delete(m.inbounds, id)
		} else {
			m.inbounds[id] = in
		}
	}
	m.applyClients(tx)
	m.applyUsage(tx)
	for name, g := range tx.groups {
		if g == nil {
			delete(m.groups, name)
		} else {
			m.groups[name] = g
		}
	}
	for email, ips := range tx.ips {
		m.ips[email] = ips
	}
	for key := range tx.deleted {
		if email, ok := cutIPKey(key); ok {
			delete(m.ips, email)
		}
	}
	for k, v := range tx.meta {
		m.meta[k] = v
	}
}

// applyClients replaces, adds and removes client records and keeps the
// id-ordered rows and the search index in step. New ids are larger than
// every existing one, so adds append; a commit that removes clients
// filters the rows once.
func (m *memory) applyClients(tx *Tx) {
	removed, rebuild := false, false
	ids := make([]int64, 0, len(tx.clients))
	for id := range tx.clients {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c := tx.clients[id]
		var old *row
		if prev := m.clients[id]; prev != nil {
			old = m.row(id)
			m.dropClient(prev)
		}
		if c == nil {
			removed = true
			rebuild = m.index.remove(old) || rebuild
			continue
		}
		r := m.putClient(c, true)
		if old != nil {
			m.index.replace(old, r)
		} else if !m.index.add(r) {
			rebuild = true
		}
	}
	if removed {
		m.rows = slices.DeleteFunc(m.rows, func(r *row) bool { return m.clients[r.c.ID] == nil })
	}
	if rebuild {
		m.index.build(m.rows)
	}
}

// applyWholeTraffic stores the usage rows tx wrote whole or deleted,
// and points the rows of their clients at them.
func (m *memory) applyWholeTraffic(tx *Tx) {
	for email := range tx.whole {
		t, slot := tx.traffic[email], m.traffic[email]
		switch {
		case t == nil && slot != nil:
			delete(m.traffic, email)
			slot.r.setTraffic(nil)
		case t == nil:
		case slot == nil:
			slot = &usageSlot{t: t, r: m.byFold[FoldEmail(email)]}
			if slot.r != nil && slot.r.c.Email != email {
				slot.r = nil
			}
			m.traffic[email] = slot
			slot.r.setTraffic(t)
		default:
			slot.t, slot.behind = t, false
			slot.r.setTraffic(t)
		}
	}
}

// applyUsage stores the usage rows tx counted bytes on. It runs after
// the clients are applied, so that slot.r names each row's client as the
// commit leaves it.
func (m *memory) applyUsage(tx *Tx) {
	for _, e := range tx.usage {
		slot := e.slot
		if slot == nil {
			slot = m.traffic[e.email]
		}
		if slot == nil {
			continue // cannot be: a count needs a row, and whole writes are applied
		}
		slot.t, slot.behind = e.after, true
		slot.r.setTraffic(e.after)
	}
}

// putClient adds c to the maps and, withRow, to the rows; it returns
// the new row, or nil.
func (m *memory) putClient(c *Client, withRow bool) *row {
	m.clients[c.ID] = c
	if c.SubID != "" {
		m.bySubID[c.SubID] = append(m.bySubID[c.SubID], c.ID)
	}
	for _, a := range c.Inbounds {
		set := m.members[a.InboundID]
		if set == nil {
			set = map[int64]struct{}{}
			m.members[a.InboundID] = set
		}
		set[c.ID] = struct{}{}
	}
	if !withRow {
		return nil
	}
	slot := m.traffic[c.Email]
	var r *row
	if slot != nil {
		r = newRow(c, slot.t)
		slot.r = r
	} else {
		r = newRow(c, nil)
	}
	m.byFold[FoldEmail(c.Email)] = r
	i, found := slices.BinarySearchFunc(m.rows, c.ID, func(r *row, id int64) int {
		return cmpInt(r.c.ID, id)
	})
	if found {
		m.rows[i] = r
	} else {
		m.rows = slices.Insert(m.rows, i, r)
	}
	return r
}

func (m *memory) dropClient(c *Client) {
	delete(m.clients, c.ID)
	if m.idByFold(FoldEmail(c.Email)) == c.ID {
		delete(m.byFold, FoldEmail(c.Email))
	}
	if slot := m.traffic[c.Email]; slot != nil && slot.r != nil && slot.r.c.ID == c.ID {
		slot.r = nil
	}
	if c.SubID != "" {
		ids := slices.DeleteFunc(m.bySubID[c.SubID], func(id int64) bool { return id == c.ID })
		if len(ids) == 0 {
			delete(m.bySubID, c.SubID)
		} else {
			m.bySubID[c.SubID] = ids
		}
	}
	for _, a := range c.Inbounds {
		delete(m.members[a.InboundID], c.ID)
	}
}

// row returns the row of the client with the id, or nil. Ids are
// assigned in sequence and every earlier id takes at most one row, so
// the row sits at or below the id's offset from the first row; with no
// client deleted, exactly there.
func (m *memory) row(id int64) *row {
	if len(m.rows) == 0 {
		return nil
	}
	end := int(min(max(id-m.rows[0].c.ID, 0), int64(len(m.rows)-1)))
	if r := m.rows[end]; r.c.ID == id {
		return r
	}
	i, found := slices.BinarySearchFunc(m.rows[:end+1], id, func(r *row, id int64) int {
		return cmpInt(r.c.ID, id)
	})
	if !found {
		return nil
	}
	return m.rows[i]
}

// rebuildRows makes the rows of every client, laid out in one block in
// id order, so that a scan reads memory front to back.
func (m *memory) rebuildRows() {
	ids := slices.Sorted(maps.Keys(m.clients))
	block := make([]row, len(ids))
	m.rows = make([]*row, len(ids))
	for i, id := range ids {
		c := m.clients[id]
		block[i] = *newRow(c, m.trafficOf(c.Email))
		m.rows[i] = &block[i]
		m.byFold[FoldEmail(c.Email)] = &block[i]
		if slot := m.traffic[c.Email]; slot != nil {
			slot.r = &block[i]
		}
	}
}

// idByFold returns the id of the client whose folded email is fold, or
// 0.
func (m *memory) idByFold(fold string) int64 {
	if r := m.byFold[fold]; r != nil {
		return r.c.ID
	}
	return 0
}

func newRow(c *Client, t *Traffic) *row {
	var b strings.Builder
	for _, s := range []string{c.Email, c.SubID, c.Comment, c.UUID, c.Password, c.Auth} {
		b.WriteString(strings.ToLower(s))
		b.WriteByte(0)
	}
	if c.TgID != 0 {
		b.WriteString(strconv.FormatInt(c.TgID, 10))
	}
	return &row{c: c, t: t, hay: b.String(),
		used: t.Used(), total: c.TotalGB, expiry: c.ExpiryTime, enable: c.Enable}
}

// setTraffic points a client's row at its new usage row; a nil row
// (no client) is left alone.
func (r *row) setTraffic(t *Traffic) {
	if r != nil {
		r.t, r.used = t, t.Used()
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cutIPKey returns the email of a staged address-list delete key.
func cutIPKey(key string) (string, bool) {
	return strings.CutPrefix(key, "ip:")
}
