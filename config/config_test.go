package config

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/BurntSushi/toml"
)

const examplePath = "../config.example.toml"

func TestConfig_Parse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		edit func(*Config) // applied to Default() to get the expected result
	}{
		{"empty", "", func(*Config) {}},
		{"comments only", "# nothing\n\n# here\n", func(*Config) {}},
		{"ipv6 listen", `listen = "[::1]:8443"`, func(c *Config) { c.Listen = "[::1]:8443" }},
		{"all interfaces", `listen = ":2053"`, func(c *Config) { c.Listen = ":2053" }},
		{"compound duration", `read_timeout = "1m30s"`, func(c *Config) {
			c.ReadTimeout.Duration = 90 * time.Second
		}},
		{"sync off", "sync_writes = false", func(c *Config) { c.SyncWrites = false }},
		{"underscored int", "max_conns = 1_000", func(c *Config) { c.MaxConns = 1000 }},
		{"zero expiring days", "expiring_days = 0", func(c *Config) { c.ExpiringDays = 0 }},
		{"token", `api_token = "0123456789abcdef"`, func(c *Config) {
			c.APIToken = "0123456789abcdef"
		}},
		{"several keys", "log_level = \"debug\"\nlog_format = \"json\"\n", func(c *Config) {
			c.LogLevel, c.LogFormat = "debug", "json"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := Default()
			tt.edit(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse = %+v\nwant    %+v", got, want)
			}
		})
	}
}

func TestConfig_ParseBadValue(t *testing.T) {
	tests := []struct {
		name string
		in   string
		key  string
	}{
		{"listen without port", `listen = "127.0.0.1"`, "listen"},
		{"listen port zero", `listen = "127.0.0.1:0"`, "listen"},
		{"listen named port", `listen = "localhost:http"`, "listen"},
		{"listen as integer", "listen = 2053", "listen"},
		{"listen as table", "[listen]\nport = 2053\n", "listen"},
		{"listen as dotted key", "listen.port = 2053", "listen"},
		{"empty data_dir", `data_dir = ""`, "data_dir"},
		{"short token", `api_token = "hunter2"`, "api_token"},
		{"token with space", `api_token = "0123456789 abcdef"`, "api_token"},
		{"unknown log_level", `log_level = "loud"`, "log_level"},
		{"log_level in capitals", `log_level = "INFO"`, "log_level"},
		{"unknown log_format", `log_format = "xml"`, "log_format"},
		{"small body limit", "max_body_bytes = 1023", "max_body_bytes"},
		{"parsecs", `read_timeout = "10 parsecs"`, "read_timeout"},
		{"duration without unit", "write_timeout = 30", "write_timeout"},
		{"zero duration", `idle_timeout = "0s"`, "idle_timeout"},
		{"negative duration", `shutdown_timeout = "-1s"`, "shutdown_timeout"},
		{"negative max_conns", "max_conns = -1", "max_conns"},
		{"max_conns as string", `max_conns = "many"`, "max_conns"},
		{"fractional days", "expiring_days = 1.5", "expiring_days"},
		{"negative bytes", "expiring_bytes = -1", "expiring_bytes"},
		{"sync_writes as string", `sync_writes = "yes"`, "sync_writes"},
		{"first mistyped key wins", "max_conns = \"x\"\nlisten = 1\n", "max_conns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in))
			var ke *KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("Parse error = %v, want a *KeyError", err)
			}
			if ke.Key != tt.key {
				t.Errorf("KeyError.Key = %q, want %q (%v)", ke.Key, tt.key, err)
			}
		})
	}
}

func TestConfig_ParseHidesToken(t *testing.T) {
	for _, in := range []string{`api_token = "hunter2"`, "api_token = 12345678901234567"} {
		_, err := Parse(strings.NewReader(in))
		if err == nil {
			t.Fatalf("Parse(%q) succeeded", in)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "123456") {
			t.Errorf("error quotes the token: %v", err)
		}
	}
}

