package metrics_test

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/metrics"
	"github.com/xpanel/xpanel/panel"
)

// BenchmarkMetrics_Scrape measures one scrape at 100,000 clients, each
// with a usage row: what a Prometheus scrape costs the server.
func BenchmarkMetrics_Scrape(b *testing.B) {
	const clients = 100_000
	store := kvtest.Open(b)
	now := time.Now().UnixMilli()
	for next := 0; next < clients; {
		err := store.Update(func(tx *kv.Tx) error {
			for ; next < clients && !tx.Full(); next++ {
				email := fmt.Sprintf("user%06d@mail.example", next)
				c := &kv.Client{Email: email, UUID: uuid.NewString(), Enable: next%10 != 0,
					TotalGB: 10 << 30, ExpiryTime: now + int64(next)*60_000,
					Inbounds: []kv.Attachment{{InboundID: 1}}}
				if err := tx.PutClient(c); err != nil {
					return err
				}
				t := &kv.Traffic{Email: email, InboundID: 1,
					Up: int64(next), Down: 2 * int64(next)}
				if err := tx.PutTraffic(t); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	svc := panel.New(store, panel.Options{ExpiringWithin: 72 * time.Hour, ExpiringBytes: 1 << 30})
	m := metrics.New(metrics.Sources{Service: svc, Store: store})
	handler := m.Handler()

	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
