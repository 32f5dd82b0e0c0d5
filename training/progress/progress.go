// Package progress draws progress bars for long training and backtest runs
// on any io.Writer. On a terminal it redraws one line in place; elsewhere
// (a log file, CI) it prints a plain line at most every few seconds, so
// logs stay readable.
//
// It is a deliberately small renderer rather than a library: wattcast needs
// one bar style, on an injected writer, testable without a terminal, and
// the maintained libraries (schollz/progressbar, vbauerster/mpb) bring
// terminal-handling dependencies for features we would not use.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Bar is one progress bar. Its methods are safe for concurrent use; a nil
// *Bar does nothing, so callers need not check whether progress is wanted.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	total    int
	done     int
	start    time.Time
	last     time.Time
	tty      bool
	every    time.Duration
	now      func() time.Time
	finished bool
	note     string
}

// Option configures New.
type Option func(*Bar)

// WithClock replaces time.Now (for tests).
func WithClock(now func() time.Time) Option { return func(b *Bar) { b.now = now } }

// WithInterval sets how often a non-terminal writer gets a line, overriding
// the default 5s.
func WithInterval(d time.Duration) Option { return func(b *Bar) { b.every = d } }

// New starts a bar of total steps on w. w == nil gives a nil bar.
func New(w io.Writer, label string, total int, opts ...Option) *Bar {
	if w == nil {
		return nil
	}
	b := &Bar{w: w, label: label, total: total, every: 5 * time.Second, now: time.Now}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
			b.every = 100 * time.Millisecond
		}
	}
	for _, o := range opts {
		o(b)
	}
	b.start = b.now()
	b.last = b.start
	return b
}

// Add advances the bar by n steps.
func (b *Bar) Add(n int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.draw(false)
}

// Set sets the number of steps done and a short note shown after the bar.
func (b *Bar) Set(done int, note string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done, b.note = done, note
	b.draw(false)
}

// Done draws the final state and ends the line.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	b.draw(true)
}

func (b *Bar) draw(final bool) {
	now := b.now()
	if !final && now.Sub(b.last) < b.every {
		return
	}
	b.last = now
	el := now.Sub(b.start).Truncate(time.Second)
	frac := 0.0
	if b.total > 0 {
		frac = min(1, float64(b.done)/float64(b.total))
	}
	eta := ""
	if b.done > 0 && b.done < b.total {
		left := time.Duration(float64(now.Sub(b.start)) * (1/frac - 1)).Truncate(time.Second)
		eta = " eta " + left.String()
	}
	note := ""
	if b.note != "" {
		note = " " + b.note
	}
	const width = 24
	n := int(frac * width)
	line := fmt.Sprintf("%s [%s%s] %d/%d %s%s%s", b.label, strings.Repeat("=", n), strings.Repeat(" ", width-n), b.done, b.total, el, eta, note)
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s", line)
		if final {
			fmt.Fprintln(b.w)
		}
		return
	}
	fmt.Fprintln(b.w, line)
}
