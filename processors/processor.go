// Package processors turns the price and weather streams into hourly
// feature rows (the Processor, on the exactly-once runner) and copies the
// streams into the Parquet lake (subpackage lakesink). The feature logic
// itself is in subpackage features and has no Kafka in it.
package processors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/runner"
)

// DefaultGroup is the feature processor's consumer group.
const DefaultGroup = "wattcast-processor"

// DefaultMaxPollRecords is the default bound on input records per
// transaction. A transaction's inputs and outputs (about one feature row
// per two inputs in a catch-up) stay in memory until it commits; 2000 keeps
// them to a few MB, and larger transactions (5000, 20000) were no faster
// but raised the peak memory (docs/performance.md).
const DefaultMaxPollRecords = 2000

// Config configures a Processor.
type Config struct {
	Kafka    kafka.Config
	Topics   schemas.TopicSet
	Features features.Config
	// Group is the consumer group, default DefaultGroup. The state
	// changelog topic is derived from the topic prefix.
	Group    string
	Producer string
	Logger   *slog.Logger
	// StopAtEnd stops once the inputs present at start are processed.
	StopAtEnd bool
	// MaxPollRecords bounds the input records per transaction; default
	// DefaultMaxPollRecords.
	MaxPollRecords int
	// InstanceID makes this instance's transactional id unique; default
	// the host name.
	InstanceID string
}

// Processor is the feature processor. Create it with New and call Run once.
type Processor struct {
	cfg Config
	r   *runner.Runner
}

// ChangelogTopic is the processor's state changelog for a topic set.
func ChangelogTopic(t schemas.TopicSet) string { return t.Internal("processor", "changelog") }

// New checks cfg and returns a processor. It does not connect.
func New(cfg Config) (*Processor, error) {
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.MaxPollRecords == 0 {
		cfg.MaxPollRecords = DefaultMaxPollRecords
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Fail on a bad configuration now, not on the first record.
	if _, err := features.NewEngine(cfg.Features); err != nil {
		return nil, err
	}
	p := &Processor{cfg: cfg}
	r, err := runner.New(runner.Config{
		Kafka:          cfg.Kafka,
		Group:          cfg.Group,
		Inputs:         []string{cfg.Topics.Prices, cfg.Topics.WeatherObserved, cfg.Topics.WeatherForecast},
		Changelog:      ChangelogTopic(cfg.Topics),
		DeadLetters:    cfg.Topics.DeadLetters,
		Stage:          "processor",
		Producer:       cfg.Producer,
		NewTask:        p.newTask,
		StopAtEnd:      cfg.StopAtEnd,
		MaxPollRecords: cfg.MaxPollRecords,
		// Tasks share only the read-only Config: each partition's engine is
		// its own.
		Concurrency:     runtime.GOMAXPROCS(0),
		TransactionalID: transactionalID(cfg.Group, cfg.InstanceID),
		Logger:          cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	p.r = r
	return p, nil
}

// Run processes until ctx is done (or, with StopAtEnd, the inputs are
// processed).
func (p *Processor) Run(ctx context.Context) error { return p.r.Run(ctx) }

// Stats returns the processor's counters.
func (p *Processor) Stats() runner.Stats { return p.r.Stats() }

// Topics returns the specs of the topics the processor needs, including its
// changelog, for kafka.EnsureTopics.
func Topics(t schemas.TopicSet, partitions int32) []schemas.TopicSpec {
	specs := t.Specs(partitions, 0)
	return append(specs, schemas.TopicSpec{Name: ChangelogTopic(t), Partitions: partitions, Retention: -1, Compacted: true,
		Key: "region", Description: "feature processor state per region (compacted)"})
}

// transactionalID is group-instance, or "" for the runner's default.
func transactionalID(group, instance string) string {
	if instance == "" {
		return ""
	}
	return group + "-" + instance
}

func (p *Processor) newTask(partition int32) (runner.Task, error) {
	e, err := features.NewEngine(p.cfg.Features)
	if err != nil {
		return nil, err
	}
	return &task{cfg: &p.cfg, e: e, partition: partition}, nil
}

type task struct {
	cfg       *Config
	e         *features.Engine
	partition int32
	lag       runner.Lag
}

// maxAhead is how far an input's watermark may run ahead of the clock while
// another input is behind before the runner pauses it: the bound on the
// history a task holds waiting for a slow input.
const maxAhead = 48 * time.Hour

// Pause implements runner.Pacer.
func (t *task) Pause() map[string]bool {
	if !t.lag.Behind() {
		return nil
	}
	clock := t.clock(t.lag)
	tp := t.cfg.Topics
	out := map[string]bool{}
	for topic, k := range map[string]features.Kind{tp.Prices: features.KindPrice, tp.WeatherObserved: features.KindObservation, tp.WeatherForecast: features.KindForecast} {
		if t.e.Watermark(k).After(clock.Add(maxAhead)) {
			out[topic] = true
		}
	}
	return out
}

func (t *task) Restore(key string, value []byte) error { return t.e.Restore(key, value) }

func (t *task) Changes() ([]runner.KV, error) {
	kvs, err := t.e.Changes()
	out := make([]runner.KV, len(kvs))
	for i, kv := range kvs {
		out[i] = runner.KV{Key: kv.Key, Value: kv.Value}
	}
	return out, err
}

func (t *task) Process(_ context.Context, recs []*kgo.Record, lag runner.Lag, out *runner.Output) error {
	tp := t.cfg.Topics
	// Decoding is independent per record: it runs on every core, and the
	// engine then takes the values in offset order.
	vals := make([]schemas.Value, len(recs))
	errs := make([]error, len(recs))
	chunked(len(recs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			vals[i], errs[i] = t.decode(recs[i])
		}
	}, nil)
	for i, rec := range recs {
		err := errs[i]
		if err == nil {
			switch v := vals[i].(type) {
			case *schemas.Price:
				err = t.e.AddPrice(v)
			case *schemas.WeatherObservation:
				err = t.e.AddObservation(v)
			case *schemas.WeatherForecast:
				err = t.e.AddForecast(v)
			}
		}
		if err != nil {
			out.DeadLetter(rec, reasonOf(err), err)
		}
	}
	t.lag = lag
	rows := t.e.Advance(t.clock(lag))
	// So is encoding the rows; they are emitted in order, each chunk as
	// soon as it and those before it are encoded.
	encoded := make([]*kgo.Record, len(rows))
	errs = make([]error, len(rows))
	var firstErr error
	chunked(len(rows), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			encoded[i], errs[i] = kafka.NewRecord(tp.Features, rows[i].Region, &rows[i], t.cfg.Producer)
		}
	}, func(lo, hi int) {
		for i := lo; i < hi && firstErr == nil; i++ {
			if errs[i] != nil {
				firstErr = fmt.Errorf("processors: encode feature row %s %s: %w", rows[i].Region, rows[i].Hour.Format(time.RFC3339), errs[i])
				return
			}
			out.Emit(encoded[i])
		}
	})
	return firstErr
}

