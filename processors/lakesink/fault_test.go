package lakesink_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/lakesink"
	"github.com/wattcast/wattcast/streams/broker"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
)

// A crash can come between any two store writes: after a batch's journal,
// between its files, before its commit. The restarted sink must store every
// record exactly once, even when it is configured to cut batches
// differently (MaxRows or MaxBytes changed between runs): it adopts the
// bounds of the batches the crashed run journaled, so it rewrites the same
// objects instead of adding overlapping ones.
func TestSinkCrashAndRestartStoresEveryRecordOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		crashAt     int  // the write during which the sink "dies"
		crashAtFile int  // if set, crash at this Parquet file write instead
		applied     bool // whether that write reached the store
		maxBytes    int64
		// MaxRows and MaxBytes of the restarted sink; the crashed one
		// has MaxRows 16 and maxBytes.
		restartRows  int
		restartBytes int64
	}{
		{crashAt: 1, applied: true, restartRows: 40},   // after the first journal
		{crashAt: 2, applied: false, restartRows: 7},   // before the first file
		{crashAt: 9, applied: true, restartRows: 7},    // between files of a poll
		{crashAt: 30, applied: false, restartRows: 40}, // after commits, mid-run
		{crashAt: 40, applied: true, restartRows: 13},  // at the last write (of 41)
		// Batches cut by bytes, then by rows; and the other way round.
		// At a file write, every journal of that poll is stored, so the
		// restart must adopt at least one.
		{crashAtFile: 3, applied: true, maxBytes: 2_500, restartRows: 40, restartBytes: 1 << 20},
		{crashAtFile: 5, applied: false, restartRows: 16, restartBytes: 900},
	}
	for _, c := range cases {
		name := fmt.Sprintf("crash at write %d applied %v restart max rows %d", c.crashAt, c.applied, c.restartRows)
		if c.crashAtFile > 0 {
			name = fmt.Sprintf("crash at file %d applied %v max bytes %d restart max rows %d bytes %d",
				c.crashAtFile, c.applied, c.maxBytes, c.restartRows, c.restartBytes)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.produce(t2024, 2, "FI")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			runCtx, crash := context.WithCancel(ctx)
			var dead atomic.Bool
			var files atomic.Int64
			fs := &faultStore{inner: e.lake, onWrite: func(n int, key string) (bool, error) {
				if dead.Load() {
					return false, context.Canceled // the process is gone
				}
				if strings.HasSuffix(key, ".parquet") {
					files.Add(1)
				}
				if c.crashAtFile == 0 && n == c.crashAt || c.crashAtFile > 0 && files.Load() == int64(c.crashAtFile) {
					dead.Store(true)
					crash()
					return c.applied, context.Canceled
				}
				return true, nil
			}}
			cfg := e.config(fs)
			cfg.MaxRows, cfg.MaxBytes = 16, c.maxBytes
			s, err := lakesink.New(cfg)
			e.must(err)
			if err := s.Run(runCtx); err != nil {
				t.Fatalf("crashed sink returned %v, want nil on cancellation", err)
			}
			if !dead.Load() {
				t.Fatalf("the sink finished before the crash point; it is past the end of the test data")
			}
			// The restart starts each partition at its committed offset
			// (or its first record): a journal there must be adopted,
			// whatever the new limits.
			committed, _ := e.offsets(ctx, cfg.Group)
			read := e.readAsSink(ctx)
			atCommit := 0
			for k, bs := range e.journaled(ctx, e.lake) {
				from, ok := committed[k.topic][k.partition]
				if !ok || from < 0 {
					from = read[k][0].offset
				}
				if slices.ContainsFunc(bs, func(b batchBounds) bool { return b.first == from }) {
					atCommit++
				}
			}
			if c.crashAtFile > 0 && atCommit == 0 {
				t.Fatalf("no journal at a committed offset after a crash at file %d: the adoption path does not run", c.crashAtFile)
			}

			cfg = e.config(e.lake)
			cfg.MaxRows, cfg.MaxBytes = c.restartRows, c.restartBytes
			st := runSink(t, cfg, 30*time.Second)
			e.checkLake(ctx, e.lake)
			if st.JournalAdopted < int64(atCommit) {
				t.Errorf("restart adopted %d journaled batches; %d partitions had one at their committed offset", st.JournalAdopted, atCommit)
			}
			t.Logf("%d journals at committed offsets; restart adopted %d journaled batches, stored %d", atCommit, st.JournalAdopted, st.Batches)
		})
	}
}

