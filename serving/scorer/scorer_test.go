package scorer

import (
	"context"
	"math"
	"sort"
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

	nErr := 0
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
			ri := map[string]int{"FI": 0, "DK1": 1, "SE3": 2}[e.Region]
			actual := featurestest.Price(ri, e.Hour)
			if point == nil || e.Forecast != point.Value || e.Actual != actual || e.AbsError != math.Abs(point.Value-actual) {
				t.Fatalf("error record %+v does not match forecast point %+v and actual %v", e, point, actual)
			}
			nErr++
		}
	}
	if want := 2 * 3 * 10 * 24; nErr < want {
		t.Fatalf("%d error records, want at least %d", nErr, want)
	}
	if st := s.Stats(); int(st.Errors) != nErr || int(st.Forecasts) != len(fcs) {
		t.Fatalf("stats %+v disagree with the topics (%d forecasts, %d errors)", st, len(fcs), nErr)
	}
	for _, a := range s.Accuracy() {
		if a.ModelID == "weekly" && math.Abs(a.RMAE()-1) > 1e-9 {
			t.Fatalf("the weekly naive forecast's rMAE is %v, want exactly 1", a.RMAE())
		}
	}
}
