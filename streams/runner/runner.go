// Package runner is the exactly-once consume-transform-produce loop that
// wattcast's stateful stages (the feature processor, the scorer) run on.
//
// # Concepts
//
// A runner consumes co-partitioned input topics in one consumer group. For
// each partition number p it owns, it keeps a Task: the stage's state for
// the keys of partition p, and the code that turns input records into
// output records. After each poll it hands every task its records, then
// writes, in one Kafka transaction, the tasks' outputs, their state changes
// (to partition p of a compacted changelog topic) and the consumed offsets.
// Either all of that becomes visible to read_committed consumers, or none
// of it does.
//
// When a partition is assigned (at start, after a crash or a rebalance),
// the task's state is restored from its changelog partition before any of
// its input is processed, and consumption resumes at the committed offsets.
// The changelog is the state as of those offsets, so a restarted stage
// continues exactly where the committed one stopped: nothing lost, nothing
// doubled. This is Kafka Streams' exactly-once design, and goka's group
// table, on franz-go's GroupTransactSession.
//
// The runner also tells each task, per input, whether that input partition
// still has unread data (its lag), which the stages use to hold their
// event-time clocks back while an input is catching up.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
)

// Task is one partition's state and logic. A runner never calls one task's
// methods concurrently; with Config.Concurrency above 1, different tasks run
// at the same time.
type Task interface {
	// Restore applies one changelog record, in changelog order, before any
	// input is processed. A nil value is a tombstone.
	Restore(key string, value []byte) error
	// Process handles one poll's input records of this partition, in
	// offset order per topic, writing outputs and dead letters to out. It
	// is also called with no records when only the lag changed. Process is
	// called again only after the transaction of the records emitted by the
	// previous call has ended (and the producer has released them), so a
	// task may reuse their memory from one call to the next.
	Process(ctx context.Context, recs []*kgo.Record, lag Lag, out *Output) error
	// Changes returns the changelog records for the state changed since the
	// last call. They are written in the same transaction as the outputs.
	Changes() ([]KV, error)
}

// Committer is implemented by a task that wants to know when the work of
// its last Process call has been committed (to update counters that must
// not count aborted work twice, or to act on what is now durable). It is
// called in the runner's loop, before the next poll, with the session's
// context: a task that does I/O there bounds it and stops when ctx ends.
type Committer interface {
	Committed(ctx context.Context)
}

// Pacer is implemented by a task that wants some of its inputs paused:
// inputs so far ahead of the others that their records would only pile up
// in its state until the others catch up. The runner pauses fetching those
// topics' partition and resumes them once Pause no longer names them.
type Pacer interface {
	Pause() map[string]bool
}

// KV is one changelog record.
type KV struct {
	Key   string
	Value []byte
}

// JSONChanges is Task.Changes for a task whose state is a set of JSON
// values by key: for each key of dirty, in key order, a record of
// state(key) as JSON, or a tombstone when state returns nil (the key's
// state is gone); it then empties dirty.
func JSONChanges(dirty map[string]bool, state func(key string) any) ([]KV, error) {
	keys := slices.Sorted(maps.Keys(dirty))
	out := make([]KV, 0, len(keys))
	for _, k := range keys {
		var b []byte
		if v := state(k); v != nil {
			var err error
			if b, err = json.Marshal(v); err != nil {
				return nil, fmt.Errorf("encode state %s: %w", k, err)
			}
		}
		out = append(out, KV{Key: k, Value: b})
	}
	clear(dirty)
	return out, nil
}

// Lag says, for each input topic, whether this partition has records not
// yet handed to the task (it is behind its end offset).
type Lag map[string]bool

// Behind reports whether any input is behind.
func (l Lag) Behind() bool {
	for _, b := range l {
		if b {
			return true
		}
	}
	return false
}

// Output is where a task writes in one transaction. Records go to the
// transaction as they are emitted, so the producer compresses and sends
// them while the task is still computing.
type Output struct {
	produce     func(*kgo.Record)
	counts      map[string]int64
	deadLetters map[string]int
	cfg         *Config
	now         func() time.Time
}

// Emit adds a record to the transaction. Its topic must be set; its
// partition is chosen by key, like any Kafka producer's. The records of one
// task are produced in the order emitted.
func (o *Output) Emit(r *kgo.Record) {
	o.counts[r.Topic]++
	o.produce(r)
}

