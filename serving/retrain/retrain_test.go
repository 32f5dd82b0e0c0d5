package retrain

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/serving/servingtest"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/training/models"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	from := time.Date(2024, 3, 6, 12, 0, 0, 0, time.UTC) // a Wednesday
	for _, tc := range []struct {
		expr string
		next time.Time // zero: the expression is refused
	}{
		{"0 3 * * 1", time.Date(2024, 3, 11, 3, 0, 0, 0, time.UTC)},
		{"@daily", time.Date(2024, 3, 7, 0, 0, 0, 0, time.UTC)},
		{"@every 6h", from.Add(6 * time.Hour)},
		{"CRON_TZ=Europe/Helsinki 0 3 * * *", time.Date(2024, 3, 7, 1, 0, 0, 0, time.UTC)},
		{"61 * * * *", time.Time{}},
		{"every day", time.Time{}},
	} {
		s, err := ParseSchedule(tc.expr)
		if tc.next.IsZero() {
			if err == nil {
				t.Errorf("%q: accepted, want an error", tc.expr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		if got := s.Next(from); !got.Equal(tc.next) {
			t.Errorf("%q: next after %s is %s, want %s", tc.expr, from, got, tc.next)
		}
	}
}

func setup(t *testing.T) (kafka.Config, schemas.TopicSet, *kgo.Client) {
	t.Helper()
	kc := brokertest.Start(t)
	topics := schemas.NewTopicSet("rt.")
	cl := brokertest.Client(t, kc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cl, topics.Specs(1, 0), 1); err != nil {
		t.Fatal(err)
	}
	return kc, topics, cl
}

func readEvents(t *testing.T, kc kafka.Config, topic string) []schemas.ModelEvent {
	t.Helper()
	var out []schemas.ModelEvent
	for _, r := range readRecords(t, kc, topic) {
		var e schemas.ModelEvent
		if err := schemas.Decode(r.Value, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// readRecords reads a topic from the start until a poll brings nothing.
func readRecords(t *testing.T, kc kafka.Config, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kc.NewClient(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			n++
		})
		if n == 0 {
			return out
		}
	}
}

// Two instances ticking on the same schedule write one request per tick:
// the tick is claimed with a conditional write in the shared store.
func TestScheduledRequestIsWrittenOncePerTick(t *testing.T) {
	t.Parallel()
	kc, topics, _ := setup(t)
	ctx := context.Background()
	store, reg := stores(t, ctx)
	if _, err := reg.Add(ctx, "lear", nil, catalog.StageChampion, nil); err != nil {
		t.Fatal(err)
	}
	sched, _ := ParseSchedule("@daily")
	tick := time.Date(2024, 3, 7, 0, 0, 0, 0, time.UTC)
	wins := 0
	for i, actor := range []string{"a", "b", "a"} {
		s := &Scheduler{Schedule: sched, Expr: "@daily", Store: store, Kafka: kc, Topics: topics, Registry: reg, Producer: "test", Actor: actor}
		won, err := s.Tick(ctx, tick)
		if err != nil {
			t.Fatal(err)
		}
		if won {
			wins++
			if i != 0 {
				t.Errorf("instance %d (%s) won a tick already claimed", i, actor)
			}
		}
	}
	evs := readEvents(t, kc, topics.ModelEvents)
	if wins != 1 || len(evs) != 1 || evs[0].Type != schemas.EventRetrainRequested || evs[0].ModelID != "lear" || !evs[0].Time.Equal(tick) {
		t.Fatalf("%d wins, events %+v; want one retrain request for the champion at the tick", wins, evs)
	}
}

// The worker trains on a request, registers the result as a challenger
// with a registered event, and does not train again when the same request
// is delivered twice.
func TestWorkerRegistersChallengersOncePerRequest(t *testing.T) {
	t.Parallel()
	kc, topics, cl := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, reg := stores(t, ctx)
	var trained atomic.Int32
	trainer := TrainerFunc(func(ctx context.Context, req schemas.ModelEvent) ([]catalog.Version, error) {
		trained.Add(1)
		card, err := reg.Add(ctx, "standard", []string{"FI"}, catalog.StageCandidate, models.NaiveStandard{})
		if err != nil {
			return nil, err
		}
		return []catalog.Version{{ID: card.ID, Version: card.Version, Kind: card.Kind, BacktestMAE: 3.5, BacktestRMAE: 0.8}}, nil
	})
	req := schemas.ModelEvent{EventID: "retrain_requested/x/2024-03-07T00:00:00Z", Time: time.Date(2024, 3, 7, 0, 0, 0, 0, time.UTC),
		Type: schemas.EventRetrainRequested, ModelID: "lear", Reason: "test"}
	for range 2 { // delivered twice
		produceEvent(t, ctx, cl, topics.ModelEvents, &req)
	}
	w := &Worker{Kafka: kc, Topics: topics, Group: "rt-worker", Trainer: trainer, Registry: reg, Store: store, Producer: "test",
		Actor: "test", FromStart: true}
	// The second delivery is handled (trained again or skipped) once the
	// group's committed offset covers both request records, offsets 0
	// and 1: the worker commits a request only after handling it.
	runWorker(t, ctx, w, func() bool {
		return len(w.Registered()) > 0 && committedAtLeast(ctx, cl, "rt-worker", topics.ModelEvents, 2)
	})
	if n := trained.Load(); n != 1 {
		t.Errorf("trained %d times for one request delivered twice, want 1", n)
	}
	if got := reg.Stage(t, ctx, "standard@1"); got != catalog.StageChallenger {
		t.Errorf("the new version is %s, want challenger", got)
	}
	var reg1 []schemas.ModelEvent
	for _, e := range readEvents(t, kc, topics.ModelEvents) {
		if e.Type == schemas.EventRegistered {
			reg1 = append(reg1, e)
		}
	}
	if len(reg1) != 1 || reg1[0].ModelID != "standard" || reg1[0].ToStage != catalog.StageChallenger || reg1[0].Evidence["backtest_rmae"] != 0.8 {
		t.Errorf("registered events %+v; want one for standard@1 as challenger with its backtest rMAE", reg1)
	}
}

// A winner of a tick that cannot write the request releases the claim, so
// the tick is not lost: the next instance that tries it (or the winner's
// own retry) claims it and writes the request. Before, the claim stayed and
// every other instance saw the tick taken.
func TestFailedRequestWriteReleasesTheTick(t *testing.T) {
	t.Parallel()
	kc, topics, _ := setup(t)
	ctx := context.Background()
	reg, err := servingtest.NewRegistry(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Add(ctx, "lear", nil, catalog.StageChampion, nil); err != nil {
		t.Fatal(err)
	}
	sched, _ := ParseSchedule("@daily")
	missing := topics
	missing.ModelEvents = "rt.no-such-topic" // the broker refuses to write it
	for i, tc := range []struct {
		name   string
		kafka  kafka.Config
		topics schemas.TopicSet
	}{
		{"no client", kafka.Config{}, topics},
		{"write refused", kc, missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := lake.Open(ctx, "file://"+t.TempDir(), lake.WithoutSync())
			if err != nil {
				t.Fatal(err)
			}
			tick := time.Date(2024, 3, 7+i, 0, 0, 0, 0, time.UTC) // one per case: they share the topic
			failing := &Scheduler{Schedule: sched, Expr: "@daily", Store: store, Kafka: tc.kafka, Topics: tc.topics, Registry: reg,
				Producer: "test", Actor: "a"}
			if won, err := failing.Tick(ctx, tick); err == nil || won {
				t.Fatalf("tick with a failing write: won %v, err %v; want an error", won, err)
			}
			if _, err := store.Get(ctx, claimKey(tick)); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("the claim of the failed tick is still there (err %v)", err)
			}
			ok := &Scheduler{Schedule: sched, Expr: "@daily", Store: store, Kafka: kc, Topics: topics, Registry: reg,
				Producer: "test", Actor: "b"}
			won, err := ok.Tick(ctx, tick)
			if err != nil || !won {
				t.Fatalf("the next instance's tick: won %v, err %v; want it to claim the released tick", won, err)
			}
			var reqs int
			for _, e := range readEvents(t, kc, topics.ModelEvents) {
				if e.EventID == "retrain_requested/schedule/"+tick.Format(time.RFC3339) {
					reqs++
				}
			}
			if reqs != 1 {
				t.Errorf("%d requests for the tick on the topic, want 1", reqs)
			}
		})
	}
}

// at is a schedule with one tick (and one an hour later, never reached).
type at time.Time

func (a at) Next(t time.Time) time.Time {
	if t.Before(time.Time(a)) {
		return time.Time(a)
	}
	return time.Time(a).Add(time.Hour)
}

// deleteCounter counts the claims a scheduler releases.
type deleteCounter struct {
	Store
	n atomic.Int32
}

func (d *deleteCounter) Delete(ctx context.Context, key string) error {
	d.n.Add(1)
	return d.Store.Delete(ctx, key)
}

// Run retries a tick whose request could not be written until it is: the
// model-events topic appears only after the first attempt failed.
func TestSchedulerRetriesATickWhoseWriteFailed(t *testing.T) {
	t.Parallel()
	kc, topics, cl := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := lake.Open(ctx, "file://"+t.TempDir(), lake.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	store := &deleteCounter{Store: b}
	reg, err := servingtest.NewRegistry(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	topics.ModelEvents = "rt.late-events"
	tick := time.Now().Add(time.Second).Truncate(time.Second) // after now: Run waits for it
	s := &Scheduler{Schedule: at(tick), Expr: "test", Store: store, Kafka: kc, Topics: topics, Registry: reg, Producer: "test",
		Actor: "a", RetryWait: 50 * time.Millisecond}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	for store.n.Load() == 0 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Fatal("the claim of the failed tick was never released")
	}
	if err := kafka.EnsureTopics(ctx, cl, []schemas.TopicSpec{{Name: topics.ModelEvents, Partitions: 1, Retention: -1}}, 1); err != nil {
		t.Fatal(err)
	}
	var evs []schemas.ModelEvent
	for ctx.Err() == nil && len(evs) == 0 {
		evs = readEvents(t, kc, topics.ModelEvents)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].EventID != "retrain_requested/schedule/"+tick.UTC().Format(time.RFC3339) {
		t.Fatalf("events %+v; want the tick's request once it could be written", evs)
	}
	if _, err := b.Get(ctx, claimKey(tick)); err != nil {
		t.Errorf("the written tick is not claimed: %v", err)
	}
}

// runWorker runs w until until() holds, then stops it.
// committedAtLeast reports whether group has committed partition 0 of
// topic at offset at or later.
func committedAtLeast(ctx context.Context, cl *kgo.Client, group, topic string, at int64) bool {
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	o, ok := offs.Lookup(topic, 0)
	return ok && o.At >= at
}

func runWorker(t *testing.T, ctx context.Context, w *Worker, until func() bool) {
	t.Helper()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	for !until() && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the worker did not finish in time")
	}
}

// The new versions of a retraining move to challenger in one stage-log
// record (a crash leaves all or none moved), and a registered event is
// written only for a version the worker moved: one that someone else moved
// first stays where it is, without an event saying candidate->challenger.
func TestWorkerMovesNewVersionsInOneRecord(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// archived is moved candidate->archived by someone else
		// between the training and the worker's stage change.
		archived   string
		wantRecord string
		wantEvents []string
	}{
		{"all candidates", "", "a@1 candidate->challenger, b@1 candidate->challenger", []string{"a", "b"}},
		{"one moved first", "b", "a@1 candidate->challenger", []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kc, topics, cl := setup(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			store, reg := stores(t, ctx)
			trainer := TrainerFunc(func(ctx context.Context, req schemas.ModelEvent) ([]catalog.Version, error) {
				var out []catalog.Version
				for _, id := range []string{"a", "b"} {
					card, err := reg.Add(ctx, id, []string{"FI"}, catalog.StageCandidate, models.NaiveStandard{})
					if err != nil {
						return nil, err
					}
					out = append(out, catalog.Version{ID: card.ID, Version: card.Version, Kind: card.Kind})
				}
				if tc.archived != "" {
					if err := reg.SetStages(ctx, []catalog.StageMove{{ID: tc.archived, Version: "1", From: catalog.StageCandidate,
						To: catalog.StageArchived}}, "someone else"); err != nil {
						return nil, err
					}
				}
				return out, nil
			})
			req := schemas.ModelEvent{EventID: "retrain_requested/x/2024-03-07T00:00:00Z", Time: time.Date(2024, 3, 7, 0, 0, 0, 0, time.UTC),
				Type: schemas.EventRetrainRequested, ModelID: "lear", Reason: "test"}
			produceEvent(t, ctx, cl, topics.ModelEvents, &req)
			w := &Worker{Kafka: kc, Topics: topics, Group: "rt-worker", Trainer: trainer, Registry: reg, Store: store, Producer: "test",
				Actor: "test", FromStart: true}
			runWorker(t, ctx, w, func() bool { _, err := store.Get(ctx, doneKey(req.EventID)); return err == nil })
			hist := reg.History(t, ctx)
			if got := hist[len(hist)-1]; got != tc.wantRecord || slices.Contains(hist[:len(hist)-1], "a@1 candidate->challenger") {
				t.Errorf("stage log %q; want the worker's one record %q", hist, tc.wantRecord)
			}
			var got []string
			for _, e := range readEvents(t, kc, topics.ModelEvents) {
				if e.Type == schemas.EventRegistered {
					got = append(got, e.ModelID)
				}
			}
			if !slices.Equal(got, tc.wantEvents) {
				t.Errorf("registered events for %q, want %q", got, tc.wantEvents)
			}
			if tc.archived != "" {
				if st := reg.Stage(t, ctx, tc.archived+"@1"); st != catalog.StageArchived {
					t.Errorf("%s is %s, want left archived", tc.archived, st)
				}
			}
		})
	}
}

// A request whose training always fails is given up after MaxAttempts: a
// dead letter says why, the request is committed, and the request after it
// is trained. Before, it was retried forever and blocked every later one.
func TestWorkerGivesUpARequestThatKeepsFailing(t *testing.T) {
	t.Parallel()
	kc, topics, cl := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, reg := stores(t, ctx)
	var failed atomic.Int32
	trainer := TrainerFunc(func(ctx context.Context, req schemas.ModelEvent) ([]catalog.Version, error) {
		if req.Reason == "no data" {
			failed.Add(1)
			return nil, errors.New("no feature rows in the lake")
		}
		card, err := reg.Add(ctx, "standard", []string{"FI"}, catalog.StageCandidate, models.NaiveStandard{})
		if err != nil {
			return nil, err
		}
		return []catalog.Version{{ID: card.ID, Version: card.Version, Kind: card.Kind}}, nil
	})
	var reqs []schemas.ModelEvent
	for i, reason := range []string{"no data", "ok"} {
		req := schemas.ModelEvent{EventID: fmt.Sprintf("retrain_requested/x/%d", i), Time: time.Date(2024, 3, 7+i, 0, 0, 0, 0, time.UTC),
			Type: schemas.EventRetrainRequested, ModelID: "lear", Reason: reason}
		produceEvent(t, ctx, cl, topics.ModelEvents, &req)
		reqs = append(reqs, req)
	}
	w := &Worker{Kafka: kc, Topics: topics, Group: "rt-worker", Trainer: trainer, Registry: reg, Store: store, Producer: "test",
		Actor: "test", FromStart: true, MaxAttempts: 3, RetryWait: 10 * time.Millisecond}
	// Registered is set before the second request's offset is committed:
	// stop only once it is.
	runWorker(t, ctx, w, func() bool {
		return len(w.Registered()) > 0 && committedAtLeast(ctx, cl, "rt-worker", topics.ModelEvents, 2)
	})

	if n := failed.Load(); n != 3 {
		t.Errorf("the failing request was tried %d times, want MaxAttempts = 3", n)
	}
	if got := reg.Stage(t, ctx, "standard@1"); got != catalog.StageChallenger {
		t.Errorf("the next request's version is %s, want challenger", got)
	}
	var dls []schemas.DeadLetter
	for _, r := range readRecords(t, kc, topics.DeadLetters) {
		var d schemas.DeadLetter
		if err := schemas.Decode(r.Value, &d); err != nil {
			t.Fatal(err)
		}
		dls = append(dls, d)
	}
	if len(dls) != 1 || dls[0].Topic != topics.ModelEvents || dls[0].Offset != 0 || dls[0].Stage != "retrainer" ||
		!strings.Contains(dls[0].Error, "after 3 attempts") || !strings.Contains(dls[0].Error, "no feature rows in the lake") {
		t.Errorf("dead letters %+v; want one for the given-up request, with the reason", dls)
	}
	if b, err := store.Get(ctx, doneKey(reqs[0].EventID)); err != nil || !strings.Contains(string(b), "no feature rows") {
		t.Errorf("done marker of the given-up request: %q, %v; want one holding the reason", b, err)
	}
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, "rt-worker")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(topics.ModelEvents, 0); !ok || o.At != 2 {
		t.Errorf("committed offset %+v, want 2 (both requests)", o)
	}
}

// stores returns an empty object store (ticks, done markers) and an empty
// model registry, each in its own temporary directory.
func stores(t *testing.T, ctx context.Context) (*lake.Bucket, *servingtest.Registry) {
	t.Helper()
	store, err := lake.Open(ctx, "file://"+t.TempDir(), lake.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := servingtest.NewRegistry(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return store, reg
}

// produceEvent writes a model event keyed by the champion, as the
// scheduler and the decider do.
func produceEvent(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, ev *schemas.ModelEvent) {
	t.Helper()
	rec, err := kafka.NewRecord(topic, "lear", ev, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
}
