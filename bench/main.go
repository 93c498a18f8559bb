// Command bench is xpanel's load harness. It builds the real server,
// starts it as a child process on an empty data directory, seeds clients
// over the API, drives the hottest routes with concurrent keep-alive
// connections and prints what it measured next to a hello-world ceiling
// measured the same way on the same machine.
//
//	go run ./bench -n 100000 -c 32 -d 10s
//
// It talks only to 127.0.0.1 and removes its child processes and its
// temporary directory on exit, Ctrl-C included.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// options are the command-line settings of one run.
type options struct {
	clients    int
	conns      int
	duration   time.Duration
	chunk      int
	syncWrites bool
	markdown   bool
	cpus       string
	cpuProfile string
	memProfile string
}

func main() {
	if os.Getenv(roleEnv) == roleHello {
		if err := serveHello(os.Getenv(listenEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "bench hello:", err)
			os.Exit(1)
		}
		return
	}

	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, opts, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.clients, "n", 10000, "clients to seed")
	fs.IntVar(&o.conns, "c", 32, "concurrent keep-alive connections")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "how long to drive each route")
	fs.IntVar(&o.chunk, "chunk", 5000, "clients per bulkCreate call")
	fs.BoolVar(&o.syncWrites, "sync", true, "run the server with sync_writes (fsync every commit)")
	fs.BoolVar(&o.markdown, "markdown", false, "print a markdown table instead of the text one")
	fs.StringVar(&o.cpus, "cpus", "0,1",
		"CPU list the server and the ceiling are pinned to with taskset "+
			"when the machine has more than 2 cores; empty never pins")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "",
		"serve in this process instead of a child and write a CPU profile of seeding and load to `file`")
	fs.StringVar(&o.memProfile, "memprofile", "",
		"serve in this process instead of a child and write a heap profile after seeding to `file`")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.clients < 1 || o.conns < 1 || o.duration <= 0 || o.chunk < 1 {
		fmt.Fprintln(stderr, "bench: -n, -c, -d and -chunk must be positive")
		return o, errors.New("bad flags")
	}
	return o, nil
}

// run performs one whole measurement and prints the report.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	progress := func(format string, args ...any) {
		fmt.Fprintf(stderr, "bench: "+format+"\n", args...)
	}
	tmp, err := os.MkdirTemp("", "xpanel-bench-*")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	rep := report{opts: o, machine: describeMachine(o.cpus)}
	progress("measuring the hello-world ceiling")
	before, err := measureCeiling(ctx, o, rep.machine.pinTo, "before")
	if err != nil {
		return err
	}

	srv, err := startTarget(ctx, o, tmp, rep.machine.pinTo, progress)
	if err != nil {
		return err
	}
	defer srv.stop()

	if err := measureServer(ctx, o, srv, &rep, progress); err != nil {
		return err
	}
	if err := srv.stop(); err != nil {
		return err
	}

	// The machine's speed drifts over a run; measuring the ceiling on both
	// sides and comparing with the faster keeps the percentages honest.
	progress("measuring the hello-world ceiling again")
	after, err := measureCeiling(ctx, o, rep.machine.pinTo, "after")
	if err != nil {
		return err
	}
	rep.ceilings = []result{before, after}
	rep.print(stdout)
	return nil
}

// measureServer seeds the server and drives every route against it,
// filling rep.
func measureServer(ctx context.Context, o options, srv *target, rep *report,
	progress func(string, ...any)) error {
	d := newDriver(srv.addr, srv.token, o.conns)
	if err := srv.startProfile(); err != nil {
		return err
	}
	defer srv.stopProfile()

	progress("seeding %d clients", o.clients)
	seed, err := seedClients(ctx, d, o)
	if err != nil {
		return err
	}
	rep.seed = seed.stats
	rep.idle = srv.sample(settleTime)
	if err := srv.writeHeapProfile(o.memProfile); err != nil {
		return err
	}

	for _, s := range scenarios(seed) {
		progress("driving %s for %s", s.name, o.duration)
		res, err := d.drive(ctx, s, o.duration)
		if err != nil {
			return err
		}
		rep.results = append(rep.results, res)
	}
	rep.loaded = srv.sample(0)
	after, err := readSummary(d)
	rep.clientsAfter = after.Total
	return err
}

// settleTime is how long the server is left alone after seeding before
// its idle memory is read, so that the sample is not of the last
// request's garbage.
const settleTime = 3 * time.Second
