// Package kvtest opens stores for tests and checks them when the test
// ends: every index must agree with the records, and the memory copy
// with the disk.
package kvtest

import (
	"errors"
	"testing"

	"github.com/xpanel/xpanel/kv"
)

// Open opens a store in a fresh temporary directory.
func Open(t testing.TB) *kv.Store {
	t.Helper()
	return OpenAt(t, t.TempDir())
}

// OpenAt opens the store in dir. When the test ends the store is
// checked, unless the test closed it itself, and closed.
func OpenAt(t testing.TB, dir string) *kv.Store {
	t.Helper()
	s, err := kv.Open(dir, kv.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Check(); err != nil && !errors.Is(err, kv.ErrClosed) {
			t.Errorf("store check: %v", err)
		}
		s.Close()
	})
	return s
}
