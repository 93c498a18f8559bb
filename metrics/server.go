package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server answers scrapes on a listener of its own, apart from the API,
// so that it can stay on a private address. Start it with Serve.
type Server struct {
	srv  *http.Server
	done chan error
}

// Serve answers scrapes of m at /metrics on ln until Close. Every other
// path is 404.
func Serve(ln net.Listener, m *Metrics, log *slog.Logger) *Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	s := &Server{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s
}

// Close stops accepting scrapes and waits, until ctx ends, for those in
// flight.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if served := <-s.done; !errors.Is(served, http.ErrServerClosed) && served != nil {
		return fmt.Errorf("serve metrics: %w", served)
	}
	if err != nil {
		return fmt.Errorf("stop metrics server: %w", err)
	}
	return nil
}
