package main

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/api"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/serving/monitor"
)

// `wattcast forecast` against the real API handler: tomorrow's hours in the
// market's zone, the cheapest and dearest three hours marked and named,
// and the API's own message when the region has no forecast.
func TestForecastCommand(t *testing.T) {
	t.Parallel()
	// Helsinki's 2024-05-15 is 21:00 UTC on the 14th to 21:00 on the 15th.
	day := time.Date(2024, 5, 14, 21, 0, 0, 0, time.UTC)
	f := &schemas.Forecast{ForecastID: "FI/lear/1", Region: "FI", Market: "nordpool", Unit: "EUR/MWh", ModelID: "lear", ModelVersion: "1",
		ModelKind: "lear", Role: schemas.RoleChampion, Official: true, IssueTime: day.Add(-14 * time.Hour), LocalDate: "2024-05-15"}
	for h := range 24 {
		v := 50.0
		switch {
		case h >= 4 && h <= 6: // 04:00-07:00 local
			v = 10
		case h >= 18 && h <= 20: // 18:00-21:00 local
			v = 90
		}
		f.Points = append(f.Points, schemas.ForecastPoint{Hour: day.Add(time.Duration(h) * time.Hour), LeadHours: 14 + h, Value: v,
			Quantiles: []schemas.Quantile{{Q: 0.05, Value: v - 5}, {Q: 0.95, Value: v + 5}}})
	}
	now := func() time.Time { return day.Add(-6 * time.Hour) } // 18:00 in Helsinki, the day before
	url := forecastAPI(t, now, f)

	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{"tomorrow in Helsinki time", []string{"--region", "FI"}, []string{
			"FI 2024-05-15, EUR/MWh (model lear@1, issued 2024-05-14 10:00); times in Europe/Helsinki",
			"Wed 05:00 EEST  10.00     5.00 – 15.00", "█ cheapest", "█ dearest",
			"cheapest 3 hours ahead: Wed 04:00 EEST – 07:00 EEST, mean 10.00", "dearest 3 hours ahead:  Wed 18:00 EEST – 21:00 EEST, mean 90.00", "spread 80.00 EUR/MWh"}, ""},
		{"another zone and window", []string{"--region", "FI", "--hours", "2", "--time-zone", "UTC"}, []string{
			"times in UTC", "Tue 21:00 UTC", "cheapest 2 hours ahead: Wed 01:00 UTC – 03:00 UTC, mean 10.00"}, ""},
		// Done by 03:00: the next 03:00 in Helsinki is tomorrow's, and
		// only the night's first three hours end by then.
		{"before a deadline", []string{"--region", "FI", "--before", "03:00"}, []string{
			"cheapest 3 hours ahead done by Wed 03:00 EEST: Wed 00:00 EEST – 03:00 EEST, mean 50.00"}, ""},
		{"no forecast", []string{"--region", "SE3"}, nil, `no official forecast for region "SE3" yet`},
		{"bad deadline", []string{"--region", "FI", "--before", "7am"}, nil, "want a time of day such as 07:00"},
		{"no region", nil, nil, "--region is required"},
		{"bad window", []string{"--region", "FI", "--hours", "25"}, nil, "want 1 to 24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			_, err := runWithArgs(t, forecastCommandTo(&out, now), append([]string{"--api", url}, tt.args...)...)
			if !checkOutput(t, out.String(), err, tt.want, tt.wantErr) {
				return
			}
			if n := strings.Count(out.String(), " cheapest\n"); n != hoursOf(tt.args) {
				t.Errorf("%d hours marked cheapest, want %d:\n%s", n, hoursOf(tt.args), out.String())
			}
		})
	}

	// No server there: the error says what to check.
	_, err := runWithArgs(t, forecastCommandTo(&bytes.Buffer{}, now), "--api", "http://127.0.0.1:1", "--region", "FI")
	if err == nil || !strings.Contains(err.Error(), "wattcast score --http") {
		t.Errorf("err = %v, want one pointing at `wattcast score --http`", err)
	}
}

