package panel

import "io"

// Backup writes a consistent copy of the whole store to w while the
// server goes on serving; kv.Restore loads it into an empty directory.
func (s *Service) Backup(w io.Writer) error {
	return s.store.Backup(w)
}