// DeadLetter sends orig to the dead-letter topic with the reason (a
// schemas.Reason* code) and the error, and counts it.
func (o *Output) DeadLetter(orig *kgo.Record, reason string, err error) {
	o.Emit(kafka.NewDeadLetter(o.cfg.DeadLetters, orig, reason, err, o.cfg.Stage, o.cfg.Producer, o.now()))
	o.deadLetters[reason]++
}

// Config configures a Runner.
type Config struct {
	Kafka kafka.Config
	// Group is the consumer group; every instance of the stage uses the same.
	Group string
	// Inputs are the co-partitioned input topics: same partition count,
	// same key. The range balancer gives a member the same partition
	// numbers of all of them.
	Inputs []string
	// Changelog is the compacted topic holding the tasks' state; partition
	// p holds the state of input partition p. It must have at least as
	// many partitions as the inputs.
	Changelog string
	// DeadLetters is the dead-letter topic.
	DeadLetters string
	// Schemas names the schema of each input topic's values. A record
	// whose headers name another schema or version is dead-lettered
	// (schemas.ReasonUnknown) before its task sees it; topics not named
	// are not checked.
	Schemas map[string]string
	// Stage and Producer name the stage in dead letters and headers.
	Stage, Producer string
	// NewTask returns an empty task for partition p.
	NewTask func(p int32) (Task, error)
	// TransactionalID identifies this instance's transactional producer;
	// default Group-hostname. Instances must not share one; an instance
	// restarted with the same id fences its crashed predecessor at once
	// instead of waiting for its transaction to time out.
	TransactionalID string
	// TransactionTimeout bounds how long a crashed instance's open
	// transaction blocks its partitions; default 20s.
	TransactionTimeout time.Duration
	// SessionTimeout is how long the group waits for a silent member
	// (crashed, or cut off from the brokers) before it gives that member's
	// partitions to another; default 10s rather than franz-go's 45s, since
	// nothing else moves on those partitions meanwhile. Heartbeats go every
	// SessionTimeout/10 (at least every 3s). Brokers refuse values outside
	// group.min/max.session.timeout.ms (6s to 30min by default).
	SessionTimeout time.Duration
	// LookupTimeout bounds how long, after an assignment, the lookups of
	// the positions of its partitions are retried (they fail for a while
	// after a broker restart) before the session is given up; default 2m.
	LookupTimeout time.Duration
	// MaxPollRecords bounds the records handled in one transaction;
	// default 20000.
	MaxPollRecords int
	// FetchMaxBytes and FetchMaxPartitionBytes bound the (compressed)
	// bytes of one fetch response and of one partition in it, overriding
	// franz-go's 50 MiB and 1 MiB (fetch.max.bytes and
	// max.partition.fetch.bytes). The consumer buffers a response per
	// broker, decompressed, and with franz-go's defaults that buffer was
	// most of a runner's memory. Defaults 512 KiB and 64 KiB: a catch-up of
	// JSON records then fetches about 10,000 at a time (5 MB decompressed),
	// which costs no measurable throughput against 2 MiB, and peaks 40 MB
	// lower (docs/performance.md).
	FetchMaxBytes, FetchMaxPartitionBytes int32
	// Concurrency is how many tasks may process one poll's records at
	// once; default 1. Raise it (to the number of cores) only when tasks
	// share no mutable state: each task is still called by one goroutine
	// at a time, and its outputs keep their order.
	Concurrency int
	// StopAtEnd makes Run return once every input partition is consumed up
	// to the end offsets it had when Run started (for the demo and tests;
	// assumes this instance owns every partition).
	StopAtEnd bool
	Logger    *slog.Logger
	// Now is the wall clock for dead-letter times; default time.Now. With
	// Concurrency above 1 it must be safe for concurrent use.
	Now func() time.Time
}

// Stats are a runner's counters since it started.
type Stats struct {
	RecordsIn    map[string]int64 // per input topic
	RecordsOut   map[string]int64 // per output topic
	DeadLetters  map[string]int64 // per reason
	Transactions int64
	Aborts       int64
	Restores     int64
	// RestoredRecords counts changelog records read back into tasks.
	RestoredRecords int64
	Sessions        int64
}

