package main

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/api"
	"github.com/wattcast/wattcast/serving/monitor"
)

// When every hour of the latest forecast is over (the scorer stopped, or
// the demo's forecasts are years old), `wattcast forecast` says how old it
// is and fails, instead of printing an old day as the hours ahead.
func TestForecastCommandStaleForecast(t *testing.T) {
	t.Parallel()
	hel, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 9, 3, 0, 0, 0, 0, hel) // Helsinki's 2024-09-03
	f := &schemas.Forecast{ForecastID: "FI/lear/1", Region: "FI", Market: "nordpool", Unit: "EUR/MWh", ModelID: "lear", ModelVersion: "1",
		ModelKind: "lear", Role: schemas.RoleChampion, Official: true, IssueTime: start.Add(-14 * time.Hour), LocalDate: "2024-09-03"}
	for h := range 24 {
		f.Points = append(f.Points, schemas.ForecastPoint{Hour: start.Add(time.Duration(h) * time.Hour).UTC(), LeadHours: 14 + h, Value: float64(h)})
	}
	fcs := monitor.NewForecasts()
	fcs.Add(f)
	acc, err := monitor.NewAccuracy(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
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
			srv := httptest.NewServer(api.New(api.Config{Forecasts: fcs, Accuracy: acc, Models: noModels{}, Now: now}))
			t.Cleanup(srv.Close)
			var out bytes.Buffer
			_, err := runWithArgs(t, forecastCommandTo(&out, now), append([]string{"--api", srv.URL, "--region", "FI"}, tt.args...)...)
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
