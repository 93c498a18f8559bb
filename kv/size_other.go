//go:build !unix

package kv

import "os"

// diskBytes is the length of a file, where the system does not report
// its allocated blocks.
func diskBytes(info os.FileInfo) int64 {
	return info.Size()
}
