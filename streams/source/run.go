package source

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Task fetches one series.
type Task struct {
	Series Series
	// Fetch returns the series' records whose key time is in [from, to),
	// and in Batch.Through how far the window is complete.
	Fetch func(ctx context.Context, from, to time.Time) (Batch, error)
	// LiveWindow returns the window a live poll looks at, given the time and
	// the end of the series' coverage (zero when nothing is covered yet).
	// The poll fetches from the first uncovered point of the window to its
	// end; starting the window at the coverage end when that is older is
	// what closes the gap after a long outage.
	LiveWindow func(now, coveredEnd time.Time) (from, to time.Time)
	// NextPoll returns how long to wait after a successful poll, given the
	// time and the coverage end after it.
	NextPoll func(now, coveredEnd time.Time) time.Duration
	// Chunk is the backfill step, overriding the default 7 days.
	Chunk time.Duration
}

// Sink is what the loops publish to; *Publisher implements it.
type Sink interface {
	Coverage(s Series) Coverage
	Publish(ctx context.Context, s Series, from time.Time, b Batch) (PublishStats, error)
}

// MsgPublished is the message of the log line a live poll writes when it
// published something; CloudWatch's freshness alarms count these lines
// (terraform/modules/observability), so renaming it silences them.
const MsgPublished = "source: published"

// Runner runs tasks live or as a backfill.
type Runner struct {
	Sink Sink
	Log  *slog.Logger
	// Now and Sleep are the clock; nil uses the real one. Tests replace them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// RetryBase and RetryMax bound the wait after a failed poll, overriding
	// 30s and 15m. The HTTP client has already retried by then: these are
	// for outages.
	RetryBase, RetryMax time.Duration
	// BackfillAttempts is how often a backfill chunk is tried before
	// Backfill gives up (resumably), overriding 5.
	BackfillAttempts int
	// OnPoll, if set, is called after every live poll of a task with its
	// outcome; it must be fast. For metrics and tests.
	OnPoll func(s Series, st PublishStats, err error)

	mu    sync.Mutex
	stats PublishStats
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Stats returns the totals published so far.
func (r *Runner) Stats() PublishStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

func (r *Runner) count(st PublishStats) {
	r.mu.Lock()
	r.stats.Add(st)
	r.mu.Unlock()
}

// Live polls every task on its schedule until ctx is done, then returns
// ctx's error. A failed fetch or publish is logged and retried with backoff;
// only a Terminal error (fenced, or not authorised) ends the loop early.
func (r *Runner) Live(ctx context.Context, tasks []Task) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(tasks))
	for _, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.liveTask(ctx, t); err != nil && ctx.Err() == nil {
				errc <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	return ctx.Err()
}

