package panel

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
)

// Faults counts the panics recovered in one server: in request handlers
// and in background jobs. A panic is a bug; recovering it keeps the
// other callers served, and the count lets monitoring see that it
// happened. The zero value is ready to use.
type Faults struct {
	n atomic.Int64
}

// Count returns how many panics were recovered since the server started.
func (f *Faults) Count() int64 {
	return f.n.Load()
}

// Recovered logs a panic value that the caller got from recover, with
// the stack of the goroutine that panicked, and counts it. where names
// the route or job for the log; it must not carry request data.
func (f *Faults) Recovered(log *slog.Logger, where string, v any) {
	f.n.Add(1)
	log.Error("recovered from a panic", slog.String("where", where),
		slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
}
