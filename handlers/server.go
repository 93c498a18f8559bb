package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"
)

// Limits bounds the connections and requests the API server accepts.
type Limits struct {
	MaxBodyBytes int
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	MaxConns     int

	// MaxConnsPerIP caps the connections of one source address, so that
	// one client cannot take every connection; 0 means no cap.
	MaxConnsPerIP int

	// MaxHeaderBytes caps the request line and headers; 0 means
	// fasthttp's 4096.
	MaxHeaderBytes int
}

// Server returns a fasthttp server that answers with h under the limits.
func (h *Handler) Server(l Limits) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:               h.Serve,
		HeaderReceived:        requestConfig,
		Name:                  "xpanel",
		MaxRequestBodySize:    l.MaxBodyBytes,
		ReadTimeout:           l.ReadTimeout,
		WriteTimeout:          l.WriteTimeout,
		IdleTimeout:           l.IdleTimeout,
		Concurrency:           l.MaxConns,
		MaxConnsPerIP:         l.MaxConnsPerIP,
		ReadBufferSize:        l.MaxHeaderBytes,
		NoDefaultServerHeader: true,
		NoDefaultDate:         true,
		ErrorHandler:          h.badRequest,
		Logger:                fasthttpLogger{h.log},
	}
}

// badRequest answers a request fasthttp could not read: 413 in the
// envelope for a body over the cap, 431 for a request line and headers
// over theirs, 400 for anything else.
func (h *Handler) badRequest(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		h.write(ctx, fasthttp.StatusRequestEntityTooLarge,
			envelope{Msg: prefixFailed + " (request body too large)"})
		return
	}
	var small *fasthttp.ErrSmallBuffer
	if errors.As(err, &small) {
		h.write(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge,
			envelope{Msg: prefixFailed + " (request line or headers too large)"})
		return
	}
	h.write(ctx, fasthttp.StatusBadRequest, envelope{Msg: prefixFailed + " (malformed request)"})
}

// fasthttpLogger sends fasthttp's own messages to slog. They describe
// connections, never request contents.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("http server", slog.String("detail", fmt.Sprintf(format, args...)))
}
