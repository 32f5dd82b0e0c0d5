package lakesink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sync/errgroup"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/streams/kafka"
)

// storeConcurrency bounds parallel store requests. Files are small, so
// latency (S3 round trips, fsync) dominates and parallel requests hide it.
const storeConcurrency = 16

// errRebalance aborts a store retry loop when the group wants to rebalance:
// the sink drops what is not yet durable, rewinds, and lets the rebalance
// go on rather than being kicked out of the group.
var errRebalance = errors.New("lakesink: rebalance requested while the store is failing")

type tp struct {
	topic     string
	partition int32
}

// batch is a run of consecutive offsets of one topic partition.
type batch struct {
	tp
	table     string
	first     int64
	last      int64
	records   int
	bytes     int64     // key and value bytes of the records, markers included
	data      int       // data records (not transaction markers)
	boundary  time.Time // a record known at or after this closes the batch; zero until known
	fixedLast int64     // bounds adopted from a journal; -1 if none
	files     lake.FileSet
	skipped   map[string]int64
	touched   time.Time // wall clock of the last record

	objects []lake.Object // set when closed
}

// partState is the sink's view of one assigned topic partition.
type partState struct {
	open   *batch
	closed []*batch // closed, not yet durable, in offset order
	// lookup is true while journals may exist ahead of the consumer: a
	// predecessor may have journaled batches it never committed. It turns
	// false at the first batch start without a journal.
	lookup bool
	// ahead holds the starts of journals found past that first miss, in
	// order. Journals of one step are written in parallel, so a crash can
	// store a later batch's journal and not an earlier one's; the new cut
	// ends its batches before each such start and adopts the journal
	// there, so every stored journal stays true as a manifest entry.
	ahead  []int64
	listed bool // ahead was read since the partition was (re)started
	// ended is set (StopAtEnd) once an offset at or past the end was seen.
	ended bool
	// seen is the wall-clock time of the last record.
	seen time.Time
}

// run is the state of one Run call.
type run struct {
	s  *Sink
	cl *kgo.Client

	mu        sync.Mutex // guards parts and owned against rebalance callbacks
	parts     map[tp]*partState
	owned     map[tp]time.Time // assigned partitions and when they were assigned
	rebalance atomic.Bool
	wake      chan struct{}

	ends      map[tp]int64 // StopAtEnd targets
	committed map[tp]int64 // next offset, as committed by this group
	uncommit  map[tp]int64 // durable but not yet committed (a commit failed)
	lastPeek  time.Time
	lastLog   time.Time
	in        int64 // data records seen in the current step
	enc       *lake.Encoder
}