// hoursOf is the --hours of args (default 3).
func hoursOf(args []string) int {
	n := 3
	for i, a := range args {
		if a == "--hours" && i+1 < len(args) {
			fmt.Sscan(args[i+1], &n)
		}
	}
	return n
}

type noModels struct{}

func (noModels) Versions() []catalog.Version { return nil }

// champion is FI's official lear forecast for the local day starting at
// start (hours hours from it), each hour valued by value.
func champion(id string, start time.Time, hours int, value func(h int) float64) *schemas.Forecast {
	f := &schemas.Forecast{ForecastID: id, Region: "FI", Market: "nordpool", Unit: "EUR/MWh", ModelID: "lear", ModelVersion: "1",
		ModelKind: "lear", Role: schemas.RoleChampion, Official: true, IssueTime: start.Add(-14 * time.Hour),
		LocalDate: start.Format(time.DateOnly)}
	for h := range hours {
		f.Points = append(f.Points, schemas.ForecastPoint{Hour: start.Add(time.Duration(h) * time.Hour).UTC(), LeadHours: 14 + h, Value: value(h)})
	}
	return f
}

// forecastAPI serves fs as the scorer's API does, with no accuracy and no
// models, at the time now returns; it returns the server's URL.
func forecastAPI(t *testing.T, now func() time.Time, fs ...*schemas.Forecast) string {
	t.Helper()
	fcs := monitor.NewForecasts()
	for _, f := range fs {
		fcs.Add(f)
	}
	acc, err := monitor.NewAccuracy(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Forecasts: fcs, Accuracy: acc, Models: noModels{}, Now: now}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// At 18:00 with today's and tomorrow's forecasts out, the hours ahead run
// from the hour now through tomorrow, and the night's cheap hours are one
// window across midnight.
func TestForecastCommandAcrossMidnight(t *testing.T) {
	t.Parallel()
	hel, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	var fs []*schemas.Forecast
	for _, d := range []int{14, 15} {
		fs = append(fs, champion(fmt.Sprintf("FI/lear/1/%d", d), time.Date(2024, 5, d, 0, 0, 0, 0, hel), 24, func(h int) float64 {
			if d == 14 && h >= 22 || d == 15 && h == 0 {
				return 5 // 22:00 to 01:00
			}
			return 50
		}))
	}
	now := func() time.Time { return time.Date(2024, 5, 14, 18, 20, 0, 0, hel) }
	url := forecastAPI(t, now, fs...)
	var out bytes.Buffer
	_, err = runWithArgs(t, forecastCommandTo(&out, now), "--api", url, "--region", "FI")
	checkOutput(t, out.String(), err, []string{"FI 2024-05-15", "cheapest 3 hours ahead: Tue 22:00 EEST – 01:00 EEST, mean 5.00",
		"\nTue 18:00 EEST ", "Tue 22:00 EEST  5.00", "Wed 00:00 EEST  5.00", "Wed 23:00 EEST "}, "")
	if strings.Contains(out.String(), "Tue 17:00") {
		t.Errorf("an hour already over is printed:\n%s", out.String())
	}
	if n := strings.Count(out.String(), " cheapest\n"); n != 3 {
		t.Errorf("%d hours marked cheapest, want 3:\n%s", n, out.String())
	}
}

func TestNextClock(t *testing.T) {
	t.Parallel()
	hel, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		hhmm string
		now  time.Time
		want time.Time
	}{
		{"07:00", time.Date(2024, 5, 14, 18, 0, 0, 0, hel), time.Date(2024, 5, 15, 7, 0, 0, 0, hel)},
		{"07:00", time.Date(2024, 5, 14, 6, 59, 0, 0, hel), time.Date(2024, 5, 14, 7, 0, 0, 0, hel)},
		{"07:00", time.Date(2024, 5, 14, 7, 0, 0, 0, hel), time.Date(2024, 5, 15, 7, 0, 0, 0, hel)}, // not now itself
		{"23:30", time.Date(2024, 12, 31, 23, 45, 0, 0, hel), time.Date(2025, 1, 1, 23, 30, 0, 0, hel)},
		// The night the clocks go forward: 07:00 is still 07:00 local,
		// five hours after 01:00 rather than six.
		{"07:00", time.Date(2024, 3, 31, 1, 0, 0, 0, hel), time.Date(2024, 3, 31, 7, 0, 0, 0, hel)},
	}
	for _, tt := range tests {
		got, err := nextClock(tt.hhmm, tt.now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("nextClock(%s, %v) = %v, %v; want %v", tt.hhmm, tt.now, got, err, tt.want)
		}
	}
	if _, err := nextClock("25:00", time.Now()); err == nil {
		t.Error("25:00 accepted")
	}
}

