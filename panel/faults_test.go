package panel_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/panel"
)

// panickingMeter is a proxy core whose counters panic on the rounds
// before the last n, as a bug in the core's bindings would.
type panickingMeter struct {
	calls   atomic.Int64
	healthy int64 // the first round that does not panic
}

func (m *panickingMeter) Usage() (clients, inbounds map[string]panel.Delta) {
	if m.calls.Add(1) < m.healthy {
		panic("meter exploded")
	}
	return nil, nil
}

func (m *panickingMeter) Live() map[string]panel.LiveUser { return nil }

// lockedBuffer is a log sink the poller goroutine and the test share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPoller_PanicRecovered runs rounds that panic: each is logged with
// its stack and counted, the rounds after it still run, and Close
// returns normally.
func TestPoller_PanicRecovered(t *testing.T) {
	var logs lockedBuffer
	svc := panel.New(kvtest.Open(t), panel.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	meter := &panickingMeter{healthy: 4}
	p := panel.NewPoller(svc, meter, panel.NewSightings(time.Second), 5*time.Millisecond)
	p.Open()

	deadline := time.Now().Add(10 * time.Second)
	for meter.calls.Load() < meter.healthy+1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("close after recovered panics: %v", err)
	}
	if got := svc.Faults().Count(); got != meter.healthy-1 {
		t.Errorf("faults counted %d, want %d", got, meter.healthy-1)
	}
	out := logs.String()
	for _, want := range []string{"recovered from a panic", "where=\"traffic poll\"",
		"meter exploded", "(*panickingMeter).Usage"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
