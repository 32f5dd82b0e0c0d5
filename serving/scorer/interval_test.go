package scorer

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/training/models"
)

// A model deployed with a prediction interval publishes, for every point,
// the quantiles (1-Level)/2 and (1+Level)/2 at the point forecast plus the
// interval's offsets; its error records carry those bounds, the level, and
// whether the actual price fell inside. A model without one publishes
// neither. Error is signed, forecast minus actual, as the schema says.
func TestIntervalsAndCoverage(t *testing.T) {
	t.Parallel()
	const level = 0.8
	// Offsets by local hour: asymmetric, and none at 03:00.
	interval := func(h int) (lo, hi float64, ok bool) {
		if h == 3 {
			return 0, 0, false
		}
		return -4 - float64(h%3), 6 + float64(h%5), true
	}
	cat := staticCatalog{
		{ID: "weekly", Version: "1", Kind: models.KindNaiveWeekly, Role: schemas.RoleChampion, Model: models.NaiveWeekly{},
			Interval: interval, Level: level},
		{ID: "standard", Version: "1", Kind: models.KindNaiveStandard, Role: schemas.RoleChallenger, Model: models.NaiveStandard{}},
	}
	regions := []string{"FI", "DK1"}
	kc, topics, _ := setup(t, "s5.", regions, 14)
	s, err := New(Config{Kafka: kc, Topics: topics, Catalog: cat, Producer: "test", StopAtEnd: true,
		ForecastFrom: time.Date(2024, 1, 9, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}

	zones := map[string]*time.Location{}
	for _, r := range regions {
		loc, err := time.LoadLocation(map[string]string{"FI": "Europe/Helsinki", "DK1": "Europe/Copenhagen"}[r])
		if err != nil {
			t.Fatal(err)
		}
		zones[r] = loc
	}
	const eps = 1e-12
	fcs := map[string]schemas.Forecast{}
	withInterval := 0
	for _, r := range readAll(t, kc, topics.Forecasts) {
		var f schemas.Forecast
		if err := schemas.Decode(r.Value, &f); err != nil {
			t.Fatal(err)
		}
		fcs[f.ForecastID] = f
		for _, p := range f.Points {
			lo, hi, ok := interval(p.Hour.In(zones[f.Region]).Hour())
			if f.ModelID == "standard" || !ok {
				if len(p.Quantiles) != 0 {
					t.Fatalf("%s at %s: quantiles %+v, want none", f.ForecastID, p.Hour, p.Quantiles)
				}
				continue
			}
			withInterval++
			q := p.Quantiles
			if len(q) != 2 || math.Abs(q[0].Q-0.1) > eps || math.Abs(q[1].Q-0.9) > eps ||
				q[0].Value != p.Value+lo || q[1].Value != p.Value+hi {
				t.Fatalf("%s at %s (value %v): quantiles %+v, want 0.1 at %v and 0.9 at %v",
					f.ForecastID, p.Hour, p.Value, q, p.Value+lo, p.Value+hi)
			}
		}
	}
	if withInterval == 0 {
		t.Fatal("no forecast point with an interval")
	}

	var covered, missed, bare int
	for _, sc := range scoredErrors(t, kc, topics, fcs, regions) {
		e, point, actual := sc.e, sc.point, sc.actual
		if len(point.Quantiles) == 0 {
			if e.Lower != nil || e.Upper != nil || e.IntervalLevel != nil || e.Covered != nil {
				t.Fatalf("error record %+v of a point without interval has interval fields", e)
			}
			bare++
			continue
		}
		lo, hi := point.Quantiles[0].Value, point.Quantiles[1].Value
		if e.Lower == nil || e.Upper == nil || e.IntervalLevel == nil || e.Covered == nil {
			t.Fatalf("error record %+v of a point with interval [%v, %v] lacks interval fields", e, lo, hi)
		}
		want := lo <= actual && actual <= hi
		if *e.Lower != lo || *e.Upper != hi || math.Abs(*e.IntervalLevel-level) > eps || *e.Covered != want {
			t.Fatalf("error record bounds [%v, %v] level %v covered %v; want [%v, %v] level %v covered %v (actual %v)",
				*e.Lower, *e.Upper, *e.IntervalLevel, *e.Covered, lo, hi, level, want, actual)
		}
		if want {
			covered++
		} else {
			missed++
		}
	}
	// Both outcomes occur, or the Covered check proves nothing.
	if covered == 0 || missed == 0 || bare == 0 {
		t.Fatalf("%d hours covered, %d missed, %d without interval: want some of each", covered, missed, bare)
	}
	t.Logf("%d points with interval; errors: %d covered, %d missed, %d without", withInterval, covered, missed, bare)
}
