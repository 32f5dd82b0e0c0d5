package scorer

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/processors/features/featurestest"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/training/models"
)

// staticCatalog serves the same real models in every region.
type staticCatalog []Deployed

func (c staticCatalog) Deployed(context.Context, string) ([]Deployed, error) { return c, nil }

func setup(t *testing.T, prefix string, regions []string, days int) (kafka.Config, schemas.TopicSet, featurestest.Inputs) {
	t.Helper()
	topics := schemas.NewTopicSet(prefix)
	kc := brokertest.Start(t)
	cl := brokertest.Client(t, kc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cl, Topics(topics, 3), 1); err != nil {
		t.Fatal(err)
	}
	in := featurestest.History(regions, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), days)
	res, err := features.Batch(features.Config{}, in.Prices, in.Obs, in.Fcs)
	if err != nil {
		t.Fatal(err)
	}
	// Send the rows in the order the processor would: ready rows after
	// their issue time, final rows after their hour.
	type item struct {
		at  time.Time
		row *schemas.FeatureRow
	}
	var items []item
	for i := range res.Ready {
		items = append(items, item{res.Ready[i].IssueTime, &res.Ready[i]})
	}
	for i := range res.Final {
		items = append(items, item{res.Final[i].Hour.Add(time.Hour), &res.Final[i]})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at.Before(items[j].at) })
	var recs []*kgo.Record
	for _, it := range items {
		r, err := kafka.NewRecord(topics.Features, it.row.Region, it.row, "test")
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return kc, topics, in
}

// scored is an error record with the forecast point it scores.
type scored struct {
	e      schemas.ForecastError
	point  *schemas.ForecastPoint
	actual float64
}

// scoredErrors reads both error topics and checks every record against
// the forecast it scores (fcs, by id) and the actual price of its hour
// (featurestest.Price of the region's index in regions): the forecast
// value, the actual, the signed and absolute error, and the topic of its
// role.
func scoredErrors(t *testing.T, kc kafka.Config, topics schemas.TopicSet, fcs map[string]schemas.Forecast, regions []string) []scored {
	t.Helper()
	var out []scored
	for _, topic := range []string{topics.ErrorsChampion, topics.ErrorsChallenger} {
		for _, r := range readAll(t, kc, topic) {
			var e schemas.ForecastError
			if err := schemas.Decode(r.Value, &e); err != nil {
				t.Fatal(err)
			}
			f, ok := fcs[e.ForecastID]
			if !ok {
				t.Fatalf("error for unknown forecast %s", e.ForecastID)
			}
			if (e.Role == schemas.RoleChampion) != (topic == topics.ErrorsChampion) {
				t.Fatalf("%s error on %s", e.Role, topic)
			}
			var point *schemas.ForecastPoint
			for i := range f.Points {
				if f.Points[i].Hour.Equal(e.Hour) {
					point = &f.Points[i]
				}
			}
			actual := featurestest.Price(slices.Index(regions, e.Region), e.Hour)
			if point == nil || e.Forecast != point.Value || e.Actual != actual || e.Error != point.Value-actual ||
				e.AbsError != math.Abs(point.Value-actual) {
				t.Fatalf("error record %+v does not match forecast point %+v and actual %v", e, point, actual)
			}
			out = append(out, scored{e, point, actual})
		}
	}
	return out
}

