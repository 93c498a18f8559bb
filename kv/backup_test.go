package kv_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xpanel/xpanel/kv"
)

// clientTotals reads every client's totalGB by email.
func clientTotals(s *kv.Store) map[string]int64 {
	out := map[string]int64{}
	s.View(func(v *kv.View) error {
		v.EachClient(func(c *kv.Client, _ *kv.Traffic) bool {
			out[c.Email] = c.TotalGB
			return true
		})
		return nil
	})
	return out
}

// TestStore_Backup backs up while a writer adds clients in order: the
// restored store passes Check and holds exactly a prefix of the adds,
// at least those committed before the backup began.
func TestStore_Backup(t *testing.T) {
	s := openStore(t)
	var committed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			putClient(t, s, &kv.Client{Email: fmt.Sprintf("c%d", i), TotalGB: i})
			committed.Store(i + 1)
		}
	})
	for committed.Load() < 50 {
	}
	before := committed.Load()
	var buf bytes.Buffer
	if err := s.Backup(&buf); err != nil {
		t.Fatalf("backup: %v", err)
	}
	close(stop)
	wg.Wait()

	dir := filepath.Join(t.TempDir(), "restored")
	if err := kv.Restore(dir, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("restore: %v", err)
	}
	got := clientTotals(openStoreAt(t, dir))
	n := int64(len(got))
	if n < before || n > committed.Load() {
		t.Fatalf("restored %d clients, want %d to %d", n, before, committed.Load())
	}
	for i := range n {
		if total, ok := got[fmt.Sprintf("c%d", i)]; !ok || total != i {
			t.Errorf("client c%d: totalGB %d present %v, not a prefix of the adds", i, total, ok)
		}
	}
}

// TestStore_BackupLargeBatch backs up a store whose records make Badger
// hand over lists far larger than one frame at a time (as a store under
// write load does): the backup checks whole and restores every record.
func TestStore_BackupLargeBatch(t *testing.T) {
	s := openStore(t)
	comment := strings.Repeat("x", 2000)
	for i := range 200 {
		putClient(t, s, &kv.Client{Email: fmt.Sprintf("c%d", i), TotalGB: int64(i), Comment: comment})
	}
	var buf bytes.Buffer
	if err := s.Backup(&buf); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if err := kv.CheckBackup(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("check of a %d-byte backup: %v", buf.Len(), err)
	}

	dir := filepath.Join(t.TempDir(), "restored")
	if err := kv.Restore(dir, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got := clientTotals(openStoreAt(t, dir)); len(got) != 200 || got["c199"] != 199 {
		t.Errorf("restored %d clients (c199 at %d), want 200", len(got), got["c199"])
	}
}

// TestRestore_Refuses refuses a non-empty directory, and a backup that
// is truncated or damaged anywhere, leaving the directory empty.
func TestRestore_Refuses(t *testing.T) {
	s := openStore(t)
	for i := range 200 {
		putClient(t, s, &kv.Client{Email: fmt.Sprintf("c%d", i)})
	}
	var buf bytes.Buffer
	if err := s.Backup(&buf); err != nil {
		t.Fatalf("backup: %v", err)
	}
	good := buf.Bytes()
	if err := kv.CheckBackup(bytes.NewReader(good)); err != nil {
		t.Fatalf("check of a whole backup: %v", err)
	}

	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o600)
	if err := kv.Restore(full, bytes.NewReader(good)); err == nil {
		t.Errorf("restore into a non-empty directory succeeded")
	}

	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 1
	bad := map[string][]byte{
		"truncated":       good[:len(good)-10],
		"cut mid-stream":  good[:len(good)/2],
		"no trailer":      good[:len(good)-36],
		"flipped bit":     flipped,
		"not a backup":    []byte("hello"),
		"empty":           nil,
		"trailing frames": append(bytes.Clone(good[:len(good)-36]), 0, 0, 0, 1, 'x'),
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			if err := kv.CheckBackup(bytes.NewReader(b)); !errors.Is(err, kv.ErrBadBackup) {
				t.Errorf("check: %v, want ErrBadBackup", err)
			}
			dir := t.TempDir()
			if err := kv.Restore(dir, bytes.NewReader(b)); err == nil {
				t.Fatalf("restore succeeded")
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("failed restore left %d files", len(entries))
			}
		})
	}
}

// TestStore_CollectGarbage runs the value-log collection on a store
// with overwritten records; it finds nothing to rewrite, or rewrites,
// without an error, and the records stay.
func TestStore_CollectGarbage(t *testing.T) {
	s := openStore(t)
	for i := range 300 {
		id := i%20 + 1
		putClient(t, s, &kv.Client{ID: int64(id), Email: fmt.Sprintf("c%d", id), TotalGB: int64(i)})
	}
	if _, err := s.CollectGarbage(); err != nil {
		t.Fatalf("collect garbage: %v", err)
	}
	if n := len(clientTotals(s)); n != 20 {
		t.Errorf("%d clients after gc, want 20", n)
	}
	s.Close()
	if _, err := s.CollectGarbage(); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("gc after close: %v, want ErrClosed", err)
	}
}

// FuzzCheckBackup feeds arbitrary bytes to the backup reader: it never
// panics, and whatever it accepts also restores into a store that
// passes Check.
func FuzzCheckBackup(f *testing.F) {
	s := openStore(f)
	putClient(f, s, &kv.Client{Email: "alice"})
	var buf bytes.Buffer
	if err := s.Backup(&buf); err != nil {
		f.Fatalf("backup: %v", err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("xpanel-backup 1\n\x00\x00\x00\x00"))
	f.Add([]byte("xpanel-backup 1\n\x00\x00\x00\x02ab"))

	f.Fuzz(func(t *testing.T, b []byte) {
		if err := kv.CheckBackup(bytes.NewReader(b)); err != nil {
			return
		}
		dir := t.TempDir()
		if err := kv.Restore(dir, bytes.NewReader(b)); err != nil {
			t.Logf("checked backup did not restore: %v", err) // badger's own data may be bad
			return
		}
		openStoreAt(t, dir)
	})
}