// Runner runs a stage. Create one with New and call Run once.
type Runner struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex // guards pending, owned, stats
	pending  assignment
	owned    map[int32]bool // partition numbers assigned to this member
	stats    Stats
	tasks    map[int32]Task
	pos      map[tp]int64 // next offset to hand to a task
	end      map[tp]int64 // last stable offset seen
	stopAt   map[tp]int64
	restored map[int32]bool
	paused   map[tp]bool
	// assigned is the set of owned partitions whose positions
	// applyAssignment last looked up.
	assigned map[int32]bool
	// others holds, with StopAtEnd, the group's committed offsets of the
	// partitions other members own, read at othersAt.
	others   map[tp]int64
	othersAt time.Time
}

type tp struct {
	t string
	p int32
}

type assignment struct {
	changed bool
	lost    bool
}

// New checks cfg and returns a runner. It does not connect.
func New(cfg Config) (*Runner, error) {
	if cfg.Group == "" || len(cfg.Inputs) == 0 || cfg.Changelog == "" || cfg.DeadLetters == "" || cfg.NewTask == nil {
		return nil, errors.New("runner: Group, Inputs, Changelog, DeadLetters and NewTask are required")
	}
	if cfg.TransactionalID == "" {
		host, err := os.Hostname()
		if err != nil {
			host = fmt.Sprintf("pid%d", os.Getpid())
		}
		cfg.TransactionalID = cfg.Group + "-" + host
	}
	if cfg.TransactionTimeout == 0 {
		cfg.TransactionTimeout = 20 * time.Second
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.LookupTimeout == 0 {
		cfg.LookupTimeout = 2 * time.Minute
	}
	if cfg.MaxPollRecords == 0 {
		cfg.MaxPollRecords = 20000
	}
	if cfg.FetchMaxBytes == 0 {
		cfg.FetchMaxBytes = 512 << 10
	}
	if cfg.FetchMaxPartitionBytes == 0 {
		cfg.FetchMaxPartitionBytes = 64 << 10
	}
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Runner{cfg: cfg, log: cfg.Logger.With("stage", cfg.Stage),
		stats: Stats{RecordsIn: map[string]int64{}, RecordsOut: map[string]int64{}, DeadLetters: map[string]int64{}}}, nil
}

// Stats returns a copy of the counters. Safe for concurrent use.
func (r *Runner) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.RecordsIn, s.RecordsOut, s.DeadLetters = clone(s.RecordsIn), clone(s.RecordsOut), clone(s.DeadLetters)
	return s
}

