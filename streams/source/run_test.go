package source

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// memSink is an in-memory Sink: the Runner's loop logic is tested without a
// broker (the broker-backed publisher has its own tests).
type memSink struct {
	mu   sync.Mutex
	cov  map[string]Coverage
	fail error
	pubs int
}

func (m *memSink) Coverage(s Series) Coverage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cov[s.Key()]
}

func (m *memSink) Publish(_ context.Context, s Series, from time.Time, b Batch) (PublishStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return PublishStats{}, m.fail
	}
	m.pubs++
	if m.cov == nil {
		m.cov = map[string]Coverage{}
	}
	if !b.Through.IsZero() {
		m.cov[s.Key()] = m.cov[s.Key()].Add(from, b.Through)
	}
	return PublishStats{Prices: len(b.Prices)}, nil
}

// The live loop survives failed polls (backing off), keeps polling on the
// task's schedule, and stops cleanly when its context ends.
func TestLiveLoopKeepsGoingAndStops(t *testing.T) {
	t.Parallel()
	sink := &memSink{}
	f := &fakeFetch{fail: map[int]bool{2: true, 3: true}, until: at(1000)}
	now := at(10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var waits []time.Duration
	var outcomes []error
	r := &Runner{
		Sink: sink,
		Now:  func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			waits = append(waits, d)
			now = now.Add(time.Hour)
			n := len(waits)
			mu.Unlock()
			if n == 5 {
				cancel()
			}
			return ctx.Err()
		},
		OnPoll: func(_ Series, _ PublishStats, err error) { outcomes = append(outcomes, err) },
	}
	task := Task{Series: priceSeries, Fetch: f.fetch,
		LiveWindow: func(now, end time.Time) (time.Time, time.Time) {
			if end.IsZero() {
				end = now.Add(-5 * time.Hour)
			}
			return end, now
		},
		NextPoll: func(time.Time, time.Time) time.Duration { return 17 * time.Minute },
	}
	err := r.Live(ctx, []Task{task})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Live returned %v, want context.Canceled", err)
	}
	if len(outcomes) != 5 || outcomes[0] != nil || outcomes[1] == nil || outcomes[2] == nil || outcomes[3] != nil {
		t.Fatalf("outcomes %v: want a success, two failures, then successes", outcomes)
	}
	// The task's 17m after a success, backoff (30s base, jittered) after failures.
	if waits[0] != 17*time.Minute || waits[1] > 30*time.Second || waits[2] > time.Minute || waits[3] != 17*time.Minute {
		t.Errorf("waits %v", waits)
	}
	// The poll after the outage fetched from where the first one ended, so
	// the hours of the failed polls are not lost.
	if got := f.calls[3][0]; !got.Equal(at(10)) {
		t.Errorf("poll after the outage fetched from %s, want %s", got, at(10))
	}
	if c := sink.Coverage(priceSeries); len(c) != 1 || !c[0].From.Equal(at(5)) {
		t.Errorf("coverage %v", c)
	}
}

// A fenced producer stops the loop with ErrFenced instead of retrying.
func TestLiveLoopStopsWhenFenced(t *testing.T) {
	t.Parallel()
	sink := &memSink{fail: fmt.Errorf("%w: end transaction", ErrFenced)}
	f := &fakeFetch{until: at(1000)}
	r := &Runner{Sink: sink, Now: func() time.Time { return at(10) },
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
	task := Task{Series: priceSeries, Fetch: f.fetch,
		LiveWindow: func(now, end time.Time) (time.Time, time.Time) { return now.Add(-time.Hour), now },
		NextPoll:   func(time.Time, time.Time) time.Duration { return time.Minute }}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Live(ctx, []Task{task}); !errors.Is(err, ErrFenced) {
		t.Fatalf("Live returned %v, want ErrFenced", err)
	}
}
