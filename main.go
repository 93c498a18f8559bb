// Command xpanel manages the clients of Xray proxy servers: it serves
// the clients API, keeps every record in an embedded database and, as
// later parts land, drives the proxy core in the same process.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/xpanel/xpanel/config"
	"github.com/xpanel/xpanel/handlers"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/panel"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "xpanel:", err)
		os.Exit(1)
	}
}

// run starts the server with the command line args and serves until ctx
// ends. The generated API token, and nothing else, goes to stdout; the
// log goes to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("xpanel", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "", "TOML configuration `file` (default: built-in defaults)")
	if err := flags.Parse(args); err != nil {
		return err
	}

	cfg := config.Default()
	if *configPath != "" {
		var err error
		if cfg, err = config.Load(*configPath); err != nil {
			return err
		}
	}
	log := newLogger(cfg, stderr)

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	token, err := apiToken(cfg, stdout)
	if err != nil {
		return err
	}

	store, err := kv.Open(filepath.Join(cfg.DataDir, "db"), kv.Options{
		SyncWrites: cfg.SyncWrites, Logger: log.With(slog.String("part", "badger"))})
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("close store", slog.Any("err", err))
		}
	}()

	svc := panel.New(store, panel.Options{
		ExpiringWithin: time.Duration(cfg.ExpiringDays) * 24 * time.Hour,
		ExpiringBytes:  cfg.ExpiringBytes,
		Logger:         log,
	})
	if _, err := svc.GUID(); err != nil {
		return fmt.Errorf("server guid: %w", err)
	}
	h := handlers.New(svc, []handlers.Token{{Hash: handlers.HashToken(token)}}, log)
	return serve(ctx, h, cfg, log)
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
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("serving API", slog.String("listen", ln.Addr().String()),
		slog.String("data_dir", cfg.DataDir))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

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
