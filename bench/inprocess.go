package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/xpanel/xpanel/config"
	"github.com/xpanel/xpanel/handlers"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/panel"
	"github.com/xpanel/xpanel/xray"
)

// inProcess is the server wired as main.go wires it, but inside the
// harness, so that a CPU profile covers it. The driver shares the
// process, so its own cost shows in the profile too. Like main.go it
// runs the proxy core as the store's follower, since every commit pays
// for following it; the traffic poller is left out, as no proxy
// traffic flows.
type inProcess struct {
	store   *kv.Store
	core    *xray.Core
	srv     *fasthttp.Server
	served  chan error
	path    string
	profile *os.File
}

func startInProcess(t *target, o options) (*inProcess, error) {
	cfg := config.Default()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := kv.Open(filepath.Join(t.dataDir, "db"), kv.Options{
		SyncWrites: o.syncWrites, Logger: log.With(slog.String("part", "badger"))})
	if err != nil {
		return nil, err
	}
	var core *xray.Core
	err = store.View(func(v *kv.View) error {
		core, err = xray.Start(v, xray.Options{Logger: log, LogLevel: "none"})
		return err
	})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("start proxy core: %w", err)
	}
	store.SetFollower(core)
	svc := panel.New(store, panel.Options{
		ExpiringWithin: time.Duration(cfg.ExpiringDays) * 24 * time.Hour,
		ExpiringBytes:  cfg.ExpiringBytes,
		Logger:         log,
	})
	h := handlers.New(svc, []handlers.Token{{Hash: handlers.HashToken(t.token)}}, log)
	ln, err := net.Listen("tcp", t.addr)
	if err != nil {
		core.Close()
		store.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}

	p := &inProcess{store: store, core: core, served: make(chan error, 1),
		path: o.cpuProfile}
	p.srv = h.Server(handlers.Limits{
		MaxBodyBytes: int(cfg.MaxBodyBytes), ReadTimeout: cfg.ReadTimeout.Duration,
		WriteTimeout: cfg.WriteTimeout.Duration, IdleTimeout: cfg.IdleTimeout.Duration,
		MaxConns: cfg.MaxConns,
	})
	go func() { p.served <- p.srv.Serve(ln) }()
	return p, nil
}

// inProcess reports whether the options ask for a profile, which needs
// the server in the harness process.
func (o options) inProcess() bool {
	return o.cpuProfile != "" || o.memProfile != ""
}

// startProfile begins the CPU profile, if one was asked for.
func (p *inProcess) startProfile() error {
	if p.path == "" {
		return nil
	}
	f, err := os.Create(p.path)
	if err != nil {
		return fmt.Errorf("create cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("start cpu profile: %w", err)
	}
	p.profile = f
	return nil
}

func (p *inProcess) stopProfile() {
	if p.profile == nil {
		return
	}
	pprof.StopCPUProfile()
	p.profile.Close()
	p.profile = nil
}

// writeHeapProfile collects garbage and writes the live heap to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create heap profile: %w", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("write heap profile: %w", err)
	}
	return nil
}

func (p *inProcess) close() error {
	p.stopProfile()
	p.srv.Shutdown()
	<-p.served
	p.store.SetFollower(nil)
	if err := p.core.Close(); err != nil {
		p.store.Close()
		return fmt.Errorf("stop proxy core: %w", err)
	}
	return p.store.Close()
}
