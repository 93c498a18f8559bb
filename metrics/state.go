package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/xpanel/xpanel/kv"
)

// state is the collector of every series read at scrape time.
type state struct {
	src Sources

	clients, online           *prometheus.Desc
	inboundBytes, clientBytes *prometheus.Desc
	coreInbounds, coreUsers   *prometheus.Desc
	pollSeconds, pollLast     *prometheus.Desc
	pollLag, pollFailures     *prometheus.Desc
	hookCalls, hookErrors     *prometheus.Desc
	hookTimeouts              *prometheus.Desc
	lsmBytes, vlogBytes       *prometheus.Desc
}

func newState(src Sources) *state {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &state{
		src: src,
		clients: d("xpanel_clients",
			"Clients by status; each client is in exactly one.", "status"),
		online: d("xpanel_clients_online", "Clients online now."),
		inboundBytes: d("xpanel_inbound_traffic_bytes_total",
			"Bytes an inbound has moved since its last reset, by direction.",
			"inbound", "direction"),
		clientBytes: d("xpanel_clients_traffic_bytes",
			"Bytes counted on every client's usage row, summed, by direction; "+
				"falls when usage is reset.", "direction"),
		coreInbounds: d("xpanel_core_inbounds_running", "Inbounds the proxy core serves."),
		coreUsers: d("xpanel_core_users_running",
			"User entries the core's inbounds hold; a client on two inbounds counts twice."),
		pollSeconds: d("xpanel_traffic_poll_duration_seconds",
			"Time spent in traffic poll rounds."),
		pollLast: d("xpanel_traffic_poll_last_duration_seconds",
			"Time the last traffic poll round took."),
		pollLag: d("xpanel_traffic_poll_lag_seconds",
			"Time since the last successful traffic poll round ended "+
				"(since start before the first)."),
		pollFailures: d("xpanel_traffic_poll_failures_total", "Traffic poll rounds that failed."),
		hookCalls:    d("xpanel_hook_calls_total", "Lua hook calls made."),
		hookErrors: d("xpanel_hook_errors_total",
			"Lua hook calls that failed, timeouts included."),
		hookTimeouts: d("xpanel_hook_timeouts_total",
			"Lua hook calls stopped at their time limit."),
		lsmBytes: d("xpanel_badger_lsm_bytes",
			"Bytes the database's LSM tree takes on disk."),
		vlogBytes: d("xpanel_badger_vlog_bytes",
			"Bytes the database's value log takes on disk."),
	}
}

// Describe sends every series the collector may send.
func (s *state) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.clients, s.online, s.inboundBytes,
		s.clientBytes, s.coreInbounds, s.coreUsers, s.pollSeconds, s.pollLast,
		s.pollLag, s.pollFailures, s.hookCalls, s.hookErrors, s.hookTimeouts,
		s.lsmBytes, s.vlogBytes} {
		ch <- d
	}
}

// Collect reads every part once and sends its series.
func (s *state) Collect(ch chan<- prometheus.Metric) {
	s.collectStore(ch)
	s.collectCore(ch)
	s.collectPoller(ch)
	s.collectHooks(ch)

	var lsm, vlog int64
	if s.src.Store != nil {
		lsm, vlog = s.src.Store.Size()
	}
	gauge(ch, s.lsmBytes, float64(lsm))
	gauge(ch, s.vlogBytes, float64(vlog))
}

// collectStore sends the client and traffic series, read from one view.
func (s *state) collectStore(ch chan<- prometheus.Metric) {
	st := s.src.Service.Status()
	s.src.Service.View(func(v *kv.View) error {
		sum := v.Summary(st)
		gauge(ch, s.clients, float64(sum.Active), "active")
		gauge(ch, s.clients, float64(sum.ExpiringCount), "expiring")
		gauge(ch, s.clients, float64(sum.DepletedCount), "depleted")
		gauge(ch, s.clients, float64(sum.DeactiveCount), "deactive")
		gauge(ch, s.online, float64(sum.OnlineCount))

		for _, in := range v.Inbounds() {
			counter(ch, s.inboundBytes, float64(in.Up), in.Tag, "up")
			counter(ch, s.inboundBytes, float64(in.Down), in.Tag, "down")
		}
		up, down := v.TrafficTotals()
		gauge(ch, s.clientBytes, float64(up), "up")
		gauge(ch, s.clientBytes, float64(down), "down")
		return nil
	})
}

func (s *state) collectCore(ch chan<- prometheus.Metric) {
	var inbounds, users int
	if s.src.Core != nil {
		inbounds, users = s.src.Core.Running()
	}
	gauge(ch, s.coreInbounds, float64(inbounds))
	gauge(ch, s.coreUsers, float64(users))
}

// collectPoller sends the poll series; without a poller the lag stays
// zero rather than growing, since nothing is late.
func (s *state) collectPoller(ch chan<- prometheus.Metric) {
	var ps pollFigures
	if s.src.Poller != nil {
		st := s.src.Poller.Stats()
		ps = pollFigures{rounds: st.Rounds, failures: st.Failures,
			total: st.Total.Seconds(), last: st.Last.Seconds()}
		since := st.LastSuccess
		if since.IsZero() {
			since = st.Since
		}
		ps.lag = time.Since(since).Seconds()
	}
	ch <- prometheus.MustNewConstSummary(s.pollSeconds, ps.rounds, ps.total, nil)
	gauge(ch, s.pollLast, ps.last)
	gauge(ch, s.pollLag, ps.lag)
	counter(ch, s.pollFailures, float64(ps.failures))
}

// pollFigures is a poller's record in the units of the series.
type pollFigures struct {
	rounds, failures uint64
	total, last, lag float64
}

func (s *state) collectHooks(ch chan<- prometheus.Metric) {
	var calls, errs, timeouts uint64
	if s.src.Hooks != nil {
		calls, errs, timeouts = s.src.Hooks.HookCounts()
	}
	counter(ch, s.hookCalls, float64(calls))
	counter(ch, s.hookErrors, float64(errs))
	counter(ch, s.hookTimeouts, float64(timeouts))
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}
