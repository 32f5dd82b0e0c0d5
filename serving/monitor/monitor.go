// Package monitor watches the models in production. It reads the forecasts
// topic and the champion and challenger error topics and keeps:
//
//   - the latest official forecast of each region (what the HTTP API serves);
//   - every scored hour of the last weeks, from which it answers rolling
//     accuracy queries per model, region and horizon band: MAE, rMAE (MAE
//     over the weekly naive forecast's MAE on the same hours, from
//     ForecastError.NaiveWeekly) and prediction-interval coverage.
//
// It exports all of that to Prometheus, together with the scorer's own
// counters, consumer lag and per-model prediction metrics from a wrapper
// that treats the champion and the challengers alike.
//
// # Vocabulary
//
// A horizon band is a range of lead hours (hours from a forecast's issue
// time to its target hour), e.g. "24-35h". A window is a span of event time
// ending at a region's latest scored hour, not at the wall clock: a replay of
// last year's data shows the accuracy it had then.
//
// Every scorer instance runs a monitor over all partitions (it is a plain
// reader, not a consumer group member), so every instance can answer for
// every region; gauges are therefore the same on every instance, while the
// process counters (forecasts this instance emitted, dead letters it wrote)
// are its own and add up across instances.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
)

// Config configures a Monitor.
type Config struct {
	Kafka  kafka.Config
	Topics schemas.TopicSet
	// BandEdges are the horizon band edges in lead hours; default
	// DefaultBandEdges.
	BandEdges []int
	// Keep is how much event time of scored hours is kept per region;
	// default 35 days (the HTTP API's 30-day accuracy fits in it).
	Keep   time.Duration
	Logger *slog.Logger
}

// Monitor reads the forecasts and error topics. Create it with New and call
// Run once; its stores answer queries while it runs.
type Monitor struct {
	cfg       Config
	acc       *Accuracy
	forecasts *Forecasts

	mu       sync.Mutex
	read     map[string]int64 // records read per topic
	rejected map[string]int64 // per reason

	// caughtUp is set once Run has read every partition of its topics to
	// the end offset it had when Run started.
	caughtUp atomic.Bool
}

// New checks cfg and returns a monitor. It does not connect.
func New(cfg Config) (*Monitor, error) {
	if cfg.Topics.Forecasts == "" || cfg.Topics.ErrorsChampion == "" || cfg.Topics.ErrorsChallenger == "" {
		return nil, errors.New("monitor: the topic set is empty; use schemas.NewTopicSet")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	acc, err := NewAccuracy(cfg.BandEdges, cfg.Keep)
	if err != nil {
		return nil, err
	}
	return &Monitor{cfg: cfg, acc: acc, forecasts: NewForecasts(), read: map[string]int64{}, rejected: map[string]int64{}}, nil
}

// Accuracy returns the store of scored hours.
func (m *Monitor) Accuracy() *Accuracy { return m.acc }

// Forecasts returns the store of latest forecasts.
func (m *Monitor) Forecasts() *Forecasts { return m.forecasts }

// CaughtUp reports whether Run has read everything its topics held when it
// started: until then the stores hold part of the history (up to 35 days of
// forecasts and errors are read again at every start), and the accuracy,
// leaderboard and series they answer with are partial.
func (m *Monitor) CaughtUp() bool { return m.caughtUp.Load() }

// Run reads the topics from their start (their retention bounds what is
// read) until ctx is done, then returns nil. It first lists the topics' end
// offsets (read_committed: the last stable offsets) and reports CaughtUp
// once it has read every partition to them. A record that does not decode
// is counted and logged, not dead-lettered: the monitor commits no offsets,
// so it would dead-letter the same record again at every start; the
// promotion decider, which reads the error topics exactly once, does
// dead-letter them.
func (m *Monitor) Run(ctx context.Context) error {
	topics := []string{m.cfg.Topics.Forecasts, m.cfg.Topics.ErrorsChampion, m.cfg.Topics.ErrorsChallenger}
	cl, err := m.cfg.Kafka.NewClient(
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers are kept (and skipped by handle) so that a
		// partition whose last offset is a marker is seen to be at its end.
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	defer cl.Close()
	want, err := m.endOffsets(ctx, kadm.NewClient(cl), topics)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if len(want) == 0 {
		m.caughtUp.Store(true)
	}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if fs.IsClientClosed() {
			return errors.New("monitor: client closed")
		}
		if err := kafka.Refused(fs); err != nil {
			return fmt.Errorf("monitor: %w", err)
		}
		fs.EachError(func(t string, p int32, err error) {
			m.cfg.Logger.Warn("monitor: fetch error", "topic", t, "partition", p, "err", err)
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if !r.Attrs.IsControl() {
					m.handle(r)
				}
			}
			if n := len(p.Records); n > 0 && len(want) > 0 {
				k := kafka.TopicPartition{Topic: p.Topic, Partition: p.Partition}
				if end, ok := want[k]; ok && p.Records[n-1].Offset+1 >= end {
					delete(want, k)
					if len(want) == 0 {
						m.caughtUp.Store(true)
						m.cfg.Logger.Info("monitor: caught up with the topics")
					}
				}
			}
		})
	}
}

// endOffsets is kafka.ReadableEnds of topics, retried (after 1 second,
// doubling up to 30) until ctx is done: the monitor cannot say when it has
// caught up without them.
func (m *Monitor) endOffsets(ctx context.Context, adm *kadm.Client, topics []string) (map[kafka.TopicPartition]int64, error) {
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		want, err := kafka.ReadableEnds(ctx, adm, topics...)
		if err == nil {
			return want, nil
		}
		m.cfg.Logger.Warn("monitor: could not list the topics' end offsets; retrying", "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("monitor: end offsets of %v: %w", topics, err)
		case <-time.After(wait):
		}
	}
}

func (m *Monitor) handle(r *kgo.Record) {
	var err error
	switch r.Topic {
	case m.cfg.Topics.Forecasts:
		var f schemas.Forecast
		if err = schemas.Decode(r.Value, &f); err == nil {
			m.forecasts.Add(&f)
		}
	default:
		var e schemas.ForecastError
		if err = schemas.Decode(r.Value, &e); err == nil {
			m.acc.Add(&e)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.read[r.Topic]++
	if err != nil {
		m.rejected[schemas.ReasonOf(err)]++
		m.cfg.Logger.Warn("monitor: record skipped", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
	}
}

// Stats are the monitor's counters.
type Stats struct {
	// Read counts records read per topic; Rejected those that did not
	// decode, per dead-letter reason.
	Read, Rejected map[string]int64
}

// Stats returns a copy of the counters.
func (m *Monitor) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{Read: map[string]int64{}, Rejected: map[string]int64{}}
	for k, v := range m.read {
		s.Read[k] = v
	}
	for k, v := range m.rejected {
		s.Rejected[k] = v
	}
	return s
}
