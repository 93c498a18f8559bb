package kv

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"

	"github.com/dgraph-io/badger/v4"
)

// A backup is Badger's own backup stream cut into frames, so that a
// truncated or damaged copy is detected before anything is restored
// from it: the magic line, then frames of a 4-byte big-endian length and
// that many bytes, then an empty frame and the SHA-256 of every framed
// byte.
const backupMagic = "xpanel-backup 1\n"

// backupFrame is the most a frame carries.
const backupFrame = 64 << 10

// ErrBadBackup is returned when a backup is truncated, damaged or not a
// backup at all.
var ErrBadBackup = errors.New("kv: not a complete backup")

// Backup writes a consistent copy of the whole database to w: every
// record as of one moment, while writes go on. It holds no lock, so the
// server keeps serving; the stream costs a few goroutines and buffers.
func (s *Store) Backup(w io.Writer) error {
	if s.closed.Load() {
		return ErrClosed
	}
	fw := newFrameWriter(w)
	if _, err := io.WriteString(w, backupMagic); err != nil {
		return fmt.Errorf("write backup: %w", err)
	}
	stream := s.db.NewStream()
	stream.NumGo = 2
	stream.LogPrefix = "backup"
	if _, err := stream.Backup(fw.buf, 0); err != nil {
		return fmt.Errorf("back up badger: %w", err)
	}
	if err := fw.close(); err != nil {
		return fmt.Errorf("write backup: %w", err)
	}
	return nil
}

// Restore loads a backup into dir, which must not exist or be empty.
// A backup that turns out truncated or damaged leaves dir empty and
// returns an error wrapping ErrBadBackup.
func Restore(dir string, r io.Reader) (err error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("restore: %s is not empty", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore: %w", err)
	}
	fr, err := newFrameReader(r)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	db, err := badger.Open(badgerOptions(dir, true, slog.New(slog.DiscardHandler)))
	if err != nil {
		return fmt.Errorf("restore: open badger: %w", err)
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("restore: close badger: %w", cerr)
		}
		if err != nil {
			emptyDir(dir)
		}
	}()

	if err := db.Load(fr, 16); err != nil {
		return fmt.Errorf("restore: load: %w", err)
	}
	if !fr.verified {
		return fmt.Errorf("restore: %w (no trailer)", ErrBadBackup)
	}
	return nil
}

// CheckBackup reads a backup through to its checksum and reports
// whether it is complete and undamaged.
func CheckBackup(r io.Reader) error {
	fr, err := newFrameReader(r)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, fr); err != nil {
		return err
	}
	if !fr.verified {
		return fmt.Errorf("%w (no trailer)", ErrBadBackup)
	}
	return nil
}

// emptyDir removes what a failed restore left in dir, keeping dir.
func emptyDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(dir + string(os.PathSeparator) + e.Name())
	}
}

// frameWriter frames what is written to it; buf gathers small writes
// into full frames.
type frameWriter struct {
	w   io.Writer
	sum hash.Hash
	buf *bufio.Writer
}

func newFrameWriter(w io.Writer) *frameWriter {
	fw := &frameWriter{w: w, sum: sha256.New()}
	fw.buf = bufio.NewWriterSize(frameSink{fw}, backupFrame)
	return fw
}

// frameSink writes what it gets as frames of at most backupFrame bytes.
// bufio hands a write larger than its buffer straight through, and
// Badger writes a whole list of records at once (megabytes when a big
// or busy store streams), so a chunk may span many frames.
type frameSink struct{ fw *frameWriter }

func (s frameSink) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		frame := p[:min(len(p), backupFrame)]
		if err := s.fw.writeFrame(frame); err != nil {
			return written, err
		}
		written += len(frame)
		p = p[len(frame):]
	}
	return written, nil
}

// writeFrame writes one frame: its length, then its bytes.
func (fw *frameWriter) writeFrame(frame []byte) error {
	var head [4]byte
	binary.BigEndian.PutUint32(head[:], uint32(len(frame)))
	if _, err := fw.w.Write(head[:]); err != nil {
		return err
	}
	fw.sum.Write(frame)
	_, err := fw.w.Write(frame)
	return err
}

// close flushes the last frame and writes the trailer.
func (fw *frameWriter) close() error {
	if err := fw.buf.Flush(); err != nil {
		return err
	}
	trailer := append(make([]byte, 4), fw.sum.Sum(nil)...)
	_, err := fw.w.Write(trailer)
	return err
}

// frameReader reads the framed bytes back and checks the trailer; it
// returns io.EOF only after the trailer matched.
type frameReader struct {
	r        *bufio.Reader
	sum      hash.Hash
	left     int // bytes of the current frame not yet read
	verified bool
}

func newFrameReader(r io.Reader) (*frameReader, error) {
	fr := &frameReader{r: bufio.NewReaderSize(r, backupFrame), sum: sha256.New()}
	magic := make([]byte, len(backupMagic))
	if _, err := io.ReadFull(fr.r, magic); err != nil || string(magic) != backupMagic {
		return nil, fmt.Errorf("%w (no backup header)", ErrBadBackup)
	}
	return fr, nil
}

func (fr *frameReader) Read(p []byte) (int, error) {
	if fr.verified {
		return 0, io.EOF
	}
	if fr.left == 0 {
		if err := fr.nextFrame(); err != nil {
			return 0, err
		}
		if fr.verified {
			return 0, io.EOF
		}
	}
	n, err := fr.r.Read(p[:min(len(p), fr.left)])
	fr.left -= n
	fr.sum.Write(p[:n])
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w (truncated)", ErrBadBackup)
	}
	return n, err
}

// nextFrame reads a frame header, or the trailer after the empty frame.
func (fr *frameReader) nextFrame() error {
	var head [4]byte
	if _, err := io.ReadFull(fr.r, head[:]); err != nil {
		return fmt.Errorf("%w (truncated)", ErrBadBackup)
	}
	fr.left = int(binary.BigEndian.Uint32(head[:]))
	if fr.left > backupFrame {
		return fmt.Errorf("%w (frame of %d bytes)", ErrBadBackup, fr.left)
	}
	if fr.left > 0 {
		return nil
	}
	want := make([]byte, sha256.Size)
	if _, err := io.ReadFull(fr.r, want); err != nil {
		return fmt.Errorf("%w (truncated trailer)", ErrBadBackup)
	}
	if !bytes.Equal(want, fr.sum.Sum(nil)) {
		return fmt.Errorf("%w (checksum mismatch)", ErrBadBackup)
	}
	fr.verified = true
	return nil
}

// CollectGarbage runs Badger's value-log garbage collection until it
// finds no file worth rewriting, and returns how many files it
// rewrote. It runs beside writes; call it from one goroutine at a time.
func (s *Store) CollectGarbage() (int, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	rewritten := 0
	for {
		err := s.db.RunValueLogGC(0.5)
		switch {
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			return rewritten, nil
		case err != nil:
			return rewritten, fmt.Errorf("value log gc: %w", err)
		}
		rewritten++
	}
}
