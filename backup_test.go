package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xpanel/xpanel/kv"
)

// sequence sends one kind of write in order, numbering each, and keeps
// how many were sent and how many acknowledged.
type sequence struct {
	sent, acked atomic.Int64
	err         error
}

// run sends write(i) for i = 0, 1, ... until halt is set.
func (s *sequence) run(halt *atomic.Bool, write func(i int64) (envelope, error)) {
	for i := int64(0); !halt.Load(); i++ {
		s.sent.Store(i + 1)
		env, err := write(i)
		if err == nil && !env.Success {
			err = fmt.Errorf("refused: %s", env.Msg)
		}
		if err != nil {
			s.err = err
			return
		}
		s.acked.Store(i + 1)
	}
}

// TestMain_BackupUnderLoad backs up with `xpanel backup` while one
// writer adds clients in order and another raises one client's quota:
// the server keeps serving, and the restored copy passes Check and holds
// the state of one moment between the start and the end of the backup.
// Once the load stops, backups over the API and of a stopped server
// restore to exactly what the server serves; restore refuses a data
// directory that holds a database.
func TestMain_BackupUnderLoad(t *testing.T) {
	p := start(t, settings{dataDir: t.TempDir(), token: testToken})
	api := p.api(testToken)
	inbound := api.vlessInbound(t, freePort(t))
	api.ok(t, "POST", "/panel/api/clients/add", addItem("counter", 0, inbound), nil)

	var adds, raises sequence
	var halt atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		adds.run(&halt, func(i int64) (envelope, error) {
			return api.do("POST", "/panel/api/clients/add", addItem(loadEmail(i), i, inbound))
		})
	})
	wg.Go(func() {
		raises.run(&halt, func(i int64) (envelope, error) {
			return api.do("POST", "/panel/api/clients/update/counter", map[string]any{"totalGB": i})
		})
	})
	waitFor(t, "20 adds", func() bool { return adds.acked.Load() >= 20 }, 0)

	file := filepath.Join(t.TempDir(), "under-load.backup")
	addsBefore, raisesBefore := adds.acked.Load(), raises.acked.Load()
	cli(t, "backup", "-config", p.config, file)
	addsAfter, raisesAfter := adds.sent.Load(), raises.sent.Load()
	moreAdds := adds.acked.Load() + 20
	waitFor(t, "20 adds after the backup", func() bool { return adds.acked.Load() >= moreAdds }, 0)
	halt.Store(true)
	wg.Wait()
	if adds.err != nil || raises.err != nil {
		t.Fatalf("writes failed during the backup: %v, %v", adds.err, raises.err)
	}

	got := restoreCLI(t, file)
	n := int64(len(got) - 1)
	if n < addsBefore || n > addsAfter {
		t.Errorf("backup holds %d adds, want %d to %d", n, addsBefore, addsAfter)
	}
	for i := range n {
		if s, ok := got[loadEmail(i)]; !ok || s.Total != i {
			t.Errorf("%s: %+v, not a prefix of the adds", loadEmail(i), s)
		}
	}
	if c := got["counter"].Total + 1; c < raisesBefore || c > raisesAfter {
		t.Errorf("counter at %d, want %d to %d", c-1, raisesBefore-1, raisesAfter-1)
	}
	t.Logf("backup under load: %d adds (%d..%d acknowledged), counter %d (%d..%d)",
		n, addsBefore, addsAfter, got["counter"].Total, raisesBefore-1, raisesAfter-1)

	served := servedState(t, api)
	if quiet := restoreBytes(t, fetchRaw(t, p)); !maps.Equal(quiet, served) {
		t.Errorf("API backup restores %d clients that differ from the %d served",
			len(quiet), len(served))
	}
	p.stop()
	offline := filepath.Join(t.TempDir(), "offline.backup")
	if out := cli(t, "backup", "-config", p.config, offline); !strings.Contains(out, "the store") {
		t.Errorf("backup of a stopped server: %q, want it to open the store", out)
	}
	if got := restoreCLI(t, offline); !maps.Equal(got, served) {
		t.Errorf("offline backup restores %d clients that differ from the %d served",
			len(got), len(served))
	}

	msg := failStart(t, "restore", "-config", p.config, offline)
	if !strings.Contains(msg, "not empty") {
		t.Errorf("restore over a database: %q, want a refusal", msg)
	}
}

func loadEmail(i int64) string { return fmt.Sprintf("load-%06d@backup.test", i) }

// restoreCLI restores file with `xpanel restore` into a new data
// directory and returns what the restored store holds, checked.
func restoreCLI(t *testing.T, file string) map[string]clientState {
	t.Helper()
	dataDir := t.TempDir()
	cfg := settings{dataDir: dataDir}.file(t, "127.0.0.1:1")
	if out := cli(t, "restore", "-config", cfg, file); !strings.Contains(out, "restored") {
		t.Errorf("restore printed %q", out)
	}
	store := openStore(t, dataDir)
	defer store.Close()
	return storedState(store)
}

// restoreBytes restores a backup held in memory and returns what the
// restored store holds, checked.
func restoreBytes(t *testing.T, b []byte) map[string]clientState {
	t.Helper()
	dataDir := t.TempDir()
	if err := kv.Restore(filepath.Join(dataDir, "db"), bytes.NewReader(b)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	store := openStore(t, dataDir)
	defer store.Close()
	return storedState(store)
}

// fetchRaw downloads GET /panel/api/backup with the admin token.
func fetchRaw(t *testing.T, p *proc) []byte {
	t.Helper()
	c := p.api(testToken)
	req, err := c.request(context.Background(), "GET", "/panel/api/backup", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("GET backup: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET backup: status %d, %v", resp.StatusCode, err)
	}
	return b
}

// TestMain_BackupRefused runs `xpanel backup` against a server that
// does not accept its token: it fails, and leaves neither the file nor
// its temporary copy.
func TestMain_BackupRefused(t *testing.T) {
	p := start(t, settings{dataDir: t.TempDir(), token: testToken})
	other := settings{dataDir: t.TempDir(), token: "another-token-0123456789abcdef"}
	cfg := other.file(t, strings.TrimPrefix(p.base, "http://"))
	file := filepath.Join(t.TempDir(), "refused.backup")

	msg := failStart(t, "backup", "-config", cfg, file)
	if !strings.Contains(msg, "status 404") {
		t.Errorf("backup with a wrong token: %q, want status 404", msg)
	}
	for _, path := range []string{file, file + ".tmp"} {
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s left behind", path)
		}
	}
}
