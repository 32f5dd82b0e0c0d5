package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// On a non-terminal writer the bar prints a line only when the interval
// has passed, and always the final state.
func TestBarThrottlesAndFinishes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	b := New(&buf, "fit", 10, WithClock(func() time.Time { return now }), WithInterval(5*time.Second))
	for i := 0; i < 10; i++ {
		now = now.Add(time.Second)
		b.Add(1)
	}
	b.Done()
	b.Done()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// Lines at 5 s and 10 s by the interval, plus the final one.
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "10/10") || !strings.Contains(last, "[========================]") {
		t.Fatalf("final line %q does not show completion", last)
	}
	if !strings.Contains(lines[0], "5/10") || !strings.Contains(lines[0], "eta 5s") {
		t.Fatalf("first line %q: want 5/10 with eta 5s", lines[0])
	}
}

func TestNilBarIsSafe(t *testing.T) {
	t.Parallel()
	var b *Bar = New(nil, "x", 1)
	b.Add(1)
	b.Set(1, "n")
	b.Done()
}
