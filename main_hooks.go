package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/xpanel/xpanel/config"
	"github.com/xpanel/xpanel/hooks"
)

// scriptsDir is where the Lua scripts live: the configured directory,
// or "scripts" beside the config file, or in the working directory when
// there is no config file.
func scriptsDir(cfg config.Config, configPath string) string {
	switch {
	case cfg.ScriptsDir != "":
		return cfg.ScriptsDir
	case configPath != "":
		return filepath.Join(filepath.Dir(configPath), "scripts")
	default:
		return "scripts"
	}
}

// reloadOnHangup reloads the scripts on every SIGHUP until ctx ends.
func reloadOnHangup(ctx context.Context, e *hooks.Engine, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if _, err := e.Reload(); err != nil {
				log.Error("reload scripts", slog.Any("err", err))
			}
		}
	}
}

// scriptsAPI serves the scripts routes from the hook engine.
type scriptsAPI struct{ e *hooks.Engine }

func (s scriptsAPI) List() any { return s.e.Status() }

func (s scriptsAPI) Reload() (any, error) { return s.e.Reload() }
