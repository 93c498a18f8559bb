package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// A traffic poll counts bytes for every user that moved any. Rewriting
// each of their usage rows would be one Badger entry per user and, at
// 100,000 users, dozens of transactions. Instead a commit writes the
// bytes it counted as one usage record, keyed by a sequence number, and
// the rows it changed stay as they were on disk. Loading the store
// replays the records over the rows.
//
// Every row written whole carries the number of the last record it
// already includes (Through), so a replay adds a record's bytes only to
// rows older than it: no byte is counted twice, and a record is safe to
// delete once every row it touched has been written again. FoldUsage
// does that in the background.

// usageFoldBatch bounds the rows or records one folding transaction
// writes, with txSoftLimit bounding its bytes, so that it holds the
// write lock only briefly and stays within Badger's transaction size.
const usageFoldBatch = 8192

// UsageDelta is what a commit counts for one usage row.
type UsageDelta struct {
	Up, Down int64

	// SeenMs is when the user was last seen, in Unix milliseconds. The
	// row's last-online time moves up to it, never back.
	SeenMs int64
}

// addTo returns t with d counted. Negative counts are ignored.
func (d UsageDelta) addTo(t *Traffic) *Traffic {
	n := *t
	n.Up, n.Down = AddBytes(n.Up, max(d.Up, 0)), AddBytes(n.Down, max(d.Down, 0))
	n.LastOnline = max(n.LastOnline, d.SeenMs)
	return &n
}

// AddBytes adds two byte counts, saturating instead of overflowing.
func AddBytes(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// storedTraffic is a usage row as Badger holds it.
type storedTraffic struct {
	*Traffic

	// Through is the number of the last usage record the row includes.
	Through uint64 `json:"through,omitempty"`
}

// usageState is what the store knows of its usage records. It is
// guarded by the store's write lock.
type usageState struct {
	seq     uint64   // number of the last record committed
	lastLen int      // rows the last record counted
	records []uint64 // numbers of the records on disk, ascending
}

// usageEntry is what one AddUsage call counted.
type usageEntry struct {
	email string
	d     UsageDelta
	after *Traffic   // the row with d counted
	slot  *usageSlot // the email's slot in memory; nil to look it up
	first bool       // the first change of the row in its transaction
}

// AddUsage counts d on the email's usage row and returns the row after,
// or nil when the email has none. The row is not rewritten: the commit
// stores what AddUsage counted for all rows as one usage record.
//
// The counted row waits in the email's slot in memory, marked with the
// transaction, rather than in the transaction's own map: a poll counts
// on every moving row, and one lookup each is what it can afford. Rows
// this transaction wrote whole are counted in its own map.
func (tx *Tx) AddUsage(email string, d UsageDelta) *Traffic {
	if len(tx.usage) == 0 && tx.s.usage.lastLen > 64 {
		tx.usage = make([]usageEntry, 0, tx.s.usage.lastLen)
	}
	d.Up, d.Down = max(d.Up, 0), max(d.Down, 0)
	if t, staged := tx.traffic[email]; staged {
		if t == nil {
			return nil
		}
		n := d.addTo(t)
		tx.traffic[email] = n
		tx.note(usageEntry{email: email, d: d, after: n})
		return n
	}

	slot := tx.s.mem.traffic[email]
	if slot == nil {
		return nil
	}
	first := slot.tx != tx.id
	t := slot.t
	if !first {
		t = slot.pending
	}
	n := d.addTo(t)
	slot.pending, slot.tx = n, tx.id
	tx.note(usageEntry{email: email, d: d, after: n, slot: slot, first: first})
	return n
}

func (tx *Tx) note(e usageEntry) {
	tx.usage = append(tx.usage, e)
	tx.size += len(e.email) + 16
}

// pendingTraffic returns the row this transaction counted bytes on in
// slot, if it did.
func (tx *Tx) pendingTraffic(slot *usageSlot) (*Traffic, bool) {
	if slot.tx == tx.id {
		return slot.pending, true
	}
	return nil, false
}

// release clears the rows that this transaction left waiting in slots,
// once it has been applied or abandoned.
func (tx *Tx) release() {
	for _, e := range tx.usage {
		if e.slot != nil && e.slot.tx == tx.id {
			e.slot.pending, e.slot.tx = nil, 0
		}
	}
}

// recorded returns the entries of the usage record: what AddUsage
// counted after each row was last written whole, which holds the rest.
func (tx *Tx) recorded() []usageEntry {
	if len(tx.whole) == 0 {
		return tx.usage
	}
	var out []usageEntry
	for i, e := range tx.usage {
		if at, ok := tx.whole[e.email]; !ok || at <= i {
			out = append(out, e)
		} else if e.slot != nil {
			e.slot.pending, e.slot.tx = nil, 0
		}
	}
	return out
}

// usageRecordRows bounds the rows of one usage record, so that a record
// stays well inside Badger's largest value (a value-log file, 64 MiB). A
// commit counting more rows writes several records. A variable for the
// tests only.
var usageRecordRows = 1 << 20

// stageUsage stages the usage records of what AddUsage counted, and
// returns their numbers, ascending.
func (tx *Tx) stageUsage() ([]uint64, error) {
	tx.usage = tx.recorded()
	var seqs []uint64
	for part := range slices.Chunk(tx.usage, usageRecordRows) {
		seq, err := tx.NextID("usage")
		if err != nil {
			return nil, err
		}
		if err := tx.set(usageKey(uint64(seq)), encodeUsage(part)); err != nil {
			return nil, err
		}
		seqs = append(seqs, uint64(seq))
	}
	return seqs, nil
}

// committed notes a commit's usage records. Which rows lag behind the
// records is marked in memory, by apply.
func (u *usageState) committed(tx *Tx, seqs []uint64) {
	if len(seqs) == 0 {
		return
	}
	u.seq, u.lastLen = seqs[len(seqs)-1], len(tx.usage)
	u.records = append(u.records, seqs...)
}

func usageKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{pUsage}, seq)
}

