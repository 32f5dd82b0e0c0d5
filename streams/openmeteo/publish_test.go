package openmeteo

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/source"
)

// Live forecast polls publish a run once: polling again before the model
// has a new run publishes nothing; the next run is published whole.
func TestLiveForecastPublishesNewRunsOnly(t *testing.T) {
	t.Parallel()
	kcfg := brokertest.Start(t)
	topics := schemas.NewTopicSet("")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	adm, err := kcfg.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	if err := kafka.EnsureTopics(ctx, adm, append(topics.Specs(3, 0), source.CheckpointSpec(topics)), -1); err != nil {
		t.Fatal(err)
	}
	adm.Close()
	pub, err := source.NewPublisher(ctx, kcfg, source.PublisherOptions{Topics: topics, Producer: "wattcast/test", TransactionalID: "om-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)

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