// On the day the clocks go back, the hour from 03:00 happens twice; the
// table tells the two apart by the zone's abbreviation, and so does every
// time it prints.
func TestForecastCommandClockChangeDay(t *testing.T) {
	t.Parallel()
	hel, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 10, 27, 0, 0, 0, 0, hel) // 25 hours: 04:00 EEST is 03:00 EET
	now := func() time.Time { return start.Add(-6 * time.Hour) }
	url := forecastAPI(t, now, champion("FI/lear/1", start, 25, func(h int) float64 { return float64(50 + h) }))
	var out bytes.Buffer
	_, err = runWithArgs(t, forecastCommandTo(&out, now), "--api", url, "--region", "FI", "--hours", "2")
	if !checkOutput(t, out.String(), err, []string{"\nSun 03:00 EEST  53.00", "\nSun 03:00 EET   54.00",
		"cheapest 2 hours ahead: Sun 00:00 EEST – 02:00 EEST"}, "") {
		return
	}
	if n := strings.Count(out.String(), "Sun 03:00"); n != 2 {
		t.Errorf("%d rows at 03:00, want 2:\n%s", n, out.String())
	}
}

// When every hour of the latest forecast is over (the scorer stopped, or
// the demo's forecasts are years old), `wattcast forecast` says how old it
// is and fails, instead of printing an old day as the hours ahead.
func TestForecastCommandStaleForecast(t *testing.T) {
	t.Parallel()
	hel, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	f := champion("FI/lear/1", time.Date(2024, 9, 3, 0, 0, 0, 0, hel), 24, func(h int) float64 { return float64(h) }) // Helsinki's 2024-09-03
	tests := []struct {
		name    string
		now     time.Time
		args    []string
		want    []string // in the output, when wantErr is ""
		wantErr string
	}{
		{"days old", time.Date(2024, 9, 13, 12, 0, 0, 0, hel), []string{"--before", "07:00"}, nil,
			"the latest forecast for FI is for 2024-09-03 (10 days ago): no hours ahead; is the scorer running?"},
		{"yesterday's", time.Date(2024, 9, 4, 0, 30, 0, 0, hel), nil, nil,
			"the latest forecast for FI is for 2024-09-03 (yesterday): no hours ahead"},
		{"a year old, in UTC", time.Date(2025, 9, 3, 12, 0, 0, 0, time.UTC), []string{"--time-zone", "UTC"}, nil,
			"is for 2024-09-03 (365 days ago)"},
		// Its last hour, 23:00-24:00, is not over yet: still printed.
		{"last hour left", time.Date(2024, 9, 3, 23, 10, 0, 0, hel), []string{"--hours", "1"},
			[]string{"FI 2024-09-03", "Tue 23:00 EEST  23.00", "cheapest 1 hours ahead: Tue 23:00 EEST – 00:00 EEST"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := func() time.Time { return tt.now }
			url := forecastAPI(t, now, f)
			var out bytes.Buffer
			_, err := runWithArgs(t, forecastCommandTo(&out, now), append([]string{"--api", url, "--region", "FI"}, tt.args...)...)
			if tt.wantErr != "" && out.Len() > 0 {
				t.Errorf("a forecast with no hours ahead was printed:\n%s", out.String())
			}
			if !checkOutput(t, out.String(), err, tt.want, tt.wantErr) {
				return
			}
			if strings.Contains(out.String(), "Tue 22:00") {
				t.Errorf("an hour already over is printed:\n%s", out.String())
			}
		})
	}
}
