package monitor

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes (Collect may log
// from several scrapes at once).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// unreachableLag returns a lag collector of group "scorer" whose brokers do
// not answer, logging to a buffer, on a clock the test moves.
func unreachableLag(t *testing.T, opts ...LagOption) (*LagCollector, *syncBuffer, *atomic.Int64) {
	t.Helper()
	// Port 1 on the loopback: nothing listens, so dialling fails at once.
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	var buf syncBuffer
	c := NewLagCollector(kadm.NewClient(cl), []string{"scorer"},
		append([]LagOption{WithLagLogger(slog.New(slog.NewTextHandler(&buf, nil))), WithLagTimeout(200 * time.Millisecond)}, opts...)...)
	var offset atomic.Int64
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return base.Add(time.Duration(offset.Load())) }
	return c, &buf, &offset
}

// collect runs c.Collect and returns the number of samples.
func collect(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	n := 0
	for range ch {
		n++
	}
	return n
}

// When the brokers do not answer, the lag metric has no samples and the
// collector says why at Warn, once a minute at most, however many scrapes
// (concurrent ones too) fail in between.
func TestLagCollectorLogsUnreachableBrokers(t *testing.T) {
	t.Parallel()
	c, buf, clock := unreachableLag(t)
	steps := []struct {
		name      string
		at        time.Duration // clock time of the scrapes
		scrapes   int           // concurrent scrapes
		wantLines int           // warnings logged so far
	}{
		{"first failures", 0, 3, 1},
		{"within the minute", 30 * time.Second, 2, 1},
		{"a minute later", 61 * time.Second, 2, 2},
		{"just after that", 62 * time.Second, 1, 2},
	}
	for _, st := range steps {
		clock.Store(int64(st.at))
		var wg sync.WaitGroup
		var samples atomic.Int64
		for range st.scrapes {
			wg.Go(func() { samples.Add(int64(collect(c))) })
		}
		wg.Wait()
		if n := samples.Load(); n != 0 {
			t.Errorf("%s: %d lag samples from unreachable brokers, want none", st.name, n)
		}
		log := buf.String()
		if got := strings.Count(log, "level=WARN"); got != st.wantLines {
			t.Fatalf("%s: %d warnings logged, want %d:\n%s", st.name, got, st.wantLines, log)
		}
	}
	log := buf.String()
	for _, s := range []string{"consumer lag", MetricConsumerLag, "scorer", "err="} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q:\n%s", s, log)
		}
	}
}

// Without a logger the collector stays silent, as before.
func TestLagCollectorWithoutLogger(t *testing.T) {
	t.Parallel()
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	c := NewLagCollector(kadm.NewClient(cl), []string{"scorer"}, WithLagTimeout(100*time.Millisecond))
	if n := collect(c); n != 0 {
		t.Errorf("%d lag samples from unreachable brokers, want none", n)
	}
}

// Distinct problems are rate-limited each on its own.
func TestLagWarnRateLimit(t *testing.T) {
	t.Parallel()
	c, buf, clock := unreachableLag(t)
	steps := []struct {
		problem string
		at      time.Duration
		logged  bool
	}{
		{"a", 0, true},
		{"a", 59 * time.Second, false},
		{"b", 59 * time.Second, true},
		{"a", 60 * time.Second, true},
		{"b", 90 * time.Second, false},
		{"b", 119 * time.Second, true},
		{"a", 119 * time.Second, false},
	}
	for i, st := range steps {
		clock.Store(int64(st.at))
		before := strings.Count(buf.String(), "level=WARN")
		c.warn(st.problem, "problem "+st.problem)
		if logged := strings.Count(buf.String(), "level=WARN") > before; logged != st.logged {
			t.Errorf("step %d (%s at %s): logged %v, want %v", i, st.problem, st.at, logged, st.logged)
		}
	}
}
