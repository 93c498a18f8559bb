package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything one run measured.
type report struct {
	opts         options
	machine      machine
	ceilings     []result // hello-world, before and after the server
	seed         seedStats
	idle         memSample // after seeding, settled
	loaded       memSample // after every route was driven
	clientsAfter int       // the seeded clients and those the add route made
	results      []result
}

// Targets the numbers are held to, set for 100,000 clients on 2 cores.
const (
	pagedDefaultShare = 30.0 // % of the ceiling
	pagedSearchShare  = 5.0
	pagedP99          = 25 * time.Millisecond
	writeP99          = 5 * time.Millisecond
	bulkTime          = 10 * time.Second // for 100,000 clients
	rssAt100k         = 150_000_000      // bytes: the MB are decimal
	rssAt10k          = 60_000_000
	dataDirCap        = 100_000_000
)

// table is a header and rows of cells.
type table struct {
	header []string
	rows   [][]string
}

func (r *report) print(w io.Writer) {
	o, m := r.opts, r.machine
	fmt.Fprintf(w, "xpanel bench: %d clients, %d connections, %s per route, sync_writes=%t\n",
		o.clients, o.conns, o.duration, o.syncWrites)
	fmt.Fprintf(w, "machine: %d cores (%s), Linux %s, %s; %s\n",
		m.cores, m.model, m.kernel, m.goVersion, m.pinNote)
	if o.inProcess() {
		fmt.Fprintln(w, "server ran in the harness process (profiling): RSS includes the driver")
	}
	fmt.Fprintf(w, "server summary after seeding: %+v\n", r.seed.summary)
	fmt.Fprintln(w, "targets are the issue's, set for 100,000 clients on 2 cores;"+
		" % of ceiling compares with the faster hello-world run")
	fmt.Fprintln(w)

	for i, t := range []table{r.routeTable(), r.footprintTable()} {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if o.markdown {
			t.markdown(w)
		} else {
			t.text(w)
		}
	}
	r.printErrors(w)
}

func (r *report) routeTable() table {
	t := table{header: []string{"route", "req/s", "p50", "p99", "errors", "bytes/answer",
		"% of ceiling", "target", "met"}}
	for _, res := range r.ceilings {
		t.rows = append(t.rows, []string{res.name, rate(res), ms(res.p50), ms(res.p99),
			fmt.Sprint(res.errors), fmt.Sprint(res.meanBytes()),
			fmt.Sprintf("%.1f%%", r.share(res)), "", ""})
	}
	for _, res := range r.results {
		share := ""
		if res.paged {
			share = fmt.Sprintf("%.1f%%", r.share(res))
		}
		target, met := r.judge(res)
		t.rows = append(t.rows, []string{res.name, rate(res), ms(res.p50), ms(res.p99),
			fmt.Sprint(res.errors), fmt.Sprint(res.meanBytes()), share, target, met})
	}
	return t
}

// ceiling is the faster of the hello-world measurements.
func (r *report) ceiling() float64 {
	best := 0.0
	for _, c := range r.ceilings {
		best = max(best, c.rate())
	}
	return best
}

// share is a route's rate as a percentage of the ceiling.
func (r *report) share(res result) float64 {
	return 100 * res.rate() / r.ceiling()
}

// judge names a route's target and whether it was met; errors fail it.
func (r *report) judge(res result) (string, string) {
	var target string
	ok := res.errors == 0
	switch {
	case res.name == "list/paged default":
		target = fmt.Sprintf(">= %.0f%%, p99 <= %s", pagedDefaultShare, ms(pagedP99))
		ok = ok && r.share(res) >= pagedDefaultShare && res.p99 <= pagedP99
	case res.name == "list/paged search":
		target = fmt.Sprintf(">= %.0f%%, p99 <= %s", pagedSearchShare, ms(pagedP99))
		ok = ok && r.share(res) >= pagedSearchShare && res.p99 <= pagedP99
	case res.paged:
		target = "p99 <= " + ms(pagedP99)
		ok = ok && res.p99 <= pagedP99
	case res.name == "add" || res.name == "update/{email}":
		target = "p99 <= " + ms(writeP99)
		ok = ok && res.p99 <= writeP99
	default:
		return "", ""
	}
	return target, yesNo(ok)
}

func (r *report) footprintTable() table {
	rssCap := int64(rssAt100k)
	if r.opts.clients <= 10000 {
		rssCap = rssAt10k
	}
	s := r.seed
	bulkRate := float64(s.clients) / s.bulk.Seconds()
	return table{
		header: []string{"measure", "value", "target", "met"},
		rows: [][]string{
			{fmt.Sprintf("bulkCreate %d clients (%d calls)", s.clients, s.bulkCalls),
				fmt.Sprintf("%.2f s (%.0f clients/s)", s.bulk.Seconds(), bulkRate),
				"<= 10 s for 100,000", yesNo(s.bulk <= bulkTime)},
			{fmt.Sprintf("updateTraffic %d calls (%d conns)", s.trafficCalls, r.opts.conns),
				fmt.Sprintf("%.2f s", s.traffic.Seconds()), "", ""},
			{"RSS idle after seeding", memory(r.idle), "<= " + mb(rssCap),
				yesNo(r.idle.rssBytes <= rssCap)},
			{fmt.Sprintf("RSS after load (%d clients)", r.clientsAfter),
				memory(r.loaded), "", ""},
			{"data dir after seeding", disk(r.idle), "<= " + mb(dataDirCap),
				yesNo(r.idle.dataBytes <= dataDirCap)},
			{fmt.Sprintf("data dir after load (%d clients)", r.clientsAfter),
				disk(r.loaded), "<= " + mb(dataDirCap),
				yesNo(r.loaded.dataBytes <= dataDirCap)},
		},
	}
}

// printErrors shows the first failure of each route that had any.
func (r *report) printErrors(w io.Writer) {
	for _, res := range append(slices.Clone(r.ceilings), r.results...) {
		if res.errors > 0 {
			fmt.Fprintf(w, "\nfirst error of %s: %s", res.name, res.firstErr)
		}
	}
}

func (t table) text(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, row := range t.rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
}

func (t table) markdown(w io.Writer) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(t.header, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(t.header)))
	for _, row := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
}

func rate(r result) string { return fmt.Sprintf("%.0f", r.rate()) }

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

// memory shows the resident set and how much of it is the process's own
// (anonymous) memory rather than mapped files.
func memory(s memSample) string {
	return fmt.Sprintf("%s (anon %s, file %s)", mb(s.rssBytes), mb(s.rssAnon), mb(s.rssFile))
}

// disk shows the allocated size of the data directory and, when
// preallocation makes it differ, the apparent one.
func disk(s memSample) string {
	if s.dataApparent > s.dataBytes+1e6 {
		return fmt.Sprintf("%s (apparent %s)", mb(s.dataBytes), mb(s.dataApparent))
	}
	return mb(s.dataBytes)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}
