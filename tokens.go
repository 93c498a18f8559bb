package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/handlers"
	"github.com/xpanel/xpanel/panel"
)

// tokensFile is the file in the data directory that keeps the tokens
// made with `xpanel token add`: their hashes, never the tokens.
const tokensFile = "tokens.json"

// tokensReload is how often the server looks whether the tokens file
// changed. SIGHUP makes it look at once.
const tokensReload = time.Second

// storedToken is one token of the tokens file.
type storedToken struct {
	ID       string    `json:"id"`       // names the token to list and revoke; not secret
	Name     string    `json:"name"`     // what the operator called it
	Hash     string    `json:"hash"`     // hex SHA-256 of the token
	ReadOnly bool      `json:"readOnly"` // may call the read routes only
	Created  time.Time `json:"created"`
}

// tokenSet is the content of the tokens file.
type tokenSet struct {
	Tokens []storedToken `json:"tokens"`
}

// readTokens reads the tokens file of dataDir; a missing file holds none.
func readTokens(dataDir string) (tokenSet, error) {
	var set tokenSet
	b, err := os.ReadFile(filepath.Join(dataDir, tokensFile))
	if errors.Is(err, fs.ErrNotExist) {
		return set, nil
	}
	if err != nil {
		return set, fmt.Errorf("read tokens: %w", err)
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return set, fmt.Errorf("read tokens: %s: %w", tokensFile, err)
	}
	for _, t := range set.Tokens {
		if h, err := hex.DecodeString(t.Hash); err != nil || len(h) != 32 {
			return set, fmt.Errorf("read tokens: token %s has a malformed hash", t.ID)
		}
	}
	return set, nil
}

// writeTokens replaces the tokens file, atomically and private to the
// owner.
func writeTokens(dataDir string, set tokenSet) error {
	b, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return fmt.Errorf("encode tokens: %w", err)
	}
	if err := writeFileSync(filepath.Join(dataDir, tokensFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write tokens: %w", err)
	}
	return nil
}

// lockTokens takes an exclusive lock on the tokens file of dataDir, so
// that two token commands never overwrite each other's change. The
// returned function releases it.
func lockTokens(dataDir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dataDir, tokensFile+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock tokens: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock tokens: %w", err)
	}
	return func() { f.Close() }, nil
}

// newSecret returns n random bytes as a string of base32 letters and
// digits: tokens get 32 bytes, ids 5.
func newSecret(n int) string {
	var s string
	for len(s) < n*8/5 {
		s += rand.Text()
	}
	return s[:n*8/5]
}

// handlerTokens turns the file's tokens into the handler's.
func handlerTokens(set tokenSet) []handlers.Token {
	out := make([]handlers.Token, 0, len(set.Tokens))
	for _, t := range set.Tokens {
		var tok handlers.Token
		hex.Decode(tok.Hash[:], []byte(t.Hash)) // readTokens checked it
		tok.ReadOnly = t.ReadOnly
		out = append(out, tok)
	}
	return out
}

// tokenWatcher keeps the handler's tokens in step with the tokens file:
// the admin token of the configuration (or the generated one) always,
// plus every token in the file. It looks at the file every interval and
// on SIGHUP, and reads it only when its identity, size or time changed.
type tokenWatcher struct {
	dataDir  string
	base     []handlers.Token
	handler  *handlers.Handler
	faults   *panel.Faults
	log      *slog.Logger
	interval time.Duration

	last   os.FileInfo // of the file last read; nil when there was none
	stop   chan struct{}
	done   chan struct{}
	hangup chan os.Signal
}

func newTokenWatcher(
	dataDir string, base []handlers.Token, h *handlers.Handler, faults *panel.Faults,
	log *slog.Logger, interval time.Duration,
) *tokenWatcher {
	return &tokenWatcher{dataDir: dataDir, base: base, handler: h, faults: faults,
		log: log, interval: interval}
}

// Open loads the tokens once and, for an interval above zero, starts
// watching. A tokens file that cannot be read stops the start.
func (w *tokenWatcher) Open() error {
	if err := w.reload(); err != nil {
		return err
	}
	if w.interval <= 0 {
		return nil
	}
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	w.hangup = make(chan os.Signal, 1)
	signal.Notify(w.hangup, syscall.SIGHUP)
	go w.loop()
	return nil
}

// Close stops watching.
func (w *tokenWatcher) Close() {
	if w.stop == nil {
		return
	}
	signal.Stop(w.hangup)
	close(w.stop)
	<-w.done
}

func (w *tokenWatcher) loop() {
	defer close(w.done)
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		case <-w.hangup:
			w.last = nil // reread even if the file looks the same
		}
		w.reloadLogged()
	}
}

// reloadLogged runs one look at the file; a file that does not parse
// keeps the tokens in force and is logged, and so is a panic.
func (w *tokenWatcher) reloadLogged() {
	defer func() {
		if v := recover(); v != nil {
			w.faults.Recovered(w.log, "token reload", v)
		}
	}()
	if err := w.reload(); err != nil {
		w.log.Error("tokens file not reloaded; the previous tokens stay in force",
			slog.Any("err", err))
	}
}

// reload reads the tokens file if it changed since the last read and
// hands the handler the new set.
func (w *tokenWatcher) reload() error {
	info, err := os.Stat(filepath.Join(w.dataDir, tokensFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stat tokens: %w", err)
	}
	if sameFile(w.last, info) {
		return nil
	}
	set, err := readTokens(w.dataDir)
	if err != nil {
		return err
	}
	w.handler.SetTokens(slices.Concat(w.base, handlerTokens(set)))
	w.last = info
	w.log.Info("tokens loaded", slog.Int("file_tokens", len(set.Tokens)))
	return nil
}

// sameFile reports whether two looks at the tokens file saw the same
// version of it.
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
