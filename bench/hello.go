package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// The harness runs itself as the hello-world server: the environment
// tells the child its role and where to listen.
const (
	roleEnv   = "XPANEL_BENCH_ROLE"
	roleHello = "hello"
	listenEnv = "XPANEL_BENCH_LISTEN"
)

// helloBody is the hello-world answer: the API's success envelope, so
// that the driver judges both servers alike.
var helloBody = []byte(`{"success":true,"msg":"","obj":"hello"}`)

// serveHello answers every request with helloBody until the process is
// signalled. It is the ceiling: the fastest a fasthttp server answers on
// this machine, with nothing behind it.
func serveHello(addr string) error {
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		return fmt.Errorf("refusing to listen on %q: only 127.0.0.1", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("application/json; charset=utf-8")
			ctx.SetBody(helloBody)
		},
		NoDefaultServerHeader: true,
		NoDefaultDate:         true,
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		srv.Shutdown()
	}()
	return srv.Serve(ln)
}

// measureCeiling starts the hello-world server as a child, pinned like
// the server under test, and drives it as the routes are driven.
func measureCeiling(ctx context.Context, o options, pinTo, when string) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, fmt.Errorf("find own binary: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return result{}, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	cmd := pinned(pinTo, self)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleHello, listenEnv+"="+addr)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start hello server: %w", err)
	}
	defer stopChild(cmd)

	d := newDriver(addr, "", o.conns)
	if err := d.waitListening(ctx); err != nil {
		return result{}, err
	}
	return d.drive(ctx, scenario{name: "hello-world ceiling, " + when, method: "GET",
		path: func(*worker) string { return "/" }}, o.duration)
}

// stopChild ends a helper process and reaps it.
func stopChild(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// machine describes where the numbers were taken.
type machine struct {
	cores     int
	model     string
	kernel    string
	goVersion string
	pinTo     string // CPU list the servers run on; empty when not pinned
	pinNote   string
}

// describeMachine reads the machine's facts and decides on pinning: the
// servers run on two cores when the machine has more than two and
// taskset exists, so that the driver does not compete with them.
func describeMachine(cpus string) machine {
	m := machine{cores: runtime.NumCPU(), goVersion: runtime.Version(),
		model: cpuModel(), kernel: strings.TrimSpace(readFile("/proc/sys/kernel/osrelease"))}
	_, lookErr := exec.LookPath("taskset")
	switch {
	case cpus == "":
		m.pinNote = "not pinned (-cpus empty)"
	case m.cores <= 2:
		m.pinNote = fmt.Sprintf("not pinned: %d cores, shared by server and driver", m.cores)
	case lookErr != nil:
		m.pinNote = "not pinned: taskset not found"
	default:
		m.pinTo = cpus
		m.pinNote = "server and ceiling pinned with taskset -c " + cpus
	}
	return m
}

func cpuModel() string {
	for line := range strings.Lines(readFile("/proc/cpuinfo")) {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return "unknown"
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
