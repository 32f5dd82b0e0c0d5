package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// child is a wattcast process started by a test, with its JSON log parsed
// line by line so that tests can watch its progress and act on it.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string // the raw log file

	mu     sync.Mutex
	lines  []logLine
	hooks  []func(logLine)
	exited bool
	err    error // from Wait
	done   chan struct{}
	killAt time.Time
}

// logLine is one slog JSON line of a child.
type logLine struct {
	Seen  time.Time // when the test read it
	Time  time.Time
	Level string
	Msg   string
	Attrs map[string]any
}

// Int returns a numeric attribute (slog JSON writes durations as
// nanoseconds and counts as numbers).
func (l logLine) Int(key string) int64 {
	f, _ := l.Attrs[key].(float64)
	return int64(f)
}

// startChild runs the binary with args (a subcommand and its flags), JSON
// debug logs on stderr, and SIGKILLs it when the test ends if it is still
// running.
func startChild(t *testing.T, s *suiteEnv, name string, args ...string) *child {
	t.Helper()
	args = append(args, "--log-format", "json", "--log-level", "debug")
	cmd := exec.Command(s.binary(t), args...)
	cmd.Dir = s.root
	// The child reads WATTCAST_* variables too; the tests pass every
	// setting that matters as a flag, which wins over the environment.
	cmd.Env = os.Environ()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.logDir, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &child{name: name, cmd: cmd, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(c.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go c.read(stderr, f)
	t.Cleanup(func() {
		c.signal(syscall.SIGKILL)
		<-c.done
		if t.Failed() {
			t.Logf("%s: log in %s", name, c.log)
		}
	})
	return c
}

func (c *child) read(r io.Reader, f *os.File) {
	defer func() {
		err := c.cmd.Wait()
		f.Close()
		c.mu.Lock()
		c.exited, c.err = true, err
		c.mu.Unlock()
		close(c.done)
	}()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		raw := sc.Bytes()
		_, _ = f.Write(append(raw, '\n'))
		l := logLine{Seen: time.Now()}
		var m map[string]any
		if json.Unmarshal(raw, &m) == nil {
			l.Msg, _ = m["msg"].(string)
			l.Level, _ = m["level"].(string)
			if ts, ok := m["time"].(string); ok {
				l.Time, _ = time.Parse(time.RFC3339Nano, ts)
			}
			l.Attrs = m
		} else {
			l.Msg = string(raw) // a panic or a plain error line
		}
		c.mu.Lock()
		c.lines = append(c.lines, l)
		hooks := append([]func(logLine){}, c.hooks...)
		c.mu.Unlock()
		// Hooks run here, on the reader goroutine, so that a kill on a log
		// line happens within microseconds of the line being written.
		for _, h := range hooks {
			h(l)
		}
	}
}

// onLine calls fn for every log line read from now on.
func (c *child) onLine(fn func(logLine)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hooks = append(c.hooks, fn)
}

// find returns the log lines so far that match.
func (c *child) find(match func(logLine) bool) []logLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []logLine
	for _, l := range c.lines {
		if match(l) {
			out = append(out, l)
		}
	}
	return out
}

// waitLog waits until a log line matches (including lines already read).
func (c *child) waitLog(ctx context.Context, what string, match func(logLine) bool) (logLine, error) {
	for {
		if ls := c.find(match); len(ls) > 0 {
			return ls[0], nil
		}
		select {
		case <-ctx.Done():
			return logLine{}, fmt.Errorf("%s: no log line for %q: %w (log in %s)", c.name, what, ctx.Err(), c.log)
		case <-c.done:
			if ls := c.find(match); len(ls) > 0 {
				return ls[0], nil
			}
			return logLine{}, fmt.Errorf("%s exited (%v) before logging %q (log in %s)", c.name, c.exitErr(), what, c.log)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *child) signal(sig syscall.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.exited && c.cmd.Process != nil {
		if sig == syscall.SIGKILL && c.killAt.IsZero() {
			c.killAt = time.Now()
		}
		_ = c.cmd.Process.Signal(sig)
	}
}

// kill sends SIGKILL, like a crash or an OOM kill, and waits for the exit.
func (c *child) kill() time.Time {
	c.signal(syscall.SIGKILL)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killAt
}

// stop sends SIGTERM and waits for a clean exit (status 0).
func (c *child) stop(timeout time.Duration) error {
	c.signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.signal(syscall.SIGKILL)
		<-c.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM (log in %s)", c.name, timeout, c.log)
	}
	if err := c.exitErr(); err != nil {
		return fmt.Errorf("%s exited with %v after SIGTERM, want status 0 (log in %s)", c.name, err, c.log)
	}
	return nil
}

// wait waits for the child to exit on its own and returns its error.
func (c *child) wait(ctx context.Context) error {
	select {
	case <-c.done:
		if err := c.exitErr(); err != nil {
			return fmt.Errorf("%s: %w; last lines:\n%s(log in %s)", c.name, err, c.tail(15), c.log)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s still running: %w (log in %s)", c.name, ctx.Err(), c.log)
	}
}

// gone returns a permanent error (for waitUntil) if the child has
// exited, nil while it runs.
func (c *child) gone() error {
	if c.running() {
		return nil
	}
	return permanent{fmt.Errorf("%s exited: %v\n%s(log in %s)", c.name, c.exitErr(), c.tail(10), c.log)}
}

func (c *child) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.exited
}

func (c *child) exitErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ee *exec.ExitError
	if errors.As(c.err, &ee) && ee.Exited() {
		return fmt.Errorf("exit status %d", ee.ExitCode())
	}
	return c.err
}

// tail returns the last n log lines, for failure messages.
func (c *child) tail(n int) string {
	b, err := os.ReadFile(c.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// Log messages of the stages that the tests watch. They are the stages'
// own debug and info lines (streams/runner, processors/lakesink).
const (
	msgTxCommitted = "transaction committed"
	msgRestored    = "restored partition state"
	msgBatchStored = "lake sink stored a batch"
	// msgSessionFailed is the runner's warning when it gives its group
	// session up and starts a new one.
	msgSessionFailed = "session failed; starting a new one from the committed state"
)
