package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/serving/monitor"
	"github.com/wattcast/wattcast/serving/servingtest"
)

// day0 is the first scored day of the fixture; the fixture's clock (now)
// is in the middle of the day after its last scored day.
var (
	day0 = time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	now  = day0.AddDate(0, 0, 8).Add(13*time.Hour + 20*time.Minute)
)

func actual(h time.Time) float64 { return 60 + 25*math.Sin(float64(h.Hour())/24*2*math.Pi) }

// fixture builds the stores a running scorer would have: 7 scored days of
// a champion (with intervals) and a challenger in FI, the next day's
// official forecast in FI and GB-A, and the registry's versions.
type fixture struct {
	acc  *monitor.Accuracy
	fcs  *monitor.Forecasts
	cat  *catalog.Catalog
	srv  *httptest.Server
	hdlr http.Handler
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	acc, err := monitor.NewAccuracy(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	fcs := monitor.NewForecasts()
	level := 0.9
	for d := 0; d < 7; d++ {
		issue := day0.AddDate(0, 0, d).Add(-14 * time.Hour)
		for h := 0; h < 24; h++ {
			hour := day0.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
			a := actual(hour)
			naive := a + 9*servingtest.Noise(9, "FI", hour)
			for _, m := range []struct {
				id, role string
				sigma    float64
				seed     uint64
				version  string
			}{{"lear", schemas.RoleChampion, 4, 1, "2"}, {"gru", schemas.RoleChallenger, 6, 2, "1"}} {
				f := a + m.sigma*servingtest.Noise(m.seed, "FI", hour)
				e := &schemas.ForecastError{ForecastID: "x", Region: "FI", Market: "nordpool", Unit: "EUR/MWh", ModelID: m.id,
					ModelVersion: m.version, ModelKind: m.id, Role: m.role, Official: m.role == schemas.RoleChampion, IssueTime: issue,
					Hour: hour, LeadHours: 14 + h, Forecast: f, Actual: a, Error: f - a, AbsError: math.Abs(f - a), NaiveWeekly: &naive}
				if m.role == schemas.RoleChampion {
					lo, hi := f-7, f+7
					cov := a >= lo && a <= hi
					e.Lower, e.Upper, e.IntervalLevel, e.Covered = &lo, &hi, &level, &cov
				}
				acc.Add(e)
			}
		}
	}
	for _, region := range []string{"FI", "GB-A"} {
		issue := day0.AddDate(0, 0, 7).Add(10 * time.Hour)
		f := &schemas.Forecast{ForecastID: region + "/lear", Region: region, Market: "m", Unit: "EUR/MWh", ModelID: "lear",
			ModelVersion: "2", ModelKind: "lear", Role: schemas.RoleChampion, Official: true, IssueTime: issue,
			LocalDate: day0.AddDate(0, 0, 8).Format(time.DateOnly)}
		for h := 0; h < 24; h++ {
			hour := day0.AddDate(0, 0, 8).Add(time.Duration(h) * time.Hour)
			v := actual(hour) + 1
			f.Points = append(f.Points, schemas.ForecastPoint{Hour: hour, LeadHours: 14 + h, Value: v,
				Quantiles: []schemas.Quantile{{Q: 0.05, Value: v - 7}, {Q: 0.95, Value: v + 7}}})
		}
		fcs.Add(f)
	}
	ctx := context.Background()
	reg, err := servingtest.NewRegistry(ctx, t.TempDir(), func() time.Time { return day0.AddDate(0, 0, -20) })
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct{ id, stage string }{
		{"lear", catalog.StageArchived}, {"lear", catalog.StageChampion}, {"gru", catalog.StageChallenger},
	} {
		if _, err := reg.Add(ctx, v.id, []string{"FI", "GB-A"}, v.stage, nil); err != nil {
			t.Fatal(err)
		}
	}
	cat := catalog.New(reg, catalog.Options{})
	if err := cat.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	fx := &fixture{acc: acc, fcs: fcs, cat: cat}
	fx.hdlr = New(Config{Forecasts: fcs, Accuracy: acc, Models: cat, Now: func() time.Time { return now }})
	fx.srv = httptest.NewServer(fx.hdlr)
	t.Cleanup(fx.srv.Close)
	return fx
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// compileOpenAPI compiles the document so that any of its JSON pointers
// can be compiled as a schema (OpenAPI 3.1 schemas are JSON Schema 2020-12).
func compileOpenAPI(t *testing.T) *jsonschema.Compiler {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(OpenAPI()))
	if err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("mem:///openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	return c
}

func pointer(parts ...string) string {
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1")
	}
	return "mem:///openapi.json#/" + strings.Join(parts, "/")
}

// Every response of every documented route, for requests that succeed and
// requests that fail, validates against the schema the OpenAPI document
// gives for that route and status: the document cannot drift from the
// handlers.
func TestResponsesMatchTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	c := compileOpenAPI(t)
	for _, tc := range []struct {
		route  string // the documented path
		url    string
		status int
	}{
		{"/api/v1/forecasts", "/api/v1/forecasts", 200},
		{"/api/v1/forecasts/{region}", "/api/v1/forecasts/FI", 200},
		{"/api/v1/forecasts/{region}", "/api/v1/forecasts/NOWHERE", 404},
		{"/api/v1/forecasts/{region}/windows", "/api/v1/forecasts/FI/windows", 200},
		{"/api/v1/forecasts/{region}/windows", "/api/v1/forecasts/GB-A/windows?hours=24", 200}, // too few hours left: nulls
		{"/api/v1/forecasts/{region}/windows", "/api/v1/forecasts/FI/windows?hours=25", 400},
		{"/api/v1/forecasts/{region}/windows", "/api/v1/forecasts/FI/windows?hours=2&before=2024-05-14T20:00:00%2B02:00", 200},
		{"/api/v1/forecasts/{region}/windows", "/api/v1/forecasts/FI/windows?before=2024-05-14T20:00:00+02:00", 200}, // "+" unescaped
		{"/api/v1/forecasts/{region}/windows", "/api/v1/forecasts/FI/windows?before=tomorrow", 400},
		{"/api/v1/forecasts/{region}/windows", "/api/v1/forecasts/NOWHERE/windows", 404},
		{"/api/v1/accuracy", "/api/v1/accuracy", 200},
		{"/api/v1/accuracy", "/api/v1/accuracy?days=3&region=FI&model=gru", 200},
		{"/api/v1/accuracy", "/api/v1/accuracy?days=0", 400},
		{"/api/v1/accuracy/windows", "/api/v1/accuracy/windows", 200},
		{"/api/v1/accuracy/windows", "/api/v1/accuracy/windows?days=2&hours=24", 200},
		{"/api/v1/accuracy/windows", "/api/v1/accuracy/windows?hours=0", 400},
		{"/api/v1/accuracy/windows", "/api/v1/accuracy/windows?days=400", 400},
		{"/api/v1/models", "/api/v1/models", 200},
		{"/api/v1/series/{region}", "/api/v1/series/FI?days=2", 200},
		{"/api/v1/series/{region}", "/api/v1/series/GB-A", 200},
		{"/api/v1/series/{region}", "/api/v1/series/FI?days=99", 400},
		{"/api/v1/series/{region}", "/api/v1/series/NOWHERE", 404},
		{"/openapi.json", "/openapi.json", 200},
		{"/healthz", "/healthz", 200},
		{"/readyz", "/readyz", 200},
	} {
		t.Run(tc.url, func(t *testing.T) {
			status, body := get(t, fx.srv.URL+tc.url)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			sch, err := c.Compile(pointer("paths", tc.route, "get", "responses", strconv.Itoa(status), "content", "application/json", "schema"))
			if err != nil {
				t.Fatalf("the document has no schema for %s %d: %v", tc.route, status, err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("response is not JSON: %v", err)
			}
			if err := sch.Validate(inst); err != nil {
				t.Fatalf("response does not match the document: %v\n%s", err, body)
			}
		})
	}
}

// The routes the handler serves are exactly the documented paths.
func TestEveryRouteIsDocumented(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var documented, served []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	for _, r := range Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	slices.Sort(documented)
	slices.Sort(served)
	if !slices.Equal(documented, served) {
		t.Fatalf("documented %v, served %v", documented, served)
	}
	// And each served route has a handler (not the catch-all's 404 or
	// 405), which answers.
	fx := newFixture(t)
	for _, r := range Routes() {
		url := strings.ReplaceAll(r.Path, "{region}", "FI")
		req := httptest.NewRequest(r.Method, url, nil)
		if _, pattern := fx.hdlr.(*server).mux.Handler(req); pattern == "" {
			t.Errorf("%s %s: no route", r.Method, url)
		}
		rec := httptest.NewRecorder()
		fx.hdlr.ServeHTTP(rec, req)
		if rec.Code == http.StatusMethodNotAllowed || rec.Code == http.StatusNotFound {
			t.Errorf("%s %s: %d", r.Method, url, rec.Code)
		}
	}
}

// The region forecast carries what a Home Assistant REST sensor template
// reads: the current hour's price while the day runs, the day's mean, min,
// max and cheapest hour, and the hourly points with their intervals.
func TestRegionForecastForHomeAssistant(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	status, body := get(t, fx.srv.URL+"/api/v1/forecasts/FI")
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var f RegionForecast
	if err := json.Unmarshal(body, &f); err != nil {
		t.Fatal(err)
	}
	wantHour := now.Truncate(time.Hour)
	if f.Current == nil || f.CurrentHour == nil || !f.CurrentHour.Equal(wantHour) || *f.Current != actual(wantHour)+1 {
		t.Errorf("current %v at %v, want %v at %v", f.Current, f.CurrentHour, actual(wantHour)+1, wantHour)
	}
	var sum float64
	minV, minH := math.Inf(1), time.Time{}
	for h := 0; h < 24; h++ {
		hour := day0.AddDate(0, 0, 8).Add(time.Duration(h) * time.Hour)
		v := actual(hour) + 1
		sum += v
		if v < minV {
			minV, minH = v, hour
		}
	}
	if math.Abs(f.Mean-sum/24) > 1e-9 || f.Min != minV || !f.CheapestHour.Equal(minH) || len(f.Points) != 24 {
		t.Errorf("mean %v min %v at %v, %d points; want %v, %v at %v, 24", f.Mean, f.Min, f.CheapestHour, len(f.Points), sum/24, minV, minH)
	}
	if p := f.Points[3]; p.Lower == nil || p.Upper == nil || *p.Upper-*p.Lower != 14 {
		t.Errorf("point %+v: want a 14-wide interval", p)
	}
}

// After tomorrow's forecast is issued the region's forecast is tomorrow's,
// and its current hour still comes from today's: a Home Assistant sensor
// keeps showing the price of the hour now, not tomorrow's mean. The chart
// shows today's remaining hours too.
func TestRegionForecastCurrentHourAfterTomorrowsIssue(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	tomorrow := day0.AddDate(0, 0, 9)
	f := &schemas.Forecast{ForecastID: "FI/lear/tomorrow", Region: "FI", Market: "m", Unit: "EUR/MWh", ModelID: "lear",
		ModelVersion: "2", ModelKind: "lear", Role: schemas.RoleChampion, Official: true, IssueTime: now.Truncate(time.Hour).Add(-3 * time.Hour),
		LocalDate: tomorrow.Format(time.DateOnly)}
	var sum float64
	for h := range 24 {
		hour := tomorrow.Add(time.Duration(h) * time.Hour)
		f.Points = append(f.Points, schemas.ForecastPoint{Hour: hour, LeadHours: 14 + h, Value: actual(hour) + 2})
		sum += actual(hour) + 2
	}
	fx.fcs.Add(f)
	for _, url := range []string{"/api/v1/forecasts/FI", "/api/v1/forecasts"} {
		status, body := get(t, fx.srv.URL+url)
		if status != 200 {
			t.Fatalf("%s: status %d: %s", url, status, body)
		}
		var got RegionForecast
		if url == "/api/v1/forecasts" {
			var list ForecastList
			if err := json.Unmarshal(body, &list); err != nil {
				t.Fatal(err)
			}
			for _, x := range list.Forecasts {
				if x.Region == "FI" {
					got = x
				}
			}
		} else if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		wantHour := now.Truncate(time.Hour)
		if got.LocalDate != f.LocalDate || math.Abs(got.Mean-sum/24) > 1e-9 {
			t.Errorf("%s: the forecast of %s, mean %v; want tomorrow's, %s, mean %v", url, got.LocalDate, got.Mean, f.LocalDate, sum/24)
		}
		if got.Current == nil || got.CurrentHour == nil || !got.CurrentHour.Equal(wantHour) || *got.Current != actual(wantHour)+1 {
			t.Errorf("%s: current %v at %v; want today's forecast of the hour now, %v at %v", url, got.Current, got.CurrentHour, actual(wantHour)+1, wantHour)
		}
	}

	// The chart's upcoming hours run on from the last scored hour through
	// today (today's forecast) and tomorrow (tomorrow's), without a gap.
	_, body := get(t, fx.srv.URL+"/api/v1/series/FI?days=7")
	var s Series
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	today := day0.AddDate(0, 0, 8)
	if len(s.Upcoming) != 48 {
		t.Fatalf("%d upcoming hours, want 48 (today's and tomorrow's)", len(s.Upcoming))
	}
	for i, p := range s.Upcoming {
		hour := today.Add(time.Duration(i) * time.Hour)
		want := actual(hour) + 1 // today's forecast
		if i >= 24 {
			want = actual(hour) + 2 // tomorrow's
		}
		if !p.Hour.Equal(hour) || p.Value != want {
			t.Fatalf("upcoming %d: %v at %v, want %v at %v", i, p.Value, p.Hour, want, hour)
		}
	}
}

// The accuracy rows are the monitor's, per band, with undefined metrics as
// null rather than zero.
func TestAccuracyByBand(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	_, body := get(t, fx.srv.URL+"/api/v1/accuracy?region=FI")
	var rep struct {
		Bands []string `json:"bands"`
		Rows  []struct {
			ModelID  string   `json:"model_id"`
			Band     string   `json:"band"`
			Hours    int      `json:"hours"`
			MAE      *float64 `json:"mae"`
			Coverage *float64 `json:"coverage"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	want := fx.acc.Rows(monitor.Query{Window: 30 * 24 * time.Hour, Region: "FI", ByBand: true})
	if len(rep.Rows) != len(want) || len(want) != 2*4 { // all + 3 bands (lead 14..37), 2 models
		t.Fatalf("%d rows, want %d (= 8)", len(rep.Rows), len(want))
	}
	for i, r := range rep.Rows {
		if r.ModelID != want[i].ModelID || r.Band != want[i].Band || r.Hours != want[i].N || r.MAE == nil || *r.MAE != want[i].MAE {
			t.Errorf("row %d %+v, want %+v", i, r, want[i])
		}
		if (r.ModelID == "gru") != (r.Coverage == nil) {
			t.Errorf("row %d: coverage %v; want null exactly for the model without intervals", i, r.Coverage)
		}
	}
}

// BenchmarkHandlers times the JSON handlers through the real mux against
// /healthz (the mux and the encoder alone) as the baseline, and reports
// the ratio.
func BenchmarkHandlers(b *testing.B) {
	fx := newFixture(b)
	base := 0.0
	for _, url := range []string{"/healthz", "/api/v1/forecasts/FI", "/api/v1/accuracy", "/api/v1/models", "/api/v1/series/FI"} {
		b.Run(strings.TrimPrefix(url, "/"), func(b *testing.B) {
			req := httptest.NewRequest("GET", url, nil)
			for b.Loop() {
				rec := httptest.NewRecorder()
				fx.hdlr.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("%s: %d", url, rec.Code)
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if url == "/healthz" {
				base = ns
			} else if base > 0 {
				b.ReportMetric(ns/base, "x_healthz")
			}
		})
	}
}

// docs/openapi.json is the served document, byte for byte.
func TestDocsCopyOfTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, OpenAPI()) {
		t.Fatal("docs/openapi.json differs from serving/api/openapi.json; run: cp serving/api/openapi.json docs/openapi.json")
	}
}

// The windows a home battery plans with: the cheapest and dearest runs of
// n consecutive hours among those of the recent official forecasts not yet
// ended, across midnight where tomorrow's forecast follows today's.
func TestForecastWindows(t *testing.T) {
	t.Parallel()
	day := time.Date(2024, 3, 30, 23, 0, 0, 0, time.UTC) // Helsinki's 2024-03-31: 23 hours
	// forecast covers hours [from, from+hours) after day, but skip, issued
	// at issue hours after day (negative: before it).
	forecast := func(id string, issue, from, hours, skip int, value func(h int) float64) *schemas.Forecast {
		f := &schemas.Forecast{ForecastID: id, Region: "FI", Unit: "EUR/MWh", ModelID: id, ModelVersion: "1",
			IssueTime: day.Add(time.Duration(issue) * time.Hour), LocalDate: "2024-03-31"}
		for h := from; h < from+hours; h++ {
			if h != skip {
				f.Points = append(f.Points, schemas.ForecastPoint{Hour: day.Add(time.Duration(h) * time.Hour), Value: value(h)})
			}
		}
		return f
	}
	one := func(f *schemas.Forecast) []*schemas.Forecast { return []*schemas.Forecast{f} }
	// 10 everywhere but a cheap run at hours 3-5 (mean 2) and a dear one
	// at 17-19 (mean 31).
	shaped := func(h int) float64 {
		switch {
		case h >= 3 && h <= 5:
			return float64(h - 2)
		case h >= 17 && h <= 19:
			return float64(13 + h)
		}
		return 10
	}
	flat := func(int) float64 { return 10 }
	// Cheap from 21:00 today to 01:00 tomorrow (hours 21-24 of day): a
	// night no single day's forecast holds.
	night := func(h int) float64 {
		if h >= 21 && h <= 24 {
			return 1
		}
		return 10
	}
	before := day.Add(-10 * time.Hour)
	type want struct {
		upcoming              int
		cheapStart, dearStart int // hours after day; -1: null
		cheapMean, dearMean   float64
		from                  []string // the forecasts used, by id
	}
	tests := []struct {
		name   string
		fs     []*schemas.Forecast
		now    time.Time
		n      int
		want   want
		before time.Time // zero: no deadline
	}{
		{"tomorrow", one(forecast("a", -13, 0, 23, -1, shaped)), before, 3, want{23, 3, 17, 2, 31, []string{"a"}}, time.Time{}},
		{"one hour", one(forecast("a", -13, 0, 23, -1, shaped)), before, 1, want{23, 3, 19, 1, 32, []string{"a"}}, time.Time{}},
		{"ties: the earliest", one(forecast("a", -13, 0, 23, -1, flat)), before, 4, want{23, 0, 0, 10, 10, []string{"a"}}, time.Time{}},
		// At 04:20 hours 0-3 are over; hour 4 (running) still counts.
		{"today, partly over", one(forecast("a", -13, 0, 23, -1, shaped)), day.Add(4*time.Hour + 20*time.Minute), 2, want{19, 4, 18, 2.5, 31.5, []string{"a"}}, time.Time{}},
		// Hour 4 missing: no window spans the gap; [5,6,7] is the cheapest.
		{"a gap", one(forecast("a", -13, 0, 23, 4, func(h int) float64 {
			if h == 3 || h == 5 || h == 6 {
				return 1
			}
			return 10
		})), before, 3, want{22, 5, 0, 4, 10, []string{"a"}}, time.Time{}},
		{"the whole clock-change day", one(forecast("a", -13, 0, 23, -1, flat)), before, 23, want{23, 0, 0, 10, 10, []string{"a"}}, time.Time{}},
		{"fewer hours left than asked", one(forecast("a", -13, 0, 23, -1, shaped)), day.Add(20 * time.Hour), 4, want{3, -1, -1, 0, 0, []string{"a"}}, time.Time{}},
		// At 15:00 with today's and tomorrow's forecasts: the night's
		// window crosses midnight.
		{"tonight, across midnight", []*schemas.Forecast{forecast("today", -13, 0, 23, -1, night), forecast("tomorrow", 11, 23, 24, -1, night)},
			day.Add(15 * time.Hour), 4, want{8 + 24, 21, 15, 1, 10, []string{"today", "tomorrow"}}, time.Time{}},
		// Without tomorrow's, the night stops at midnight.
		{"tonight, today's only", one(forecast("today", -13, 0, 23, -1, night)), day.Add(15 * time.Hour), 4, want{8, 19, 15, 5.5, 10, []string{"today"}}, time.Time{}},
		// A later forecast of the same hours replaces the earlier's, which
		// then contributes nothing.
		{"re-issued", []*schemas.Forecast{forecast("old", -14, 0, 23, -1, shaped), forecast("new", -13, 0, 23, -1, flat)},
			before, 3, want{23, 0, 0, 10, 10, []string{"new"}}, time.Time{}},
		{"nothing left", one(forecast("a", -13, 0, 23, -1, shaped)), day.Add(30 * time.Hour), 1, want{0, -1, -1, 0, 0, nil}, time.Time{}},
		// Done by 15:00: hours 0-14 count, so the dear run at 17-19 is out
		// and the dearest window is the earliest of the flat ones.
		{"before a deadline", one(forecast("a", -13, 0, 23, -1, shaped)), before, 3, want{15, 3, 0, 2, 10, []string{"a"}}, day.Add(15 * time.Hour)},
		// A deadline inside the cheap night (hour 23): the runs through
		// midnight end too late, and the cheapest left is 20-22 (10, 1, 1).
		{"a deadline cuts the night", []*schemas.Forecast{forecast("today", -13, 0, 23, -1, night), forecast("tomorrow", 11, 23, 24, -1, night)},
			day.Add(15 * time.Hour), 3, want{8, 20, 15, 4, 10, []string{"today"}}, day.Add(23 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := windowsOf(tt.fs, tt.now, tt.n, tt.before)
			// Points in any order give the same answer.
			var rev []*schemas.Forecast
			for _, f := range tt.fs {
				r := *f
				r.Points = slices.Clone(f.Points)
				slices.Reverse(r.Points)
				rev = append(rev, &r)
			}
			if again := windowsOf(rev, tt.now, tt.n, tt.before); !reflect.DeepEqual(again, got) {
				t.Errorf("reversed points: %+v, want %+v", again, got)
			}
			if got.Upcoming != tt.want.upcoming || got.Hours != tt.n || got.Region != "FI" || got.Unit != "EUR/MWh" {
				t.Errorf("region %s unit %s upcoming %d hours %d, want FI EUR/MWh %d %d", got.Region, got.Unit, got.Upcoming, got.Hours, tt.want.upcoming, tt.n)
			}
			var from []string
			for _, r := range got.Forecasts {
				from = append(from, r.ModelID)
			}
			if !slices.Equal(from, tt.want.from) {
				t.Errorf("hours from forecasts %v, want %v", from, tt.want.from)
			}
			check := func(what string, w *Window, start int, mean float64) {
				if start < 0 {
					if w != nil {
						t.Errorf("%s: %+v, want null", what, *w)
					}
					return
				}
				ws := day.Add(time.Duration(start) * time.Hour)
				if w == nil || !w.Start.Equal(ws) || !w.End.Equal(ws.Add(time.Duration(tt.n)*time.Hour)) || math.Abs(w.Mean-mean) > 1e-12 {
					t.Errorf("%s: %+v, want start %v, %d hours, mean %v", what, w, ws, tt.n, mean)
				}
			}
			check("cheapest", got.Cheapest, tt.want.cheapStart, tt.want.cheapMean)
			check("priciest", got.Priciest, tt.want.dearStart, tt.want.dearMean)
			switch {
			case tt.want.cheapStart < 0 && got.Spread != nil:
				t.Errorf("spread %v, want null", *got.Spread)
			case tt.want.cheapStart >= 0 && (got.Spread == nil || math.Abs(*got.Spread-(tt.want.dearMean-tt.want.cheapMean)) > 1e-12):
				t.Errorf("spread %v, want %v", got.Spread, tt.want.dearMean-tt.want.cheapMean)
			}
		})
	}
}

// The window values are the monitor's over the fixture's scored days, a
// row per model, with the weekly naive reference; the window and length
// follow the query.
func TestWindowValuesRoute(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	for _, q := range []struct {
		url         string
		days, hours int
	}{{"/api/v1/accuracy/windows", 30, 3}, {"/api/v1/accuracy/windows?days=3&hours=5", 3, 5}} {
		status, body := get(t, fx.srv.URL+q.url)
		if status != 200 {
			t.Fatalf("%s: status %d: %s", q.url, status, body)
		}
		var rep WindowValueReport
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatal(err)
		}
		want := fx.acc.WindowValues(time.Duration(q.days)*24*time.Hour, q.hours)
		if rep.WindowDays != q.days || rep.Hours != q.hours || len(rep.Rows) != len(want) || len(want) != 2 {
			t.Fatalf("%s: %d days, %d hours, %d rows; want %d, %d, %d (two models)", q.url, rep.WindowDays, rep.Hours, len(rep.Rows), q.days, q.hours, len(want))
		}
		for i, r := range rep.Rows {
			v := want[i]
			if r.ModelID != v.ModelID || r.Days != v.Days || r.Model != v.Model || float64(r.Capture) != v.Capture() ||
				r.NaiveDays != v.Naive.Days || float64(r.NaiveCapture) != v.Naive.Capture() {
				t.Errorf("%s: row %+v, the monitor's %+v", q.url, r, v)
			}
		}
		// Seven scored days in the fixture; three in a 3-day window.
		if wantDays := min(q.days, 7); rep.Rows[0].Days != wantDays {
			t.Errorf("%s: %d days scored, want %d", q.url, rep.Rows[0].Days, wantDays)
		}
	}

	// The leaderboard pools the 30-day, 3-hour rows of each version: total
	// saving got over total saving possible.
	_, body := get(t, fx.srv.URL+"/api/v1/models")
	var ml struct {
		Models []struct {
			ModelID      string   `json:"model_id"`
			ModelVersion string   `json:"model_version"`
			Capture3h30d *float64 `json:"capture_3h_30d"`
		} `json:"models"`
	}
	if err := json.Unmarshal(body, &ml); err != nil {
		t.Fatal(err)
	}
	scored := 0
	for _, m := range ml.Models {
		var got, possible float64
		for _, v := range fx.acc.WindowValues(30*24*time.Hour, 3) {
			if v.ModelID == m.ModelID && v.ModelVersion == m.ModelVersion {
				got += float64(v.Days) * (v.DayMean - v.Model)
				possible += float64(v.Days) * (v.DayMean - v.Best)
			}
		}
		if possible == 0 {
			if m.Capture3h30d != nil {
				t.Errorf("%s@%s: capture %v for a model never scored; want null", m.ModelID, m.ModelVersion, *m.Capture3h30d)
			}
			continue
		}
		scored++
		if m.Capture3h30d == nil || math.Abs(*m.Capture3h30d-got/possible) > 1e-12 {
			t.Errorf("%s@%s: leaderboard capture %v, pooled rows %v", m.ModelID, m.ModelVersion, m.Capture3h30d, got/possible)
		}
	}
	if scored != 2 {
		t.Errorf("%d scored models on the leaderboard, want 2", scored)
	}
}