func clone(m map[string]int64) map[string]int64 {
	c := make(map[string]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Run consumes until ctx is done (then it returns nil after aborting any
// open transaction) or, with StopAtEnd, until the inputs are consumed. A
// failed session (a broker restart that outlasts the client's retries, a
// fenced producer) is closed and a new one started after a backoff: the
// state is restored from the changelog, so nothing is lost or doubled.
func (r *Runner) Run(ctx context.Context) error {
	if r.cfg.StopAtEnd {
		if err := r.snapshotEnds(ctx); err != nil {
			return err
		}
	}
	backoff := time.Second
	for {
		done, err := r.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if done {
			return err // nil once the inputs are consumed; else a configuration the brokers refuse
		}
		r.log.Warn("session failed; starting a new one from the committed state", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func (r *Runner) snapshotEnds(ctx context.Context) error {
	cl, err := r.cfg.Kafka.NewClient(noClientMetrics())
	if err != nil {
		return err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, r.cfg.Inputs...)
	if err != nil {
		return fmt.Errorf("runner: end offsets of %v: %w", r.cfg.Inputs, err)
	}
	r.stopAt = map[tp]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Partition >= 0 {
			r.stopAt[tp{o.Topic, o.Partition}] = o.Offset
		}
	})
	return nil
}

// atEnd reports whether every input partition is consumed to stopAt: by
// this member for the partitions it owns, and, as the group's committed
// offsets show, by the others for the rest. Without the second part, two
// instances run with StopAtEnd would each wait for ever for the other's
// partitions. The committed offsets are read at most once a second.
func (r *Runner) atEnd(ctx context.Context, adm *kadm.Client) bool {
	done, othersLeft := r.consumed()
	if done || !othersLeft || time.Since(r.othersAt) < time.Second {
		return done
	}
	r.othersAt = time.Now()
	// RequireStable: an offset another member's open transaction commits
	// is not done until that transaction is.
	committed, err := adm.FetchOffsets(kadm.RequireStable(ctx), r.cfg.Group)
	if err != nil {
		// Asked again in a second; logged so that a run that never ends
		// says why.
		if ctx.Err() == nil {
			r.log.Warn("the group's committed offsets could not be read to tell whether every input is consumed; retrying",
				"group", r.cfg.Group, "err", err)
		}
		return false
	}
	r.others = map[tp]int64{}
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil {
			r.others[tp{o.Topic, o.Partition}] = o.At
		}
	})
	done, _ = r.consumed()
	return done
}

// consumed reports whether every input partition is consumed to stopAt as
// far as this member knows and, when only partitions of other members are
// left, says so: reading the group's committed offsets may show them done.
func (r *Runner) consumed() (done, othersLeft bool) {
	for k, end := range r.stopAt {
		switch {
		case end <= 0:
		case r.assigned[k.p]:
			if r.pos[k] < end {
				return false, false
			}
		case r.others[k] < end:
			othersLeft = true
		}
	}
	return !othersLeft, othersLeft
}

// session runs one GroupTransactSession until ctx ends (done), the inputs
// are consumed (done, with StopAtEnd) or it fails.
func (r *Runner) session(ctx context.Context) (done bool, err error) {
	r.mu.Lock()
	r.stats.Sessions++
	r.mu.Unlock()
	r.tasks, r.pos, r.end, r.restored, r.paused = map[int32]Task{}, map[tp]int64{}, map[tp]int64{}, map[int32]bool{}, map[tp]bool{}
	r.assigned = nil

	r.mu.Lock()
	r.owned = map[int32]bool{}
	r.mu.Unlock()
	// Callbacks run on franz-go's group goroutine: they only record what
	// changed; the poll loop acts on it between transactions.
	onChange := func(add, lost bool) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, ps := range m {
				for _, p := range ps {
					if add {
						r.owned[p] = true
					} else {
						delete(r.owned, p)
					}
				}
			}
			r.pending.changed = true
			r.pending.lost = r.pending.lost || lost
		}
	}
	opts, err := r.cfg.Kafka.Opts()
	if err != nil {
		return true, err
	}
	sess, err := kgo.NewGroupTransactSession(append(opts,
		kgo.ConsumerGroup(r.cfg.Group),
		kgo.SessionTimeout(r.cfg.SessionTimeout),
		kgo.HeartbeatInterval(min(r.cfg.SessionTimeout/10, 3*time.Second)),
		kgo.ConsumeTopics(r.cfg.Inputs...),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.TransactionalID(r.cfg.TransactionalID),
		kgo.TransactionTimeout(r.cfg.TransactionTimeout),
		// Pausing and resuming inputs must not wait out a long empty fetch
		// (nor must the last records of a catch-up); an idle consumer then
		// sends ten empty fetches a second, which no broker notices.
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchMaxBytes(r.cfg.FetchMaxBytes),
		kgo.FetchMaxPartitionBytes(r.cfg.FetchMaxPartitionBytes),
		kgo.RecordPartitioner(changelogPartitioner{r.cfg.Changelog}),
		noClientMetrics(),
		kgo.OnPartitionsAssigned(onChange(true, false)),
		kgo.OnPartitionsRevoked(onChange(false, false)),
		kgo.OnPartitionsLost(onChange(false, true)),
	)...)
	if err != nil {
		return true, fmt.Errorf("runner: %w", err)
	}
	defer sess.Close()
	adm := kadm.NewClient(sess.Client())

	for {
		if r.cfg.StopAtEnd && r.assigned != nil && r.atEnd(ctx, adm) {
			return true, nil
		}
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if r.cfg.StopAtEnd {
			// Wake up regularly: with nothing left to fetch, a poll would
			// block for ever.
			pollCtx, cancel = context.WithTimeout(ctx, time.Second)
		}
		t0 := time.Now()
		fetches := sess.PollRecords(pollCtx, r.cfg.MaxPollRecords)
		cancel()
		t1 := time.Now()
		if ctx.Err() != nil {
			return true, nil
		}
		if fetches.IsClientClosed() {
			return false, errors.New("runner: client closed")
		}
		if err := kafka.Refused(fetches); err != nil {
			return true, fmt.Errorf("runner: group %s, inputs %v: %w", r.cfg.Group, r.cfg.Inputs, err)
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				fetchErr = fmt.Errorf("runner: fetch %s[%d]: %w", t, p, err)
			}
		})
		if fetchErr != nil {
			r.log.Warn("fetch error", "err", fetchErr)
		}

		if err := r.applyAssignment(ctx, adm); err != nil {
			return false, err
		}

		byPart := map[int32][]*kgo.Record{}
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			k := tp{fp.Topic, fp.Partition}
			if fp.LastStableOffset >= 0 {
				r.end[k] = max(r.end[k], fp.LastStableOffset)
			}
			for _, rec := range fp.Records {
				r.pos[k] = rec.Offset + 1
				if rec.Attrs.IsControl() {
					continue
				}
				byPart[fp.Partition] = append(byPart[fp.Partition], rec)
			}
			r.end[k] = max(r.end[k], r.pos[k])
		})

		parts := make([]int32, 0, len(byPart))
		for p := range byPart {
			parts = append(parts, p)
		}
		for p := range r.tasks {
			if _, ok := byPart[p]; !ok {
				parts = append(parts, p)
			}
		}
		// Owned partitions with nothing fetched yet are restored now too:
		// one read of the changelog for all, not one per partition later.
		// (Only those whose positions applyAssignment has looked up: their
		// lag must be known before their clock may move.)
		for p := range r.assigned {
			if _, ok := byPart[p]; !ok && r.tasks[p] == nil {
				parts = append(parts, p)
			}
		}
		slices.Sort(parts)
		if err := r.ensureTasks(ctx, parts); err != nil {
			return false, err
		}

		// The transaction begins with the first record produced, or now if
		// offsets moved: a poll that consumed and produced nothing (an
		// input paused, a lag that changed nothing) needs none.
		var mu sync.Mutex
		var produceErr, beginErr error
		var begin sync.Once
		began := false
		doBegin := func() {
			begin.Do(func() {
				began = true
				if err := sess.Begin(); err != nil {
					beginErr = fmt.Errorf("runner: begin transaction: %w", err)
				}
			})
		}
		if fetches.NumRecords() > 0 {
			doBegin()
		}
		promise := func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				produceErr = errors.Join(produceErr, err)
				mu.Unlock()
			}
		}
		produce := func(rec *kgo.Record) {
			doBegin()
			if beginErr == nil {
				sess.Produce(ctx, rec, promise)
			}
		}
		outs, procErr := r.processAll(ctx, parts, byPart, produce)
		if beginErr != nil {
			return false, beginErr
		}
		t2 := time.Now()
		if !began {
			if procErr != nil {
				return false, procErr
			}
			r.pace(sess.Client(), parts)
			for _, p := range parts {
				if c, ok := r.tasks[p].(Committer); ok {
					c.Committed(ctx) // nothing to commit: its work is as safe as it gets
				}
			}
			continue
		}
		commit := kgo.TryCommit
		if procErr != nil {
			commit = kgo.TryAbort
		}
		// End flushes; a record that failed makes the commit fail too.
		committed, endErr := sess.End(ctx, commit)
		mu.Lock()
		pErr := produceErr
		mu.Unlock()
		if pErr != nil {
			committed = false
		}
		if procErr != nil {
			return false, procErr
		}
		if endErr != nil || !committed {
			r.mu.Lock()
			r.stats.Aborts++
			r.mu.Unlock()
			if endErr != nil {
				return false, fmt.Errorf("runner: end transaction: %w", errors.Join(endErr, pErr))
			}
			// franz-go rewound to the committed offsets, so the in-memory
			// state must go back too.
			if pErr != nil {
				r.log.Warn("transaction aborted: a record could not be produced; retrying from the committed state", "err", pErr)
			} else {
				r.log.Info("transaction aborted (rebalance); restoring state from the changelog")
			}
			r.resetTasks(sess.Client())
			continue
		}
		r.log.Debug("transaction committed", "records", fetches.NumRecords(), "partitions", len(parts),
			"poll", t1.Sub(t0), "process", t2.Sub(t1), "commit", time.Since(t2))
		r.pace(sess.Client(), parts)
		for _, p := range parts {
			if c, ok := r.tasks[p].(Committer); ok {
				c.Committed(ctx)
			}
		}
		var dead map[string]int // most transactions have none
		for _, out := range outs {
			for k, v := range out.deadLetters {
				if dead == nil {
					dead = map[string]int{}
				}
				dead[k] += v
			}
		}
		kafka.LogDeadLetters(ctx, r.log, r.cfg.DeadLetters, dead)
		r.mu.Lock()
		r.stats.Transactions++
		for _, recs := range byPart {
			for _, rec := range recs {
				r.stats.RecordsIn[rec.Topic]++
			}
		}
		for _, out := range outs {
			for k, v := range out.counts {
				r.stats.RecordsOut[k] += v
			}
		}
		for k, v := range dead {
			r.stats.DeadLetters[k] += int64(v)
		}
		r.mu.Unlock()
	}
}

