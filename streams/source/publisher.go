package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
)

// Batch is what one fetch of a series produced.
type Batch struct {
	Prices       []schemas.Price
	Observations []schemas.WeatherObservation
	Forecasts    []schemas.WeatherForecast
	// Dead holds inputs that could not become values (malformed JSON, a
	// bad row); they go to the dead-letter topic with their reason.
	Dead []Dead
	// Through ends the key-time window that was fetched completely: the
	// publisher marks [from, Through) covered. Leave it at from (or zero)
	// when nothing is known to be complete, e.g. tomorrow's prices that
	// are not out yet.
	Through time.Time
	// Marks declare further intervals complete, per series, for sources
	// that write several series in one batch (an import).
	Marks []Mark
	// Incomplete, when set, says the fetch was cut short (e.g. a malformed
	// page): the batch is published, then the loops treat the fetch as
	// failed and try the window again.
	Incomplete error
}

// Mark declares [From, To) of a series complete.
type Mark struct {
	Series   Series
	From, To time.Time
	// ValidTime, for a forecast series, says that From and To bound
	// forecast hours rather than issue times: every forecast of those
	// hours, whatever its issue time, is published. An import knows that
	// of the rows it read, not whether a run goes on in rows it has not.
	ValidTime bool
}

// Dead is an input a source could not turn into a value.
type Dead struct {
	// Region keys the dead letter like the record it would have been.
	Region string
	// Origin says where the input came from: a URL, "file.csv".
	Origin string
	// Offset is the position in Origin (a line, an index), or -1.
	Offset int64
	// Value is the raw input.
	Value []byte
	// Reason is a schemas.Reason* code.
	Reason string
	Err    error
}

// PublishStats counts what a Publish did.
type PublishStats struct {
	Prices, Observations, Forecasts int
	// Duplicates counts records dropped because they were published
	// already.
	Duplicates int
	// DeadLetters counts records sent to the dead-letter topic.
	DeadLetters int
}

// Add adds o to s.
func (s *PublishStats) Add(o PublishStats) {
	s.Prices += o.Prices
	s.Observations += o.Observations
	s.Forecasts += o.Forecasts
	s.Duplicates += o.Duplicates
	s.DeadLetters += o.DeadLetters
}

// Records is the number of data records published.
func (s PublishStats) Records() int { return s.Prices + s.Observations + s.Forecasts }

// ErrFenced is returned by Publish when another producer with the same
// transactional id has started: this one must stop.
var ErrFenced = errors.New("source: another producer with the same transactional id took over; stop this one (two instances of the same producer must not run at once)")

// ErrTransactionalIDUnauthorized is returned by NewPublisher and Publish
// when the Kafka cluster refuses this producer the use of its transactional
// id. The error names the id and the permission to grant. Like ErrFenced it
// is terminal (Terminal): retrying cannot help until the permission is
// granted.
var ErrTransactionalIDUnauthorized = errors.New("source: not authorised to use the transactional id")

// txAuthError is an ErrTransactionalIDUnauthorized for one id, wrapping
// the Kafka error.
type txAuthError struct {
	id, what string
	err      error
}

func (e *txAuthError) Error() string {
	return fmt.Sprintf("source: %s: the Kafka cluster does not authorise transactional id %q: "+
		"grant this producer's principal WRITE and DESCRIBE on the TransactionalId %q (Kafka ACLs), "+
		"or kafka-cluster:WriteTransactionalState and kafka-cluster:DescribeTransactionalState on its transactional-id resource (MSK IAM), "+
		"then start it again: %v", e.what, e.id, e.id, e.err)
}

func (e *txAuthError) Unwrap() []error { return []error{ErrTransactionalIDUnauthorized, e.err} }

// Terminal reports whether err ends a producer instead of being retried:
// it was fenced by a newer instance, or is not authorised to use its
// transactional id.
func Terminal(err error) bool {
	return errors.Is(err, ErrFenced) || errors.Is(err, ErrTransactionalIDUnauthorized)
}

// CheckpointTopic names the compacted topic that holds every series'
// coverage.
func CheckpointTopic(ts schemas.TopicSet) string { return ts.Internal("source", "checkpoints") }

// CheckpointSpec is the checkpoint topic's spec for kafka.EnsureTopics: one
// partition, compacted, kept forever.
func CheckpointSpec(ts schemas.TopicSet) schemas.TopicSpec {
	return schemas.TopicSpec{Name: CheckpointTopic(ts), Key: "series", Partitions: 1, Retention: -1, Compacted: true,
		Description: "producer checkpoints: the key-time intervals each series has published"}
}