// The journals of one step are written in parallel, so a crash can store
// some of a step's journals and not those before them. The restart, cutting
// batches differently, must end a batch where each stored journal starts
// and adopt it, or that journal would describe files nobody writes and
// overlap the batches actually stored: the lake would still be exactly
// once, but its manifest wrong. The crash's outcome is built exactly: the
// journals a run with MaxRows 16 writes, every other one of each
// partition, with no file and no committed offset.
func TestSinkCrashAmongJournalsKeepsTheManifestTrue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.produce(t2024, 2, "FI")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	scratch, err := lake.Open(ctx, "file://"+t.TempDir(), lake.WithoutSync())
	e.must(err)
	cfg := e.config(scratch)
	cfg.Group, cfg.MaxRows = "lakesink-scratch", 16
	runSink(t, cfg, 30*time.Second)
	copied := 0
	for _, bs := range e.journaled(ctx, scratch) {
		for i := 1; i < len(bs); i += 2 {
			data, err := scratch.Get(ctx, bs[i].journal)
			e.must(err)
			e.must(e.lake.Put(ctx, bs[i].journal, data))
			copied++
		}
	}
	if copied == 0 {
		t.Fatal("test bug: no partition has two batches of 16 records")
	}

	// Batches of 7 records do not start where batches of 16 did.
	cfg = e.config(e.lake)
	cfg.MaxRows = 7
	st := runSink(t, cfg, 30*time.Second)
	e.checkLake(ctx, e.lake)
	if st.JournalAdopted != int64(copied) {
		t.Errorf("the restart adopted %d journaled batches, want the %d left by the crash", st.JournalAdopted, copied)
	}
}

// The store refuses writes for a while (as in the integration test's 20 s
// outage): the sink retries with backoff, commits nothing past what is
// stored in the meantime, and then completes with every record once.
func TestSinkRetriesThroughStoreOutageWithoutCommittingAhead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.produce(t2024, 2, "FI", "GB-A")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The outage starts at the 10th write and lasts until the test has
	// seen retries go by, whatever the machine's speed.
	var down, over atomic.Bool
	var refused atomic.Int64
	fs := &faultStore{inner: e.lake, onWrite: func(n int, key string) (bool, error) {
		if n == 10 {
			down.Store(true)
		}
		if down.Load() && !over.Load() {
			refused.Add(1)
			return false, errUnavailable
		}
		return true, nil
	}}
	cfg := e.config(fs)
	s, err := lakesink.New(cfg)
	e.must(err)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	waitRefused := func(n int64) {
		t.Helper()
		waitFor(t, 20*time.Second, fmt.Sprintf("%d refused writes", n), func() bool {
			select {
			case err := <-done:
				t.Fatalf("sink ended during the outage: %v", err)
			default:
			}
			return refused.Load() >= n
		})
	}
	waitRefused(1)
	before, _ := e.offsets(ctx, cfg.Group)
	waitRefused(refused.Load() + 30) // many retries later
	during, _ := e.offsets(ctx, cfg.Group)
	over.Store(true)
	if fmt.Sprint(before) != fmt.Sprint(during) {
		t.Errorf("offsets moved while the store refused every write:\nbefore %v\nduring %v", before, during)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.StoreRetries == 0 || refused.Load() == 0 {
		t.Fatalf("no retries counted (%d) or no write refused (%d): the outage did not happen", st.StoreRetries, refused.Load())
	}
	e.checkLake(ctx, e.lake)
	t.Logf("%d writes refused, %d retries", refused.Load(), st.StoreRetries)
}

