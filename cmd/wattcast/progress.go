package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress prints one line per step that a long task rewrites in place on a
// terminal, and prints at most every few seconds elsewhere (CI logs), so the
// user sees that the demo is moving without a flood of lines.
type progress struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	label string
	last  time.Time
	start time.Time
	width int
}

func newProgress(w io.Writer) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty}
}

// step starts a new step.
func (p *progress) step(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label = fmt.Sprintf(format, args...)
	p.start = time.Now()
	p.last = time.Time{}
	fmt.Fprintf(p.w, "==> %s\n", p.label)
}

// update reports done of total (total 0: unknown) with a detail.
func (p *progress) update(done, total int, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	every := 3 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if now.Sub(p.last) < every && (total == 0 || done < total) {
		return
	}
	p.last = now
	line := "    " + bar(done, total) + " " + detail
	if p.tty {
		pad := ""
		if n := p.width - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		p.width = len(line)
		fmt.Fprintf(p.w, "\r%s%s", line, pad)
		return
	}
	fmt.Fprintln(p.w, line)
}

// done ends the step's progress line with a result.
func (p *progress) done(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
	}
	p.width = 0
	fmt.Fprintf(p.w, "    %s (%.1fs)\n", fmt.Sprintf(format, args...), time.Since(p.start).Seconds())
}

func bar(done, total int) string {
	if total <= 0 {
		return fmt.Sprintf("%d", done)
	}
	const n = 24
	f := min(float64(done)/float64(total), 1)
	k := int(f * n)
	return fmt.Sprintf("[%s%s] %3.0f%% %d/%d", strings.Repeat("#", k), strings.Repeat(".", n-k), 100*f, done, total)
}
