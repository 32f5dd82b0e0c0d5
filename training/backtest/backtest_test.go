package backtest_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/csvimport"
	"github.com/wattcast/wattcast/training/backtest"
	"github.com/wattcast/wattcast/training/dataset"
	"github.com/wattcast/wattcast/training/decision"
	"github.com/wattcast/wattcast/training/models"
)

var (
	once   sync.Once
	fiRows []schemas.FeatureRow
	fiErr  error
)

// shipped returns the feature rows of the shipped ENTSO-E Finland slice
// (training/testdata), through csvimport and the feature engine.
func shipped(t *testing.T) []schemas.FeatureRow {
	t.Helper()
	once.Do(func() {
		m, err := csvimport.Preset("entsoe-FI")
		if err != nil {
			fiErr = err
			return
		}
		fiRows, _, fiErr = dataset.Load("../testdata/entsoe_FI_2021H1.csv.gz", dataset.Options{Mapping: m,
			Region: &features.Region{Zone: "Europe/Helsinki", Country: "FI", IssueTime: "10:00"}})
	})
	if fiErr != nil {
		t.Fatal(fiErr)
	}
	return fiRows
}

func TestRunScoresEveryModelOnTheSameHours(t *testing.T) {
	t.Parallel()
	rows := shipped(t)
	specs := []models.Spec{{Kind: models.KindNaiveWeekly}, {Kind: models.KindNaiveStandard},
		{Kind: models.KindLEAR, LEAR: &models.LEARParams{Windows: []int{56, 84}}},
		{Kind: models.KindEnsemble, Members: []models.Spec{{Kind: models.KindNaiveStandard}, {Kind: models.KindLEAR, LEAR: &models.LEARParams{Windows: []int{56, 84}}}}}}
	res, err := backtest.Run(context.Background(), rows, specs, backtest.Config{TestStart: "2021-06-01", TestEnd: "2021-06-21", RecalibrateEvery: 7, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Days) != 21 || len(res.Skipped) != 0 {
		t.Fatalf("%d days scored, %d skipped; want 21 and 0", len(res.Days), len(res.Skipped))
	}
	naive := res.Model(models.KindNaiveWeekly)
	if naive.Overall.RMAE != 1 || naive.Overall.N != 21*24 {
		t.Errorf("weekly naive: rMAE %v over %d hours; want exactly 1 over 504", naive.Overall.RMAE, naive.Overall.N)
	}
	// Hand-check the weekly naive MAE from the rows: |p(h) - p(h-168h)|.
	byHour := map[int64]float64{}
	for _, r := range rows {
		byHour[r.Hour.Unix()] = *r.Price
	}
	var sum float64
	var n int
	for _, r := range rows {
		if r.LocalDate >= "2021-06-01" && r.LocalDate <= "2021-06-21" {
			sum += math.Abs(*r.Price - byHour[r.Hour.Unix()-168*3600])
			n++
		}
	}
	if math.Abs(naive.Overall.MAE-sum/float64(n)) > 1e-9 {
		t.Errorf("weekly naive MAE %v; hand-computed %v", naive.Overall.MAE, sum/float64(n))
	}
	// And its decision value: each test day, the 3 hours in a row that a
	// week earlier were the cheapest, priced at the day's prices.
	tally := decision.Tally{Hours: 3}
	var hours []time.Time
	var fc, act []float64
	for i, r := range rows {
		if r.LocalDate >= "2021-06-01" && r.LocalDate <= "2021-06-21" {
			hours, fc, act = append(hours, r.Hour), append(fc, byHour[r.Hour.Unix()-168*3600]), append(act, *r.Price)
			if i+1 == len(rows) || rows[i+1].LocalDate != r.LocalDate {
				tally.Add(hours, fc, act)
				hours, fc, act = nil, nil, nil
			}
		}
	}
	if want := tally.Value(); naive.Window.Days != 21 || math.Abs(naive.Window.Model-want.Model) > 1e-9 ||
		math.Abs(naive.Window.Best-want.Best) > 1e-9 || math.Abs(naive.Window.DayMean-want.DayMean) > 1e-9 {
		t.Errorf("weekly naive window value %+v; hand-computed %+v", naive.Window, want)
	}
	lear := res.Model(models.KindLEAR)
	// 28 warm-up days + 21 test days, refitted every 7: 7 fits.
	if lear.Fits != 7 {
		t.Errorf("LEAR fitted %d times; want 7", lear.Fits)
	}
	// The ensemble is computed from its members' forecasts, hour by hour.
	ens := res.Model(specs[3].Name())
	std := res.Model(models.KindNaiveStandard)
	for d := range ens.Errors {
		for h := range ens.Errors[d] {
			if want := (std.Errors[d][h] + lear.Errors[d][h]) / 2; math.Abs(ens.Errors[d][h]-want) > 1e-9 {
				t.Fatalf("ensemble error %v at day %d hour %d; mean of members %v", ens.Errors[d][h], d, h, want)
			}
		}
	}
	for _, m := range res.Models {
		for _, iv := range m.Intervals {
			if iv.Coverage < iv.Level-0.25 || iv.Coverage > 1 || iv.MeanWidth <= 0 {
				t.Errorf("%s: %.0f%% interval covers %.2f with width %.1f", m.Name, 100*iv.Level, iv.Coverage, iv.MeanWidth)
			}
		}
		var hours int
		for _, hm := range m.ByHour {
			hours += hm.N
		}
		if hours != m.Overall.N {
			t.Errorf("%s: per-hour counts sum to %d, overall %d", m.Name, hours, m.Overall.N)
		}
		// The same days and so the same best windows for every model, and
		// none does better than the best.
		if w := m.Window; w.Days != 21 || w.Hours != 3 || w.Best != naive.Window.Best || w.Model < w.Best || w.Capture() > 1 {
			t.Errorf("%s: window value %+v (capture %v); want 21 days and the weekly naive's best, %v", m.Name, w, w.Capture(), naive.Window.Best)
		}
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	t.Parallel()
	rows := shipped(t)
	for _, tc := range []struct {
		name string
		rows []schemas.FeatureRow
		cfg  backtest.Config
	}{
		{"test period outside the data", rows, backtest.Config{TestStart: "2022-01-01", TestEnd: "2022-01-31"}},
		{"end before start", rows, backtest.Config{TestStart: "2021-06-10", TestEnd: "2021-06-01"}},
		{"too little history", rows, backtest.Config{TestStart: "2021-01-10", TestEnd: "2021-01-20"}},
		{"bad date", rows, backtest.Config{TestStart: "June", TestEnd: "2021-06-01"}},
		{"a window longer than a day", rows, backtest.Config{TestStart: "2021-06-01", TestEnd: "2021-06-21", WindowHours: 25}},
	} {
		if _, err := backtest.Run(context.Background(), tc.rows, []models.Spec{{Kind: models.KindNaiveWeekly}}, tc.cfg); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestDieboldMariano(t *testing.T) {
	t.Parallel()
	// Day-level loss differentials d = [1, 2, 3, 4] (model 1 always worse):
	// mean 2.5, population variance 1.25, DM = 2.5/sqrt(1.25/4) = 4.472.
	e1 := [][]float64{{2, -2}, {3, 3}, {4, -4}, {5, 5}}
	e2 := [][]float64{{1, 1}, {1, -1}, {1, 1}, {1, -1}}
	r, err := backtest.DieboldMariano(e1, e2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Stat-2.5/math.Sqrt(1.25/4)) > 1e-9 || r.PValue > 1e-4 || r.N != 4 {
		t.Fatalf("DM = %+v; want stat 4.472 with p < 1e-4", r)
	}
	// Swapped, the second model is worse: p near 1.
	r, _ = backtest.DieboldMariano(e2, e1, 1)
	if r.PValue < 0.999 {
		t.Fatalf("swapped p = %v; want near 1", r.PValue)
	}
	if _, err := backtest.DieboldMariano(e1, e1, 1); err == nil {
		t.Fatal("identical errors have no variance: want ErrTooFewPairs")
	}
	if _, err := backtest.DieboldMariano(e1, e2[:2], 1); err == nil {
		t.Fatal("unpaired days accepted")
	}
	// Series form with no lags equals the multivariate form on 1-hour days.
	s1, s2 := []float64{2, 3, 4, 5}, []float64{1, 1, 1, 1}
	rs, _ := backtest.DieboldMarianoSeries(s1, s2, 1, 0)
	rm, _ := backtest.DieboldMariano([][]float64{{2}, {3}, {4}, {5}}, [][]float64{{1}, {1}, {1}, {1}}, 1)
	if math.Abs(rs.Stat-rm.Stat) > 1e-12 {
		t.Fatalf("series %v and multivariate %v disagree", rs.Stat, rm.Stat)
	}
}
