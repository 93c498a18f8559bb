// Package config reads xpanel's TOML configuration file.
//
// A file need only name the keys it changes: Parse starts from Default and
// decodes over it. Unknown keys are rejected rather than ignored, so a typo
// fails at start-up instead of silently leaving a default in place.
package config

import (
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// Config holds every setting of the server. The toml tags are the key names
// of the file; config.example.toml lists each one with its default.
type Config struct {
	// Listen is the host:port the API listens on. An empty host means all
	// interfaces.
	Listen string `toml:"listen"`

	// DataDir is the directory holding the database.
	DataDir string `toml:"data_dir"`

	// APIToken authenticates API callers. Empty means the server generates
	// one on first start. It is a secret: never log it.
	APIToken string `toml:"api_token"`

	// LogLevel is one of debug, info, warn, error.
	LogLevel string `toml:"log_level"`

	// LogFormat is text or json.
	LogFormat string `toml:"log_format"`

	// MaxBodyBytes caps the size of a request body.
	MaxBodyBytes int64 `toml:"max_body_bytes"`

	// ReadTimeout, WriteTimeout and IdleTimeout bound the phases of an API
	// connection: reading a request, writing its response, and waiting
	// between requests on a kept-alive connection.
	ReadTimeout  Duration `toml:"read_timeout"`
	WriteTimeout Duration `toml:"write_timeout"`
	IdleTimeout  Duration `toml:"idle_timeout"`

	// MaxConns caps the concurrent connections of the API listener.
	MaxConns int `toml:"max_conns"`

	// ExpiringDays puts a client whose expiry is at most this many days away
	// in the "expiring" bucket.
	ExpiringDays int `toml:"expiring_days"`

	// ExpiringBytes puts a client whose remaining quota is below this many
	// bytes in the "expiring" bucket.
	ExpiringBytes int64 `toml:"expiring_bytes"`

	// SyncWrites makes every commit wait for fsync. False is faster but may
	// lose the last moments of writes on power loss.
	SyncWrites bool `toml:"sync_writes"`

	// ShutdownTimeout bounds how long a graceful shutdown waits for
	// in-flight requests before closing them.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`

	// XrayLogLevel is the least severe message of the proxy core that
	// reaches the log: debug, info, warning, error or none.
	XrayLogLevel string `toml:"xray_log_level"`

	// TrafficInterval is how often the core's counters are read into the
	// store and quotas, expiry and renewals are enforced. A kill -9 loses
	// at most one interval of counted bytes.
	TrafficInterval Duration `toml:"traffic_interval"`

	// OnlineGrace keeps a client listed as online this long after its
	// last connection or counted byte, so that a short gap between
	// requests does not make it flicker.
	OnlineGrace Duration `toml:"online_grace"`

	// PublicHost is the host name or address share links and
	// subscriptions advertise for inbounds that listen on every
	// interface. Empty means the host the API request was sent to. An
	// inbound's shareAddr overrides it.
	PublicHost string `toml:"public_host"`

	// ScriptsDir holds the operator's Lua scripts, every *.lua file in
	// it loaded in name order. Empty means "scripts" beside the config
	// file, or in the working directory when there is none.
	ScriptsDir string `toml:"scripts_dir"`

	// HookTimeout bounds the Lua execution of one script call: an event
	// handler, a before hook, a timer or a script's loading.
	HookTimeout Duration `toml:"hook_timeout"`
	// SubListen is the host:port of the subscription server, which
	// answers without a token; empty turns it off.
	SubListen string `toml:"sub_listen"`

	// SubPath is the path prefix of subscription URLs; the subscription
	// id follows it.
	SubPath string `toml:"sub_path"`

	// SubUpdateHours tells apps how often to fetch a subscription again.
	SubUpdateHours int `toml:"sub_update_hours"`

	// SubTitle names the profile in apps; empty means the email of the
	// subscription's first client.
	SubTitle string `toml:"sub_title"`

	// SubExternalTimeout bounds one fetch of an external subscription a
	// client carries; SubExternalCache is how long its answer is reused.
	SubExternalTimeout Duration `toml:"sub_external_timeout"`
	SubExternalCache   Duration `toml:"sub_external_cache"`

	// SubFetchFlush is how often the time of each client's last
	// subscription fetch is written to the store; a crash loses at most
	// this much of that record.
	SubFetchFlush Duration `toml:"sub_fetch_flush"`
	// MetricsListen is the host:port of the Prometheus endpoint
	// (/metrics, no token), a listener apart from the API so that it can
	// stay private. Empty means no endpoint.
	MetricsListen string `toml:"metrics_listen"`
	// MemoryLimitMB is the soft limit of the Go runtime's memory, in MiB:
	// the garbage collector works harder as the heap nears it, instead of
	// letting the heap grow to twice what is live. 0 leaves the runtime's
	// own setting (GOMEMLIMIT, or none).
	MemoryLimitMB int `toml:"memory_limit_mb"`
}

// defaultMemoryLimitMB suits a VPS of 512 MB to 1 GB serving up to about
// 100,000 clients; see README's "Storage and memory".
const defaultMemoryLimitMB = 512

// Default returns the configuration used for every key a file leaves out.
// It passes Validate.
func Default() Config {
	return Config{
		Listen:          "127.0.0.1:2053",
		DataDir:         "data",
		LogLevel:        "info",
		LogFormat:       "text",
		MaxBodyBytes:    10 << 20,
		ReadTimeout:     Duration{30 * time.Second},
		WriteTimeout:    Duration{30 * time.Second},
		IdleTimeout:     Duration{120 * time.Second},
		MaxConns:        4096,
		ExpiringDays:    3,
		ExpiringBytes:   1 << 30,
		SyncWrites:      true,
		ShutdownTimeout: Duration{10 * time.Second},
		XrayLogLevel:    "warning",
		TrafficInterval: Duration{10 * time.Second},
		OnlineGrace:     Duration{20 * time.Second},
		HookTimeout:     Duration{100 * time.Millisecond},

		SubListen:          "127.0.0.1:2096",
		SubPath:            "/sub/",
		SubUpdateHours:     12,
		SubExternalTimeout: Duration{5 * time.Second},
		SubExternalCache:   Duration{10 * time.Minute},
		SubFetchFlush:      Duration{30 * time.Second},
		MemoryLimitMB:      defaultMemoryLimitMB,
	}
}

// Load reads the file at path with Parse. Errors name the path.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()

	cfg, err := Parse(f)
	if err != nil {
		return Config{}, fmt.Errorf("load %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes TOML from r over Default and validates the result.
//
// An unknown key fails with an error naming it. A value of the wrong type
// or out of range fails with a *KeyError. A TOML syntax error is returned
// wrapped, and says the line and, when toml knows it, the last key read.
func Parse(r io.Reader) (Config, error) {
	// Hold each top-level value undecoded, so that a value of the wrong
	// type can be blamed on its key.
	var raw map[string]toml.Primitive
	md, err := toml.NewDecoder(r).Decode(&raw)
	if err != nil {
		return Config{}, fmt.Errorf("config: decode toml: %w", err)
	}

	// Walk the keys in file order, so the first unknown or mistyped one is
	// reported.
	cfg := Default()
	done := make(map[string]bool, len(raw))
	for _, k := range md.Keys() {
		key := k[0]
		if done[key] {
			continue
		}
		done[key] = true
		if err := cfg.decodeKey(&md, key, raw[key]); err != nil {
			return Config{}, err
		}
	}

	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decodeKey decodes v into the field of c tagged key.
func (c *Config) decodeKey(md *toml.MetaData, key string, v toml.Primitive) error {
	dst := c.field(key)
	if dst == nil {
		return fmt.Errorf("config: unknown key %q", key)
	}

	// toml's own message repeats the key and may quote the value, which for
	// api_token is a secret; the reason says what was expected instead.
	if err := md.PrimitiveDecode(v, dst); err != nil {
		return &KeyError{Key: key, Reason: "must be " + want(dst)}
	}
	return nil
}

// field returns a pointer to the field of c whose toml tag is key, or nil.
// The match is exact: toml's own decoder would also accept "LISTEN".
func (c *Config) field(key string) any {
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		if v.Type().Field(i).Tag.Get("toml") == key {
			return v.Field(i).Addr().Interface()
		}
	}
	return nil
}

// want describes the TOML value that the field dst points to accepts.
func want(dst any) string {
	switch dst.(type) {
	case *string:
		return "a string"
	case *bool:
		return "true or false"
	case *Duration:
		return `a duration such as "30s"`
	default: // every other field is an int or int64
		return "an integer"
	}
}

// Validate reports the first key, in the order of the fields of Config,
// whose value is unusable, as a *KeyError. Parse calls it; call it again
// after changing a Config in code.
func (c Config) Validate() error {
	rules := []struct {
		key    string
		ok     bool
		reason string
	}{
		{"listen", validHostPort(c.Listen),
			"must be host:port with a port from 1 to 65535"},
		{"data_dir", c.DataDir != "", "must not be empty"},
		{"api_token", validToken(c.APIToken),
			"must be empty or at least 16 characters without whitespace"},
		{"log_level", slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel),
			"must be debug, info, warn or error"},
		{"log_format", slices.Contains([]string{"text", "json"}, c.LogFormat),
			"must be text or json"},
		{"max_body_bytes", c.MaxBodyBytes >= 1024 && c.MaxBodyBytes <= 1<<30,
			"must be from 1024 to 1073741824"},
		{"read_timeout", c.ReadTimeout.Duration > 0, "must be positive"},
		{"write_timeout", c.WriteTimeout.Duration > 0, "must be positive"},
		{"idle_timeout", c.IdleTimeout.Duration > 0, "must be positive"},
		{"max_conns", c.MaxConns >= 16 && c.MaxConns <= 1_000_000,
			"must be from 16 to 1000000"},
		{"expiring_days", c.ExpiringDays >= 0 && c.ExpiringDays <= 3650,
			"must be from 0 to 3650"},
		{"expiring_bytes", c.ExpiringBytes >= 0, "must not be negative"},
		{"shutdown_timeout", c.ShutdownTimeout.Duration > 0, "must be positive"},
		{"xray_log_level", slices.Contains(xrayLogLevels, c.XrayLogLevel),
			"must be debug, info, warning, error or none"},
		{"traffic_interval", c.TrafficInterval.Duration >= time.Second,
			"must be at least 1s"},
		{"online_grace", c.OnlineGrace.Duration >= 0, "must not be negative"},
		{"public_host", validPublicHost(c.PublicHost),
			"must be empty or a host name or IP address without port or scheme"},
		{"hook_timeout", c.HookTimeout.Duration >= time.Millisecond &&
			c.HookTimeout.Duration <= time.Minute, "must be from 1ms to 1m"},
		{"sub_listen", c.SubListen == "" || validHostPort(c.SubListen),
			"must be empty or host:port with a port from 1 to 65535"},
		{"sub_path", validSubPath(c.SubPath),
			"must start and end with / and hold no spaces, ? or #"},
		{"sub_update_hours", c.SubUpdateHours >= 1 && c.SubUpdateHours <= 24*30,
			"must be from 1 to 720"},
		{"sub_title", len(c.SubTitle) <= 128 && !strings.ContainsFunc(c.SubTitle, unicode.IsControl),
			"must be at most 128 bytes without control characters"},
		{"sub_external_timeout", c.SubExternalTimeout.Duration >= 100*time.Millisecond &&
			c.SubExternalTimeout.Duration <= time.Minute, "must be from 100ms to 1m"},
		{"sub_external_cache", c.SubExternalCache.Duration >= 0, "must not be negative"},
		{"sub_fetch_flush", c.SubFetchFlush.Duration >= time.Second, "must be at least 1s"},
		{"metrics_listen", c.MetricsListen == "" || validHostPort(c.MetricsListen),
			"must be empty or host:port with a port from 1 to 65535"},
		{"memory_limit_mb", c.MemoryLimitMB == 0 || c.MemoryLimitMB >= 32 && c.MemoryLimitMB <= 1<<20,
			"must be 0 (no limit) or from 32 to 1048576"},
	}
	for _, r := range rules {
		if !r.ok {
			return &KeyError{Key: r.key, Reason: r.reason}
		}
	}
	return nil
}

// xrayLogLevels are the levels xray_log_level accepts, in Xray's words.
var xrayLogLevels = []string{"debug", "info", "warning", "error", "none"}

// validPublicHost reports whether s is empty or a bare host: no scheme,
// port, path or whitespace. An IPv6 address is written without brackets.
func validPublicHost(s string) bool {
	if s == "" || net.ParseIP(s) != nil {
		return true
	}
	return !strings.ContainsAny(s, ":/@?#[] \t")
}

// validSubPath reports whether p is a path prefix subscription URLs
// can start with: "/", or "/name/" of URL-safe characters.
func validSubPath(p string) bool {
	return strings.HasPrefix(p, "/") && strings.HasSuffix(p, "/") && len(p) <= 64 &&
		!strings.ContainsFunc(p, func(r rune) bool {
			return unicode.IsSpace(r) || unicode.IsControl(r) || r == '?' || r == '#' || r == '%'
		})
}

// validHostPort reports whether s is host:port with a numeric port in
// 1..65535. The host may be empty, meaning all interfaces.
func validHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n > 0
}

// validToken reports whether tok is empty (generate one) or long enough and
// free of whitespace, which would not survive an HTTP header.
func validToken(tok string) bool {
	if tok == "" {
		return true
	}
	return utf8.RuneCountInString(tok) >= 16 && !strings.ContainsFunc(tok, unicode.IsSpace)
}

// KeyError reports a key whose value was of the wrong type or out of range.
// Reason never quotes the value, since some values are secrets.
type KeyError struct {
	Key    string // the TOML key, as in the file
	Reason string // what the value must be, e.g. "must not be empty"
}

// Error returns, e.g., `config: key "listen": must be host:port ...`.
func (e *KeyError) Error() string {
	return fmt.Sprintf("config: key %q: %s", e.Key, e.Reason)
}

// Duration is a time.Duration written in TOML as a string that
// time.ParseDuration accepts, such as "30s" or "1m30s". Use the embedded
// field: cfg.ReadTimeout.Duration.
type Duration struct {
	time.Duration
}

// UnmarshalText parses text with time.ParseDuration.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("parse duration: %w", err)
	}
	d.Duration = v
	return nil
}

// MarshalText writes d in the form UnmarshalText reads back exactly.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}
