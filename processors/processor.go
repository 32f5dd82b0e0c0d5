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
// per two inputs in a catch-up) stay in memory until it commits. Since the
// rows' buffers are reused, 5000 is 10-20% faster than 2000 at one region
// (the state of the days a transaction touches is rewritten once per
// transaction) for about 15 MB more at its peak; 20,000 bought nothing
// more (docs/performance.md).
const DefaultMaxPollRecords = 5000

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
	// MaxAhead is how far past Now a record's known-at time may be;
	// default DefaultMaxAhead, negative for no limit (a replay of made-up
	// future data). A later one is dead-lettered as out_of_range: taken in,
	// it would move the partition's event-time clock to its time, and
	// every record after it would be late.
	MaxAhead time.Duration
	// Now is the wall clock MaxAhead is measured from; default time.Now.
	Now func() time.Time
}

// DefaultMaxAhead is the default Config.MaxAhead: a day of clock skew or
// early publication is more than any source has.
const DefaultMaxAhead = 24 * time.Hour

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
	if cfg.MaxAhead == 0 {
		cfg.MaxAhead = DefaultMaxAhead
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
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
		Kafka:  cfg.Kafka,
		Group:  cfg.Group,
		Inputs: []string{cfg.Topics.Prices, cfg.Topics.WeatherObserved, cfg.Topics.WeatherForecast},
		Schemas: map[string]string{cfg.Topics.Prices: schemas.SchemaPrice, cfg.Topics.WeatherObserved: schemas.SchemaWeatherObservation,
			cfg.Topics.WeatherForecast: schemas.SchemaWeatherForecast},
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
	return &task{cfg: &p.cfg, e: e, partition: partition,
		headers:      kafka.RecordHeaders(schemas.SchemaFeatureRow, p.cfg.Producer),
		dailyHeaders: kafka.RecordHeaders(schemas.SchemaDailyFeatures, p.cfg.Producer)}, nil
}

type task struct {
	cfg       *Config
	e         *features.Engine
	partition int32
	lag       runner.Lag

	// headers are the feature rows' headers, shared by all of them;
	// dailyHeaders the daily windows'.
	headers, dailyHeaders []kgo.RecordHeader
	// encoders and decoders have one row encoder and one input decoder
	// per goroutine of chunked.
	encoders []schemas.FeatureRowEncoder
	decoders []schemas.Decoder
	// Reused from one Process call to the next: the decoded inputs (the
	// engine keeps no pointer to them) and the rows; and the records of
	// the feature rows and their bytes, which the runner no longer uses
	// once the transaction they were emitted in has ended (see
	// runner.Task), as it has when Process is called again.
	prices  []schemas.Price
	obs     []schemas.WeatherObservation
	fcs     []schemas.WeatherForecast
	rows    []schemas.FeatureRow
	daily   []schemas.DailyFeatures
	records []kgo.Record
	bufs    [][]byte // one per chunk of rows
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
	return t.process(recs, lag, out.Emit, out.DeadLetter)
}

// process is Process writing through emit and deadLetter (the benchmarks
// call it without a runner).
func (t *task) process(recs []*kgo.Record, lag runner.Lag, emit func(*kgo.Record), deadLetter func(*kgo.Record, string, error)) error {
	tp := t.cfg.Topics
	// Each record's kind and its place in the slice of its kind: decoding
	// fills those in place, with no allocation per record.
	kinds := make([]kindAt, len(recs))
	var n [3]int
	for i, rec := range recs {
		k := kindOf(tp, rec.Topic)
		if k >= 0 {
			kinds[i] = kindAt{k, int32(n[k])}
			n[k]++
		} else {
			kinds[i] = kindAt{-1, 0}
		}
	}
	t.prices = resize(t.prices, n[features.KindPrice])
	t.obs = resize(t.obs, n[features.KindObservation])
	t.fcs = resize(t.fcs, n[features.KindForecast])
	// Decoding is independent per record: it runs on every core, and the
	// engine then takes the values in offset order.
	if n := runtime.GOMAXPROCS(0); len(t.decoders) < n {
		t.encoders = make([]schemas.FeatureRowEncoder, n)
		t.decoders = make([]schemas.Decoder, n)
	}
	errs := make([]error, len(recs), max(len(recs), 256))
	limit := time.Time{} // the latest known-at time taken in; zero for none
	if t.cfg.MaxAhead > 0 {
		limit = t.cfg.Now().Add(t.cfg.MaxAhead)
	}
	chunked(len(recs), func(w, lo, hi int) {
		dc := &t.decoders[w]
		for i := lo; i < hi; i++ {
			errs[i] = t.decode(dc, recs[i], kinds[i], limit)
		}
	}, nil)
	for i, rec := range recs {
		err := errs[i]
		if err == nil {
			switch k := kinds[i]; k.kind {
			case features.KindPrice:
				err = t.e.AddPrice(&t.prices[k.i])
			case features.KindObservation:
				err = t.e.AddObservation(&t.obs[k.i])
			case features.KindForecast:
				err = t.e.AddForecast(&t.fcs[k.i])
			}
		}
		if err != nil {
			deadLetter(rec, reasonOf(err), err)
		}
	}
	// Keep no decoded strings alive until the next call; keep the maps of
	// values, emptied, for the next values decoded in their place.
	clear(t.prices)
	for i := range t.obs {
		m := t.obs[i].Values
		clear(m)
		t.obs[i] = schemas.WeatherObservation{Values: m}
	}
	for i := range t.fcs {
		m := t.fcs[i].Values
		clear(m)
		t.fcs[i] = schemas.WeatherForecast{Values: m}
	}
	t.lag = lag
	rows := t.e.AdvanceAppend(t.rows[:0], t.clock(lag))
	defer func() {
		clear(rows)
		if cap(rows) <= maxKeptRows {
			t.rows = rows[:0]
		} else {
			t.rows, t.records, t.bufs = nil, nil, nil
		}
	}()
	// So is encoding the rows; they are emitted in order, each chunk as
	// soon as it and those before it are encoded. A chunk's records, keys
	// and values are allocated together.
	t.records = resize(t.records, len(rows))
	encoded := t.records
	for len(t.bufs) < (len(rows)+chunkSize-1)/chunkSize {
		t.bufs = append(t.bufs, nil)
	}
	errs = resize(errs, len(rows))
	var firstErr error
	chunked(len(rows), func(w, lo, hi int) {
		enc := &t.encoders[w]
		buf := t.bufs[lo/chunkSize][:0]
		if cap(buf) < (hi-lo)*rowBytes {
			buf = make([]byte, 0, (hi-lo)*rowBytes)
		}
		defer func() { t.bufs[lo/chunkSize] = buf }()
		for i := lo; i < hi; i++ {
			r := &rows[i]
			start := len(buf)
			buf = append(buf, r.Region...)
			key := buf[start:len(buf):len(buf)]
			start = len(buf)
			buf, errs[i] = enc.AppendJSON(buf, r)
			encoded[i] = kgo.Record{Topic: tp.Features, Key: key, Value: buf[start:len(buf):len(buf)], Headers: t.headers}
		}
	}, func(lo, hi int) {
		for i := lo; i < hi && firstErr == nil; i++ {
			if errs[i] != nil {
				firstErr = fmt.Errorf("processors: encode feature row %s %s: %w", rows[i].Region, rows[i].Hour.Format(time.RFC3339), errs[i])
				return
			}
			emit(&encoded[i])
		}
	})
	if firstErr != nil {
		return firstErr
	}
	return t.emitDaily(emit)
}