// PublisherOptions configure NewPublisher.
type PublisherOptions struct {
	Topics schemas.TopicSet
	// Producer is the wattcast-producer header, e.g.
	// kafka.Producer(version, "produce octopus").
	Producer string
	// TransactionalID identifies this producer across restarts, e.g.
	// "wattcast-produce-octopus". Two running producers with the same id
	// fence each other. Required.
	TransactionalID string
	// Stage names the component in dead letters, e.g. "produce:octopus".
	Stage  string
	Logger *slog.Logger
	// Now returns the time written on dead letters and checkpoints; nil
	// uses time.Now.
	Now func() time.Time
}

// Publisher publishes batches exactly once per series key time (see the
// package doc). It is safe for concurrent use; publishes are serialised.
type Publisher struct {
	cl   *kgo.Client
	opts PublisherOptions
	ckpt string
	log  *slog.Logger

	mu  sync.Mutex
	cov map[string]*state
}

// checkpoint is the value of a checkpoint record. Hours and Runs were added
// later: a checkpoint without them reads as before (its issue times count
// as whole runs).
type checkpoint struct {
	Series  Series   `json:"series"`
	Covered Coverage `json:"covered"`
	// Hours (forecast series): hours whose forecasts are all published.
	Hours Coverage `json:"hours,omitempty"`
	// Runs (forecast series): the hours published of runs published in
	// part, by issue time.
	Runs      []runHours `json:"runs,omitempty"`
	UpdatedAt time.Time  `json:"updated_at"`
}

type runHours struct {
	IssuedAt time.Time `json:"issued_at"`
	Hours    Coverage  `json:"hours"`
}

func (c *checkpoint) state() *state {
	s := &state{covered: c.Covered, hours: c.Hours, runs: map[int64]Coverage{}}
	for _, r := range c.Runs {
		s.runs[r.IssuedAt.UnixNano()] = r.Hours
	}
	return s
}

func newCheckpoint(sr Series, s *state, now time.Time) checkpoint {
	c := checkpoint{Series: sr, Covered: s.covered, Hours: s.hours, UpdatedAt: now}
	for _, k := range s.runKeys() {
		c.Runs = append(c.Runs, runHours{time.Unix(0, k).UTC(), s.runs[k]})
	}
	return c
}

