// Command xpanel manages the clients of Xray proxy servers: it serves
// the clients API, keeps every record in an embedded database and, as
// later parts land, drives the proxy core in the same process.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/xpanel/xpanel/config"
	"github.com/xpanel/xpanel/handlers"
	"github.com/xpanel/xpanel/hooks"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/panel"
	"github.com/xpanel/xpanel/sub"
	"github.com/xpanel/xpanel/xray"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(exitCode(dispatch(ctx, os.Args[1:], outputs{os.Stdout, os.Stderr}), os.Stderr))
}

// run starts the server with the configuration file at configPath (the
// defaults when empty) and serves until ctx ends. The generated API
// token, and nothing else, goes to stdout; the log goes to stderr.
func run(ctx context.Context, configPath string, stdout, stderr io.Writer) error {
	cfg := config.Default()
	if configPath != "" {
		var err error
		if cfg, err = config.Load(configPath); err != nil {
			return err
		}
	}
	log := newLogger(cfg, stderr)
	setMemoryLimit(cfg)

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	token, err := apiToken(cfg, stdout)
	if err != nil {
		return err
	}

	cfg.ScriptsDir = scriptsDir(cfg, configPath)
	a, err := openApp(cfg, token, log)
	if err != nil {
		return err
	}
	defer a.close()
	go reloadOnHangup(ctx, a.hooks, log)
	stopSub, err := serveSub(a, cfg, log)
	if err != nil {
		return err
	}
	defer stopSub()
	stopMetrics, err := startMetrics(cfg, a, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	return serve(ctx, a.handler, cfg, log)
}

// app is the running server minus its HTTP listener: the store, the
// proxy core following it, the domain operations, the traffic poller
// and the API handler.
type app struct {
	store   *kv.Store
	core    *xray.Core
	svc     *panel.Service
	poller  *panel.Poller
	hooks   *hooks.Engine
	handler *handlers.Handler
	sub     *sub.Server
	tokens  *tokenWatcher
	gc      *periodic
	fold    *periodic
	log     *slog.Logger
}

// openApp opens the store and starts everything on it, in dependency
// order: store, core (built from the store), operations, poller, API.
func openApp(cfg config.Config, token string, log *slog.Logger) (*app, error) {
	store, err := kv.Open(filepath.Join(cfg.DataDir, "db"), kv.Options{
		SyncWrites: cfg.SyncWrites, Logger: log.With(slog.String("system", "kv"))})
	if err != nil {
		return nil, err
	}
	a := &app{store: store, log: log}

	err = store.View(func(v *kv.View) error {
		a.core, err = xray.Start(v, xray.Options{
			Logger: log.With(slog.String("system", "xray")), LogLevel: cfg.XrayLogLevel})
		return err
	})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("start proxy core: %w", err)
	}
	store.SetFollower(a.core)

	seen := panel.NewSightings(cfg.OnlineGrace.Duration)
	a.svc = panel.New(store, panel.Options{
		ExpiringWithin: time.Duration(cfg.ExpiringDays) * 24 * time.Hour,
		ExpiringBytes:  cfg.ExpiringBytes,
		Logger:         log,
		Presence:       seen,
		PublicHost:     cfg.PublicHost,
		External: sub.NewFetcher(cfg.SubExternalTimeout.Duration,
			cfg.SubExternalCache.Duration),
	})
	if _, err := a.svc.GUID(); err != nil {
		a.close()
		return nil, fmt.Errorf("server guid: %w", err)
	}
	a.hooks, err = hooks.Open(store, a.svc, hooks.Options{
		Dir: cfg.ScriptsDir, Timeout: cfg.HookTimeout.Duration,
		Logger: log.With(slog.String("system", "hooks"))})
	if err != nil {
		a.close()
		return nil, fmt.Errorf("start hooks: %w", err)
	}
	a.poller = panel.NewPoller(a.svc, coreMeter{a.core}, seen, cfg.TrafficInterval.Duration)
	a.poller.Open()

	admin := []handlers.Token{{Hash: handlers.HashToken(token)}}
	a.handler = handlers.New(a.svc, admin, log)
	a.handler.SetScripts(scriptsAPI{a.hooks})
	a.tokens = newTokenWatcher(cfg.DataDir, admin, a.handler, a.svc.Faults(),
		log.With(slog.String("system", "auth")), tokensReload)
	if err := a.tokens.Open(); err != nil {
		a.close()
		return nil, err
	}
	a.gc = newValueLogGC(store, a.svc.Faults(), log.With(slog.String("system", "kv")))
	a.gc.Open()
	a.fold = newUsageFold(store, a.svc.Faults(), log.With(slog.String("system", "kv")))
	a.fold.Open()
	a.sub = newSubServer(a.svc, cfg, log)
	return a, nil
}

