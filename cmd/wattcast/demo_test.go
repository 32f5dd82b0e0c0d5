package main

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/monitor"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/replay"
)

// The walking skeleton end to end, on the embedded broker, on real data
// (ten weeks of each shipped data set): every stage must produce what its
// input implies, not merely something.
func TestDemoPipelineEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo: skipped with -short")
	}
	windows := map[string]replay.Window{
		replay.NordPoolFI:    {From: day(t, "2024-03-04"), To: day(t, "2024-05-13")},
		replay.OctopusAgileA: {From: day(t, "2021-03-01"), To: day(t, "2021-05-10")},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The test's own broker, so that the topics can be read after the demo.
	brokers := brokertest.Start(t).Brokers
	res, err := runDemo(ctx, demoOptions{workDir: t.TempDir(), brokers: brokers, windows: windows, holdout: 14 * 24 * time.Hour, backtestDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	topics := res.topics
	kc := kafka.Config{Brokers: res.brokers}

	// What the input implies: the replayed records, and the feature rows
	// the engine computes from them in batch.
	data, err := replay.Load(topics, replay.Options{Windows: windows})
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		prices []schemas.Price
		obs    []schemas.WeatherObservation
		fcs    []schemas.WeatherForecast
	}
	clock := map[int32]time.Time{} // per partition: the last known-at time
	part := kgo.StickyKeyPartitioner(nil).ForTopic(topics.Prices)
	for _, it := range data.Items {
		p := int32(part.Partition(&kgo.Record{Key: []byte(it.Key)}, 3))
		if it.KnownAt.After(clock[p]) {
			clock[p] = it.KnownAt
		}
		switch v := it.Value.(type) {
		case *schemas.Price:
			in.prices = append(in.prices, *v)
		case *schemas.WeatherObservation:
			in.obs = append(in.obs, *v)
		case *schemas.WeatherForecast:
			in.fcs = append(in.fcs, *v)
		}
	}
	batch, err := features.Batch(features.Config{}, in.prices, in.obs, in.fcs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]schemas.FeatureRow{}
	for _, r := range batch.Final {
		p := int32(part.Partition(&kgo.Record{Key: []byte(r.Region)}, 3))
		// A final row is out once the clock passes its hour + 1h + the
		// allowed lateness (1h).
		if r.Hour.Add(2 * time.Hour).Before(clock[p]) {
			want[r.Region+" "+r.Hour.Format(time.RFC3339)] = r
		}
	}

	// The lake: raw tables hold every replayed record once; the features
	// table holds exactly the final rows the input implies.
	lb, err := lake.Open(ctx, res.lakeURL)
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range map[string]int{"prices": len(in.prices), "weather_observed": len(in.obs), "weather_forecast": len(in.fcs)} {
		if got := res.lake[table].Rows; got != n {
			t.Errorf("lake table %s has %d rows, the replay published %d", table, got, n)
		}
	}
	rows, files, err := lake.ReadFeatures(ctx, lb, lake.FeatureFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]schemas.FeatureRow{}
	for _, r := range rows {
		k := r.Region + " " + r.Hour.Format(time.RFC3339)
		if _, dup := got[k]; dup {
			t.Fatalf("lake has feature row %s twice", k)
		}
		got[k] = r
	}
	if len(got) != len(want) {
		t.Fatalf("lake has %d feature rows in %d files, the input implies %d", len(got), len(files), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || *g.Price != *w.Price || g.PriceCount != w.PriceCount || g.IssueTime != w.IssueTime {
			t.Fatalf("lake feature row %s = %+v, want %+v", k, g, w)
		}
	}

	// Daily windows: the lake holds each due window once, and the summary's
	// last day per region is the engine's.
	lastDay := map[string]schemas.DailyFeatures{}
	nDays := 0
	for _, d := range batch.Daily {
		p := int32(part.Partition(&kgo.Record{Key: []byte(d.Region)}, 3))
		// Sent with the final row of the day's last hour.
		if d.End.Add(time.Hour).Before(clock[p]) {
			nDays++
			if d.End.After(lastDay[d.Region].End) {
				lastDay[d.Region] = d
			}
		}
	}
	if got := res.lake[lake.TableFeaturesDaily].Rows; got != nDays || nDays < 100 {
		t.Errorf("lake table features_daily has %d rows, the input implies %d daily windows", got, nDays)
	}
	if len(res.lastDays) != 2 {
		t.Fatalf("summary's last days %+v, want one per region", res.lastDays)
	}
	for _, d := range res.lastDays {
		if !reflect.DeepEqual(d, lastDay[d.Region]) {
			t.Errorf("summary's last day of %s = %+v, the engine's %+v", d.Region, d, lastDay[d.Region])
		}
	}

	// Clean data: nothing dead-lettered anywhere.
	if n := res.records[topics.DeadLetters]; n != 0 {
		t.Errorf("%d dead letters from clean data", n)
	}

	// Forecasts for every region; every error is |forecast - actual|.
	actual := map[string]float64{}
	for _, r := range batch.Final {
		actual[r.Region+" "+r.Hour.Format(time.RFC3339)] = *r.Price
	}
	forecasts := map[string]schemas.Forecast{}
	perRegion := map[string]int{}
	for _, r := range readTopic(t, kc, topics.Forecasts) {
		var f schemas.Forecast
		if err := schemas.Decode(r.Value, &f); err != nil {
			t.Fatal(err)
		}
		forecasts[f.ForecastID] = f
		perRegion[f.Region]++
	}
	for _, region := range []string{"FI", "GB-A"} {
		if perRegion[region] == 0 {
			t.Errorf("no forecast for region %s", region)
		}
	}
	nErr := 0
	var errs []schemas.ForecastError
	for _, topic := range []string{topics.ErrorsChampion, topics.ErrorsChallenger} {
		for _, r := range readTopic(t, kc, topic) {
			var e schemas.ForecastError
			if err := schemas.Decode(r.Value, &e); err != nil {
				t.Fatal(err)
			}
			f := forecasts[e.ForecastID]
			var fv *float64
			for _, p := range f.Points {
				if p.Hour.Equal(e.Hour) {
					fv = &p.Value
				}
			}
			a, ok := actual[e.Region+" "+e.Hour.Format(time.RFC3339)]
			if fv == nil || !ok || e.Forecast != *fv || e.Actual != a || math.Abs(e.AbsError-math.Abs(*fv-a)) > 1e-12 {
				t.Fatalf("error record %+v does not match its forecast and the actual price %v", e, a)
			}
			nErr++
			errs = append(errs, e)
		}
	}
	if nErr == 0 || int64(nErr) != res.scorer.Errors {
		t.Fatalf("%d error records on the topics, scorer counted %d", nErr, res.scorer.Errors)
	}

	// The summary's window values are those of the error topics, a row per
	// region and model, each day's best window no dearer than the model's
	// pick or the day's mean; the weekly naive model's pick is the naive
	// reference's own.
	if want := monitor.WindowValues(errs, demoWindowHours); !reflect.DeepEqual(res.windows, want) {
		t.Errorf("summary's window values %+v, the error topics give %+v", res.windows, want)
	}
	if len(res.windows) != 2*len(res.models) {
		t.Errorf("%d window rows, want one per region and model (%d models)", len(res.windows), len(res.models))
	}
	for _, v := range res.windows {
		if v.Days == 0 || v.Best > v.Model+1e-9 || v.Best > v.DayMean+1e-9 || v.Naive.Days != v.Days {
			t.Errorf("window values %+v: want days, best <= model's window and day mean, a naive reference every day", v)
		}
		if v.ModelID == "naive-weekly" && math.Abs(v.Model-v.Naive.Model) > 1e-9 {
			t.Errorf("the weekly naive model's window is worth %v, the naive reference's %v", v.Model, v.Naive.Model)
		}
	}
}

func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readTopic(t *testing.T, kc kafka.Config, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs, err := kafka.ReadAll(ctx, kc, topic)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
