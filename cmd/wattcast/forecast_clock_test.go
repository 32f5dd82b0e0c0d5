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
	f := &schemas.Forecast{ForecastID: "FI/lear/1", Region: "FI", Market: "nordpool", Unit: "EUR/MWh", ModelID: "lear", ModelVersion: "1",
		ModelKind: "lear", Role: schemas.RoleChampion, Official: true, IssueTime: start.Add(-14 * time.Hour), LocalDate: "2024-10-27"}
	for h := range 25 {
		f.Points = append(f.Points, schemas.ForecastPoint{Hour: start.Add(time.Duration(h) * time.Hour).UTC(), LeadHours: 14 + h, Value: float64(50 + h)})
	}
	fcs := monitor.NewForecasts()
	fcs.Add(f)
	acc, err := monitor.NewAccuracy(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return start.Add(-6 * time.Hour) }
	srv := httptest.NewServer(api.New(api.Config{Forecasts: fcs, Accuracy: acc, Models: noModels{}, Now: now}))
	t.Cleanup(srv.Close)
	var out bytes.Buffer
	_, err = runWithArgs(t, forecastCommandTo(&out, now), "--api", srv.URL, "--region", "FI", "--hours", "2")
	if !checkOutput(t, out.String(), err, []string{"\nSun 03:00 EEST  53.00", "\nSun 03:00 EET   54.00",
		"cheapest 2 hours ahead: Sun 00:00 EEST – 02:00 EEST"}, "") {
		return
	}
	if n := strings.Count(out.String(), "Sun 03:00"); n != 2 {
		t.Errorf("%d rows at 03:00, want 2:\n%s", n, out.String())
	}
}
