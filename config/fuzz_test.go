package config

import (
	"bytes"
	"os"
	"testing"
)

// FuzzParse checks that Parse never panics, that whatever it accepts
// passes Validate, and that an accepted config survives a TOML round trip.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(examplePath); err == nil {
		f.Add(data)
	}
	for _, seed := range []string{
		"",
		`listen = "[::1]:8443"`,
		`read_timeout = "1h2m3.004005006s"`,
		`api_token = "0123456789abcdef\u00e9"`,
		"max_conns = 1_000\nsync_writes = false\n",
		`lisen = "x"`,
		"[listen]\nport = 1\n",
		`idle_timeout = "10 parsecs"`,
		"expiring_days = 1.5",
		"listen = ",
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that fails Validate: %v", err)
		}
		roundTrip(t, cfg)
	})
}