// resetTasks forgets all in-memory state and positions; tasks are restored
// again before their next input, and positions relearned.
func (r *Runner) resetTasks(cl *kgo.Client) {
	r.tasks, r.restored, r.assigned = map[int32]Task{}, map[int32]bool{}, nil
	r.pos, r.end = map[tp]int64{}, map[tp]int64{}
	if len(r.paused) > 0 {
		cl.ResumeFetchPartitions(toMap(r.paused))
		r.paused = map[tp]bool{}
	}
	r.mu.Lock()
	r.pending.changed = true
	r.mu.Unlock()
}

// pace pauses the inputs that tasks want paused and resumes the others.
func (r *Runner) pace(cl *kgo.Client, parts []int32) {
	pause, resume := map[tp]bool{}, map[tp]bool{}
	for _, p := range parts {
		pc, ok := r.tasks[p].(Pacer)
		if !ok {
			continue
		}
		want := pc.Pause()
		for _, t := range r.cfg.Inputs {
			k := tp{t, p}
			switch {
			case want[t] && !r.paused[k]:
				pause[k] = true
				r.paused[k] = true
			case !want[t] && r.paused[k]:
				resume[k] = true
				delete(r.paused, k)
			}
		}
	}
	if len(pause) > 0 {
		cl.PauseFetchPartitions(toMap(pause))
	}
	if len(resume) > 0 {
		cl.ResumeFetchPartitions(toMap(resume))
	}
}