// encodeUsage lays a usage record out as a count, then per row the
// length of the email, the email, and the uvarints of up, down and the
// last-seen time. An email may appear more than once.
func encodeUsage(usage []usageEntry) []byte {
	b := make([]byte, 0, len(usage)*32)
	b = binary.AppendUvarint(b, uint64(len(usage)))
	for _, e := range usage {
		d := e.d
		b = binary.AppendUvarint(b, uint64(len(e.email)))
		b = append(b, e.email...)
		b = binary.AppendUvarint(b, uint64(d.Up))
		b = binary.AppendUvarint(b, uint64(d.Down))
		b = binary.AppendUvarint(b, uint64(max(d.SeenMs, 0)))
	}
	return b
}

var errBadUsage = errors.New("malformed usage record")

// decodeUsage calls fn for every row of a usage record.
func decodeUsage(b []byte, fn func(email string, d UsageDelta)) error {
	r := usageReader{b: b, ok: true}
	n := r.uvarint()
	for i := uint64(0); r.ok && i < n; i++ {
		email := r.text()
		up, down, seen := r.uvarint(), r.uvarint(), r.uvarint()
		if !r.ok || up > math.MaxInt64 || down > math.MaxInt64 || seen > math.MaxInt64 {
			return errBadUsage
		}
		fn(email, UsageDelta{Up: int64(up), Down: int64(down), SeenMs: int64(seen)})
	}
	if !r.ok || len(r.b) != 0 {
		return errBadUsage
	}
	return nil
}

// usageReader reads a usage record front to back; after the first
// malformed field ok stays false and every read returns zero.
type usageReader struct {
	b  []byte
	ok bool
}

