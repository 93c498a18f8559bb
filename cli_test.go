package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xpanel/xpanel/xray"
)

// The version and commit the test binary is linked with.
const (
	testVersion = "v9.8.7-test"
	testCommit  = "0123abcd"
)

// runCLI runs a command line in the process and returns its exit status
// and what it wrote.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := dispatch(context.Background(), args, outputs{&out, &errOut})
	code = exitCode(err, &errOut)
	return code, out.String(), errOut.String()
}

// writeConfig writes a configuration file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "xpanel.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCLI_ConfigCheck(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		code     int
		contains string // in stdout when code is 0, in stderr otherwise
	}{
		{"valid", "listen = \"127.0.0.1:9000\"\nread_timeout = \"5s\"\n", 0, ": ok"},
		{"empty file", "", 0, ": ok"},
		{"unknown key", "listen = \"127.0.0.1:9000\"\nlisten_addr = \"x\"\n", 1,
			`unknown key "listen_addr"`},
		{"bad duration", "read_timeout = \"5 seconds\"\n", 1,
			`key "read_timeout": must be a duration`},
		{"duration of wrong type", "traffic_interval = 10\n", 1,
			`key "traffic_interval": must be a duration`},
		{"out of range", "max_conns = 1\n", 1, `key "max_conns"`},
		{"bad metrics address", "metrics_listen = \"9090\"\n", 1, `key "metrics_listen"`},
		{"not toml", "listen = \n", 1, "decode toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.text)
			code, stdout, stderr := runCLI(t, "config", "check", path)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, stderr)
			}
			got := stdout
			if tt.code != 0 {
				got = stderr
			}
			if !strings.Contains(got, tt.contains) {
				t.Errorf("output %q, want it to contain %q", got, tt.contains)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		code, _, stderr := runCLI(t, "config", "check", filepath.Join(t.TempDir(), "none"))
		if code != 1 || !strings.Contains(stderr, "no such file") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("no argument", func(t *testing.T) {
		code, _, stderr := runCLI(t, "config", "check")
		if code != 2 || !strings.Contains(stderr, "Usage: xpanel config check FILE") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("example file", func(t *testing.T) {
		if code, _, stderr := runCLI(t, "config", "check", "config.example.toml"); code != 0 {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

func TestCLI_Help(t *testing.T) {
	code, list, _ := runCLI(t, "help")
	if code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, cmd := range commands() {
		t.Run(cmd.name, func(t *testing.T) {
			if !strings.Contains(list, "  "+cmd.name+" ") {
				t.Errorf("help does not list %q:\n%s", cmd.name, list)
			}
			if cmd.summary == "" {
				t.Error("no summary")
			}
			name := strings.Fields(cmd.name)
			code, stdout, _ := runCLI(t, append([]string{"help"}, name...)...)
			if code != 0 || !strings.HasPrefix(stdout, "Usage: xpanel "+cmd.name) {
				t.Errorf("help %s: exit %d, %q", cmd.name, code, stdout)
			}
			code, _, stderr := runCLI(t, append(name, "-h")...)
			if code != 0 || !strings.HasPrefix(stderr, "Usage: xpanel "+cmd.name) {
				t.Errorf("%s -h: exit %d, %q", cmd.name, code, stderr)
			}
		})
	}

	t.Run("unknown command", func(t *testing.T) {
		code, _, stderr := runCLI(t, "frobnicate")
		if code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		if code, _, _ := runCLI(t, "help", "frobnicate"); code != 2 {
			t.Errorf("help frobnicate: exit %d, want 2", code)
		}
	})
	t.Run("dash h lists commands", func(t *testing.T) {
		code, stdout, _ := runCLI(t, "-h")
		if code != 0 || stdout != list {
			t.Errorf("-h: exit %d, %q", code, stdout)
		}
	})
	t.Run("bad serve flag", func(t *testing.T) {
		if code, _, _ := runCLI(t, "-no-such-flag"); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
}

// TestCLI_Version runs the binary linked with a version and a commit,
// and the in-process command, which falls back to the build info.
func TestCLI_Version(t *testing.T) {
	t.Run("linked", func(t *testing.T) {
		out, err := exec.Command(binary(t), "version").Output()
		if err != nil {
			t.Fatalf("xpanel version: %v", err)
		}
		for _, want := range []string{"xpanel " + testVersion, "commit " + testCommit,
			runtime.Version(), "xray   " + xray.Version()} {
			if !strings.Contains(string(out), want) {
				t.Errorf("version output %q lacks %q", out, want)
			}
		}
	})
	t.Run("build info", func(t *testing.T) {
		code, stdout, _ := runCLI(t, "version")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		if !strings.HasPrefix(stdout, "xpanel ") || strings.HasPrefix(stdout, "xpanel \n") {
			t.Errorf("version output %q names no version", stdout)
		}
		if v := xray.Version(); !strings.Contains(stdout, v) || strings.Count(v, ".") != 2 {
			t.Errorf("xray version %q not in %q", v, stdout)
		}
	})
}

// TestMain_Metrics runs the binary with a metrics listener and scrapes
// it after an API call.
func TestMain_Metrics(t *testing.T) {
	metricsAddr := freeAddr(t)
	p := start(t, settings{dataDir: t.TempDir(), token: testToken, metrics: metricsAddr})
	p.api(testToken).ok(t, "GET", "/panel/api/clients/list", nil, nil)

	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `xpanel_api_requests_total{outcome="success",route="GET /panel/api/clients/list"} 1`
	if !strings.Contains(string(body), want) {
		t.Errorf("scrape lacks %s", want)
	}
	if strings.Contains(string(body), testToken) {
		t.Error("scrape carries the API token")
	}
}
