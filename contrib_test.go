package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unitPath is the systemd unit shipped for installs.
const unitPath = "contrib/xpanel.service"

// readUnit returns the unit's [Service] settings, each key with every
// value it is given, in order.
func readUnit(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settings := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			key, value, _ := strings.Cut(line, "=")
			settings[key] = append(settings[key], value)
		}
	}
	return settings
}

func TestUnit_Hardening(t *testing.T) {
	unit := readUnit(t)
	want := map[string]string{
		"User":                   "xpanel",
		"NoNewPrivileges":        "yes",
		"ProtectSystem":          "strict",
		"ProtectHome":            "yes",
		"PrivateTmp":             "yes",
		"PrivateDevices":         "yes",
		"CapabilityBoundingSet":  "CAP_NET_BIND_SERVICE",
		"AmbientCapabilities":    "CAP_NET_BIND_SERVICE",
		"ReadWritePaths":         "/var/lib/xpanel",
		"StateDirectory":         "xpanel",
		"StandardOutput":         "null",
		"MemoryDenyWriteExecute": "yes",
	}
	for key, value := range want {
		if got := unit[key]; !slices.Equal(got, []string{value}) {
			t.Errorf("%s = %q, want exactly %q", key, got, value)
		}
	}
	for _, key := range []string{"ExecStart", "ExecStartPre"} {
		if v := strings.Join(unit[key], " "); !strings.Contains(v, "/etc/xpanel/config.toml") {
			t.Errorf("%s = %q does not read /etc/xpanel/config.toml", key, v)
		}
	}
}

// TestUnit_Verify has systemd check the unit, with the binary the tests
// build in place of the installed one. Any warning fails it.
func TestUnit_Verify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	text, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	text = []byte(strings.ReplaceAll(string(text), "/usr/local/bin/xpanel", binary(t)))
	path := filepath.Join(t.TempDir(), "xpanel.service")
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
