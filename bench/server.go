package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// target is the xpanel server under test: a child process running the
// real binary, or, with -cpuprofile, the same packages in this process.
type target struct {
	addr    string // 127.0.0.1:port
	token   string // never printed
	dataDir string
	logPath string

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the child has been reaped
	waitErr error
	inProc  *inProcess
	done    bool
}

// memSample is the server's footprint at one moment.
type memSample struct {
	rssBytes     int64
	rssAnon      int64 // the process's own memory: Go heap, Badger's buffers
	rssFile      int64 // mapped files: Badger's tables and logs
	dataBytes    int64 // allocated on disk, as du counts
	dataApparent int64
}

// startTarget builds and starts the server on a free port with an empty
// data directory under tmp, and waits until it answers.
func startTarget(ctx context.Context, o options, tmp, pinTo string,
	progress func(string, ...any)) (*target, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	t := &target{
		addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		token:   rand.Text() + rand.Text(),
		dataDir: filepath.Join(tmp, "data"),
		logPath: filepath.Join(tmp, "server.log"),
	}
	if o.inProcess() {
		progress("serving in process, to profile it")
		t.inProc, err = startInProcess(t, o)
		if err != nil {
			return nil, err
		}
		return t, t.waitReady(ctx)
	}

	progress("building the server")
	bin := filepath.Join(tmp, "xpanel")
	if err := buildServer(ctx, bin); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(tmp, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(t.config(o.syncWrites)), 0o600); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	if err := t.startChild(bin, cfgPath, pinTo); err != nil {
		return nil, err
	}
	if err := t.waitReady(ctx); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// freePort asks the kernel for a port of 127.0.0.1 nobody listens on.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// buildServer compiles the module's main package into bin.
func buildServer(ctx context.Context, bin string) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build server: %w\n%s", err, out)
	}
	return nil
}

// moduleRoot is the directory of the go.mod the harness belongs to.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("find module root: run the harness inside the xpanel module")
	}
	return filepath.Dir(gomod), nil
}

// config is the TOML file the server starts with.
func (t *target) config(syncWrites bool) string {
	return fmt.Sprintf(`listen = %q
data_dir = %q
api_token = %q
sync_writes = %t
log_level = "warn"
shutdown_timeout = "5s"
`, t.addr, t.dataDir, t.token, syncWrites)
}

// startChild runs the binary, pinned to pinTo when it is set. The child
// is killed by the kernel if the harness dies without cleaning up.
func (t *target) startChild(bin, cfgPath, pinTo string) error {
	logFile, err := os.Create(t.logPath)
	if err != nil {
		return fmt.Errorf("create server log: %w", err)
	}
	defer logFile.Close()

	t.cmd = pinned(pinTo, bin, "-config", cfgPath)
	t.cmd.Stdout, t.cmd.Stderr = logFile, logFile
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := t.cmd.Start(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	t.exited = make(chan struct{})
	go func() {
		t.waitErr = t.cmd.Wait()
		close(t.exited)
	}()
	return nil
}

// pinned builds a command that runs under taskset when pinTo is set.
// taskset execs the program, so the pid is the program's own.
func pinned(pinTo, prog string, args ...string) *exec.Cmd {
	if pinTo == "" {
		return exec.Command(prog, args...)
	}
	return exec.Command("taskset", append([]string{"-c", pinTo, prog}, args...)...)
}

// waitReady polls the server until it answers an authenticated call.
func (t *target) waitReady(ctx context.Context) error {
	d := newDriver(t.addr, t.token, 1)
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _, err := d.call("GET", "/panel/api/inbounds/list", nil)
		if err == nil && status == 200 {
			return nil
		}
		if t.exited != nil && isClosed(t.exited) {
			return fmt.Errorf("server exited at start: %v\n%s", t.waitErr, t.logTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready after 30s (last: status %d, %v)", status, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// logTail returns the end of the server's log, for error messages.
func (t *target) logTail() string {
	b, _ := os.ReadFile(t.logPath)
	const keep = 2000
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return string(b)
}

// pid is the process whose memory is sampled.
func (t *target) pid() int {
	if t.cmd != nil {
		return t.cmd.Process.Pid
	}
	return os.Getpid()
}

// sample waits settle, then reads the server's resident memory and the
// size of its data directory.
func (t *target) sample(settle time.Duration) memSample {
	time.Sleep(settle)
	status := procStatus(t.pid())
	s := memSample{rssBytes: status["VmRSS"], rssAnon: status["RssAnon"],
		rssFile: status["RssFile"]}
	s.dataBytes, s.dataApparent = dirSize(t.dataDir)
	return s
}

// stop ends the server gracefully, killing it if it does not exit in
// time. It is safe to call more than once.
func (t *target) stop() error {
	if t.done {
		return nil
	}
	t.done = true
	if t.inProc != nil {
		return t.inProc.close()
	}
	t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.exited:
	case <-time.After(15 * time.Second):
		t.cmd.Process.Kill()
		<-t.exited
		return errors.New("server did not stop within 15s; killed")
	}
	if t.waitErr != nil {
		return fmt.Errorf("server exited with %v\n%s", t.waitErr, t.logTail())
	}
	return nil
}

func (t *target) startProfile() error {
	if t.inProc == nil {
		return nil
	}
	return t.inProc.startProfile()
}

// writeHeapProfile writes the live heap of an in-process server to path;
// it does nothing without a path.
func (t *target) writeHeapProfile(path string) error {
	if t.inProc == nil || path == "" {
		return nil
	}
	return writeHeapProfile(path)
}

func (t *target) stopProfile() {
	if t.inProc != nil {
		t.inProc.stopProfile()
	}
}

// procStatus reads the sizes in /proc/<pid>/status, in bytes, by name;
// empty when it cannot.
func procStatus(pid int) map[string]int64 {
	out := map[string]int64{}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		value, isKB := strings.CutSuffix(strings.TrimSpace(value), " kB")
		if !ok || !isKB {
			continue
		}
		if kb, err := strconv.ParseInt(value, 10, 64); err == nil {
			out[name] = kb << 10
		}
	}
	return out
}

// dirSize sums the files under dir: the blocks they occupy, as du
// counts them, and their apparent sizes, which count the unwritten
// tails Badger preallocates.
func dirSize(dir string) (allocated, apparent int64) {
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		apparent += info.Size()
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			allocated += st.Blocks * 512
		}
		return nil
	})
	return allocated, apparent
}