// NewPublisher starts a transactional producer and reads every checkpoint
// back. The checkpoint topic must exist (see CheckpointSpec).
func NewPublisher(ctx context.Context, kcfg kafka.Config, opts PublisherOptions) (*Publisher, error) {
	if opts.TransactionalID == "" {
		return nil, errors.New("source: PublisherOptions.TransactionalID is required")
	}
	if opts.Topics.Prices == "" {
		opts.Topics = schemas.NewTopicSet("")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Stage == "" {
		opts.Stage = "produce"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{opts: opts, ckpt: CheckpointTopic(opts.Topics), log: log, cov: map[string]*state{}}
	cl, err := kcfg.NewClient(kgo.TransactionalID(opts.TransactionalID), kgo.TransactionTimeout(time.Minute))
	if err != nil {
		return nil, err
	}
	// Fence the predecessor before reading what it published: loading the
	// producer id bumps the transactional id's epoch, after which an older
	// instance can commit nothing more, and a commit it had already sent
	// is complete (the broker finishes it first). Read the other way
	// round, a commit between the read and the first transaction would be
	// missing from the checkpoints and published again.
	if _, _, err := cl.ProducerID(ctx); err != nil {
		cl.Close()
		if errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
			return nil, &txAuthError{id: opts.TransactionalID, what: "start the transactional producer", err: err}
		}
		return nil, fmt.Errorf("source: start the transactional producer %q (fencing any older instance): %w", opts.TransactionalID, err)
	}
	cov, err := loadCheckpoints(ctx, kcfg, p.ckpt, log)
	if err != nil {
		cl.Close()
		return nil, err
	}
	p.cov = cov
	p.cl = cl
	log.Info("source: checkpoints loaded", "series", len(cov), "topic", p.ckpt)
	return p, nil
}

// Close aborts nothing (every Publish ends its transaction) and closes the
// producer.
func (p *Publisher) Close() { p.cl.Close() }

// Coverage returns the key times series s has published (for a forecast
// series, the issue times of runs published whole).
func (p *Publisher) Coverage(s Series) Coverage {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.cov[s.Key()]; ok {
		return c.covered
	}
	return nil
}

// state returns series key k's state; the zero state if it has none.
func (p *Publisher) state(k string) *state {
	if c, ok := p.cov[k]; ok {
		return c
	}
	return &state{}
}

// Publish writes, in one transaction, the records of b not published yet,
// b's dead letters, and the new checkpoints: s extended by [from,
// b.Through), each of b.Marks, and every record published (in whatever
// series it belongs to). A price or an observation is identified by its key
// time; a forecast by its issue time and its hour. On error nothing is
// visible to read_committed consumers and the coverage is unchanged, so the
// same fetch can simply be retried.
func (p *Publisher) Publish(ctx context.Context, s Series, from time.Time, b Batch) (PublishStats, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var st PublishStats
	var recs []*kgo.Record
	now := p.opts.Now().UTC()
	// Within one batch a record may also repeat (overlapping pages); the
	// first wins.
	seen := map[string]bool{}
	dup := func(k string, published bool) bool {
		if published || seen[k] {
			st.Duplicates++
			return true
		}
		seen[k] = true
		return false
	}
	nanos := func(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }
	var published []span
	dead := map[string]int{} // dead letters by reason, logged once committed
	add := func(topic, key string, v schemas.Value, raw func() []byte) {
		r, err := kafka.NewRecord(topic, key, v, p.opts.Producer)
		if err != nil {
			// Invalid values are dead-lettered, never published.
			d := Dead{Region: key, Origin: "source:" + s.Source, Offset: -1, Value: raw(), Reason: schemas.ReasonOf(err), Err: err}
			recs = append(recs, p.deadLetter(d, now))
			st.DeadLetters++
			dead[deadReason(d)]++
			return
		}
		recs = append(recs, r)
		switch v := v.(type) {
		case *schemas.Price:
			st.Prices++
			published = append(published, span{series: PriceSeries(v), from: v.Start, to: v.End})
		case *schemas.WeatherObservation:
			st.Observations++
			published = append(published, span{series: ObservationSeries(v), from: v.Time, to: v.Time.Add(time.Hour)})
		case *schemas.WeatherForecast:
			st.Forecasts++
			// The hour of its run, not the issue time: the rest of the
			// run may come in a later batch (a file that grew).
			published = append(published, span{series: ForecastSeries(v), from: v.Time, to: v.Time.Add(time.Hour), issued: v.IssuedAt})
		}
	}
	for i := range b.Prices {
		v := &b.Prices[i]
		sr := PriceSeries(v)
		if !dup(sr.Key()+"@"+nanos(v.Start), p.state(sr.Key()).covered.Contains(v.Start)) {
			add(p.opts.Topics.Prices, v.Region, v, func() []byte { j, _ := json.Marshal(v); return j })
		}
	}
	for i := range b.Observations {
		v := &b.Observations[i]
		sr := ObservationSeries(v)
		if !dup(sr.Key()+"@"+nanos(v.Time), p.state(sr.Key()).covered.Contains(v.Time)) {
			add(p.opts.Topics.WeatherObserved, v.Region, v, func() []byte { j, _ := json.Marshal(v); return j })
		}
	}
	for i := range b.Forecasts {
		v := &b.Forecasts[i]
		sr := ForecastSeries(v)
		if !dup(sr.Key()+"@"+nanos(v.IssuedAt)+"/"+nanos(v.Time), p.state(sr.Key()).hasForecast(v.IssuedAt, v.Time)) {
			add(p.opts.Topics.WeatherForecast, v.Region, v, func() []byte { j, _ := json.Marshal(v); return j })
		}
	}
	for _, d := range b.Dead {
		rec := p.deadLetter(d, now)
		recs = append(recs, rec)
		st.DeadLetters++
		dead[deadReason(d)]++
	}
	// New coverage: the window declared complete, the marks, and every
	// record published (so a partial fetch that is retried does not
	// publish its first part twice). Every series touched gets a checkpoint.
	next := map[string]*state{}
	series := map[string]Series{}
	touch := func(sr Series) *state {
		k := sr.Key()
		c, ok := next[k]
		if !ok {
			c = p.state(k).clone()
			next[k], series[k] = c, sr
		}
		return c
	}
	if !b.Through.IsZero() && !from.IsZero() {
		c := touch(s)
		c.covered = c.covered.Add(from, b.Through)
	}
	for _, m := range b.Marks {
		c := touch(m.Series)
		if m.ValidTime && m.Series.Kind == KindForecast {
			c.hours = c.hours.Add(m.From, m.To)
		} else { // other series are keyed by their valid time anyway
			c.covered = c.covered.Add(m.From, m.To)
		}
	}
	for _, v := range published {
		c := touch(v.series)
		if v.series.Kind == KindForecast {
			c.addRun(v.issued, v.from, v.to)
		} else {
			c.covered = c.covered.Add(v.from, v.to)
		}
	}
	var ckpts []*kgo.Record
	for k, c := range next {
		c.normalise()
		if c.equal(p.state(k)) {
			delete(next, k)
			continue
		}
		val, err := json.Marshal(newCheckpoint(series[k], c, now))
		if err != nil {
			return PublishStats{}, fmt.Errorf("source: encode checkpoint: %w", err)
		}
		ckpts = append(ckpts, &kgo.Record{Topic: p.ckpt, Key: []byte(k), Value: val})
	}
	if len(recs) == 0 && len(ckpts) == 0 {
		return st, nil
	}
	if err := p.transact(ctx, append(recs, ckpts...)); err != nil {
		return PublishStats{}, err
	}
	kafka.LogDeadLetters(ctx, p.log, p.opts.Topics.DeadLetters, dead)
	for k, c := range next {
		p.cov[k] = c
	}
	return st, nil
}

// span is what a published record covers: [from, to) of its key time, or,
// for a forecast, of its run's hours.
type span struct {
	series   Series
	from, to time.Time
	issued   time.Time // a forecast's issue time
}

func (p *Publisher) transact(ctx context.Context, recs []*kgo.Record) error {
	if err := p.cl.BeginTransaction(); err != nil {
		return p.txErr("begin transaction", err)
	}
	res := p.cl.ProduceSync(ctx, recs...)
	commit := kgo.TryCommit
	perr := res.FirstErr()
	if perr != nil {
		commit = kgo.TryAbort
		// Records still buffered must be failed before an abort.
		if err := p.cl.AbortBufferedRecords(context.WithoutCancel(ctx)); err != nil {
			p.log.Warn("source: abort buffered records", "err", err)
		}
	}
	// End the transaction even if ctx is done, so that a signal does not
	// leave it open until the transaction timeout.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := p.cl.EndTransaction(ectx, commit); err != nil {
		return p.txErr("end transaction", err)
	}
	if perr != nil {
		return p.txErr("produce (transaction aborted, nothing published)", perr)
	}
	return nil
}

