package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/xpanel/xpanel/config"
	"github.com/xpanel/xpanel/panel"
	"github.com/xpanel/xpanel/sub"
)

// newSubServer builds the subscription server the configuration asks
// for and starts writing fetch times to the store.
func newSubServer(svc *panel.Service, cfg config.Config, log *slog.Logger) *sub.Server {
	s := sub.New(svc, sub.Options{
		Path:          cfg.SubPath,
		UpdateHours:   cfg.SubUpdateHours,
		Title:         cfg.SubTitle,
		FlushInterval: cfg.SubFetchFlush.Duration,
		Logger:        log.With(slog.String("system", "sub")),
	})
	s.Open()
	return s
}

// serveSub starts the subscription listener, unless sub_listen is empty,
// and returns the function that stops it: it stops accepting and gives
// the requests in flight the shutdown timeout to finish.
func serveSub(a *app, cfg config.Config, log *slog.Logger) (stop func(), err error) {
	if cfg.SubListen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.SubListen)
	if err != nil {
		return nil, fmt.Errorf("listen for subscriptions: %w", err)
	}
	srv := a.sub.HTTPServer(sub.Limits{
		ReadTimeout:  cfg.ReadTimeout.Duration,
		WriteTimeout: cfg.WriteTimeout.Duration,
		IdleTimeout:  cfg.IdleTimeout.Duration,
		MaxConns:     cfg.MaxConns,
	})
	log.Info("serving subscriptions", slog.String("listen", ln.Addr().String()),
		slog.String("path", cfg.SubPath))
	go func() {
		if err := srv.Serve(ln); err != nil {
			log.Error("subscription server stopped", slog.Any("err", err))
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.Duration)
		defer cancel()
		if err := srv.ShutdownWithContext(ctx); err != nil {
			log.Warn("subscription requests cut off at shutdown", slog.Any("err", err))
		}
	}, nil
}