// close stops everything in reverse order. The poller's last round
// saves the bytes counted since the previous one before the core stops
// and the store closes.
func (a *app) close() {
	if a.sub != nil {
		if err := a.sub.Close(); err != nil {
			a.log.Error("stop subscription server", slog.Any("err", err))
		}
	}
	if a.tokens != nil {
		a.tokens.Close()
	}
	if a.gc != nil {
		a.gc.Close()
	}
	if a.fold != nil {
		a.fold.Close()
	}
	if a.poller != nil {
		if err := a.poller.Close(); err != nil {
			a.log.Error("stop traffic poller", slog.Any("err", err))
		}
	}
	if a.hooks != nil {
		if err := a.hooks.Close(); err != nil {
			a.log.Error("stop hooks", slog.Any("err", err))
		}
	}
	a.store.SetFollower(nil)
	if err := a.core.Close(); err != nil {
		a.log.Error("stop proxy core", slog.Any("err", err))
	}
	if err := a.store.Close(); err != nil {
		a.log.Error("close store", slog.Any("err", err))
	}
}

// coreMeter lets the poller read the core in the poller's own terms.
type coreMeter struct{ core *xray.Core }

func (m coreMeter) Usage() (clients, inbounds map[string]panel.Delta) {
	return m.core.Usage()
}

func (m coreMeter) Live() map[string]panel.LiveUser {
	live := m.core.Live()
	out := make(map[string]panel.LiveUser, len(live))
	for email, l := range live {
		lu := panel.LiveUser{IPs: l.IPs}
		for _, r := range l.Refused {
			if lu.Refused == nil {
				lu.Refused = map[string]int64{}
			}
			lu.Refused[r.IP] = r.At.Unix()
		}
		out[email] = lu
	}
	return out
}

// serve answers API requests until ctx ends, then stops accepting and
// gives the requests in flight the shutdown timeout to finish.
func serve(ctx context.Context, h *handlers.Handler, cfg config.Config, log *slog.Logger) error {
	srv := h.Server(handlers.Limits{
		MaxBodyBytes: int(cfg.MaxBodyBytes),
		ReadTimeout:  cfg.ReadTimeout.Duration,
		WriteTimeout: cfg.WriteTimeout.Duration,
		IdleTimeout:  cfg.IdleTimeout.Duration,
		MaxConns:     cfg.MaxConns,
		// One address may hold half the connections, so that a flood from
		// one place leaves room for everyone else.
		MaxConnsPerIP:  max(cfg.MaxConns/2, 1),
		MaxHeaderBytes: maxHeaderBytes,
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("serving API", slog.String("listen", ln.Addr().String()),
		slog.String("data_dir", cfg.DataDir))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(handlers.Lingering(ln)) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.Duration("timeout", cfg.ShutdownTimeout.Duration))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.Duration)
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil {
		log.Warn("requests cut off at shutdown", slog.Any("err", err))
	}
	return nil
}

// maxHeaderBytes caps a request's line and headers: ample for the API's
// paths and a Bearer token, small per connection.
const maxHeaderBytes = 8 << 10

// setMemoryLimit gives the Go runtime the configured soft memory limit,
// so that the heap is collected before it grows to twice its live size.
func setMemoryLimit(cfg config.Config) {
	if cfg.MemoryLimitMB > 0 {
		debug.SetMemoryLimit(int64(cfg.MemoryLimitMB) << 20)
	}
}

// newLogger builds the process logger the configuration asks for.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // Validate accepted it
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// tokenFile is the file in the data directory that keeps the generated
// API token.
const tokenFile = "api_token"

// apiToken returns the token callers must present: the configured one,
// or the one generated on an earlier start, or a new one. A new token is
// written to stdout once, so the operator sees it on the terminal; it
// never goes to the log.
func apiToken(cfg config.Config, stdout io.Writer) (string, error) {
	if cfg.APIToken != "" {
		return cfg.APIToken, nil
	}
	path := filepath.Join(cfg.DataDir, tokenFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if token := strings.TrimSpace(string(b)); token != "" {
			return token, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read api token: %w", err)
	}

	token := rand.Text() + rand.Text()
	if err := writeFileSync(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("store api token: %w", err)
	}
	fmt.Fprintf(stdout, "API token (shown once, kept in %s):\n%s\n", path, token)
	return token, nil
}

// writeFileSync writes a file under a temporary name, syncs it and
// renames it into place, so a crash leaves either no file or a whole one.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
