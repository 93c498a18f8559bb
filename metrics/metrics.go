// Package metrics exposes xpanel's state to Prometheus. Almost every
// series is read at scrape time from the part that owns it (the store's
// client summary, the core's counts, the poller's record), so nothing on
// the request path pays for it; only the API requests are counted as
// they happen. No series carries a per-client label or a secret.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/xpanel/xpanel/panel"
)

// Sources are the parts of the server the metrics read. Service is
// required; a part left nil reports zeros, so that every series exists
// from the first scrape and dashboards need no special case.
type Sources struct {
	Service *panel.Service // clients, inbounds and their usage
	Store   StoreSizer     // Badger's files
	Core    CoreCounter    // the proxy core
	Poller  PollReporter   // the traffic poller
	Hooks   HookCounter    // the Lua hook engine
}

// StoreSizer reports the size of the database files; *kv.Store is one.
type StoreSizer interface {
	Size() (lsm, vlog int64)
}

// CoreCounter reports what the proxy core runs; *xray.Core is one.
type CoreCounter interface {
	Running() (inbounds, users int)
}

// PollReporter reports the traffic poller's rounds; *panel.Poller is one.
type PollReporter interface {
	Stats() panel.PollStats
}

// HookCounter reports the Lua hooks run since start, summed over every
// script: calls made, calls that failed and, of those, calls stopped for
// running past their time limit. The counts must only grow.
type HookCounter interface {
	HookCounts() (calls, errors, timeouts uint64)
}

// Metrics is a registry of xpanel's series. Build it with New; it is
// safe for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New returns the metrics of src, with Go runtime and process series.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xpanel_api_requests_total",
			Help: "API requests answered, by route pattern and outcome.",
		}, []string{"route", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "xpanel_api_request_duration_seconds",
			Help: "Time to answer an API request, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1,
				.25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	m.reg.MustRegister(m.requests, m.latency, newState(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveRequest counts an answered API request. It implements
// handlers.RequestObserver; route must be a pattern, never a raw path.
func (m *Metrics) ObserveRequest(route, outcome string, elapsed time.Duration) {
	m.requests.WithLabelValues(route, outcome).Inc()
	m.latency.WithLabelValues(route).Observe(elapsed.Seconds())
}

// Handler answers scrapes in Prometheus's exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
