package kv_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/kv/kvtest"
)

// benchClients is the client count the targets are set for.
const benchClients = 100_000

// Word lists of the seeded clients, the same shape as the load harness's.
var (
	benchNames    = []string{"olivia", "liam", "emma", "noah", "ava", "mateo", "sofia", "lucas"}
	benchGroups   = []string{"resellers", "family", "office", "vip", "trial", "eu-west"}
	benchComments = []string{"paid by card", "renews monthly", "annual plan"}
)

// benchEmail names the i-th seeded client.
func benchEmail(i int) string {
	return fmt.Sprintf("%s.u%06d@mail.example", benchNames[i%len(benchNames)], i)
}

// seedBench fills s with n clients in the harness's mix: two inbounds,
// quotas, expiries, groups, comments, 8% with usage, 3% used up.
func seedBench(b *testing.B, s *kv.Store, n int) {
	b.Helper()
	rng := rand.New(rand.NewPCG(42, uint64(n)))
	now := time.Now().UnixMilli()
	for next := 0; next < n; {
		err := s.Update(func(tx *kv.Tx) error {
			for ; next < n && !tx.Full(); next++ {
				if err := putBenchClient(tx, rng, next, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
}

func putBenchClient(tx *kv.Tx, rng *rand.Rand, i int, now int64) error {
	c := &kv.Client{Email: benchEmail(i), SubID: fmt.Sprintf("sub%013x", rng.Uint64()>>12),
		UUID: uuid.NewString(), Enable: rng.IntN(100) >= 3, CreatedAt: now, UpdatedAt: now,
		Inbounds: []kv.Attachment{{InboundID: 1}}}
	if rng.IntN(4) == 0 {
		c.Inbounds = append(c.Inbounds, kv.Attachment{InboundID: 2})
		c.Password = fmt.Sprintf("pw%016x", rng.Uint64())
	}
	if rng.IntN(100) < 65 {
		c.TotalGB = int64(10+rng.IntN(190)) << 30
	}
	if rng.IntN(100) < 60 {
		c.ExpiryTime = now + rng.Int64N(90*24*3600*1000) - 3*24*3600*1000
	}
	if rng.IntN(100) < 70 {
		c.Group = benchGroups[rng.IntN(len(benchGroups))]
	}
	if rng.IntN(100) < 25 {
		c.Comment = benchComments[rng.IntN(len(benchComments))]
	}
	t := &kv.Traffic{Email: c.Email, InboundID: 1, Enable: c.Enable}
	switch roll := rng.IntN(100); {
	case roll < 3:
		c.TotalGB, t.Down = 1<<30, 1<<30
	case roll < 8:
		t.Down = rng.Int64N(1 << 30)
	}
	if err := tx.PutClient(c); err != nil {
		return err
	}
	return tx.PutTraffic(t)
}

// BenchmarkView_Query measures the paged views the list route serves at
// 100,000 clients.
func BenchmarkView_Query(b *testing.B) {
	s := kvtest.Open(b)
	seedBench(b, s, benchClients)
	st := kv.Status{Now: time.Now().UnixMilli(), ExpiringMs: 3 * 24 * 3600 * 1000,
		ExpiringBytes: 1 << 30}
	cases := []struct {
		name string
		q    kv.Query
	}{
		{"default", kv.Query{}},
		{"search=id", kv.Query{Search: "u004821"}},
		{"search=prefix", kv.Query{Search: "u0048"}},
		{"search=name", kv.Query{Search: "olivia"}},
		{"filter=depleted", kv.Query{Buckets: []string{"depleted"}}},
		{"filter=expiring", kv.Query{Buckets: []string{"expiring"}}},
		{"sort=traffic", kv.Query{Sort: "traffic", Descending: true}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			q := tc.q
			q.Page, q.PageSize = 1, 25
			b.ReportAllocs()
			for b.Loop() {
				s.View(func(v *kv.View) error {
					if p := v.Query(q, st); p.Total != benchClients {
						b.Fatalf("total %d", p.Total)
					}
					return nil
				})
			}
		})
	}
}

// BenchmarkStore_Update measures changing one client's comment at
// 100,000 clients, alone and from 32 writers at once, with and without
// fsync.
func BenchmarkStore_Update(b *testing.B) {
	for _, sync := range []bool{false, true} {
		s, err := kv.Open(b.TempDir(), kv.Options{SyncWrites: sync})
		if err != nil {
			b.Fatalf("open: %v", err)
		}
		seedBench(b, s, benchClients)
		var n atomic.Int64
		update := func() {
			i := int(n.Add(1))
			id := int64(i%benchClients + 1)
			err := s.Update(func(tx *kv.Tx) error {
				c := tx.Client(id).Clone()
				c.Comment = fmt.Sprintf("note %d", i)
				return tx.PutClient(c)
			})
			if err != nil {
				b.Fatalf("update: %v", err)
			}
		}
		b.Run(fmt.Sprintf("sync=%v/serial", sync), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				update()
			}
		})
		b.Run(fmt.Sprintf("sync=%v/32writers", sync), func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(32 / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					update()
				}
			})
		})
		if err := s.Check(); err != nil {
			b.Errorf("check: %v", err)
		}
		s.Close()
	}
}

// BenchmarkStore_Open measures loading 100,000 clients into memory and
// reports the live heap they hold, the number the idle footprint
// depends on.
func BenchmarkStore_Open(b *testing.B) {
	dir := b.TempDir()
	s, err := kv.Open(dir, kv.Options{})
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	seedBench(b, s, benchClients)
	s.Close()
	b.ReportAllocs()
	var heap uint64
	for b.Loop() {
		before := liveHeap()
		s, err := kv.Open(dir, kv.Options{})
		if err != nil {
			b.Fatalf("open: %v", err)
		}
		heap = liveHeap() - before
		runtime.KeepAlive(s)
		s.Close()
	}
	b.ReportMetric(float64(heap)/1e6, "MB-live")
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