func TestConfig_ParseUnknownKey(t *testing.T) {
	tests := []struct {
		name string
		in   string
		key  string
	}{
		{"typo", `lisen = "127.0.0.1:2053"`, "lisen"},
		{"capitals", `LISTEN = "127.0.0.1:2053"`, "LISTEN"},
		{"table", "[server]\nlisten = \"127.0.0.1:2053\"\n", "server"},
		{"dotted", "server.listen = \"127.0.0.1:2053\"", "server"},
		{"after a good key", "listen = \"127.0.0.1:1\"\nfoo = 1\n", "foo"},
		{"before a bad value", "foo = 1\nmax_conns = 1\n", "foo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in))
			want := `config: unknown key "` + tt.key + `"`
			if err == nil || err.Error() != want {
				t.Errorf("Parse error = %v, want %s", err, want)
			}
		})
	}
}

func TestConfig_ParseSyntaxError(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"missing value", "listen = "},
		{"duplicate key", "max_conns = 16\nmax_conns = 32\n"},
		{"unterminated string", `listen = "127.0.0.1:2053`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in))
			var pe toml.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error = %v, want a toml.ParseError", err)
			}
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("error %q lacks the config prefix", err)
			}
		})
	}
}

func TestConfig_ParseReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Parse(iotest.ErrReader(boom))
	if !errors.Is(err, boom) {
		t.Errorf("Parse error = %v, want it to wrap %v", err, boom)
	}
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		key  string // "" means valid
	}{
		{"default", func(*Config) {}, ""},
		{"listen port 65535", func(c *Config) { c.Listen = "0.0.0.0:65535" }, ""},
		{"listen port 65536", func(c *Config) { c.Listen = "0.0.0.0:65536" }, "listen"},
		{"listen signed port", func(c *Config) { c.Listen = "0.0.0.0:+80" }, "listen"},
		{"listen empty", func(c *Config) { c.Listen = "" }, "listen"},
		{"token of 16", func(c *Config) { c.APIToken = strings.Repeat("a", 16) }, ""},
		{"token of 15", func(c *Config) { c.APIToken = strings.Repeat("a", 15) }, "api_token"},
		{"token with tab", func(c *Config) {
			c.APIToken = strings.Repeat("a", 16) + "\t"
		}, "api_token"},
		{"body at floor", func(c *Config) { c.MaxBodyBytes = 1024 }, ""},
		{"body at ceiling", func(c *Config) { c.MaxBodyBytes = 1 << 30 }, ""},
		{"body over ceiling", func(c *Config) { c.MaxBodyBytes = 1<<30 + 1 }, "max_body_bytes"},
		{"conns at floor", func(c *Config) { c.MaxConns = 16 }, ""},
		{"conns under floor", func(c *Config) { c.MaxConns = 15 }, "max_conns"},
		{"conns at ceiling", func(c *Config) { c.MaxConns = 1_000_000 }, ""},
		{"conns over ceiling", func(c *Config) { c.MaxConns = 1_000_001 }, "max_conns"},
		{"days at ceiling", func(c *Config) { c.ExpiringDays = 3650 }, ""},
		{"days over ceiling", func(c *Config) { c.ExpiringDays = 3651 }, "expiring_days"},
		{"days negative", func(c *Config) { c.ExpiringDays = -1 }, "expiring_days"},
		{"bytes zero", func(c *Config) { c.ExpiringBytes = 0 }, ""},
		{"memory limit off", func(c *Config) { c.MemoryLimitMB = 0 }, ""},
		{"memory limit at floor", func(c *Config) { c.MemoryLimitMB = 32 }, ""},
		{"memory limit under floor", func(c *Config) { c.MemoryLimitMB = 31 }, "memory_limit_mb"},
		{"memory limit negative", func(c *Config) { c.MemoryLimitMB = -1 }, "memory_limit_mb"},
		{"read timeout zero", func(c *Config) { c.ReadTimeout.Duration = 0 }, "read_timeout"},
		{"write timeout zero", func(c *Config) { c.WriteTimeout.Duration = 0 }, "write_timeout"},
		{"idle timeout 1ns", func(c *Config) { c.IdleTimeout.Duration = 1 }, ""},
		{"shutdown negative", func(c *Config) {
			c.ShutdownTimeout.Duration = -time.Second
		}, "shutdown_timeout"},
		{"two bad keys", func(c *Config) { c.DataDir, c.Listen = "", "" }, "listen"},
		{"metrics on loopback", func(c *Config) { c.MetricsListen = "127.0.0.1:9090" }, ""},
		{"metrics without port", func(c *Config) { c.MetricsListen = "127.0.0.1" }, "metrics_listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.edit(&cfg)
			err := cfg.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Key != tt.key {
				t.Errorf("Validate = %v, want a *KeyError for %q", err, tt.key)
			}
		})
	}
}

