package promotion_test

import (
	"context"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/processors/features/featurestest"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/serving/promotion"
	"github.com/wattcast/wattcast/serving/scorer"
	"github.com/wattcast/wattcast/serving/servingtest"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
)

// timedRow is a feature row with the time the processor would send it.
type timedRow struct {
	at  time.Time
	row *schemas.FeatureRow
}

// featureRows returns the feature rows of days of synthetic history in FI,
// in the order the processor sends them: ready rows at their issue time,
// final rows after their hour.
func featureRows(t *testing.T, start time.Time, days int) []timedRow {
	t.Helper()
	in := featurestest.History([]string{"FI"}, start, days)
	res, err := features.Batch(features.Config{}, in.Prices, in.Obs, in.Fcs)
	if err != nil {
		t.Fatal(err)
	}
	var rows []timedRow
	for i := range res.Ready {
		rows = append(rows, timedRow{res.Ready[i].IssueTime, &res.Ready[i]})
	}
	for i := range res.Final {
		rows = append(rows, timedRow{res.Final[i].Hour.Add(time.Hour), &res.Final[i]})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].at.Before(rows[j].at) })
	return rows
}

// readTopic reads a topic (read_committed) from the start until a poll
// brings nothing new.
func readTopic(t *testing.T, kc kafka.Config, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kc.NewClient(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
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
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r); n++ })
		if n == 0 {
			return out
		}
	}
}