// emitDaily sends the daily windows the rows just emitted closed, to the
// daily features topic. There is one per region and day, against 24 hourly
// rows: encoding/json is fast enough.
func (t *task) emitDaily(emit func(*kgo.Record)) error {
	t.daily = t.e.DailyAppend(t.daily[:0])
	defer clear(t.daily)
	topic := t.cfg.Topics.FeaturesDaily
	for i := range t.daily {
		d := &t.daily[i]
		v, err := schemas.Encode(d)
		if err != nil {
			return fmt.Errorf("processors: encode daily features %s %s: %w", d.Region, d.LocalDate, err)
		}
		emit(&kgo.Record{Topic: topic, Key: []byte(d.Region), Value: v, Headers: t.dailyHeaders})
	}
	return nil
}

// maxKeptRows bounds the row buffer a task keeps between calls.
const maxKeptRows = 8192

// rowBytes is about the size of a feature row's key and JSON: a chunk's
// buffer is allocated once in the common case.
const rowBytes = 1280

type kindAt struct {
	kind features.Kind // -1: not an input topic
	i    int32
}

func kindOf(tp schemas.TopicSet, topic string) features.Kind {
	switch topic {
	case tp.Prices:
		return features.KindPrice
	case tp.WeatherObserved:
		return features.KindObservation
	case tp.WeatherForecast:
		return features.KindForecast
	}
	return -1
}

// resize returns s with length n, reusing its array when it is big enough.
func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// decode decodes and checks one input record into its place.
func (t *task) decode(dc *schemas.Decoder, rec *kgo.Record, k kindAt, limit time.Time) error {
	var v schemas.Value
	var region *string
	var knownAt *time.Time
	switch k.kind {
	case features.KindPrice:
		p := &t.prices[k.i]
		v, region, knownAt = p, &p.Region, &p.PublishedAt
	case features.KindObservation:
		o := &t.obs[k.i]
		v, region, knownAt = o, &o.Region, &o.AvailableAt
	case features.KindForecast:
		f := &t.fcs[k.i]
		v, region, knownAt = f, &f.Region, &f.IssuedAt
	default:
		return fmt.Errorf("processors: unexpected topic %s", rec.Topic)
	}
	if err := dc.Decode(rec.Value, v); err != nil {
		return err
	}
	if !limit.IsZero() && knownAt.After(limit) {
		return &features.Rejection{Reason: schemas.ReasonOutOfRange, Msg: fmt.Sprintf(
			"known at %s, more than %s after this processor's wall clock: the producer's clock or the record is wrong (taken in, it would make every later record late)",
			knownAt.UTC().Format(time.RFC3339), t.cfg.MaxAhead)}
	}
	return checkKey(rec, *region)
}

// chunkSize is the number of records a goroutine of chunked takes at once:
// large enough that handing out work costs little, small enough that the
// first chunk's output goes to the producer early.
const chunkSize = 256

// chunked calls work on consecutive chunks of [0, n), on up to GOMAXPROCS
// goroutines (w, below GOMAXPROCS, numbers the goroutine, for per-goroutine
// scratch space), and then (if not nil) done on each chunk in order, from
// this goroutine, as soon as it and every chunk before it are worked.
func chunked(n int, work func(w, lo, hi int), done func(lo, hi int)) {
	chunks := (n + chunkSize - 1) / chunkSize
	bounds := func(c int) (int, int) { return c * chunkSize, min((c+1)*chunkSize, n) }
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		for c := range chunks {
			lo, hi := bounds(c)
			work(0, lo, hi)
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
	for w := range workers {
		wg.Go(func() {
			for c := int(next.Add(1) - 1); c < chunks; c = int(next.Add(1) - 1) {
				lo, hi := bounds(c)
				work(w, lo, hi)
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