func (r *Runner) liveTask(ctx context.Context, t Task) error {
	log := r.log().With("series", t.Series.Key())
	failures := 0
	for {
		st, err := r.PollOnce(ctx, t)
		if r.OnPoll != nil {
			r.OnPoll(t.Series, st, err)
		}
		var wait time.Duration
		switch {
		case Terminal(err):
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			failures++
			wait = Backoff(failures, orDur(r.RetryBase, 30*time.Second), orDur(r.RetryMax, 15*time.Minute))
			// An outage is expected now and then: warn, keep the
			// coverage where it is, and fetch the whole missed window
			// on the next poll.
			log.Warn("source: poll failed; will retry", "err", err, "failures", failures, "retry_in", wait.Round(time.Second))
		default:
			if failures > 0 {
				log.Info("source: recovered", "after_failures", failures)
			}
			failures = 0
			wait = t.NextPoll(r.now(), r.Sink.Coverage(t.Series).End())
			if st.Records()+st.DeadLetters > 0 {
				log.Info(MsgPublished, "prices", st.Prices, "observations", st.Observations,
					"forecasts", st.Forecasts, "dead_letters", st.DeadLetters, "duplicates", st.Duplicates, "next_poll", wait.Round(time.Second))
			}
		}
		if err := r.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// PollOnce runs one live poll of t: fetch the live window, publish.
func (r *Runner) PollOnce(ctx context.Context, t Task) (PublishStats, error) {
	cov := r.Sink.Coverage(t.Series)
	from, to := t.LiveWindow(r.now(), cov.End())
	// Fetch from the first hole in the window: after an outage that is
	// where the last successful poll ended.
	gaps := cov.Gaps(from, to)
	if len(gaps) == 0 {
		return PublishStats{}, nil
	}
	from = gaps[0].From
	b, err := t.Fetch(ctx, from, to)
	if err != nil {
		return PublishStats{}, fmt.Errorf("source: fetch %s [%s, %s): %w", t.Series, from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	st, err := r.Sink.Publish(ctx, t.Series, from, b)
	if err != nil {
		return PublishStats{}, err
	}
	r.count(st)
	if b.Incomplete != nil {
		return st, fmt.Errorf("source: fetch %s: published %d records, will retry the rest: %w", t.Series, st.Records(), b.Incomplete)
	}
	return st, nil
}

// Backfill fetches and publishes the parts of [from, to) that each task's
// series has not covered yet, chunk by chunk, each chunk with its
// checkpoint. It stops early for a task when a chunk comes back incomplete
// (the data does not exist yet). After a crash, running it again resumes at
// the first uncovered chunk.
func (r *Runner) Backfill(ctx context.Context, tasks []Task, from, to time.Time) (PublishStats, error) {
	var total PublishStats
	for _, t := range tasks {
		chunk := orDur(t.Chunk, 7*24*time.Hour)
		log := r.log().With("series", t.Series.Key())
	gaps:
		for _, gap := range r.Sink.Coverage(t.Series).Gaps(from, to) {
			for a := gap.From; a.Before(gap.To); {
				b := a.Add(chunk)
				if b.After(gap.To) {
					b = gap.To
				}
				st, through, err := r.backfillChunk(ctx, t, a, b)
				if err != nil {
					return total, err
				}
				total.Add(st)
				r.count(st)
				log.Info("source: backfilled", "from", a.Format(time.RFC3339), "to", b.Format(time.RFC3339),
					"records", st.Records(), "dead_letters", st.DeadLetters, "duplicates", st.Duplicates)
				if through.Before(b) {
					log.Info("source: backfill reached the end of the available data", "through", through.Format(time.RFC3339))
					break gaps
				}
				a = b
			}
		}
	}
	return total, nil
}

func (r *Runner) backfillChunk(ctx context.Context, t Task, a, b time.Time) (PublishStats, time.Time, error) {
	attempts := r.BackfillAttempts
	if attempts <= 0 {
		attempts = 5
	}
	var last error
	for i := 1; i <= attempts; i++ {
		batch, err := t.Fetch(ctx, a, b)
		if err == nil {
			var st PublishStats
			st, err = r.Sink.Publish(ctx, t.Series, a, batch)
			if err == nil && batch.Incomplete == nil {
				return st, batch.Through, nil
			}
			if err == nil {
				r.count(st)
				err = batch.Incomplete
			}
		}
		last = err
		if ctx.Err() != nil || Terminal(err) {
			break
		}
		if i < attempts {
			wait := Backoff(i, orDur(r.RetryBase, 30*time.Second), orDur(r.RetryMax, 15*time.Minute))
			r.log().Warn("source: backfill chunk failed; retrying", "series", t.Series.Key(), "from", a, "err", err, "retry_in", wait)
			if err := r.sleep(ctx, wait); err != nil {
				return PublishStats{}, a, err
			}
		}
	}
	return PublishStats{}, a, fmt.Errorf("source: backfill %s [%s, %s) failed (run it again to resume from here): %w",
		t.Series, a.Format(time.RFC3339), b.Format(time.RFC3339), last)
}
