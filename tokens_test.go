package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// cli runs a subcommand of the binary, requires it to succeed and
// returns its stdout.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary(t), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("xpanel %s: %v\n%s", strings.Join(args, " "), err, &stderr)
	}
	return stdout.String()
}

// addedToken runs token add with args and returns the token's id and
// the token, which is the last line of stdout.
func addedToken(t *testing.T, config string, args ...string) (id, token string) {
	t.Helper()
	out := cli(t, append([]string{"token", "add", "-config", config}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	fields := strings.Fields(lines[0])
	if len(lines) != 2 || len(fields) < 4 {
		t.Fatalf("token add printed %q", out)
	}
	return strings.TrimSuffix(fields[3], ";"), lines[1]
}

// waitStatus polls GET path with token until it answers want.
func waitStatus(t *testing.T, p *proc, token, path string, want int) {
	t.Helper()
	api := p.api(token)
	waitFor(t, "status "+http.StatusText(want), func() bool {
		return api.status(t, path) == want
	}, 0)
}

// TestMain_Tokens adds tokens with the CLI while the server runs, uses
// them, and revokes one: the server picks up each change on its own
// within the reload interval, or at once on SIGHUP; read-only tokens get
// 403 on admin routes; the configured token keeps working; the file
// holds hashes only, privately; no token reaches the log.
func TestMain_Tokens(t *testing.T) {
	dataDir := t.TempDir()
	p := start(t, settings{dataDir: dataDir, token: testToken})
	const list = "/panel/api/inbounds/list"

	adminID, admin := addedToken(t, p.config, "-name", "billing bot")
	_, reader := addedToken(t, p.config, "-read-only")
	waitStatus(t, p, admin, list, http.StatusOK) // the interval reload
	waitStatus(t, p, reader, list, http.StatusOK)

	t.Run("scopes", func(t *testing.T) {
		if _, err := p.api(admin).do("POST", "/panel/api/clients/bulkEnable",
			map[string]any{"emails": []string{}}); err != nil {
			t.Errorf("admin token on an admin route: %v", err)
		}
		for _, path := range []string{"/panel/api/clients/bulkEnable", "/panel/api/clients/add"} {
			_, err := p.api(reader).do("POST", path, map[string]any{})
			if err == nil || !strings.Contains(err.Error(), "status 403") {
				t.Errorf("read-only token on POST %s: %v, want 403", path, err)
			}
		}
		if got := p.api(reader).status(t, "/panel/api/backup"); got != http.StatusForbidden {
			t.Errorf("read-only token on the backup: %d, want 403", got)
		}
	})

	t.Run("file", func(t *testing.T) {
		path := filepath.Join(dataDir, tokensFile)
		info, err := os.Stat(path)
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("tokens file: %v, mode %v, want 0600", err, info.Mode().Perm())
		}
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), admin) || strings.Contains(string(b), reader) {
			t.Errorf("tokens file holds a token in clear: %s", b)
		}
		out := cli(t, "token", "list", "-config", p.config)
		if !strings.Contains(out, adminID) || !strings.Contains(out, "billing bot") ||
			!strings.Contains(out, "read-only") || strings.Contains(out, admin) {
			t.Errorf("token list shows %q", out)
		}
	})

	t.Run("revoke on SIGHUP", func(t *testing.T) {
		cli(t, "token", "revoke", "-config", p.config, adminID)
		p.cmd.Process.Signal(syscall.SIGHUP)
		waitStatus(t, p, admin, list, http.StatusNotFound)
		waitStatus(t, p, reader, list, http.StatusOK)
		waitStatus(t, p, testToken, list, http.StatusOK)
	})

	t.Run("damaged file keeps tokens", func(t *testing.T) {
		os.WriteFile(filepath.Join(dataDir, tokensFile), []byte("{not json"), 0o600)
		p.cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, "reload error in the log", func() bool {
			return strings.Contains(p.stderr.String(), "tokens file not reloaded")
		}, 0)
		waitStatus(t, p, reader, list, http.StatusOK)
	})

	p.stop()
	for _, secret := range []string{admin, reader, testToken} {
		noSecret(t, p, secret)
	}
}

// TestMain_TokenCommandErrors refuses revoking an unknown id and a
// command it does not know, with a non-zero exit.
func TestMain_TokenCommandErrors(t *testing.T) {
	cfg := settings{dataDir: t.TempDir()}.file(t, "127.0.0.1:1")
	for _, args := range [][]string{
		{"token", "revoke", "-config", cfg, "NOPE"},
		{"token", "rotate", "-config", cfg},
		{"token"},
	} {
		if msg := failStart(t, args...); msg == "" {
			t.Errorf("xpanel %v failed without a message", args)
		}
	}
}