// Run consumes and stores until ctx ends (then it returns nil after a clean
// stop: nothing past stored data is committed) or, with StopAtEnd, until
// every input partition is stored and committed up to the end offsets seen
// at start. It returns an error for a configuration the brokers or the
// store reject for good. Call it once.
func (s *Sink) Run(ctx context.Context) error {
	r := &run{
		s:         s,
		parts:     make(map[tp]*partState),
		owned:     make(map[tp]time.Time),
		wake:      make(chan struct{}, 1),
		committed: make(map[tp]int64),
		uncommit:  make(map[tp]int64),
		enc:       lake.NewEncoder(),
	}
	topics := make([]string, 0, len(s.routes))
	for t := range s.routes {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	opts := []kgo.Opt{
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.SessionTimeout(s.cfg.SessionTimeout),
		kgo.HeartbeatInterval(min(s.cfg.SessionTimeout/10, 3*time.Second)),
		kgo.ConsumeTopics(topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers occupy offsets (the features topic is
		// written transactionally); seeing them lets a batch end on a
		// marker and StopAtEnd reach an end offset that is one.
		kgo.KeepControlRecords(),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(r.assigned),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.revoked),
		kgo.OnPartitionsCallbackBlocked(r.blocked),
	}
	cl, err := s.cfg.Kafka.NewClient(append(opts, s.cfg.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("lakesink: %w", err)
	}
	r.cl = cl
	defer func() {
		cl.AllowRebalance()
		cl.Close()
	}()
	if s.cfg.StopAtEnd {
		if err := r.snapshotEnds(ctx, topics); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	s.log.Info("lake sink started", "group", s.cfg.Group, "topics", topics, "stop_at_end", s.cfg.StopAtEnd,
		"max_rows", s.cfg.MaxRows, "max_bytes", s.cfg.MaxBytes, "roll_interval", s.cfg.RollInterval, "idle_flush", s.cfg.IdleFlush)
	tick := min(max(s.cfg.IdleFlush/4, 50*time.Millisecond), time.Second)
	for {
		if s.cfg.StopAtEnd {
			done, err := r.done(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("lake sink could not read the group's offsets; will retry", "err", err)
			}
			if done {
				s.log.Info("lake sink stored everything up to the end offsets", "stats", s.Stats())
				return nil
			}
		}
		pollCtx, cancel := context.WithTimeout(ctx, tick)
		fetches := cl.PollRecords(pollCtx, s.cfg.MaxPollRecords)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err := kafka.Refused(fetches); err != nil {
			return fmt.Errorf("lakesink: consume: group %s: %w", s.cfg.Group, err)
		}
		var fatal error
		fetches.EachError(func(t string, p int32, err error) {
			switch {
			case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			case errors.Is(err, kgo.ErrClientClosed):
				fatal = err
			default:
				s.log.Warn("lake sink fetch error; the client retries", "topic", t, "partition", p, "err", err)
			}
		})
		if fatal != nil {
			return fmt.Errorf("lakesink: consume: %w", fatal)
		}
		err := r.step(ctx, fetches)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errRebalance):
			r.rewindAll()
		case err != nil:
			return err
		}
		r.rebalance.Store(false)
		select {
		case <-r.wake:
		default:
		}
		cl.AllowRebalance()
	}
}

// step handles one poll: cut batches, store the closed ones, commit.
func (r *run) step(ctx context.Context, fetches kgo.Fetches) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var err error
	r.in = 0
	fetches.EachRecord(func(rec *kgo.Record) {
		if err == nil {
			err = r.add(ctx, rec)
		}
	})
	r.s.stats.update(func(s *Stats) { s.RecordsIn += r.in })
	if err != nil {
		return err
	}
	r.flushIdle()
	if err := r.store(ctx); err != nil {
		return err
	}
	r.commit(ctx)
	r.progress()
	return nil
}

// add puts one record into its partition's open batch, closing batches as
// the rules say.
func (r *run) add(ctx context.Context, rec *kgo.Record) error {
	key := tp{rec.Topic, rec.Partition}
	st := r.parts[key]
	if st == nil {
		st = &partState{lookup: true}
		r.parts[key] = st
	}
	st.seen = time.Now()
	end, hasEnd := r.ends[key]
	if hasEnd && rec.Offset >= end {
		// Past the snapshot: leave it for the next run.
		r.closeOpen(st)
		if !st.ended {
			st.ended = true
			r.cl.PauseFetchPartitions(map[string][]int32{rec.Topic: {rec.Partition}})
		}
		return nil
	}
	ctl := rec.Attrs.IsControl()
	var d decoded
	if !ctl {
		rt := r.s.routes[rec.Topic]
		if err := kafka.CheckSchema(rec, rt.schema); err != nil {
			d = invalid(err)
		} else {
			d = rt.decode(rec.Value, lake.Lineage{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset})
		}
	}
	for len(st.ahead) > 0 && rec.Offset >= st.ahead[0] {
		// A journaled batch starts here. An adopted batch keeps its
		// bounds (a journal inside it is from an older cut).
		if st.open == nil || st.open.fixedLast < 0 {
			r.closeOpen(st)
			st.lookup = true
		}
		st.ahead = st.ahead[1:]
	}
	if b := st.open; b != nil {
		switch {
		case b.fixedLast >= 0 && rec.Offset > b.fixedLast:
			r.closeOpen(st) // the journaled batch ended on an offset we did not see
		case b.fixedLast < 0 && !d.knownAt.IsZero() && !b.boundary.IsZero() && !d.knownAt.Before(b.boundary):
			r.closeOpen(st)
		}
	}
	if st.open == nil {
		b, err := r.openBatch(ctx, st, key, rec.Offset)
		if err != nil {
			return err
		}
		st.open = b
	}
	b := st.open
	b.last = rec.Offset
	b.records++
	b.bytes += int64(len(rec.Key) + len(rec.Value))
	b.touched = time.Now()
	if !ctl {
		b.data++
		r.in++
		switch {
		case d.add != nil:
			d.add(&b.files)
			if b.boundary.IsZero() {
				b.boundary = d.knownAt.UTC().Truncate(r.s.cfg.RollInterval).Add(r.s.cfg.RollInterval)
			}
		default:
			if b.skipped == nil {
				b.skipped = make(map[string]int64)
			}
			b.skipped[d.skip]++
		}
	}
	switch {
	case b.fixedLast >= 0:
		if rec.Offset >= b.fixedLast {
			r.closeOpen(st)
		}
	case b.records >= r.s.cfg.MaxRows, b.bytes >= r.s.cfg.MaxBytes:
		r.closeOpen(st)
	case hasEnd && rec.Offset >= end-1:
		r.closeOpen(st)
	}
	return nil
}

// openBatch starts a batch at first, adopting a journal's bounds if a
// predecessor left one there.
func (r *run) openBatch(ctx context.Context, st *partState, key tp, first int64) (*batch, error) {
	b := &batch{tp: key, table: r.s.routes[key.topic].table, first: first, last: first, fixedLast: -1}
	if !st.lookup {
		return b, nil
	}
	jkey := journalKey(key.topic, key.partition, first)
	var data []byte
	err := r.retry(ctx, "read batch journal "+jkey, func() error {
		var err error
		data, err = r.s.cfg.Store.Get(ctx, jkey)
		if errors.Is(err, fs.ErrNotExist) {
			data = nil
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if data == nil {
		st.lookup = false
		if !st.listed {
			st.listed = true
			ahead, err := r.journalsAfter(ctx, key, first)
			if err != nil {
				return nil, err
			}
			st.ahead = ahead
		}
		return b, nil
	}
	j, err := decodeJournal(data, jkey)
	if err != nil {
		return nil, err
	}
	b.fixedLast = j.Last
	r.s.stats.update(func(s *Stats) { s.JournalAdopted++ })
	r.s.log.Info("lake sink resumes a journaled batch", "topic", key.topic, "partition", key.partition,
		"first", j.First, "last", j.Last)
	return b, nil
}

// journalsAfter returns the starts of the journals of key's batches after
// first, in order: a listing of the partition's journals from first on
// (usually one request, empty), when the sink resumes the partition and
// finds no journal where it starts.
func (r *run) journalsAfter(ctx context.Context, key tp, first int64) ([]int64, error) {
	prefix := journalPrefix(key.topic, key.partition)
	var keys []string
	err := r.retry(ctx, "list batch journals "+prefix, func() error {
		var err error
		keys, err = r.s.cfg.Store.ListAfter(ctx, prefix, journalKey(key.topic, key.partition, first))
		return err
	})
	if err != nil {
		return nil, err
	}
	var starts []int64
	for _, k := range keys {
		off, ok := journalStart(prefix, k)
		if ok && off > first {
			starts = append(starts, off)
		}
	}
	slices.Sort(starts)
	return starts, nil
}

// closeOpen closes st's open batch; store encodes and writes it.
func (r *run) closeOpen(st *partState) {
	b := st.open
	if b == nil {
		return
	}
	st.open = nil
	st.closed = append(st.closed, b)
}

// flushIdle closes batches that received nothing for IdleFlush.
func (r *run) flushIdle() {
	now := time.Now()
	for _, st := range r.parts {
		// A batch with journaled bounds must run to its journaled end,
		// however long the records take to arrive.
		if st.open != nil && st.open.fixedLast < 0 && now.Sub(st.open.touched) >= r.s.cfg.IdleFlush {
			r.closeOpen(st)
		}
	}
}

// store makes every closed batch durable: journals first, then the files.
// A journal conflict rewinds its partition.
func (r *run) store(ctx context.Context) error {
	var keys []tp
	for k, st := range r.parts {
		if len(st.closed) > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, b tp) int {
		if a.topic != b.topic {
			if a.topic < b.topic {
				return -1
			}
			return 1
		}
		return int(a.partition - b.partition)
	})
	// Encode on every core: Parquet encoding is the sink's CPU cost.
	var enc errgroup.Group
	enc.SetLimit(runtime.GOMAXPROCS(0))
	for _, k := range keys {
		for _, b := range r.parts[k].closed {
			if b.objects != nil {
				continue
			}
			enc.Go(func() error {
				objs, err := b.files.Objects(r.enc, lake.FileName(b.topic, b.partition, b.first, b.last))
				if err != nil {
					return fmt.Errorf("lakesink: %w", err)
				}
				b.objects = objs
				b.files = lake.FileSet{}
				return nil
			})
		}
	}
	if err := enc.Wait(); err != nil {
		return err
	}

	// Journals, all in parallel. No file of this step is written before
	// every journal of the step is stored, and the conditional create
	// arbitrates between writers, so their order does not matter for
	// exactly once. A crash among them can leave a later batch's journal
	// without an earlier one's: the restart lists them and cuts around
	// them (partState.ahead), which is cheaper than writing a partition's
	// journals one after another, a PUT's latency per batch in a catch-up.
	type conflict struct{ part, batch int }
	var (
		cmu       sync.Mutex
		conflicts = map[int]int{} // index in keys -> first conflicting batch
	)
	noteConflict := func(c conflict) {
		cmu.Lock()
		defer cmu.Unlock()
		if old, ok := conflicts[c.part]; !ok || c.batch < old {
			conflicts[c.part] = c.batch
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(storeConcurrency)
	for i, k := range keys {
		for bi, b := range r.parts[k].closed {
			if b.fixedLast >= 0 {
				if b.last != b.fixedLast {
					// Cut short of its journaled end: writing it
					// would name its files differently.
					noteConflict(conflict{i, bi})
				}
				continue // adopted from a journal that exists
			}
			g.Go(func() error {
				ok, err := r.writeJournal(gctx, b)
				if err != nil {
					return err
				}
				if !ok {
					noteConflict(conflict{i, bi})
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, k := range keys {
		if c, ok := conflicts[i]; ok {
			r.rewind(k, r.parts[k].closed[c].first, "another writer journaled different bounds for this batch")
			r.parts[k].closed = r.parts[k].closed[:c]
		}
	}

	// Files of every batch, in parallel.
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(storeConcurrency)
	for _, k := range keys {
		for _, b := range r.parts[k].closed {
			for _, o := range b.objects {
				g.Go(func() error {
					return r.retry(gctx, "store "+o.Key, func() error {
						return r.s.cfg.Store.Put(gctx, o.Key, o.Data)
					})
				})
			}
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}

	// Durable: count, and queue the offsets for commit.
	for _, k := range keys {
		st := r.parts[k]
		for _, b := range st.closed {
			r.uncommit[k] = b.last + 1
			r.s.stats.update(func(s *Stats) {
				s.Batches++
				s.Files += int64(len(b.objects))
				for _, o := range b.objects {
					s.Rows[o.Partition.Table] += int64(o.Rows)
				}
				for reason, n := range b.skipped {
					if reason == skipNotFinal {
						s.SkippedNotFinal += n
					} else {
						s.SkippedInvalid[reason] += n
					}
				}
			})
			r.s.log.Debug("lake sink stored a batch", "topic", b.topic, "partition", b.partition,
				"first", b.first, "last", b.last, "files", len(b.objects))
		}
		st.closed = nil
	}
	return nil
}

// writeJournal creates b's journal. It returns false if a journal with other
// bounds is already there.
func (r *run) writeJournal(ctx context.Context, b *batch) (bool, error) {
	j := journal{Version: 1, Topic: b.topic, Partition: b.partition, First: b.first, Last: b.last, Records: b.records}
	for _, o := range b.objects {
		j.Files = append(j.Files, journalFile{Key: o.Key, Rows: o.Rows})
	}
	data, err := json.Marshal(j)
	if err != nil {
		return false, fmt.Errorf("lakesink: encode journal: %w", err)
	}
	key := journalKey(b.topic, b.partition, b.first)
	var same bool
	err = r.retry(ctx, "write batch journal "+key, func() error {
		created, err := r.s.cfg.Store.PutIfAbsent(ctx, key, data)
		if err != nil {
			return err
		}
		if created {
			same = true
			return nil
		}
		// Ours from an attempt whose answer was lost, or someone else's.
		old, err := r.s.cfg.Store.Get(ctx, key)
		if err != nil {
			return err
		}
		oj, err := decodeJournal(old, key)
		if err != nil {
			return err
		}
		same = oj.Last == b.last
		return nil
	})
	return same, err
}

// commit commits the durable offsets. A failed commit is retried with the
// next one: the data is stored, so a crash in between only means the batch
// is re-read and its files rewritten with the same content.
func (r *run) commit(ctx context.Context) {
	if len(r.uncommit) == 0 {
		return
	}
	offsets := make(map[string]map[int32]kgo.EpochOffset)
	for k, off := range r.uncommit {
		if offsets[k.topic] == nil {
			offsets[k.topic] = make(map[int32]kgo.EpochOffset)
		}
		offsets[k.topic][k.partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	var cerr error
	r.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				k := tp{t.Topic, p.Partition}
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					cerr = errors.Join(cerr, fmt.Errorf("%s[%d]: %w", t.Topic, p.Partition, err))
					continue
				}
				if off, ok := r.uncommit[k]; ok {
					r.committed[k] = off
					delete(r.uncommit, k)
				}
			}
		}
	})
	if cerr != nil {
		if ctx.Err() == nil {
			r.s.log.Warn("lake sink offset commit failed; the stored batches will be committed with the next one", "err", cerr)
		}
		return
	}
	r.s.stats.update(func(s *Stats) { s.Commits++; s.LastCommit = time.Now() })
}

// rewind drops what the sink holds for k and re-reads it from offset from.
// Called with r.mu held, from the polling goroutine before AllowRebalance,
// as franz-go requires for SetOffsets.
func (r *run) rewind(k tp, from int64, why string) {
	r.s.log.Warn("lake sink re-reads a partition", "topic", k.topic, "partition", k.partition, "from", from, "why", why)
	r.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{k.topic: {k.partition: {Epoch: -1, Offset: from}}})
	st := r.parts[k]
	st.open = nil
	st.lookup = true
	st.ahead, st.listed = nil, false
	if st.ended { // paused at the end offset; the re-read needs it fetching
		st.ended = false
		r.cl.ResumeFetchPartitions(map[string][]int32{k.topic: {k.partition}})
	}
	r.s.stats.update(func(s *Stats) { s.Rewinds++ })
}

// rewindAll drops every batch that is not durable, after a store retry was
// aborted for a rebalance; partitions the sink keeps are re-read.
func (r *run) rewindAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, st := range r.parts {
		from := int64(-1)
		if len(st.closed) > 0 {
			from = st.closed[0].first
		} else if st.open != nil {
			from = st.open.first
		}
		if from >= 0 {
			r.rewind(k, from, "a rebalance was requested while the store was failing")
			st.closed = nil
		}
	}
}

func (r *run) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for t, ps := range assigned {
		for _, p := range ps {
			r.owned[tp{t, p}] = now
		}
	}
}

// revoked drops the state of partitions this member no longer owns. Their
// open and undurable batches were never committed: the new owner re-reads
// them and adopts any journal they left.
func (r *run) revoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for t, ps := range revoked {
		for _, p := range ps {
			k := tp{t, p}
			if st := r.parts[k]; st != nil && st.ended {
				// Unpause, so that a later owner of this member's client
				// (a reassignment) fetches it again.
				r.cl.ResumeFetchPartitions(map[string][]int32{t: {p}})
			}
			delete(r.parts, k)
			delete(r.owned, k)
			delete(r.uncommit, k)
		}
	}
}

func (r *run) blocked(context.Context, *kgo.Client) {
	r.rebalance.Store(true)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// retry runs fn until it succeeds, ctx ends, a rebalance is requested after
// a failure, or non-retryable errors have lasted GiveUpAfter. The backoff
// doubles from RetryMin to RetryMax with full jitter on its upper half, so
// that many sinks do not retry in step.
func (r *run) retry(ctx context.Context, what string, fn func() error) error {
	cfg := r.s.cfg
	delay := cfg.RetryMin
	var hardSince time.Time
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.s.stats.update(func(s *Stats) { s.StoreRetries++ })
		// Log attempts 1, 2, 4, 8, ...: an outage shows at once without
		// flooding the log with one line per request and retry.
		level, attention := slog.LevelDebug, slog.LevelDebug
		if attempt&(attempt-1) == 0 {
			level, attention = slog.LevelWarn, slog.LevelError
		}
		if lake.IsRetryable(err) {
			hardSince = time.Time{}
			r.s.log.Log(ctx, level, "lake sink store request failed; retrying", "what", what, "attempt", attempt, "backoff", delay, "err", err)
		} else {
			if hardSince.IsZero() {
				hardSince = time.Now()
			}
			if time.Since(hardSince) >= cfg.GiveUpAfter {
				return fmt.Errorf("lakesink: %s: the store refused for %s: %w (check the lake URL, bucket and credentials)",
					what, cfg.GiveUpAfter, err)
			}
			r.s.log.Log(ctx, attention, "lake sink store request failed with an error that needs attention; retrying", "what", what,
				"attempt", attempt, "backoff", delay, "err", err)
		}
		if r.rebalance.Load() {
			return errRebalance
		}
		sleep := delay/2 + rand.N(delay/2+1)
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-r.wake:
			t.Stop()
			return errRebalance
		case <-t.C:
		}
		delay = min(delay*2, cfg.RetryMax)
	}
}

// snapshotEnds records the last stable offset of every input partition
// (read_committed stops there), and which partitions already are done.
func (r *run) snapshotEnds(ctx context.Context, topics []string) error {
	ends, err := kafka.ReadableEnds(ctx, kadm.NewClient(r.cl), topics...)
	if err != nil {
		return fmt.Errorf("lakesink: %v: %w", topics, err)
	}
	r.ends = make(map[tp]int64, len(ends))
	for k, end := range ends {
		r.ends[tp{k.Topic, k.Partition}] = end
	}
	if err := r.refreshCommitted(ctx); err != nil {
		return err
	}
	r.s.log.Info("lake sink will stop at the current end offsets", "partitions_with_data", len(r.ends))
	return nil
}

// refreshCommitted reads the group's committed offsets, for partitions
// other members (or earlier runs) committed.
func (r *run) refreshCommitted(ctx context.Context) error {
	m, asked, err := r.fetchCommitted(ctx)
	if err != nil {
		return err
	}
	r.mergeCommitted(m, asked)
	return nil
}

// fetchCommitted asks the group coordinator for the group's committed
// offsets. It takes no lock: franz-go may retry the request for a while,
// and the rebalance callbacks must not wait for it.
func (r *run) fetchCommitted(ctx context.Context) (map[tp]int64, time.Time, error) {
	// The time of the request, not of the answer: a commit that races
	// with it may be missed, and a partition assigned after it is read
	// again (see finished).
	asked := time.Now()
	resp, err := kadm.NewClient(r.cl).FetchOffsets(ctx, r.s.cfg.Group)
	if err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) {
			return nil, asked, nil
		}
		return nil, asked, fmt.Errorf("lakesink: fetch committed offsets of group %s: %w", r.s.cfg.Group, err)
	}
	m := map[tp]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil {
			m[tp{o.Topic, o.Partition}] = o.At
		}
	})
	return m, asked, nil
}