// decode decodes and checks one input record.
func (t *task) decode(rec *kgo.Record) (schemas.Value, error) {
	var v schemas.Value
	switch tp := t.cfg.Topics; rec.Topic {
	case tp.Prices:
		v = new(schemas.Price)
	case tp.WeatherObserved:
		v = new(schemas.WeatherObservation)
	case tp.WeatherForecast:
		v = new(schemas.WeatherForecast)
	default:
		return nil, fmt.Errorf("processors: unexpected topic %s", rec.Topic)
	}
	if err := schemas.Decode(rec.Value, v); err != nil {
		return nil, err
	}
	var region string
	switch x := v.(type) {
	case *schemas.Price:
		region = x.Region
	case *schemas.WeatherObservation:
		region = x.Region
	case *schemas.WeatherForecast:
		region = x.Region
	}
	if err := checkKey(rec, region); err != nil {
		return nil, err
	}
	return v, nil
}

// chunkSize is the number of records a goroutine of chunked takes at once:
// large enough that handing out work costs little, small enough that the
// first chunk's output goes to the producer early.
const chunkSize = 256

// chunked calls work on consecutive chunks of [0, n), on up to GOMAXPROCS
// goroutines, and then (if not nil) done on each chunk in order, from this
// goroutine, as soon as it and every chunk before it are worked.
func chunked(n int, work, done func(lo, hi int)) {
	chunks := (n + chunkSize - 1) / chunkSize
	bounds := func(c int) (int, int) { return c * chunkSize, min((c+1)*chunkSize, n) }
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		for c := range chunks {
			lo, hi := bounds(c)
			work(lo, hi)
			if done != nil {
				done(lo, hi)
			}
		}
		return
	}
	finished := make([]chan struct{}, chunks)
	for c := range finished {
		finished[c] = make(chan struct{})
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := int(next.Add(1) - 1); c < chunks; c = int(next.Add(1) - 1) {
				work(bounds(c))
				close(finished[c])
			}
		})
	}
	if done != nil {
		for c := range chunks {
			<-finished[c]
			done(bounds(c))
		}
	}
	wg.Wait()
}

// clock is the partition's event-time clock: the smallest watermark among
// inputs that still have unread data, or the largest when none has. An input
// that is catching up holds the clock back; an input with nothing new (a
// region without weather) does not.
func (t *task) clock(lag runner.Lag) time.Time {
	tp := t.cfg.Topics
	kinds := []struct {
		topic string
		k     features.Kind
	}{{tp.Prices, features.KindPrice}, {tp.WeatherObserved, features.KindObservation}, {tp.WeatherForecast, features.KindForecast}}
	var lo, hi time.Time
	behind := false
	for _, x := range kinds {
		wm := t.e.Watermark(x.k)
		if lag[x.topic] {
			if !behind || wm.Before(lo) {
				lo = wm
			}
			behind = true
		}
		if wm.After(hi) {
			hi = wm
		}
	}
	if behind {
		return lo
	}
	return hi
}

// checkKey rejects a record keyed by another region: it would sit on the
// wrong partition, away from the rest of its region's state.
func checkKey(rec *kgo.Record, region string) error {
	if string(rec.Key) != region {
		return &schemas.ValidationError{Schema: "record", Field: "key", Reason: schemas.ReasonInvalid,
			Msg: fmt.Sprintf("key %q is not the region %q: records must be keyed by region so that a region's inputs share a partition", rec.Key, region)}
	}
	return nil
}

func reasonOf(err error) string {
	var r *features.Rejection
	if errors.As(err, &r) {
		return r.Reason
	}
	return schemas.ReasonOf(err)
}
