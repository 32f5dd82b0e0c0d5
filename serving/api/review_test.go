package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/monitor"
)

// stale says when every hour of the latest forecast has ended: a Home
// Assistant sensor must then not show its mean as the price now.
func TestRegionForecastStale(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	day := day0.AddDate(0, 0, 8) // the fixture's forecast day
	tests := []struct {
		name        string
		now         time.Time
		stale       bool
		wantCurrent bool
	}{
		{"before its day", day.Add(-2 * time.Hour), false, false},
		{"during its day", now, false, true},
		{"in its last hour", day.Add(23*time.Hour + 59*time.Minute), false, true},
		{"its day over", day.Add(24 * time.Hour), true, false},
		{"days later", day.AddDate(0, 0, 3), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := New(Config{Forecasts: fx.fcs, Accuracy: fx.acc, Models: fx.cat, Now: func() time.Time { return tt.now }})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/forecasts/FI", nil))
			var f struct {
				Stale   *bool    `json:"stale"`
				Current *float64 `json:"current"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &f); err != nil || rec.Code != 200 {
				t.Fatalf("%d %v: %s", rec.Code, err, rec.Body)
			}
			if f.Stale == nil || *f.Stale != tt.stale || (f.Current != nil) != tt.wantCurrent {
				t.Errorf("stale %v, current %v; want stale %v, current set %v", f.Stale, f.Current, tt.stale, tt.wantCurrent)
			}
		})
	}
}

// Tomorrow forecast three times (a promotion's new champion, then a
// rollback's) does not push today's forecast out: the hour now still has
// its official price.
func TestCurrentAfterTomorrowForecastThreeTimes(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	tomorrow := day0.AddDate(0, 0, 9)
	for i := range 3 {
		f := &schemas.Forecast{ForecastID: fmt.Sprintf("FI/tomorrow/%d", i), Region: "FI", Market: "m", Unit: "EUR/MWh", ModelID: "lear",
			ModelVersion: "2", ModelKind: "lear", Role: schemas.RoleChampion, Official: true,
			IssueTime: now.Truncate(time.Hour).Add(time.Duration(i-3) * time.Hour), LocalDate: tomorrow.Format(time.DateOnly)}
		for h := range 24 {
			f.Points = append(f.Points, schemas.ForecastPoint{Hour: tomorrow.Add(time.Duration(h) * time.Hour), LeadHours: 14 + h, Value: float64(i)})
		}
		fx.fcs.Add(f)
	}
	_, body := get(t, fx.srv.URL+"/api/v1/forecasts/FI")
	var got RegionForecast
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	wantHour := now.Truncate(time.Hour)
	if got.Current == nil || *got.Current != actual(wantHour)+1 {
		t.Errorf("current %v; want today's forecast of the hour now, %v", got.Current, actual(wantHour)+1)
	}
	if got.Mean != 2 {
		t.Errorf("mean %v; want the last of tomorrow's forecasts', 2", got.Mean)
	}
}

// A path no route serves and a method a route does not take answer JSON
// errors like every other error, the 405 with its Allow header.
func TestUnknownRoutesAnswerJSON(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	tests := []struct {
		method, url string
		status      int
		allow       string
	}{
		{"GET", "/nope", 404, ""},
		{"GET", "/api/v1/forecasts/FI/windows/extra", 404, ""},
		{"GET", "/api/v2/forecasts", 404, ""},
		{"POST", "/api/v1/forecasts", 405, "GET"},
		{"DELETE", "/healthz", 405, "GET"},
		{"PUT", "/", 405, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.url, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tt.method, fx.srv.URL+tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e apiError
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
				t.Errorf("body is not a JSON error: %v", err)
			}
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%d %s, want %d application/json", resp.StatusCode, resp.Header.Get("Content-Type"), tt.status)
			}
			if allow := resp.Header.Get("Allow"); !strings.Contains(allow, tt.allow) || (tt.allow == "") != (allow == "") {
				t.Errorf("Allow %q, want one with %q", allow, tt.allow)
			}
		})
	}
}

// days runs to the days the monitor keeps (35 by default) and no further:
// a longer window would show fewer days than it says.
func TestDaysCappedAtTheKeptWindow(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	for _, route := range []string{"/api/v1/accuracy", "/api/v1/accuracy/windows", "/api/v1/series/FI"} {
		for _, tt := range []struct {
			days   int
			status int
		}{{35, 200}, {36, 400}, {365, 400}} {
			t.Run(fmt.Sprintf("%s?days=%d", route, tt.days), func(t *testing.T) {
				status, body := get(t, fmt.Sprintf("%s%s?days=%d", fx.srv.URL, route, tt.days))
				if status != tt.status {
					t.Fatalf("status %d, want %d: %s", status, tt.status, body)
				}
				if status == 400 && !strings.Contains(string(body), "from 1 to 35") {
					t.Errorf("the error does not name the maximum, 35: %s", body)
				}
			})
		}
	}
}

// The leaderboard pools a version's regions per price unit: FI's EUR/MWh
// and GB-A's p/kWh make two rows, each the accuracy of its own region, and
// the accuracy and window rows say their unit.
func TestLeaderboardPoolsPerUnit(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	// GB-A scored for the champion, lear@2, in p/kWh: prices near 20,
	// errors of 0.5.
	for d := range 7 {
		issue := day0.AddDate(0, 0, d).Add(-14 * time.Hour)
		for h := range 24 {
			hour := day0.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
			a := 20 + float64(h%5)
			naive := a + 2
			fx.acc.Add(&schemas.ForecastError{ForecastID: "gb", Region: "GB-A", Market: "agile", Unit: "p/kWh", ModelID: "lear",
				ModelVersion: "2", ModelKind: "lear", Role: schemas.RoleChampion, Official: true, IssueTime: issue, Hour: hour,
				LeadHours: 14 + h, Forecast: a + 0.5, Actual: a, Error: 0.5, AbsError: 0.5, NaiveWeekly: &naive})
		}
	}
	_, body := get(t, fx.srv.URL+"/api/v1/models")
	var ml ModelList
	if err := json.Unmarshal(body, &ml); err != nil {
		t.Fatal(err)
	}
	byUnit := map[string]ModelInfo{}
	for _, m := range ml.Models {
		if m.ModelID == "lear" && m.ModelVersion == "2" {
			byUnit[m.Unit] = m
		}
	}
	if len(byUnit) != 2 {
		t.Fatalf("lear@2 has rows for units %v, want EUR/MWh and p/kWh", byUnit)
	}
	for unit, region := range map[string]string{"EUR/MWh": "FI", "p/kWh": "GB-A"} {
		rows := fx.acc.Rows(monitor.Query{Window: 30 * 24 * time.Hour, Region: region, ModelID: "lear"})
		m := byUnit[unit]
		if len(rows) != 1 || m.Hours30d != rows[0].N || math.Abs(float64(m.MAE30d)-rows[0].MAE) > 1e-12 || math.Abs(float64(m.RMAE30d)-rows[0].RMAE) > 1e-12 {
			t.Errorf("%s: %d hours, MAE %v, rMAE %v; want %s's alone: %+v", unit, m.Hours30d, m.MAE30d, m.RMAE30d, region, rows)
		}
		if math.IsNaN(float64(m.Capture3h30d)) {
			t.Errorf("%s: no capture", unit)
		}
	}
	for _, url := range []string{"/api/v1/accuracy", "/api/v1/accuracy/windows"} {
		_, body := get(t, fx.srv.URL+url)
		var rep struct {
			Rows []struct{ Region, Unit string }
		}
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Rows {
			if want := map[string]string{"FI": "EUR/MWh", "GB-A": "p/kWh"}[r.Region]; r.Unit != want {
				t.Errorf("%s: %s row in %q, want %q", url, r.Region, r.Unit, want)
			}
		}
	}
}

// A region with scored hours but no official forecast (yet, or any more)
// says the unit its hours are priced in.
func TestSeriesUnitWithoutAForecast(t *testing.T) {
	t.Parallel()
	acc, err := monitor.NewAccuracy(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for h := range 24 {
		hour := day0.Add(time.Duration(h) * time.Hour)
		acc.Add(&schemas.ForecastError{ForecastID: "gb", Region: "GB-A", Unit: "p/kWh", ModelID: "lear", ModelVersion: "1",
			Role: schemas.RoleChampion, Official: true, IssueTime: day0.Add(-14 * time.Hour), Hour: hour, LeadHours: 14 + h, Forecast: 21, Actual: 20})
	}
	h := New(Config{Forecasts: monitor.NewForecasts(), Accuracy: acc, Models: nil, Now: func() time.Time { return now }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/series/GB-A", nil))
	var s Series
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil || rec.Code != 200 {
		t.Fatalf("%d %v: %s", rec.Code, err, rec.Body)
	}
	if s.Unit != "p/kWh" || len(s.Points) != 24 {
		t.Errorf("unit %q, %d points; want p/kWh, 24", s.Unit, len(s.Points))
	}
}

// A value that does not encode is a logged 500 with a JSON error, not a
// 200 with a body cut short.
func TestWriteJSONEncodingError(t *testing.T) {
	t.Parallel()
	var logged strings.Builder
	s := &server{cfg: Config{Logger: slog.New(slog.NewTextHandler(&logged, nil))}}
	tests := []struct {
		name   string
		v      any
		status int
	}{
		{"encodes", status{"ok"}, 200},
		{"NaN", struct{ X float64 }{math.NaN()}, 500},
		{"Inf in a list", []float64{1, math.Inf(1)}, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.writeJSON(rec, 200, tt.v)
			var e map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("body is not JSON: %v: %q", err, rec.Body)
			}
			if rec.Code != tt.status || (tt.status == 500) != (e["error"] != nil) {
				t.Errorf("%d %s, want %d", rec.Code, rec.Body, tt.status)
			}
		})
	}
	if !strings.Contains(logged.String(), "level=ERROR") {
		t.Errorf("the encoding error was not logged: %q", logged.String())
	}
}
