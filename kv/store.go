// Package kv is xpanel's storage: records and their secondary indexes in
// one embedded Badger database, plus a memory-resident copy of every
// record that serves all reads.
//
// Writes are serialised: one Update runs at a time, reads the committed
// state plus its own pending changes, and commits records and index
// entries in one Badger transaction. Only after the commit succeeds is the
// memory copy changed, so a reader never sees a change that is not stored.
package kv

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	json "github.com/goccy/go-json"
)

// Errors returned by the store. Badger's own errors never leave kv.
var (
	// ErrNotFound is returned when a record asked for does not exist.
	ErrNotFound = errors.New("kv: not found")

	// ErrUnique is wrapped by the *UniqueError a write returns when it
	// would give a unique index entry a second owner.
	ErrUnique = errors.New("kv: unique index violated")

	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("kv: store closed")
)

// UniqueError names the unique index entry a write collided with.
type UniqueError struct {
	Index string // "email", "uuid", "password", "auth" or "tag"
	Owner int64  // id of the record that holds the entry
}

func (e *UniqueError) Error() string {
	return fmt.Sprintf("kv: %s already owned by record %d", e.Index, e.Owner)
}

func (e *UniqueError) Unwrap() error { return ErrUnique }

// Options tunes a store. The zero value is valid.
type Options struct {
	// SyncWrites makes every commit wait for fsync. Without it a commit
	// survives a crash of the process but not of the machine.
	SyncWrites bool

	// Logger receives Badger's warnings and errors; nil discards them.
	Logger *slog.Logger
}

// Store is an open database. It is safe for concurrent use.
type Store struct {
	db      *badger.DB
	log     *slog.Logger
	writeMu sync.Mutex   // one Update at a time
	mu      sync.RWMutex // guards mem against the apply step of a commit
	mem     *memory
	version atomic.Uint64
	status  statusCache
	groups  groupCache
	orders  orderCache
	closed  atomic.Bool

	follower Follower   // guarded by writeMu
	usage    usageState // guarded by writeMu
	txCount  uint64     // transactions begun; guarded by writeMu
	outbox   outboxState
}

// Open opens (or creates) the database in dir and loads every record
// into memory.
func Open(dir string, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := badger.Open(badgerOptions(dir, opts.SyncWrites, log))
	if err != nil {
		return nil, fmt.Errorf("open badger: %w", err)
	}

	s := &Store{db: db, log: log}
	if err := s.dropRetiredIndexes(); err != nil {
		db.Close()
		return nil, err
	}
	mem, usage, err := s.load()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load records: %w", err)
	}
	s.mem, s.usage = mem, *usage
	if err := s.openOutbox(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// badgerOptions sizes Badger for a small VPS: two 16 MiB memtables, an
// 8 MiB block cache and 64 MiB value-log files. Values are small JSON
// records, so they live in the LSM tree rather than the value log. Every
// read is served from memory, so the block cache only serves the
// unique-index lookups of writes. A memtable's arena is allocated whole
// (about 21 MiB) and is most of Badger's heap when idle; smaller
// memtables would need a smaller txSoftLimit, and so more commits per
// batch.
func badgerOptions(dir string, syncWrites bool, log *slog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log}).
		WithSyncWrites(syncWrites).
		WithDetectConflicts(false). // writes are serialised by Store
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(4 << 20).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(8 << 20).
		WithValueLogFileSize(64 << 20).
		WithValueThreshold(64 << 10).
		WithNumCompactors(2).
		WithCompression(options.Snappy)
}

// dropRetiredIndexes removes the entries of indexes no longer kept, if
// the database still has any.
func (s *Store) dropRetiredIndexes() error {
	var found [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		for _, prefix := range retiredIndexes {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			it.Rewind()
			if it.Valid() {
				found = append(found, prefix)
			}
			it.Close()
		}
		return nil
	})
	if err == nil && len(found) > 0 {
		s.log.Info("removing retired index entries", slog.Int("indexes", len(found)))
		err = s.db.DropPrefix(found...)
	}
	if err != nil {
		return fmt.Errorf("drop retired indexes: %w", err)
	}
	return nil
}

// Close writes back the usage rows that usage records changed, so that
// the next Open need not replay them, then flushes and closes the
// database. Calls after it fail with ErrClosed.
func (s *Store) Close() error {
	if n, err := s.FoldUsage(); err != nil && !errors.Is(err, ErrClosed) {
		s.log.Warn("fold usage records before close", slog.Int("rows", n), slog.Any("err", err))
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.outbox.open.Lock()
	defer s.outbox.open.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close badger: %w", err)
	}
	return nil
}

// Version counts the commits since the store was opened. Readers use it
// to tell whether something they computed is still current.
func (s *Store) Version() uint64 {
	return s.version.Load()
}

// View runs fn against the committed state. Records reached through v are
// shared: fn and its callers may keep them, but must not modify them.
// Writes wait while fn runs, so fn should be short.
func (s *Store) View(fn func(v *View) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fn(&View{m: s.mem, version: s.version.Load(), cache: &s.status,
		groups: &s.groups, orders: &s.orders})
}

// Update runs fn in a write transaction and commits what it staged. If fn
// returns an error nothing is written. Updates run one at a time, in the
// order they acquire the store. When a follower is set it sees the
// commit before Update returns; if it refuses, the commit is undone and
// Update returns a *FollowError. Outbox entries a commit makes become
// readable once the follower has accepted it.
func (s *Store) Update(fn func(tx *Tx) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ch, err := s.commit(fn)
	if err != nil || ch == nil {
		return err
	}
	err = s.follow(ch)
	s.releaseOutbox() // entries of a refused commit were removed by its undo
	return err
}

// commit runs fn in a transaction, commits it and applies it to memory.
// It returns what changed, or nil when fn staged nothing. The caller
// holds writeMu.
func (s *Store) commit(fn func(tx *Tx) error) (*Change, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	tx := newTx(s)
	defer tx.txn.Discard()
	defer tx.release()
	if err := fn(tx); err != nil {
		return nil, err
	}
	usageSeqs, err := tx.stageUsage()
	if err != nil {
		return nil, err
	}
	if tx.empty() && len(tx.box.notes) == 0 {
		return nil, nil
	}
	var ch *Change
	if s.follower != nil || s.outbox.journal != nil {
		ch = changeOf(tx, s.mem)
	}
	seq, err := s.stageOutbox(tx, ch)
	if err != nil {
		return nil, err
	}
	if tx.empty() {
		return nil, nil
	}
	if err := tx.txn.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	s.outbox.seq = seq
	s.usage.committed(tx, usageSeqs)

	s.mu.Lock()
	s.mem.apply(tx)
	s.version.Add(1)
	s.mu.Unlock()
	return ch, nil
}

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return b, nil
}

// badgerLogger forwards Badger's log lines to slog. Badger's info lines
// (compactions, flushes) are routine and go to debug.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any) {
	l.log.Error(strings.TrimSpace(fmt.Sprintf(f, a...)))
}

func (l badgerLogger) Warningf(f string, a ...any) {
	l.log.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)))
}

func (l badgerLogger) Infof(f string, a ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprintf(f, a...)))
}

func (l badgerLogger) Debugf(f string, a ...any) {}