// txErr classifies err, from step what of a transaction: fenced and
// unauthorised are terminal (see ErrFenced and
// ErrTransactionalIDUnauthorized), anything else may be retried. The Kafka
// error stays in the chain for errors.Is.
func (p *Publisher) txErr(what string, err error) error {
	switch {
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return &txAuthError{id: p.opts.TransactionalID, what: what, err: err}
	case errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch):
		return fmt.Errorf("%w: %s: %w", ErrFenced, what, err)
	}
	return fmt.Errorf("source: %s: %w", what, err)
}

func (p *Publisher) deadLetter(d Dead, now time.Time) *kgo.Record {
	orig := &kgo.Record{Topic: d.Origin, Partition: -1, Offset: d.Offset, Key: []byte(d.Region), Value: d.Value}
	return kafka.NewDeadLetter(p.opts.Topics.DeadLetters, orig, deadReason(d), d.Err, p.opts.Stage, p.opts.Producer, now)
}

// deadReason is d's reason code, malformed when the source gave none.
func deadReason(d Dead) string {
	if d.Reason == "" {
		return schemas.ReasonMalformed
	}
	return d.Reason
}

// loadCheckpoints reads the checkpoint topic to its last stable offset.
func loadCheckpoints(ctx context.Context, kcfg kafka.Config, topic string, log *slog.Logger) (map[string]*state, error) {
	out := map[string]*state{}
	acl, err := kcfg.NewClient()
	if err != nil {
		return nil, err
	}
	defer acl.Close()
	adm := kadm.NewClient(acl)
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("source: list checkpoint offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("source: list checkpoint offsets of %s: %w", topic, err)
	}
	want := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = o.Err
			return
		}
		s, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > s.Offset {
			want[o.Partition] = o.Offset
			parts[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if lerr != nil {
		if errors.Is(lerr, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("source: checkpoint topic %s does not exist: create it (kafka.EnsureTopics with source.CheckpointSpec): %w", topic, lerr)
		}
		return nil, fmt.Errorf("source: list checkpoint offsets of %s: %w", topic, lerr)
	}
	if len(parts) == 0 {
		return out, nil
	}
	// Control records are kept so that the position reaches the last
	// stable offset even when the log ends with a commit marker.
	cl, err := kcfg.NewClient(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("source: read checkpoints: %w", err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, fmt.Errorf("source: read checkpoints from %s: %w", topic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			if r.Value == nil { // a tombstone resets the series
				delete(out, string(r.Key))
				return
			}
			var c checkpoint
			if err := json.Unmarshal(r.Value, &c); err != nil {
				// A checkpoint we cannot read only costs re-publishing
				// checks, never data; say so and go on.
				log.Warn("source: unreadable checkpoint ignored", "key", string(r.Key), "err", err)
				return
			}
			out[string(r.Key)] = c.state()
		})
	}
	return out, nil
}
