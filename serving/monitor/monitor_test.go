package monitor

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/serving/scorer"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/runner"
	"github.com/wattcast/wattcast/training/models"
)

var t0 = time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)

// errRec is one error record; forecast = actual + e, naive = actual + n,
// interval [forecast-w, forecast+w] when w > 0.
func errRec(region, model, role string, hour time.Time, lead int, actual, e, n, w float64) *schemas.ForecastError {
	f := actual + e
	naive := actual + n
	r := &schemas.ForecastError{ForecastID: "x", Region: region, Market: "m", Unit: "EUR/MWh", ModelID: model, ModelVersion: "1",
		ModelKind: "k", Role: role, Official: role == schemas.RoleChampion, IssueTime: hour.Add(-time.Duration(lead) * time.Hour),
		Hour: hour, LeadHours: lead, Forecast: f, Actual: actual, Error: e, AbsError: math.Abs(e), NaiveWeekly: &naive}
	if w > 0 {
		lo, hi, level := f-w, f+w, 0.9
		cov := actual >= lo && actual <= hi
		r.Lower, r.Upper, r.IntervalLevel, r.Covered = &lo, &hi, &level, &cov
	}
	return r
}

// Rolling accuracy per band and window, against sums computed here: MAE,
// rMAE (over the naive forecast's MAE on the same hours) and coverage. The
// window ends at the region's latest scored hour, not at the wall clock.
func TestRollingAccuracy(t *testing.T) {
	t.Parallel()
	a, err := NewAccuracy(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 10 days of hours; errors alternate 2 and -4 (abs mean 3); naive
	// errors 6 (rMAE 0.5); an interval of half-width 3 covers the
	// hours with error 2 only (coverage 0.5). Leads 14..37.
	for d := 0; d < 10; d++ {
		for h := 0; h < 24; h++ {
			hour := t0.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
			e := 2.0
			if h%2 == 1 {
				e = -4
			}
			a.Add(errRec("FI", "m", schemas.RoleChampion, hour, 14+h, 50, e, 6, 3))
		}
	}
	// Re-reading a record (a restart) changes nothing.
	a.Add(errRec("FI", "m", schemas.RoleChampion, t0.AddDate(0, 0, 9).Add(23*time.Hour), 37, 50, -4, 6, 3))
	rows := a.Rows(Query{Window: 7 * 24 * time.Hour, ByBand: true})
	byBand := map[string]Row{}
	for _, r := range rows {
		byBand[r.Band] = r
	}
	all := byBand["all"]
	if all.N != 7*24 || math.Abs(all.MAE-3) > 1e-12 || math.Abs(all.RMAE-0.5) > 1e-12 || math.Abs(all.Coverage-0.5) > 1e-12 || all.Level != 0.9 {
		t.Errorf("7-day overall %+v; want 168 hours, MAE 3, rMAE 0.5, coverage 0.5 at 0.9", all)
	}
	// Leads 14..23 are 10 hours a day (5 even, 5 odd), 24..35 twelve,
	// 36..37 two.
	for band, n := range map[string]int{"12-23h": 70, "24-35h": 84, "36-47h": 14} {
		if byBand[band].N != n {
			t.Errorf("band %s: %d hours, want %d", band, byBand[band].N, n)
		}
	}
	if _, ok := byBand["00-11h"]; ok {
		t.Error("a band with no hours has a row")
	}
	if got := a.Rows(Query{}); got[0].N != 240 {
		t.Errorf("everything kept: %d hours, want 240", got[0].N)
	}
	if !a.Clock("FI").Equal(t0.AddDate(0, 0, 9).Add(23 * time.Hour)) {
		t.Errorf("clock %s", a.Clock("FI"))
	}
}

// Pooled rows add the regions' hours up.
func TestPooledRows(t *testing.T) {
	t.Parallel()
	a, _ := NewAccuracy(nil, 0)
	for h := 0; h < 24; h++ {
		hour := t0.Add(time.Duration(h) * time.Hour)
		a.Add(errRec("FI", "m", schemas.RoleChampion, hour, 20, 50, 1, 4, 0))
		a.Add(errRec("DK_1", "m", schemas.RoleChampion, hour, 20, 50, 3, 4, 0))
	}
	rows := a.Rows(Query{Pool: true})
	if len(rows) != 1 || rows[0].Region != "" || rows[0].N != 48 || rows[0].MAE != 2 || rows[0].RMAE != 0.5 || !math.IsNaN(rows[0].Coverage) {
		t.Fatalf("pooled rows %+v; want one with 48 hours, MAE 2, rMAE 0.5, no coverage", rows)
	}
}

// The monitor reads the topics (from a real broker) into its stores, and
// the collector exports them to Prometheus.
func TestMonitorReadsTheTopicsAndExportsMetrics(t *testing.T) {
	t.Parallel()
	kc := brokertest.Start(t)
	topics := schemas.NewTopicSet("mon.")
	cl := brokertest.Client(t, kc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cl, topics.Specs(3, 0), 1); err != nil {
		t.Fatal(err)
	}
	f := &schemas.Forecast{ForecastID: "FI/m/1/x", Region: "FI", Market: "m", Unit: "EUR/MWh", ModelID: "m", ModelVersion: "1",
		ModelKind: "k", Role: schemas.RoleChampion, Official: true, IssueTime: t0.Add(-14 * time.Hour), LocalDate: "2024-02-01",
		Points: []schemas.ForecastPoint{{Hour: t0, LeadHours: 14, Value: 52}}}
	var recs = []*struct {
		topic string
		v     schemas.Value
	}{{topics.Forecasts, f}}
	for h := 0; h < 24; h++ {
		recs = append(recs, &struct {
			topic string
			v     schemas.Value
		}{topics.ErrorsChampion, errRec("FI", "m", schemas.RoleChampion, t0.Add(time.Duration(h)*time.Hour), 14+h, float64(50+h%12), 2, 4, 3)})
	}
	for _, r := range recs {
		rec, err := kafka.NewRecord(r.topic, "FI", r.v, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	m, err := New(Config{Kafka: kc, Topics: topics})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	for ctx.Err() == nil {
		s := m.Stats()
		if s.Read[topics.ErrorsChampion] == 24 && s.Read[topics.Forecasts] == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, ok := m.Forecasts().Latest("FI"); !ok || got.ForecastID != f.ForecastID {
		t.Fatalf("latest FI forecast %v, %v", got, ok)
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(m, 7*24*time.Hour))
	got := gather(t, reg)
	// Leads 14..37 span the bands 12-23h, 24-35h and 36-47h.
	for _, band := range []string{"all", "12-23h", "24-35h", "36-47h"} {
		lv := `{band="` + band + `",model="m",region="FI",role="champion",version="1",window="7d"}`
		if got[MetricRollingMAE+lv] != 2 || got[MetricRollingRMAE+lv] != 0.5 || got[MetricRollingCoverage+lv] != 1 {
			t.Errorf("band %s: MAE %v, rMAE %v, coverage %v; want 2, 0.5, 1", band,
				got[MetricRollingMAE+lv], got[MetricRollingRMAE+lv], got[MetricRollingCoverage+lv])
		}
	}
	if _, ok := got[MetricRollingMAE+`{band="00-11h",model="m",region="FI",role="champion",version="1",window="7d"}`]; ok {
		t.Error("a band with no hours is exported")
	}
	// The forecast is the price plus 2, the naive one plus 4: both pick
	// the cheapest 3 hours, so both get all of the possible saving.
	lv := `{hours="3",model="m",region="FI",role="champion",version="1",window="7d"}`
	if got[MetricRollingCapture+lv] != 1 || got[MetricRollingCaptureN+lv] != 1 {
		t.Errorf("window capture %v, naive %v; want 1 and 1", got[MetricRollingCapture+lv], got[MetricRollingCaptureN+lv])
	}
	if v := got[MetricForecasts+`{model="m",official="true",region="FI",role="champion",version="1"}`]; v != 1 {
		t.Errorf("forecasts counter %v, want 1", v)
	}
	if v := got[MetricErrors+`{model="m",region="FI",role="champion",version="1"}`]; v != 24 {
		t.Errorf("errors counter %v, want 24", v)
	}
}

// gather returns every sample of reg as name{labels sorted} -> value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var lv []string
			for _, l := range m.GetLabel() {
				lv = append(lv, l.GetName()+`="`+l.GetValue()+`"`)
			}
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			out[mf.GetName()+"{"+strings.Join(lv, ",")+"}"] = v
		}
	}
	return out
}

type fixed struct{ err error }

func (fixed) HistoryDays() int { return 7 }
func (f fixed) Predict(d models.Day) ([]float64, error) {
	return make([]float64, len(d.Target)), f.err
}

// The wrapper counts champion and challenger predictions under the same
// labels, results included.
func TestModelMetricsWrapBothRolesAlike(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	mm, err := NewModelMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	champ := mm.Wrap(scorer.Deployed{ID: "lear", Version: "2", Role: schemas.RoleChampion, Model: fixed{}})
	chall := mm.Wrap(scorer.Deployed{ID: "gru", Version: "1", Role: schemas.RoleChallenger, Model: fixed{err: models.ErrNoHistory}})
	day := models.Day{Target: []schemas.FeatureRow{{Region: "FI"}}}
	for range 3 {
		_, _ = champ.Model.Predict(day)
		_, _ = chall.Model.Predict(day)
	}
	got := gather(t, reg)
	if got[MetricPredictions+`{model="gru",region="FI",result="error",role="challenger",version="1"}`] != 3 ||
		got[MetricPredictions+`{model="lear",region="FI",result="ok",role="champion",version="2"}`] != 3 {
		t.Errorf("prediction counters %v", got)
	}
	if champ.Model.HistoryDays() != 7 {
		t.Error("the wrapper hides HistoryDays")
	}
}

// Every metric the Grafana dashboard in docs/ queries is one the serving
// packages export, so the dashboard cannot drift from the code.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	exported := map[string]bool{}
	for _, n := range []string{MetricForecasts, MetricErrors, MetricRollingMAE, MetricRollingRMAE, MetricRollingCoverage,
		MetricRollingHours, MetricIntervalLevel, MetricLatestHour, MetricMonitorRejected, MetricEmitted, MetricErrorsEmitted,
		MetricRollingCapture, MetricRollingCaptureN,
		MetricModelFailures, MetricNoModel, MetricNoOfficial, MetricDeadLetters, MetricRecordsIn, MetricTransactions, MetricAborts,
		MetricConsumerLag, MetricPredictions, MetricPredictSeconds + "_bucket",
		catalog.MetricModelAge, catalog.MetricModelStage, catalog.MetricRefreshed} {
		exported[n] = true
	}
	re := regexp.MustCompile(`wattcast_[a-z0-9_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range re.FindAllString(tg.Expr, -1) {
				n++
				if !exported[m] {
					t.Errorf("panel %q queries %s, which nothing exports", p.Title, m)
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d metric references in the dashboard", n)
	}
}

// Each counter of a stage carries the value of its own field: a test that
// only checked the names would pass with two fields swapped.
func TestStageCollectorExportsEachCounter(t *testing.T) {
	sc := scorer.Stats{Forecasts: 11, Errors: 12, ModelErrors: 13, NoModel: 14, NoOfficial: 15}
	rs := runner.Stats{Transactions: 21, Aborts: 22,
		DeadLetters: map[string]int64{"invalid": 23}, RecordsIn: map[string]int64{"wattcast.features": 24}}
	tests := []struct {
		name   string
		scorer func() scorer.Stats
		want   map[string]float64
	}{
		{"scorer", func() scorer.Stats { return sc }, map[string]float64{
			MetricEmitted: 11, MetricErrorsEmitted: 12, MetricModelFailures: 13, MetricNoModel: 14, MetricNoOfficial: 15,
			MetricTransactions: 21, MetricAborts: 22, MetricDeadLetters: 23, MetricRecordsIn: 24}},
		{"processor", nil, map[string]float64{
			MetricTransactions: 21, MetricAborts: 22, MetricDeadLetters: 23, MetricRecordsIn: 24}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(NewStageCollector(tc.name, func() runner.Stats { return rs }, tc.scorer))
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					stage := ""
					for _, l := range m.GetLabel() {
						if l.GetName() == "stage" {
							stage = l.GetValue()
						}
					}
					if stage != tc.name {
						t.Errorf("%s has stage %q, want %q", mf.GetName(), stage, tc.name)
					}
					got[mf.GetName()] += m.GetCounter().GetValue()
				}
			}
			for n, v := range tc.want {
				if got[n] != v {
					t.Errorf("%s = %v, want %v", n, got[n], v)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("exported %v, want exactly %v", got, tc.want)
			}
		})
	}
}