// A store that answers only with errors needing an operator (access
// denied) makes Run fail after GiveUpAfter, with the cause, instead of
// hanging; nothing is committed.
func TestSinkGivesUpOnPermanentStoreErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.produce(t2024, 1, "FI")
	fs := &faultStore{inner: e.lake, onWrite: func(int, string) (bool, error) {
		return false, fmt.Errorf("AccessDenied: the test bucket policy denies writes")
	}}
	cfg := e.config(fs)
	cfg.GiveUpAfter = 300 * time.Millisecond
	s, err := lakesink.New(cfg)
	e.must(err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = s.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") || ctx.Err() != nil {
		t.Fatalf("Run returned %v (ctx %v), want the AccessDenied cause before the test timeout", err, ctx.Err())
	}
	committed, _ := e.offsets(ctx, cfg.Group)
	for topic, parts := range committed {
		for p, off := range parts {
			if off > 0 {
				t.Errorf("%s[%d] committed to %d although nothing was stored", topic, p, off)
			}
		}
	}
}

// Two sinks in one group, one leaving mid-run. Member A starts alone and
// finds the store failing; when B joins, A gives way to the rebalance (it
// drops what it has not stored and rewinds instead of blocking the group
// while it retries), B takes some partitions, then A leaves and B takes the
// rest, adopting whatever A journaled. Nothing is lost, nothing doubled.
func TestSinkRebalanceBetweenTwoMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.produce(t2024, 2, "FI", "SE3", "GB-A")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var a *lakesink.Sink
	gate := &faultStore{inner: e.lake, onWrite: func(n int, key string) (bool, error) {
		if n > 3 && a.Stats().Rewinds == 0 {
			return false, errUnavailable // until A has given way to the rebalance
		}
		return true, nil
	}}
	cfgA := e.config(gate)
	cfgA.StopAtEnd = false
	a, err := lakesink.New(cfgA)
	e.must(err)
	aCtx, stopA := context.WithCancel(ctx)
	aDone := make(chan error, 1)
	go func() { aDone <- a.Run(aCtx) }()
	waitFor(t, 20*time.Second, "A retrying a failing store", func() bool { return a.Stats().StoreRetries > 0 })

	b, err := lakesink.New(e.config(e.lake))
	e.must(err)
	bDone := make(chan error, 1)
	go func() { bDone <- b.Run(ctx) }()
	waitFor(t, 20*time.Second, "A to give way to the rebalance", func() bool { return a.Stats().Rewinds > 0 })
	waitFor(t, 20*time.Second, "B to store a batch", func() bool { return b.Stats().Batches > 0 })
	stopA()
	if err := <-aDone; err != nil {
		t.Fatalf("member A: %v", err)
	}
	if err := <-bDone; err != nil {
		t.Fatalf("member B: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("timed out")
	}
	e.checkLake(ctx, e.lake)
	t.Logf("A stored %d batches (%d rewinds), B %d (adopted %d journals)",
		a.Stats().Batches, a.Stats().Rewinds, b.Stats().Batches, b.Stats().JournalAdopted)
}

// A member stopping at the end offsets can be handed partitions that
// another member stored and committed after this one took its snapshot:
// nothing is left to fetch in them, so only the group's committed offsets
// show they are done. Member A (live) is held in its first store until B
// has taken its snapshot; A then commits, and the rebalance B's join asked
// for hands B some of those finished partitions. B must stop, not wait
// for records that will never come.
func TestSinkStopAtEndAcceptsPartitionsAnotherMemberFinished(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.produce(t2024, 1, "FI", "SE3")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var held atomic.Bool
	release := make(chan struct{})
	gate := &faultStore{inner: e.lake, onWrite: func(int, string) (bool, error) {
		held.Store(true)
		select {
		case <-release:
			return true, nil
		case <-ctx.Done():
			return false, errUnavailable
		}
	}}
	cfgA := e.config(gate)
	cfgA.StopAtEnd = false
	cfgA.MaxRows = 10_000
	cfgA.IdleFlush = 100 * time.Millisecond
	a, err := lakesink.New(cfgA)
	e.must(err)
	aCtx, stopA := context.WithCancel(ctx)
	aDone := make(chan error, 1)
	go func() { aDone <- a.Run(aCtx) }()
	t.Cleanup(func() {
		stopA()
		<-aDone
	})
	waitFor(t, 20*time.Second, "A to store its first batches", held.Load)

	snapshot := make(chan struct{})
	cfgB := e.config(e.lake)
	cfgB.Logger = slog.New(onMessage{Handler: cfgB.Logger.Handler(), msg: "lake sink will stop at the current end offsets", ch: snapshot, once: new(sync.Once)})
	b, err := lakesink.New(cfgB)
	e.must(err)
	bDone := make(chan error, 1)
	go func() { bDone <- b.Run(ctx) }()
	select {
	case <-snapshot:
	case <-ctx.Done():
		t.Fatal("B never took its snapshot")
	}
	close(release)

	if err := <-bDone; err != nil {
		t.Fatalf("member B: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("B did not stop: it waited for partitions A had finished; B %+v, A %+v", b.Stats(), a.Stats())
	}
	waitFor(t, 20*time.Second, "every table stored", func() bool { return e.allStored(ctx) })
	stopA()
	if err := <-aDone; err != nil {
		t.Fatalf("member A: %v", err)
	}
	aDone <- nil // for the cleanup
	e.checkLake(ctx, e.lake)
}

// onMessage is a slog.Handler that closes ch when a record with message
// msg passes through it.
type onMessage struct {
	slog.Handler
	msg  string
	ch   chan struct{}
	once *sync.Once
}

func (h onMessage) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	return h.Handler.Handle(ctx, rec)
}