func (r *usageReader) uvarint() uint64 {
	if !r.ok {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.ok, r.b = false, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *usageReader) text() string {
	size := r.uvarint()
	if !r.ok || size > uint64(len(r.b)) {
		r.ok, r.b = false, nil
		return ""
	}
	s := string(r.b[:size])
	r.b = r.b[size:]
	return s
}

// usageReplay gathers, while a load reads the database, what it needs to
// replay the usage records over the rows.
type usageReplay struct {
	through map[string]uint64 // email -> Through of its row
	state   usageState
}

func newUsageReplay() *usageReplay {
	return &usageReplay{through: map[string]uint64{}}
}

// loadItem takes the items a replay needs; it reports false for the
// others. Keys arrive in order, so records arrive by ascending number,
// after every row.
func (r *usageReplay) loadItem(m *memory, item *badger.Item) (bool, error) {
	key := item.Key()
	switch {
	case key[0] == pTraffic:
		st, err := decode[storedTraffic](item)
		if err != nil {
			return true, err
		}
		m.traffic[st.Email] = &usageSlot{t: st.Traffic}
		r.through[st.Email] = st.Through
	case key[0] == pUsage && len(key) == 9:
		seq := idFromTail(key)
		r.state.records = append(r.state.records, uint64(seq))
		err := item.Value(func(b []byte) error { return r.apply(m, uint64(seq), b) })
		if err != nil {
			return true, fmt.Errorf("usage record %d: %w", seq, err)
		}
	case string(key) == string(nameKey(pSequence, "usage")):
		return true, item.Value(func(v []byte) error {
			r.state.seq = uint64(idFromTail(v))
			return nil
		})
	default:
		return false, nil
	}
	return true, nil
}

// apply adds one record's bytes to the rows that do not include it yet.
func (r *usageReplay) apply(m *memory, seq uint64, b []byte) error {
	return decodeUsage(b, func(email string, d UsageDelta) {
		slot := m.traffic[email]
		if slot == nil || r.through[email] >= seq {
			return
		}
		slot.t, slot.behind = d.addTo(slot.t), true
	})
}

// FoldUsage writes back whole every usage row that usage records have
// changed since it was last written, then deletes the records no row
// needs any more. It returns the number of rows written. Writes go on
// between its transactions; a crash part way loses nothing, as the
// records stay until every row they touched is on disk.
func (s *Store) FoldUsage() (int, error) {
	s.writeMu.Lock()
	through := s.usage.seq
	emails := s.mem.behind()
	s.writeMu.Unlock()

	written := 0
	for len(emails) > 0 {
		took, n, err := s.foldRows(emails)
		written += n
		if err != nil {
			return written, err
		}
		emails = emails[took:]
	}
	return written, s.dropUsageRecords(through)
}

// foldRows writes, in one transaction, the rows of the first of emails
// that are still behind their records. It returns how many emails it
// took and how many rows it wrote.
func (s *Store) foldRows(emails []string) (took, wrote int, err error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return 0, 0, ErrClosed
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	var done []*usageSlot
	size := 0
	for ; took < len(emails) && took < usageFoldBatch && size < txSoftLimit; took++ {
		email := emails[took]
		slot := s.mem.traffic[email]
		if slot == nil || !slot.behind {
			continue
		}
		b, err := encode(storedTraffic{Traffic: slot.t, Through: s.usage.seq})
		if err != nil {
			return 0, 0, err
		}
		key := nameKey(pTraffic, email)
		if err := txn.Set(key, b); err != nil {
			return 0, 0, fmt.Errorf("stage usage row: %w", err)
		}
		size += len(key) + len(b) + 32
		done = append(done, slot)
	}
	if err := txn.Commit(); err != nil {
		return 0, 0, fmt.Errorf("commit usage rows: %w", err)
	}
	for _, slot := range done {
		slot.behind = false
	}
	return took, len(done), nil
}

// dropUsageRecords deletes the records numbered up to through. The
// caller has written every row that was behind them.
func (s *Store) dropUsageRecords(through uint64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	for len(s.usage.records) > 0 && s.usage.records[0] <= through {
		txn := s.db.NewTransaction(true)
		n := 0
		for ; n < len(s.usage.records) && n < usageFoldBatch && s.usage.records[n] <= through; n++ {
			if err := txn.Delete(usageKey(s.usage.records[n])); err != nil {
				txn.Discard()
				return fmt.Errorf("stage usage record delete: %w", err)
			}
		}
		if err := txn.Commit(); err != nil {
			return fmt.Errorf("delete usage records: %w", err)
		}
		s.usage.records = s.usage.records[n:]
	}
	return nil
}

// UsageBacklog returns how many usage records are on disk and how many
// usage rows lag behind them, for FoldUsage's callers to judge when a
// fold is due.
func (s *Store) UsageBacklog() (records, rows int) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return len(s.usage.records), len(s.mem.behind())
}

// behind returns, sorted, the emails whose usage rows on disk lack the
// bytes of some usage record.
func (m *memory) behind() []string {
	var out []string
	for email, slot := range m.traffic {
		if slot.behind {
			out = append(out, email)
		}
	}
	slices.Sort(out)
	return out
}
