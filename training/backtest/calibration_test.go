package backtest_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/training/backtest"
	"github.com/wattcast/wattcast/training/models"
)

// A day's own residuals never enter its own interval: its actuals were not
// known when it was forecast. On a series whose price is d² all day d (UTC),
// the weekly naive forecast misses day d by exactly r(d) = d² - (d-7)² =
// 14d - 49, growing day by day, so each interval can be computed by hand:
// with a calibration window of 2 days, day D's set is {r(D-2), r(D-1)},
// and at level 0.5 (rank ⌈3·0.5⌉ = 2, the largest) its half-width is
// r(D-1) < r(D): never covered; at level 0.3 (rank 1) it is r(D-2). Had
// day D's residual been added before scoring it, the set would be
// {r(D-1), r(D)}, with every day covered at 0.5.
func TestDaysOwnResidualsNeverEnterItsInterval(t *testing.T) {
	t.Parallel()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	const days = 15
	var rows []schemas.FeatureRow
	for d := range days {
		day := base.AddDate(0, 0, d)
		for h := range 24 {
			p := float64(d * d)
			rows = append(rows, schemas.FeatureRow{Region: "XX", Market: "m", Unit: "EUR/MWh", Hour: day.Add(time.Duration(h) * time.Hour),
				LocalDate: day.Format(time.DateOnly), LocalHour: h, IssueTime: day.Add(-14 * time.Hour), LeadHours: 14 + h,
				Final: true, Price: &p, PriceCount: 1})
		}
	}
	r := func(d int) float64 { return float64(14*d - 49) }
	// Test days 10..14; with 2 calibration days the run starts on day 8.
	res, err := backtest.Run(context.Background(), rows, []models.Spec{{Kind: models.KindNaiveWeekly}},
		backtest.Config{TestStart: "2024-01-11", TestEnd: "2024-01-15", CalibrationDays: 2, Levels: []float64{0.3, 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Model(models.KindNaiveWeekly)
	if len(res.Days) != 5 || m == nil || m.Overall.N != 5*24 {
		t.Fatalf("scored days %v, model %+v; want days 10..14", res.Days, m)
	}
	for d, errs := range m.Errors {
		for h, e := range errs {
			if want := -r(10 + d); e != want {
				t.Fatalf("day %d hour %d: error %v, want %v (the series is not what the test assumes)", 10+d, h, e, want)
			}
		}
	}
	for _, tc := range []struct {
		level     float64
		halfWidth func(d int) float64 // day d's half-width
		coverage  float64
	}{
		{0.3, func(d int) float64 { return r(d - 2) }, 0},
		{0.5, func(d int) float64 { return r(d - 1) }, 0},
	} {
		var width float64
		for d := 10; d < 15; d++ {
			width += 2 * tc.halfWidth(d)
		}
		width /= 5
		var iv *backtest.Interval
		for i := range m.Intervals {
			if m.Intervals[i].Level == tc.level {
				iv = &m.Intervals[i]
			}
		}
		if iv == nil {
			t.Fatalf("no %v interval in %+v", tc.level, m.Intervals)
		}
		if iv.Unbounded != 0 || iv.Coverage != tc.coverage || math.Abs(iv.MeanWidth-width) > 1e-9 {
			t.Errorf("level %v: coverage %v, mean width %v, unbounded %d; want %v, %v, 0 (a day's own residual in its calibration set?)",
				tc.level, iv.Coverage, iv.MeanWidth, iv.Unbounded, tc.coverage, width)
		}
	}
	// The calibration left for serving holds the last two days' residuals.
	if c := m.Calibration; c == nil || len(c.Residuals[5]) != 2 || c.Residuals[5][0] != r(13) || c.Residuals[5][1] != r(14) {
		t.Errorf("final calibration of hour 5: %v, want [%v %v]", m.Calibration.Residuals[5], r(13), r(14))
	}
}