func (h onMessage) Enabled(context.Context, slog.Level) bool { return true }

func (h onMessage) WithAttrs(as []slog.Attr) slog.Handler {
	h.Handler = h.Handler.WithAttrs(as)
	return h
}

func (h onMessage) WithGroup(name string) slog.Handler {
	h.Handler = h.Handler.WithGroup(name)
	return h
}

// A zombie (an old owner that has not noticed it lost a partition) journals
// other bounds for a batch between the sink's journal lookup and its own
// journal write. The sink must notice, drop its batch, re-read the
// partition and follow the zombie's bounds: same names, no overlap.
func TestSinkFollowsAJournalWrittenByAnotherWriter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.produce(t2024, 2, "FI")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var injected atomic.Bool
	fs := &faultStore{inner: e.lake}
	fs.onWrite = func(n int, key string) (bool, error) {
		// On the sink's first journal of the prices topic, the zombie
		// gets there first with a batch of just two offsets.
		if strings.Contains(key, "/"+e.topics.Prices+"/") && strings.HasSuffix(key, ".json") && injected.CompareAndSwap(false, true) {
			var first int64
			var part int32
			if _, err := fmt.Sscanf(key[strings.LastIndex(key, "/p")+2:], "%d/%d.json", &part, &first); err != nil {
				t.Errorf("parse journal key %s: %v", key, err)
			}
			zombie := fmt.Sprintf(`{"version":1,"topic":%q,"partition":%d,"first":%d,"last":%d}`, e.topics.Prices, part, first, first+1)
			if _, err := e.lake.PutIfAbsent(ctx, key, []byte(zombie)); err != nil {
				t.Error(err)
			}
		}
		return true, nil
	}
	st := runSink(t, e.config(fs), 30*time.Second)
	if !injected.Load() || st.Rewinds == 0 || st.JournalAdopted == 0 {
		t.Fatalf("zombie journal injected %v, rewinds %d, adopted %d: the conflict path did not run", injected.Load(), st.Rewinds, st.JournalAdopted)
	}
	e.checkRows(ctx, e.lake) // not the manifest: the fake zombie's journal lists no files
}

