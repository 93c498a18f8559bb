package kv

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/google/uuid"
)

// BenchmarkSearchIndex_Build builds the search index of 100,000 clients
// shaped as the load harness seeds them and reports the heap it holds.
func BenchmarkSearchIndex_Build(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"olivia", "liam", "emma", "noah", "ava", "mateo", "sofia", "lucas"}
	rows := make([]*row, 100000)
	for i := range rows {
		c := &Client{ID: int64(i + 1), Email: fmt.Sprintf("%s.u%06d@mail.example", names[i%8], i),
			SubID: fmt.Sprintf("sub%013x", rng.Uint64()>>12), UUID: uuid.NewString()}
		if i%4 == 0 {
			c.Password = fmt.Sprintf("pw%016x", rng.Uint64())
		}
		rows[i] = newRow(c, nil)
	}
	var ms runtime.MemStats
	var heap uint64
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		var x searchIndex
		x.build(rows)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap = ms.HeapAlloc - before
		runtime.KeepAlive(&x)
	}
	b.ReportMetric(float64(heap)/1e6, "MB-index")
}
