package retrain

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

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
	cl, err := kc.NewClient(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []schemas.ModelEvent
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			var e schemas.ModelEvent
			if err := schemas.Decode(r.Value, &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
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
	store, err := lake.Open(ctx, "file://"+t.TempDir(), lake.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := servingtest.NewRegistry(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
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
	store, err := lake.Open(ctx, "file://"+t.TempDir(), lake.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := servingtest.NewRegistry(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
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
		rec, err := kafka.NewRecord(topics.ModelEvents, "lear", &req, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	w := &Worker{Kafka: kc, Topics: topics, Group: "rt-worker", Trainer: trainer, Registry: reg, Store: store, Producer: "test",
		Actor: "test", FromStart: true}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	for len(w.Registered()) == 0 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	// Let the second delivery be seen too.
	var evs []schemas.ModelEvent
	for ctx.Err() == nil {
		evs = readEvents(t, kc, topics.ModelEvents)
		if len(evs) >= 3 {
			break
		}
	}
	time.Sleep(300 * time.Millisecond)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := trained.Load(); n != 1 {
		t.Errorf("trained %d times for one request delivered twice, want 1", n)
	}
	if got := reg.Stage(ctx, "standard@1"); got != catalog.StageChallenger {
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