// TestConfig_Example keeps config.example.toml in step with Config and
// Default: every key present, commented, and set to its default.
func TestConfig_Example(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatalf("read example: %v", err)
	}

	t.Run("parses to default", func(t *testing.T) {
		got, err := Parse(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if want := Default(); !reflect.DeepEqual(got, want) {
			t.Errorf("example = %+v\nDefault  %+v", got, want)
		}
	})

	t.Run("sets every key", func(t *testing.T) {
		var raw map[string]any
		if _, err := toml.Decode(string(data), &raw); err != nil {
			t.Fatalf("decode: %v", err)
		}
		for _, key := range tomlKeys(t) {
			if _, ok := raw[key]; !ok {
				t.Errorf("example does not set %q", key)
			}
		}
	})

	t.Run("comments every key", func(t *testing.T) {
		lines := strings.Split(string(data), "\n")
		for _, key := range tomlKeys(t) {
			re := regexp.MustCompile(`^` + regexp.QuoteMeta(key) + `\s*=`)
			i := slices.IndexFunc(lines, re.MatchString)
			if i < 1 || !strings.HasPrefix(lines[i-1], "#") {
				t.Errorf("%q is not preceded by a comment line", key)
			}
		}
	})
}

// tomlKeys returns the toml tag of every field of Config, failing the test
// for a field without one, since Parse could never set it.
func tomlKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	for f := range reflect.TypeFor[Config]().Fields() {
		key := f.Tag.Get("toml")
		if key == "" {
			t.Fatalf("field %s has no toml tag", f.Name)
		}
		keys = append(keys, key)
	}
	return keys
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
		return path
	}

	t.Run("good file", func(t *testing.T) {
		cfg, err := Load(write("good.toml", "max_conns = 64\n"))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if cfg.MaxConns != 64 || cfg.Listen != Default().Listen {
			t.Errorf("Load = %+v, want defaults with max_conns 64", cfg)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(dir, "missing.toml")
		_, err := Load(path)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
			t.Errorf("Load error = %v, want ErrNotExist naming %s", err, path)
		}
	})

	t.Run("bad value", func(t *testing.T) {
		path := write("bad.toml", "max_conns = 1\n")
		_, err := Load(path)
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != "max_conns" {
			t.Fatalf("Load error = %v, want a *KeyError for max_conns", err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("Load error %q does not name %s", err, path)
		}
	})
}

func TestDuration_UnmarshalText(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30s", 30 * time.Second, true},
		{"1h2m3.5s", time.Hour + 2*time.Minute + 3500*time.Millisecond, true},
		{"250ms", 250 * time.Millisecond, true},
		{"0", 0, true},
		{"-5s", -5 * time.Second, true},
		{"10 parsecs", 0, false},
		{"30", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			err := d.UnmarshalText([]byte(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("UnmarshalText(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if d.Duration != tt.want {
				t.Errorf("UnmarshalText(%q) = %v, want %v", tt.in, d.Duration, tt.want)
			}
		})
	}
}

func TestDuration_MarshalText(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 90 * time.Second, -time.Hour, 1<<63 - 1} {
		text, err := Duration{d}.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%v): %v", d, err)
		}
		var back Duration
		if err := back.UnmarshalText(text); err != nil || back.Duration != d {
			t.Errorf("%v -> %q -> %v, %v", d, text, back.Duration, err)
		}
	}

	t.Run("whole config", func(t *testing.T) {
		roundTrip(t, Default())
	})
}

func TestKeyError_Error(t *testing.T) {
	err := &KeyError{Key: "listen", Reason: "must be host:port"}
	if got, want := err.Error(), `config: key "listen": must be host:port`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// roundTrip encodes cfg as TOML, parses it back and fails t unless the
// result equals cfg.
func roundTrip(t testing.TB, cfg Config) {
	t.Helper()
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
		t.Fatalf("encode: %v", err)
	}
	got, err := Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("Parse of encoded config: %v\n%s", err, buf.Bytes())
	}
	if !reflect.DeepEqual(got, cfg) {
		t.Fatalf("round trip = %+v\nwant         %+v", got, cfg)
	}
}