func toMap(set map[tp]bool) map[string][]int32 {
	m := map[string][]int32{}
	for k := range set {
		m[k.t] = append(m[k.t], k.p)
	}
	return m
}

func (r *Runner) lag(p int32) Lag {
	l := Lag{}
	for _, t := range r.cfg.Inputs {
		k := tp{t, p}
		l[t] = r.pos[k] < r.end[k]
	}
	return l
}

// applyAssignment reacts to a rebalance: it drops the tasks of partitions
// no longer owned and learns where each owned input partition stands.
func (r *Runner) applyAssignment(ctx context.Context, adm *kadm.Client) error {
	r.mu.Lock()
	pend := r.pending
	r.pending = assignment{}
	owned := maps.Clone(r.owned)
	r.mu.Unlock()
	if !pend.changed {
		return nil
	}
	for p := range r.tasks {
		if !owned[p] || pend.lost {
			delete(r.tasks, p)
			delete(r.restored, p)
		}
	}
	// Positions: the committed offset, or the log start for a new group.
	// Right after a broker restart the lookups fail for a while (leaders
	// moving, the coordinator loading its log); they are retried here, in
	// this session, since abandoning the session would leave its member in
	// the group until the session timeout and stall every partition.
	backoff := 100 * time.Millisecond
	deadline := time.Now().Add(r.cfg.LookupTimeout)
	for {
		pos, end, err := r.positions(ctx, adm, owned)
		if err == nil {
			r.pos, r.end, r.assigned = pos, end, owned
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		r.log.Warn("looking up the positions of the assigned partitions failed; retrying", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// positions looks up, for the owned partitions of every input, where to
// start (the group's committed offset, else the log start) and where the
// committed data ends. Any partition whose lookup failed fails the whole:
// falling back to the log start for a partition whose committed offset is
// merely unknown would process its records twice.
func (r *Runner) positions(ctx context.Context, adm *kadm.Client, owned map[int32]bool) (pos, end map[tp]int64, err error) {
	// RequireStable: the broker answers only once the transactional offset
	// commits of an earlier owner have ended, else a commit in flight would
	// be read as its predecessor and its records processed again (KIP-447).
	committed, err := adm.FetchOffsets(kadm.RequireStable(ctx), r.cfg.Group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		if errors.Is(err, kerr.UnstableOffsetCommit) {
			// Name the partitions: an offset commit that stays pending
			// past the transaction timeout is the broker's, and
			// docs/operations.md says how to diagnose it.
			var pending []string
			committed.Each(func(o kadm.OffsetResponse) {
				if errors.Is(o.Err, kerr.UnstableOffsetCommit) {
					pending = append(pending, fmt.Sprintf("%s[%d]", o.Topic, o.Partition))
				}
			})
			slices.Sort(pending)
			return nil, nil, fmt.Errorf("runner: committed offsets of group %s: a transactional offset commit of %v has not ended yet (normal for up to the transaction timeout, %s; longer, see docs/operations.md, \"a pending offset commit the broker never resolves\"): %w",
				r.cfg.Group, pending, r.cfg.TransactionTimeout, err)
		}
		return nil, nil, fmt.Errorf("runner: committed offsets of group %s: %w", r.cfg.Group, err)
	}
	starts, err := adm.ListStartOffsets(ctx, r.cfg.Inputs...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("runner: start offsets of %v: %w", r.cfg.Inputs, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, r.cfg.Inputs...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("runner: end offsets of %v: %w", r.cfg.Inputs, err)
	}
	pos, end = map[tp]int64{}, map[tp]int64{}
	for _, t := range r.cfg.Inputs {
		for p := range owned {
			k := tp{t, p}
			if o, ok := committed.Lookup(t, p); ok && o.At >= 0 {
				pos[k] = o.At
			} else if s, ok := starts.Lookup(t, p); ok {
				pos[k] = s.Offset
			} else {
				return nil, nil, fmt.Errorf("runner: no start offset for %s[%d] (metadata not yet updated?)", t, p)
			}
			e, ok := ends.Lookup(t, p)
			if !ok {
				return nil, nil, fmt.Errorf("runner: no end offset for %s[%d] (metadata not yet updated?)", t, p)
			}
			end[k] = e.Offset
		}
	}
	return pos, end, nil
}

// admit returns recs without the records whose headers say they are not
// their topic's schema (Config.Schemas), which it dead-letters. It returns
// recs itself when it refuses none, as it almost always does.
func (r *Runner) admit(recs []*kgo.Record, out *Output) []*kgo.Record {
	if len(r.cfg.Schemas) == 0 {
		return recs
	}
	var kept []*kgo.Record
	refused := false
	for i, rec := range recs {
		if want, ok := r.cfg.Schemas[rec.Topic]; ok {
			if err := kafka.CheckSchema(rec, want); err != nil {
				if !refused {
					refused, kept = true, slices.Clone(recs[:i])
				}
				out.DeadLetter(rec, schemas.ReasonOf(err), err)
				continue
			}
		}
		if refused {
			kept = append(kept, rec)
		}
	}
	if !refused {
		return recs
	}
	return kept
}

// processAll hands every partition of parts its records (Concurrency
// tasks at a time, in partition order) and writes the task's state changes
// after its outputs, everything through produce. It returns each task's
// Output and, once every task has stopped, the first error.
func (r *Runner) processAll(ctx context.Context, parts []int32, byPart map[int32][]*kgo.Record, produce func(*kgo.Record)) ([]*Output, error) {
	outs := make([]*Output, len(parts))
	errs := make([]error, len(parts))
	lags := make([]Lag, len(parts))
	for i, p := range parts {
		lags[i] = r.lag(p)
		outs[i] = &Output{produce: produce, counts: map[string]int64{}, deadLetters: map[string]int{}, cfg: &r.cfg, now: r.cfg.Now}
	}
	one := func(i int) {
		p := parts[i]
		t, out := r.tasks[p], outs[i]
		if err := t.Process(ctx, r.admit(byPart[p], out), lags[i], out); err != nil {
			errs[i] = fmt.Errorf("runner: process partition %d: %w", p, err)
			return
		}
		changes, err := t.Changes()
		if err != nil {
			errs[i] = fmt.Errorf("runner: state changes of partition %d: %w", p, err)
			return
		}
		for _, c := range changes {
			out.Emit(&kgo.Record{Topic: r.cfg.Changelog, Partition: p, Key: []byte(c.Key), Value: c.Value})
		}
	}
	workers := min(r.cfg.Concurrency, len(parts))
	if workers <= 1 {
		for i := range parts {
			one(i)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < len(parts); i = int(next.Add(1) - 1) {
					one(i)
				}
			})
		}
		wg.Wait()
	}
	return outs, errors.Join(errs...)
}

// ensureTasks creates the tasks of parts that have none, restoring their
// state from the changelog, all in one read of it.
func (r *Runner) ensureTasks(ctx context.Context, parts []int32) error {
	need := map[int32]Task{}
	for _, p := range parts {
		if _, ok := r.tasks[p]; ok {
			continue
		}
		t, err := r.cfg.NewTask(p)
		if err != nil {
			return fmt.Errorf("runner: new task for partition %d: %w", p, err)
		}
		need[p] = t
	}
	if len(need) == 0 {
		return nil
	}
	start := time.Now()
	n, err := r.restore(ctx, need)
	if err != nil {
		return err
	}
	r.log.Debug("restored partition state", "partitions", len(need), "changelog_records", n, "took", time.Since(start))
	r.mu.Lock()
	r.stats.Restores += int64(len(need))
	r.stats.RestoredRecords += int64(n)
	r.mu.Unlock()
	maps.Copy(r.tasks, need)
	return nil
}

// restore reads the changelog partitions of tasks up to their last stable
// offsets into the tasks, with one client for all of them.
func (r *Runner) restore(ctx context.Context, tasks map[int32]Task) (int, error) {
	offsets := map[int32]kgo.Offset{}
	for p := range tasks {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := r.cfg.Kafka.NewClient(noClientMetrics(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.cfg.Changelog: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, r.cfg.Changelog)
	if err != nil {
		return 0, fmt.Errorf("runner: changelog %s start: %w", r.cfg.Changelog, err)
	}
	// Wait (bounded) for any transaction of a previous owner to finish, so
	// that the stable end covers all of its state.
	ends := map[int32]int64{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		lso, err := adm.ListCommittedOffsets(ctx, r.cfg.Changelog)
		if err != nil {
			return 0, fmt.Errorf("runner: changelog %s end: %w", r.cfg.Changelog, err)
		}
		hwm, err := adm.ListEndOffsets(ctx, r.cfg.Changelog)
		if err != nil {
			return 0, fmt.Errorf("runner: changelog %s end: %w", r.cfg.Changelog, err)
		}
		settled := true
		for p := range tasks {
			l, _ := lso.Lookup(r.cfg.Changelog, p)
			h, _ := hwm.Lookup(r.cfg.Changelog, p)
			ends[p] = l.Offset
			settled = settled && l.Offset >= h.Offset
		}
		if settled || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	pending := map[int32]bool{}
	for p := range tasks {
		if s, _ := starts.Lookup(r.cfg.Changelog, p); ends[p] > s.Offset {
			pending[p] = true
		}
	}
	n := 0
	for len(pending) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) {
			ferr = fmt.Errorf("runner: read changelog %s[%d]: %w", r.cfg.Changelog, p, err)
		})
		if ferr != nil {
			return n, ferr
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			t := tasks[fp.Partition]
			for _, rec := range fp.Records {
				if ferr != nil {
					return
				}
				if rec.Offset+1 >= ends[fp.Partition] {
					delete(pending, fp.Partition)
				}
				if rec.Attrs.IsControl() {
					continue
				}
				if err := t.Restore(string(rec.Key), rec.Value); err != nil {
					ferr = fmt.Errorf("runner: restore partition %d from %s offset %d: %w", fp.Partition, r.cfg.Changelog, rec.Offset, err)
					return
				}
				n++
			}
		})
		if ferr != nil {
			return n, ferr
		}
	}
	return n, nil
}

// noClientMetrics turns off the client telemetry of KIP-714 in the runner's
// clients. A broker that asks for it (the embedded one does) gets a push
// every few seconds from each client, and franz-go compresses each push
// with lz4 in a fresh 4 MB block buffer: 16 MB of garbage per push, a
// tenth of the processor's peak memory. Operators watch the stages through
// their own metrics and logs instead.
func noClientMetrics() kgo.Opt { return kgo.DisableClientMetrics() }

// changelogPartitioner writes changelog records to the partition the runner
// chose (the input partition whose state they hold) and every other record
// by key hash, as Kafka's default partitioner does.
type changelogPartitioner struct{ changelog string }

func (c changelogPartitioner) ForTopic(t string) kgo.TopicPartitioner {
	if t == c.changelog {
		return kgo.ManualPartitioner().ForTopic(t)
	}
	return kgo.StickyKeyPartitioner(nil).ForTopic(t)
}