func readAll(t *testing.T, kc kafka.Config, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs, err := kafka.ReadAll(ctx, kc, topic)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func catalog() staticCatalog {
	return staticCatalog{
		{ID: "weekly", Version: "1", Kind: models.KindNaiveWeekly, Role: schemas.RoleChampion, Model: models.NaiveWeekly{}},
		{ID: "standard", Version: "1", Kind: models.KindNaiveStandard, Role: schemas.RoleChallenger, Model: models.NaiveStandard{}},
	}
}

// Every region gets one forecast per model for every day from ForecastFrom,
// and every error record is |forecast - actual| for its hour.
func TestForecastsAndErrors(t *testing.T) {
	t.Parallel()
	regions := []string{"FI", "DK1", "SE3"}
	kc, topics, _ := setup(t, "s1.", regions, 21)
	from := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	s, err := New(Config{Kafka: kc, Topics: topics, Catalog: catalog(), ForecastFrom: from, Producer: "test", StopAtEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}

	fcs := map[string]schemas.Forecast{}
	perRegionModel := map[[2]string]int{}
	for _, r := range readAll(t, kc, topics.Forecasts) {
		var f schemas.Forecast
		if err := schemas.Decode(r.Value, &f); err != nil {
			t.Fatal(err)
		}
		if _, dup := fcs[f.ForecastID]; dup {
			t.Fatalf("forecast %s emitted twice", f.ForecastID)
		}
		if f.IssueTime.Before(from) {
			t.Fatalf("forecast issued %s before ForecastFrom", f.IssueTime)
		}
		if f.Official != (f.Role == schemas.RoleChampion) {
			t.Fatalf("shadow mode: %s official=%v", f.ModelID, f.Official)
		}
		fcs[f.ForecastID] = f
		perRegionModel[[2]string{f.Region, f.ModelID}]++
	}
	// Days 2024-01-11 .. 2024-01-21 (the day after the data, whose inputs
	// are known, included) are issued on or after Jan 10.
	for _, reg := range regions {
		for _, m := range []string{"weekly", "standard"} {
			if n := perRegionModel[[2]string{reg, m}]; n < 10 {
				t.Errorf("%s %s: %d forecasts, want at least 10", reg, m, n)
			}
		}
	}

	nErr := len(scoredErrors(t, kc, topics, fcs, regions))
	if want := 2 * 3 * 10 * 24; nErr < want {
		t.Fatalf("%d error records, want at least %d", nErr, want)
	}
	if st := s.Stats(); int(st.Errors) != nErr || int(st.Forecasts) != len(fcs) {
		t.Fatalf("stats %+v disagree with the topics (%d forecasts, %d errors)", st, len(fcs), nErr)
	}
	// One entry per region and model, together holding every error record.
	acc := s.Accuracy()
	if len(acc) != len(regions)*len(catalog()) {
		t.Fatalf("accuracy has %d entries, want %d (regions × models): %+v", len(acc), len(regions)*len(catalog()), acc)
	}
	sumN := 0
	weekly := map[string]bool{}
	for _, a := range acc {
		sumN += a.N
		if a.N == 0 {
			t.Errorf("accuracy entry %+v scored no hour", a)
		}
		if a.ModelID == "weekly" {
			weekly[a.Region] = true
			if a.Role != schemas.RoleChampion || a.Kind != models.KindNaiveWeekly {
				t.Errorf("weekly entry %+v, want the champion of kind %s", a, models.KindNaiveWeekly)
			}
			if math.Abs(a.RMAE()-1) > 1e-9 {
				t.Fatalf("the weekly naive forecast's rMAE in %s is %v, want exactly 1", a.Region, a.RMAE())
			}
		}
	}
	if sumN != nErr {
		t.Errorf("accuracy counts %d scored hours, the error topics hold %d records", sumN, nErr)
	}
	for _, reg := range regions {
		if !weekly[reg] {
			t.Errorf("no accuracy entry for the weekly model in %s", reg)
		}
	}
}

// A scorer stopped at arbitrary points and restarted must publish exactly
// what one uninterrupted run publishes: every forecast once with the same
// points, and every error once. Its buffered ready rows, history and open
// forecasts come back from the changelog; an aborted transaction's outputs
// are never seen by a read_committed reader.
func TestScorerRestartsExactlyOnce(t *testing.T) {
	t.Parallel()
	regions := []string{"FI", "DK1"}
	from := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	cfg := func(kc kafka.Config, topics schemas.TopicSet) Config {
		return Config{Kafka: kc, Topics: topics, Catalog: catalog(), ForecastFrom: from, Producer: "test", MaxPollRecords: 100}
	}
	run := func(c Config, ctx context.Context) *Scorer {
		t.Helper()
		s, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}

	// The reference: one run to the end.
	kcA, topicsA, _ := setup(t, "r1.", regions, 18)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := cfg(kcA, topicsA)
	c.StopAtEnd = true
	run(c, ctx)
	want := scorerOutputs(t, kcA, topicsA)

	// The same input, stopped after one to four transactions four times.
	kcB, topicsB, _ := setup(t, "r2.", regions, 18)
	for i := range 4 {
		s, err := New(cfg(kcB, topicsB))
		if err != nil {
			t.Fatal(err)
		}
		sctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.Run(sctx) }()
		for s.RunnerStats().Transactions < int64(1+i) && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	c = cfg(kcB, topicsB)
	c.StopAtEnd = true
	last := run(c, ctx)
	if st := last.RunnerStats(); st.RestoredRecords == 0 {
		t.Fatalf("the last run restored no state (%+v): the test did not exercise a restart", st)
	}
	got := scorerOutputs(t, kcB, topicsB)

	if len(want.forecasts) == 0 || len(want.errors) == 0 {
		t.Fatalf("test bug: the reference run published %d forecasts and %d errors", len(want.forecasts), len(want.errors))
	}
	for what, pair := range map[string][2]map[string]string{
		"forecast": {want.forecasts, got.forecasts},
		"error":    {want.errors, got.errors},
	} {
		w, g := pair[0], pair[1]
		for k, v := range w {
			switch gv, ok := g[k]; {
			case !ok:
				t.Errorf("%s %s is missing after the restarts", what, k)
			case gv != v:
				t.Errorf("%s %s after the restarts is %s, want %s", what, k, gv, v)
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				t.Errorf("%s %s was not published by the uninterrupted run", what, k)
			}
		}
	}
	for what, n := range got.doubled {
		t.Errorf("%s published %d times after the restarts", what, n)
	}
}

// outputs are a scorer's forecasts (by forecast id: the points) and errors
// (by forecast id and hour: forecast, actual and error), as a read_committed
// consumer reads them, and whatever appeared more than once.
type outputs struct {
	forecasts, errors map[string]string
	doubled           map[string]int
}

func scorerOutputs(t *testing.T, kc kafka.Config, topics schemas.TopicSet) outputs {
	t.Helper()
	o := outputs{forecasts: map[string]string{}, errors: map[string]string{}, doubled: map[string]int{}}
	add := func(m map[string]string, k, v string) {
		if _, dup := m[k]; dup {
			o.doubled[k]++
		}
		m[k] = v
	}
	for _, r := range readAll(t, kc, topics.Forecasts) {
		var f schemas.Forecast
		if err := schemas.Decode(r.Value, &f); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, p := range f.Points {
			fmt.Fprintf(&b, "%s=%v ", p.Hour.Format(time.RFC3339), p.Value)
		}
		add(o.forecasts, f.ForecastID, fmt.Sprintf("%s official=%v %s", f.Role, f.Official, b.String()))
	}
	for _, topic := range []string{topics.ErrorsChampion, topics.ErrorsChallenger} {
		for _, r := range readAll(t, kc, topic) {
			var e schemas.ForecastError
			if err := schemas.Decode(r.Value, &e); err != nil {
				t.Fatal(err)
			}
			add(o.errors, e.ForecastID+"@"+e.Hour.Format(time.RFC3339), fmt.Sprintf("%s %v %v %v", topic[strings.Index(topic, ".")+1:], e.Forecast, e.Actual, e.AbsError))
		}
	}
	return o
}

// The official forecast is the champion's, or in split mode the first
// challenger's in the regions routed to it; a region without a champion has
// no official forecast outside the challenger's arm.
func TestOfficial(t *testing.T) {
	t.Parallel()
	champ := Deployed{ID: "c", Role: schemas.RoleChampion}
	chall := Deployed{ID: "x", Role: schemas.RoleChallenger}
	for _, tc := range []struct {
		name  string
		mode  string
		share float64 // 1: every region in the challenger's arm
		ds    []Deployed
		want  int
	}{
		{"shadow", ModeShadow, 0, []Deployed{champ, chall}, 0},
		{"shadow, champion listed last", ModeShadow, 0, []Deployed{chall, champ}, 1},
		{"shadow, no champion", ModeShadow, 0, []Deployed{chall, chall}, -1},
		{"shadow ignores the share", ModeShadow, 1, []Deployed{chall}, -1},
		{"split, champion's arm", ModeSplit, 0, []Deployed{champ, chall}, 0},
		{"split, challenger's arm", ModeSplit, 1, []Deployed{champ, chall}, 1},
		{"split, challenger's arm, no champion", ModeSplit, 1, []Deployed{chall}, 0},
		{"split, champion's arm, no champion", ModeSplit, 0, []Deployed{chall}, -1},
		{"split, challenger's arm, no challenger", ModeSplit, 1, []Deployed{champ}, 0},
	} {
		tk := &task{s: &Scorer{cfg: Config{Mode: tc.mode, SplitShare: tc.share}}}
		if got := tk.official("FI", tc.ds); got != tc.want {
			t.Errorf("%s: official %d, want %d", tc.name, got, tc.want)
		}
	}
}

// MAE is over every scored hour; rMAE compares the model with the weekly
// naive forecast on the hours that have a naive forecast only.
func TestAccuracyRMAEOnTheSameHours(t *testing.T) {
	t.Parallel()
	naive := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name      string
		errs      []schemas.ForecastError // Actual 0: the naive error is |NaiveWeekly|
		mae, rmae float64
	}{
		{"every hour has a naive value", []schemas.ForecastError{{AbsError: 2, NaiveWeekly: naive(4)}, {AbsError: 4, NaiveWeekly: naive(-4)}}, 3, 0.75},
		{"an hour without", []schemas.ForecastError{{AbsError: 2, NaiveWeekly: naive(4)}, {AbsError: 10}}, 6, 0.5},
		{"no naive value", []schemas.ForecastError{{AbsError: 2}}, 2, math.NaN()},
	} {
		s := &Scorer{cfg: Config{Logger: slog.New(slog.DiscardHandler)}, acc: map[accKey]*Accuracy{}}
		tk := &task{s: s}
		for _, e := range tc.errs {
			e.Region, e.ModelID, e.ModelVersion, e.Role = "FI", "m", "1", schemas.RoleChampion
			tk.pending.acc = append(tk.pending.acc, e)
		}
		tk.Committed(context.Background())
		acc := s.Accuracy()
		if len(acc) != 1 {
			t.Fatalf("%s: accuracy %+v, want one model", tc.name, acc)
		}
		if mae, rmae := acc[0].MAE(), acc[0].RMAE(); mae != tc.mae || !(rmae == tc.rmae || math.IsNaN(rmae) && math.IsNaN(tc.rmae)) {
			t.Errorf("%s: MAE %v rMAE %v, want %v and %v", tc.name, mae, rmae, tc.mae, tc.rmae)
		}
	}
}

// A ready row of a region the scorer has no zone for (the processor was
// given a --regions file the scorer was not) cannot complete a day. It is
// dead-lettered with a reason that names the fix, and every other region
// is still forecast: before, the error aborted every transaction and the
// scorer retried the same record for ever.
func TestUnknownRegionIsDeadLetteredNotRetried(t *testing.T) {
	t.Parallel()
	kc, topics, in := setup(t, "s4.", []string{"FI"}, 10)
	res, err := features.Batch(features.Config{}, in.Prices, in.Obs, in.Fcs)
	if err != nil || len(res.Ready) == 0 {
		t.Fatalf("no ready row to copy (%v)", err)
	}
	row := res.Ready[len(res.Ready)-1]
	row.Region = "XX-1"
	rec, err := kafka.NewRecord(topics.Features, row.Region, &row, "test")
	if err != nil {
		t.Fatal(err)
	}
	cl := brokertest.Client(t, kc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Kafka: kc, Topics: topics, Catalog: catalog(), Producer: "test", StopAtEnd: true,
		ForecastFrom: time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil {
		t.Fatalf("the scorer stopped on a region without a zone: %v", err)
	}
	dead := readAll(t, kc, topics.DeadLetters)
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want the XX-1 row alone", len(dead))
	}
	var dl schemas.DeadLetter
	if err := schemas.Decode(dead[0].Value, &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Reason != schemas.ReasonInvalid || !strings.Contains(dl.Error, "XX-1") || !strings.Contains(dl.Error, "--regions") {
		t.Errorf("dead letter %+v: want reason %s naming the region and --regions", dl, schemas.ReasonInvalid)
	}
	if st := s.RunnerStats(); st.DeadLetters[schemas.ReasonInvalid] != 1 {
		t.Errorf("dead letters counted %v, want 1 invalid", st.DeadLetters)
	}
	if n := len(readAll(t, kc, topics.Forecasts)); n == 0 {
		t.Error("no forecast for FI: one bad region stopped the others")
	}
}