// The issue's acceptance test: through the live loop on the embedded broker
// (scorer -> error topics -> promotion decider -> registry -> catalog ->
// scorer), a challenger that is truly better (the truth plus a third of the
// champion's noise) is promoted, with an event on the model-events topic
// and the registry stage champion, and its forecasts become the official
// ones; a challenger that is not (the truth plus more noise) is kept out
// with a promotion_denied event carrying its evidence.
func TestLiveLoopPromotesTheBetterChallengerOnly(t *testing.T) {
	t.Parallel()
	kc := brokertest.Start(t)
	topics := schemas.NewTopicSet("live.")
	cl := brokertest.Client(t, kc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	if err := kafka.EnsureTopics(ctx, cl, append(scorer.Topics(topics, 3), promotion.Topics(topics, 3)...), 1); err != nil {
		t.Fatal(err)
	}

	truth := func(_ string, h time.Time) float64 { return featurestest.Price(0, h) }
	reg, err := servingtest.NewRegistry(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		id, stage string
		o         *servingtest.Oracle
	}{
		{"champ", catalog.StageChampion, &servingtest.Oracle{Truth: truth, Sigma: 9, Seed: 1}},
		{"better", catalog.StageChallenger, &servingtest.Oracle{Truth: truth, Sigma: 3, Seed: 2}},
		{"worse", catalog.StageChallenger, &servingtest.Oracle{Truth: truth, Sigma: 12, Seed: 3}},
	} {
		if _, err := reg.Add(ctx, m.id, []string{"FI"}, m.stage, m.o); err != nil {
			t.Fatal(err)
		}
	}
	cat := catalog.New(reg, catalog.Options{Refresh: time.Hour})
	if err := cat.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	sc, err := scorer.New(scorer.Config{Kafka: kc, Topics: topics, Catalog: cat, Producer: "test",
		ForecastFrom: start.AddDate(0, 0, 8), Group: "live-scorer"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var committed []schemas.ModelEvent
	dec, err := promotion.New(promotion.Config{Kafka: kc, Topics: topics, Registry: reg, Producer: "test", Actor: "test",
		Group: "live-promoter", MinDays: 7, EvalEvery: 7, Window: 14, MaxDenials: -1,
		OnEvent: func(e schemas.ModelEvent) {
			mu.Lock()
			committed = append(committed, e)
			mu.Unlock()
			cat.Notify()
		}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	eg, egCtx := errgroup.WithContext(runCtx)
	eg.Go(func() error { return sc.Run(egCtx) })
	eg.Go(func() error { return dec.Run(egCtx) })
	eg.Go(func() error { return cat.Run(egCtx) })
	t.Cleanup(func() {
		stop()
		if err := eg.Wait(); err != nil {
			t.Error(err)
		}
	})

	produce := func(rows []timedRow) {
		t.Helper()
		var recs []*kgo.Record
		for _, r := range rows {
			rec, err := kafka.NewRecord(topics.Features, r.row.Region, r.row, "test")
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rec)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	promotedBy := func() (schemas.ModelEvent, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range committed {
			if e.Type == schemas.EventPromoted {
				return e, true
			}
		}
		return schemas.ModelEvent{}, false
	}

	// Phase 1: 20 days of history. Forecasts start on day 9; the 7th
	// paired day closes on day 16, when the test runs.
	rows := featureRows(t, start, 30)
	cut := start.AddDate(0, 0, 20)
	i := sort.Search(len(rows), func(i int) bool { return !rows[i].at.Before(cut) })
	produce(rows[:i])
	var promoted schemas.ModelEvent
	for {
		if e, ok := promotedBy(); ok && reg.Stage(t, ctx, "better@1") == catalog.StageChampion && cat.Refreshed().After(time.Time{}) {
			promoted = e
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no promotion within the deadline; events so far: %+v", committed)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The catalog serves the new champion before phase 2 is produced.
	for {
		ds, _ := cat.Deployed(ctx, "FI")
		if len(ds) > 0 && ds[0].ID == "better" && ds[0].Role == schemas.RoleChampion {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the catalog never served better as champion: %+v", ds)
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Phase 2: the rest; the scorer now forecasts with the new champion.
	produce(rows[i:])
	lastDay := start.AddDate(0, 0, 30).Format(time.DateOnly)
	var fcs []schemas.Forecast
	for {
		fcs = fcs[:0]
		done := false
		for _, r := range readTopic(t, kc, topics.Forecasts) {
			var f schemas.Forecast
			if err := schemas.Decode(r.Value, &f); err != nil {
				t.Fatal(err)
			}
			fcs = append(fcs, f)
			done = done || (f.LocalDate == lastDay && f.Official)
		}
		if done {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no official forecast for %s within the deadline", lastDay)
		}
	}

	// The model-events topic holds each decision once, with its evidence.
	seen := map[string]bool{}
	var events []schemas.ModelEvent
	for _, r := range readTopic(t, kc, topics.ModelEvents) {
		var e schemas.ModelEvent
		if err := schemas.Decode(r.Value, &e); err != nil {
			t.Fatal(err)
		}
		if seen[e.EventID] {
			t.Errorf("event %s is on the topic twice", e.EventID)
		}
		seen[e.EventID] = true
		events = append(events, e)
	}
	var gotPromoted, gotArchived, gotDenied bool
	for _, e := range events {
		switch {
		case e.Type == schemas.EventPromoted:
			if e.ModelID != "better" || e.ToStage != catalog.StageChampion || e.Evidence[promotion.EvPValue] >= 0.05 ||
				e.Evidence[promotion.EvDays] < 7 || e.Evidence[promotion.EvStat] <= 0 ||
				!(e.Evidence[promotion.EvChallengerMAE] < e.Evidence[promotion.EvChampionMAE]) {
				t.Errorf("promotion event %+v: want better promoted on p < 0.05 over >= 7 days with a lower MAE", e)
			}
			gotPromoted = true
		case e.Type == schemas.EventStageChanged && e.ModelID == "champ":
			gotArchived = e.ToStage == catalog.StageArchived
		case e.Type == schemas.EventPromotionDenied:
			if e.ModelID != "worse" {
				t.Errorf("denied %s: %s", e.ModelID, e.Reason)
			}
			if e.Evidence[promotion.EvPValue] < 0.05 || e.Evidence[promotion.EvDays] < 7 || !strings.Contains(e.Reason, "not more accurate") {
				t.Errorf("denial evidence %+v: want p >= 0.05 over >= 7 days", e)
			}
			gotDenied = true
		}
	}
	if !gotPromoted || !gotArchived || !gotDenied {
		t.Fatalf("events %+v: want better promoted, champ archived and worse denied", events)
	}
	for key, want := range map[string]string{"better@1": catalog.StageChampion, "champ@1": catalog.StageArchived, "worse@1": catalog.StageChallenger} {
		if got := reg.Stage(t, ctx, key); got != want {
			t.Errorf("registry: %s is %s, want %s", key, got, want)
		}
	}
	// Official forecasts: champ's until the promotion, better's for every
	// day issued after the catalog switched.
	official := map[string]string{}
	for _, f := range fcs {
		if f.Official {
			if prev, dup := official[f.LocalDate]; dup {
				t.Errorf("%s has two official forecasts (%s and %s)", f.LocalDate, prev, f.ModelID)
			}
			official[f.LocalDate] = f.ModelID
		}
	}
	if official[start.AddDate(0, 0, 10).Format(time.DateOnly)] != "champ" {
		t.Errorf("day 10's official forecast is %q, want champ's", official[start.AddDate(0, 0, 10).Format(time.DateOnly)])
	}
	for d := 22; d <= 30; d++ {
		day := start.AddDate(0, 0, d).Format(time.DateOnly)
		if official[day] != "better" {
			t.Errorf("day %s (after the promotion) has official forecast %q, want better's", day, official[day])
		}
	}
	for _, e := range events {
		t.Logf("%s %s %s %v", e.Type, e.ModelID, e.Reason, e.Time)
	}
	t.Logf("official %v", official)
	if math.IsNaN(promoted.Evidence[promotion.EvPValue]) {
		t.Error("no p-value")
	}
}
