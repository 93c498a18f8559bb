package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/xpanel/xpanel/config"
	"github.com/xpanel/xpanel/metrics"
)

// startMetrics serves the Prometheus endpoint on metrics_listen, when
// set, and has the API report its requests to it. The returned function
// stops the endpoint; it does nothing when none was started.
func startMetrics(cfg config.Config, a *app, log *slog.Logger) (stop func(), err error) {
	if cfg.MetricsListen == "" {
		return func() {}, nil
	}
	m := metrics.New(metrics.Sources{
		Service: a.svc, Store: a.store, Core: a.core, Poller: a.poller, Hooks: a.hooks,
	})
	a.handler.SetObserver(m)

	ln, err := net.Listen("tcp", cfg.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics: %w", err)
	}
	log = log.With(slog.String("system", "metrics"))
	log.Info("serving metrics", slog.String("listen", ln.Addr().String()))
	srv := metrics.Serve(ln, m, log)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			log.Warn("stop metrics server", slog.Any("err", err))
		}
	}, nil
}
