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
	"time"

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

// Run reads the topics from their start (their retention bounds what is
// read) until ctx is done, then returns nil. A record that does not decode
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
	)
	if err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	defer cl.Close()
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
				m.handle(r)
			}
		})
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
