package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// The outbox keeps records derived from each commit - events for the
// scripts an operator runs - in the same Badger transaction as the
// commit, so that a crash can lose neither a change nor what it should
// announce. A deliverer outside kv reads the entries in order and
// removes them once handled.
//
// kv does not know what the entries mean: a Journal, set by the caller,
// turns each commit and the notes its operation staged into entries.

// pOutbox prefixes outbox entries, by sequence number.
const pOutbox = 'o'

// outboxSequence names the stored sequence of outbox entries, which
// keeps rising after every entry has been removed, so that no sequence
// number is ever given twice.
const outboxSequence = "outbox"

// Journal derives the outbox entries of a commit from what it changes
// and from the notes its transaction staged with Tx.Note. It runs inside
// the commit, holding the write lock: it must be quick and must not
// call back into the store. tx reads the state the commit will leave.
// An error aborts the commit.
type Journal func(tx *Tx, ch *Change, notes []any) ([]Outgoing, error)

// Outgoing is an entry a Journal asks to write. Key groups entries that
// must be handled in order, such as those of one client; Value is opaque
// to kv.
type Outgoing struct {
	Key   string
	Value []byte
}

// OutboxEntry is a stored outbox entry. Seq numbers rise with each
// entry, across restarts; they are the entries' ids.
type OutboxEntry struct {
	Seq   uint64
	Key   string
	Value []byte
}

// outboxState is the store's side of the outbox. It is guarded by the
// store's writeMu, but for released and ready, which readers use.
type outboxState struct {
	open     sync.RWMutex // held by readers and ackers; Close takes it
	journal  Journal
	seq      uint64        // last sequence number committed
	released atomic.Uint64 // last sequence number readers may see
	ready    chan struct{} // signalled when released moves
}

// txOutbox is a transaction's side of the outbox.
type txOutbox struct {
	notes []any
	quiet bool     // no journal: the transaction undoes a refused one
	seqs  []uint64 // entries staged, for an undo to remove
}

// Note stages a value for the Journal to read when this transaction
// commits. Notes are not stored; only what the Journal makes of them is.
// A transaction holding only notes commits whatever the Journal makes.
func (tx *Tx) Note(v any) {
	tx.box.notes = append(tx.box.notes, v)
}

// ClientNamed returns the client that will hold exactly this email once
// the transaction commits, or nil. It reads memory, not Badger, so a
// Journal may call it for every row a commit touches.
func (tx *Tx) ClientNamed(email string) *Client {
	if id := tx.s.mem.idByFold(FoldEmail(email)); id != 0 {
		if c := tx.Client(id); c != nil && c.Email == email {
			return c
		}
	}
	for _, c := range tx.clients {
		if c != nil && c.Email == email {
			return c
		}
	}
	return nil
}

// SetJournal makes j derive outbox entries from every later commit.
// Call it before the store is shared; nil stops it.
func (s *Store) SetJournal(j Journal) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.outbox.journal = j
}

// OutboxReady is signalled after a commit adds outbox entries. It holds
// at most one signal: a reader drains it, then reads until it has seen
// everything.
func (s *Store) OutboxReady() <-chan struct{} {
	return s.outbox.ready
}

// ReadOutbox returns up to limit entries after sequence number after,
// in order. It sees only entries whose commit has been followed, and
// never those of a commit the follower refused.
func (s *Store) ReadOutbox(after uint64, limit int) ([]OutboxEntry, error) {
	s.outbox.open.RLock() // keeps Close away, not writers
	defer s.outbox.open.RUnlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	last := s.outbox.released.Load()
	var out []OutboxEntry
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{
			Prefix: []byte{pOutbox}, PrefetchValues: true, PrefetchSize: limit})
		defer it.Close()
		for it.Seek(outboxKey(after + 1)); it.Valid() && len(out) < limit; it.Next() {
			seq := uint64(idFromTail(it.Item().Key()))
			if seq > last {
				break
			}
			e, err := decodeOutbox(seq, it.Item())
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// AckOutbox removes handled entries. Removing one that is gone is not
// an error.
func (s *Store) AckOutbox(seqs []uint64) error {
	s.outbox.open.RLock()
	defer s.outbox.open.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, seq := range seqs {
		if err := wb.Delete(outboxKey(seq)); err != nil {
			return fmt.Errorf("ack outbox: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("ack outbox: %w", err)
	}
	return nil
}

// OutboxReleased is the sequence number of the last entry readers may
// see; nothing after it has been committed and followed yet.
func (s *Store) OutboxReleased() uint64 {
	return s.outbox.released.Load()
}

// openOutbox reads the stored sequence when the store opens. Every
// stored entry is released: its commit happened before the restart, and
// the follower is rebuilt from the store.
func (s *Store) openOutbox() error {
	s.outbox.ready = make(chan struct{}, 1)
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(nameKey(pSequence, outboxSequence))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			s.outbox.seq = uint64(idFromTail(v))
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read outbox sequence: %w", err)
	}
	s.outbox.released.Store(s.outbox.seq)
	return nil
}

// stageOutbox runs the journal over a commit about to happen and stages
// its entries. It returns the sequence number the commit will leave.
func (s *Store) stageOutbox(tx *Tx, ch *Change) (uint64, error) {
	seq := s.outbox.seq
	if s.outbox.journal == nil || tx.box.quiet {
		return seq, nil
	}
	out, err := s.outbox.journal(tx, ch, tx.box.notes)
	if err != nil || len(out) == 0 {
		return seq, err
	}
	for _, o := range out {
		seq++
		if err := tx.set(outboxKey(seq), encodeOutbox(o)); err != nil {
			return 0, err
		}
		ch.outbox = append(ch.outbox, seq)
	}
	return seq, tx.set(nameKey(pSequence, outboxSequence), u64(int64(seq)))
}

// releaseOutbox lets readers see every entry committed so far. The
// caller holds writeMu and has told the follower.
func (s *Store) releaseOutbox() {
	if s.outbox.released.Load() == s.outbox.seq {
		return
	}
	s.outbox.released.Store(s.outbox.seq)
	select {
	case s.outbox.ready <- struct{}{}:
	default:
	}
}

// undoOutbox removes the entries of a commit being undone and keeps the
// undo itself out of the journal.
func (ch *Change) undoOutbox(tx *Tx) error {
	tx.box.quiet = true
	for _, seq := range ch.outbox {
		if err := tx.del(outboxKey(seq)); err != nil {
			return err
		}
	}
	return nil
}

func outboxKey(seq uint64) []byte {
	return recordKey(pOutbox, int64(seq))
}

// encodeOutbox lays an entry out as its key's length, its key, then its
// value.
func encodeOutbox(o Outgoing) []byte {
	b := binary.AppendUvarint(make([]byte, 0, 2+len(o.Key)+len(o.Value)), uint64(len(o.Key)))
	b = append(b, o.Key...)
	return append(b, o.Value...)
}

func decodeOutbox(seq uint64, item *badger.Item) (OutboxEntry, error) {
	e := OutboxEntry{Seq: seq}
	err := item.Value(func(v []byte) error {
		n, w := binary.Uvarint(v)
		if w <= 0 || uint64(len(v)-w) < n {
			return fmt.Errorf("outbox entry %d is damaged", seq)
		}
		e.Key = string(v[w : w+int(n)])
		e.Value = bytes.Clone(v[w+int(n):])
		return nil
	})
	return e, err
}
