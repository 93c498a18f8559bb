package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xpanel/xpanel/config"
	"github.com/xpanel/xpanel/kv"
)

// runBackup writes a consistent backup of the store to a file. Badger
// lets one process open the store, so when a server answers on the
// configured address the backup comes from its API (with the admin
// token of the configuration or of the data directory); otherwise the
// store is opened directly. The file is checked whole before it takes
// its name, so FILE is either a complete backup or untouched.
func runBackup(ctx context.Context, cmd *command, args []string, out outputs) error {
	flags := cmd.flags(out)
	cfg, err := cmd.parseConfig(flags, args, 1)
	if err != nil {
		return err
	}
	stdout := out.stdout
	path := flags.Arg(0)

	source := "the store"
	write := func(w io.Writer) error { return backupStore(cfg, w) }
	if addr, ok := serverAddr(cfg.Listen); ok {
		source = "the server at " + addr
		write = func(w io.Writer) error { return fetchBackup(ctx, cfg, addr, w) }
	}
	if err := writeBackupFile(path, write); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", source, path)
	return nil
}

// writeBackupFile writes a backup under a temporary name, syncs and
// checks it, and renames it to path.
func writeBackupFile(path string, write func(io.Writer) error) (err error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() {
		f.Close()
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err := write(f); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := kv.CheckBackup(f); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return os.Rename(tmp, path)
}

// serverAddr returns the address a server listening on listen answers
// on, if one does: a wildcard host is reached on loopback.
func serverAddr(listen string) (string, bool) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", false
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	addr := net.JoinHostPort(host, port)
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", false
	}
	conn.Close()
	return addr, true
}

// fetchBackup streams GET /panel/api/backup of the server at addr to w.
func fetchBackup(ctx context.Context, cfg config.Config, addr string, w io.Writer) error {
	token, err := adminToken(cfg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/panel/api/backup", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch from server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch from server: status %d", resp.StatusCode)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("fetch from server: %w", err)
	}
	return nil
}

// adminToken returns the token of the configuration, or the one the
// server generated in the data directory.
func adminToken(cfg config.Config) (string, error) {
	if cfg.APIToken != "" {
		return cfg.APIToken, nil
	}
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, tokenFile))
	if err != nil {
		return "", fmt.Errorf("read api token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// backupStore opens the store of a stopped server and backs it up.
func backupStore(cfg config.Config, w io.Writer) error {
	store, err := kv.Open(filepath.Join(cfg.DataDir, "db"), kv.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	return store.Backup(w)
}

// runRestore loads a backup into the configured data directory, whose
// database must not exist yet or be empty, and checks every index of
// the result.
func runRestore(_ context.Context, cmd *command, args []string, out outputs) error {
	flags := cmd.flags(out)
	cfg, err := cmd.parseConfig(flags, args, 1)
	if err != nil {
		return err
	}
	stdout := out.stdout
	f, err := os.Open(flags.Arg(0))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}

	dir := filepath.Join(cfg.DataDir, "db")
	if err := kv.Restore(dir, f); err != nil {
		return err
	}
	store, err := kv.Open(dir, kv.Options{})
	if err != nil {
		return fmt.Errorf("restore: reopen: %w", err)
	}
	defer store.Close()
	if err := store.Check(); err != nil {
		return fmt.Errorf("restore: restored store is inconsistent: %w", err)
	}
	var clients, inbounds int
	store.View(func(v *kv.View) error {
		clients, inbounds = v.ClientCount(), len(v.Inbounds())
		return nil
	})
	fmt.Fprintf(stdout, "restored %d clients and %d inbounds into %s\n", clients, inbounds, dir)
	return nil
}