// franz-go, like the Java client, never returns a transaction's commit
// marker as a record unless asked, so a consumer that commits "last record
// + 1" stays one short of a transactional topic's end offset forever. The
// sink keeps control records to reach it. This pins that behaviour of the
// broker and client we use, with the embedded broker.
func TestTransactionalTopicEndsWithAMarker(t *testing.T) {
	t.Parallel()
	brokers := brokertest.Start(t).Brokers
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("marker-test"),
		kgo.DefaultProduceTopic("txn"), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i, commit := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort, kgo.TryCommit} {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 2 {
			if err := p.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%d-%d", i, j)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	ends, err := kadm.NewClient(p).ListCommittedOffsets(ctx, "txn")
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup("txn", 0)

	// lastOffset consumes until it sees offset want, or for a second
	// more, and returns the last offset seen.
	lastOffset := func(keep bool, want int64) (last int64, values []string) {
		opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("txn"), kgo.FetchMaxWait(100 * time.Millisecond),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
		if keep {
			opts = append(opts, kgo.KeepControlRecords())
		}
		c, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		deadline := time.Now().Add(10 * time.Second)
		quietUntil := time.Time{}
		for time.Now().Before(deadline) && (quietUntil.IsZero() || time.Now().Before(quietUntil)) {
			pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
			c.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
				last = r.Offset
				if !r.Attrs.IsControl() {
					values = append(values, string(r.Value))
				}
			})
			pcancel()
			if last >= want && quietUntil.IsZero() {
				quietUntil = time.Now().Add(300 * time.Millisecond) // anything after it?
			}
		}
		return last, values
	}
	lastPlain, values := lastOffset(false, 7)
	lastKeep, _ := lastOffset(true, 8)
	// 3 transactions of 2 records and a marker each: the end is 9.
	if end.Offset != 9 || lastPlain+1 != end.Offset-1 || lastKeep+1 != end.Offset {
		t.Fatalf("end offset %d; last data record %d; last record with control records kept %d: want 9, 7, 8", end.Offset, lastPlain, lastKeep)
	}
	if fmt.Sprint(values) != "[0-0 0-1 2-0 2-1]" {
		t.Fatalf("read_committed returned %v, want the committed transactions only", values)
	}
}

// waitFor polls cond every 20ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rowsIn counts the rows of table in the lake.
func (e *env) rowsIn(ctx context.Context, table string) int {
	ls, _, err := lake.ReadLineage(ctx, e.lake, table, lake.Filter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(ls)
}

// allStored reports whether every table holds as many rows as e.want
// expects. In live mode the tables flush independently (each on its own
// idle timer), so a test must wait for all of them, not for one, before it
// stops the sink and checks the lake.
func (e *env) allStored(ctx context.Context) bool {
	for _, table := range lake.Tables() {
		n := 0
		for _, c := range e.want[table] {
			n += c
		}
		if e.rowsIn(ctx, table) < n {
			return false
		}
	}
	return true
}

// Live operation: no roll boundary is crossed (a day's prices are all
// published at once), so only IdleFlush puts them in the lake. The second
// day's records start a new batch; everything ends up stored once.
func TestSinkLiveModeFlushesIdleBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := e.config(e.lake)
	cfg.StopAtEnd = false
	cfg.MaxRows = 10_000
	cfg.IdleFlush = 200 * time.Millisecond
	s, err := lakesink.New(cfg)
	e.must(err)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	e.produce(t2024, 1, "FI")
	waitFor(t, 10*time.Second, "the first day's prices in the lake", func() bool { return e.rowsIn(ctx, lake.TablePrices) == 24 })
	e.produce(t2024.Add(24*time.Hour), 1, "FI")
	waitFor(t, 10*time.Second, "the second day's prices in the lake", func() bool { return e.rowsIn(ctx, lake.TablePrices) == 48 })
	waitFor(t, 10*time.Second, "every table stored", func() bool { return e.allStored(ctx) })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v, want nil", err)
	}
	e.checkLake(context.Background(), e.lake)
}

// The broker stops and comes back (same data directory and port) while the
// sink runs: the sink keeps going and stores everything once.
func TestSinkSurvivesBrokerRestart(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	b, err := broker.Start(broker.WithDataDir(dir), broker.WithPort(port))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, b.Addrs())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := e.config(e.lake)
	cfg.StopAtEnd = false
	cfg.IdleFlush = 200 * time.Millisecond
	s, err := lakesink.New(cfg)
	e.must(err)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	e.produce(t2024, 1, "FI")
	waitFor(t, 15*time.Second, "the first day in the lake", func() bool { return e.rowsIn(ctx, lake.TablePrices) == 24 })
	b.Close()
	time.Sleep(300 * time.Millisecond)
	b, err = broker.Start(broker.WithDataDir(dir), broker.WithPort(port))
	if err != nil {
		t.Fatalf("restart broker: %v", err)
	}
	t.Cleanup(b.Close)
	e.produce(t2024.Add(24*time.Hour), 1, "FI")
	waitFor(t, 30*time.Second, "the second day in the lake", func() bool {
		return e.rowsIn(ctx, lake.TablePrices) == 48 && e.allStored(ctx)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v, want nil", err)
	}
	e.checkLake(context.Background(), e.lake)
}
