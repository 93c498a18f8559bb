//go:build unix

package kv

import (
	"os"
	"syscall"
)

// diskBytes is the space a file takes on disk: its allocated blocks,
// which for Badger's preallocated files is far less than their length.
func diskBytes(info os.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return info.Size()
}
