package openmeteo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/source"
	"github.com/wattcast/wattcast/streams/source/sourcetest"
)

// Live forecast polls publish a run once: polling again before the model
// has a new run publishes nothing; the next run is published whole.
func TestLiveForecastPublishesNewRunsOnly(t *testing.T) {
	t.Parallel()
	_, _, pub := sourcetest.Publisher(t, source.PublisherOptions{TransactionalID: "om-test"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)

	body := fixture(t, "npf_eu_wind_forecast.json")
	var avail atomic.Int64
	avail.Store(ts(t, "2025-12-22T03:45:00Z").Unix())
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/meta/ecmwf_ifs025" {
			fmt.Fprintf(w, `{"last_run_availability_time": %d}`, avail.Load())
			return
		}
		w.Write(body)
	}))
	c := &Client{ForecastURL: srv.URL, MetaURL: srv.URL + "/meta/%s", MetaModel: "ecmwf_ifs025", Variables: []string{"wind_speed_120m"}}
	p := &Producer{Client: c, Locations: []Location{berlin}}
	now := ts(t, "2025-12-22T06:00:00Z")
	r := &source.Runner{Sink: pub, Now: func() time.Time { return now }}
	task := p.ForecastTasks()[0]

	st, err := r.PollOnce(ctx, task)
	if err != nil || st.Forecasts != 336-3 {
		t.Fatalf("first poll: %+v %v", st, err)
	}
	now = now.Add(time.Hour)
	if st, err = r.PollOnce(ctx, task); err != nil || st.Forecasts != 0 || st.Duplicates != 336-3 {
		t.Fatalf("same run again: %+v %v", st, err)
	}
	avail.Store(ts(t, "2025-12-22T09:40:00Z").Unix())
	now = now.Add(3 * time.Hour)
	if st, err = r.PollOnce(ctx, task); err != nil || st.Forecasts != 336-9 {
		t.Fatalf("new run: %+v %v", st, err)
	}
	cov := pub.Coverage(task.Series)
	if len(cov) != 1 || !cov.End().Equal(ts(t, "2025-12-22T09:40:01Z")) {
		t.Errorf("coverage %v, want one interval ending just after the second run", cov)
	}
}

// A run that lands between the forecast request and the meta.json read is
// not lost: before, the old run went out under the new run's issue time and
// the new run was then dropped as already published.
func TestLiveForecastRunLandingDuringPoll(t *testing.T) {
	t.Parallel()
	kcfg, topics, pub := sourcetest.Publisher(t, source.PublisherOptions{TransactionalID: "om-landing"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	m := &modelRuns{t: t, landAfter: map[int]bool{1: true}} // run 1 lands during poll 1
	p := &Producer{Client: m.client(newServer(t, m)), Locations: []Location{berlin}}
	now := ts(t, "2025-12-22T07:00:00Z")
	r := &source.Runner{Sink: pub, Now: func() time.Time { return now }}
	task := p.ForecastTasks()[0]
	for i := 1; i <= 2; i++ {
		if _, err := r.PollOnce(ctx, task); err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		now = now.Add(time.Hour)
	}
	recs, err := kafka.ReadAll(ctx, kcfg, topics.WeatherForecast)
	if err != nil {
		t.Fatal(err)
	}
	// Run 1's values are the recorded ones + 1, from 06:00, the issue hour
	// of run 1 (available 06:45).
	if len(recs) != 336-6 {
		t.Fatalf("%d forecasts, want run 1's 330 once", len(recs))
	}
	var first schemas.WeatherForecast
	if err := schemas.Decode(recs[0].Value, &first); err != nil {
		t.Fatal(err)
	}
	raw := map[string]any{}
	if err := json.Unmarshal(fixture(t, "npf_eu_wind_forecast.json"), &raw); err != nil {
		t.Fatal(err)
	}
	want := raw["hourly"].(map[string]any)["wind_speed_120m"].([]any)[6].(float64) + 1
	if !first.IssuedAt.Equal(m.avail(1)) || first.Values["wind_speed_120m"] != want {
		t.Errorf("first forecast %v issued %s, want run 1's %g issued %s", first.Values, first.IssuedAt, want, m.avail(1))
	}
}