// mergeCommitted records offsets fetched at asked; r.mu held (or no
// other goroutine running yet).
func (r *run) mergeCommitted(m map[tp]int64, asked time.Time) {
	for k, at := range m {
		if at > r.committed[k] {
			r.committed[k] = at
		}
	}
	r.lastPeek = asked
}

// done reports whether every StopAtEnd target is stored and committed.
func (r *run) done(ctx context.Context) (bool, error) {
	r.mu.Lock()
	finished, peek := r.finished()
	stale := time.Since(r.lastPeek) >= time.Second
	r.mu.Unlock()
	if finished || !peek || !stale {
		return finished, nil
	}
	m, asked, err := r.fetchCommitted(ctx)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mergeCommitted(m, asked)
	finished, _ = r.finished()
	return finished, nil
}

// finished reports whether every StopAtEnd target is stored and committed
// as far as this member knows and, when it is not, whether reading the
// group's committed offsets could show that it is. It could for partitions
// other members own, and for partitions assigned since the last read: their
// previous owner may have committed them up to the end just before handing
// them over, and then no record is left to fetch that would show it.
func (r *run) finished() (done, peek bool) {
	for k, end := range r.ends {
		if r.committed[k] >= end {
			continue
		}
		assignedAt, mine := r.owned[k]
		if !mine || r.lastPeek.Before(assignedAt) {
			peek = true
			continue
		}
		st := r.parts[k]
		_, pending := r.uncommit[k]
		// Seeing an offset at or past the end proves nothing below it is
		// left, even when the end itself is invisible (an aborted
		// transaction below one still open at the snapshot: its marker
		// arrives once that transaction ends).
		if st != nil && st.ended && st.open == nil && len(st.closed) == 0 && !pending {
			continue
		}
		return false, false
	}
	return !peek, peek
}

// progress logs the counters every 10 seconds.
func (r *run) progress() {
	if time.Since(r.lastLog) < 10*time.Second {
		return
	}
	r.lastLog = time.Now()
	st := r.s.Stats()
	r.s.log.Info("lake sink progress", "records_in", st.RecordsIn, "rows", st.Rows, "files", st.Files,
		"batches", st.Batches, "store_retries", st.StoreRetries)
}
