package monitor

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// What following a forecast's cheapest window is worth, on days whose
// answers are known: the actual prices have their cheapest 3 hours at
// 02:00-05:00 (mean 1); a forecast that sees that gets all of the possible
// saving, one shifted by a constant too (the window is the same), one
// that picks the dearest hours less than nothing, and the weekly naive
// forecast what its own pick is worth.
func TestWindowValues(t *testing.T) {
	t.Parallel()
	day0 := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	// actual: 10, but 1 at hours 2-4 and 40 at hours 17-19; day mean
	// (21*10 + 3*1 + 3*40) / 24 ... computed below.
	actual := func(h int) float64 {
		switch {
		case h >= 2 && h <= 4:
			return 1
		case h >= 17 && h <= 19:
			return 40
		}
		return 10
	}
	var dayMean float64
	for h := range 24 {
		dayMean += actual(h) / 24
	}
	// errs builds a model's error records for days, its forecast of hour h
	// fc(h); the naive forecast of hour h is naive(h) (nil: none); skip
	// leaves an hour unscored.
	errs := func(model string, days int, fc func(h int) float64, naive func(h int) *float64, skip int) []schemas.ForecastError {
		var out []schemas.ForecastError
		for d := range days {
			day := day0.AddDate(0, 0, d)
			for h := range 24 {
				if h == skip {
					continue
				}
				out = append(out, schemas.ForecastError{ForecastID: fmt.Sprintf("FI/%s/%d", model, d), Region: "FI", ModelID: model, ModelVersion: "1",
					Role: schemas.RoleChampion, Hour: day.Add(time.Duration(h) * time.Hour), Forecast: fc(h), Actual: actual(h), NaiveWeekly: naive(h)})
			}
		}
		return out
	}
	ptr := func(v float64) *float64 { return &v }
	noNaive := func(int) *float64 { return nil }
	tests := []struct {
		name                      string
		errs                      []schemas.ForecastError
		days, naiveDays           int
		model, capture, naiveCapt float64
	}{
		{"perfect", errs("a", 2, actual, noNaive, -1), 2, 0, 1, 1, math.NaN()},
		{"a constant bias picks the same hours", errs("a", 1, func(h int) float64 { return actual(h) + 7 }, noNaive, -1), 1, 0, 1, 1, math.NaN()},
		{"inverted: the dearest hours", errs("a", 1, func(h int) float64 { return -actual(h) }, noNaive, -1), 1, 0, 40, (dayMean - 40) / (dayMean - 1), math.NaN()},
		// The naive forecast (flat but for a dip at 10-12) picks 10:00.
		{"with the weekly naive", errs("a", 3, actual, func(h int) *float64 {
			if h >= 10 && h <= 12 {
				return ptr(0)
			}
			return ptr(5)
		}, -1), 3, 3, 1, 1, (dayMean - 10) / (dayMean - 1)},
		// Hour 3 unscored: no window spans it; the best left is 4-6
		// (1, 10, 10) and a perfect forecast picks it, so capture is 1
		// against the day's scored hours.
		{"a gap", errs("a", 1, actual, noNaive, 3), 1, 0, 7, 1, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := WindowValues(tt.errs, 3)
			if len(got) != 1 {
				t.Fatalf("%d rows, want 1: %+v", len(got), got)
			}
			w := got[0]
			if w.Days != tt.days || w.Naive.Days != tt.naiveDays || w.Hours != 3 || w.Region != "FI" || w.ModelID != "a" {
				t.Errorf("row %+v: want %d days, %d with the naive forecast", w, tt.days, tt.naiveDays)
			}
			if math.Abs(w.Model-tt.model) > 1e-9 || math.Abs(w.Capture()-tt.capture) > 1e-9 {
				t.Errorf("model's window %v, capture %v; want %v, %v", w.Model, w.Capture(), tt.model, tt.capture)
			}
			if nc := w.Naive.Capture(); !(math.IsNaN(tt.naiveCapt) && math.IsNaN(nc)) && math.Abs(nc-tt.naiveCapt) > 1e-9 {
				t.Errorf("naive capture %v, want %v", nc, tt.naiveCapt)
			}
		})
	}
}

// Rows are per region, model version and role, and a record read twice
// counts once.
func TestWindowValuesGroups(t *testing.T) {
	t.Parallel()
	day := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	var errs []schemas.ForecastError
	for _, g := range []struct{ region, model, role string }{{"FI", "a", "champion"}, {"FI", "b", "challenger"}, {"SE3", "a", "champion"}} {
		for h := range 24 {
			e := schemas.ForecastError{ForecastID: g.region + g.model, Region: g.region, ModelID: g.model, ModelVersion: "1", Role: g.role,
				Hour: day.Add(time.Duration(h) * time.Hour), Forecast: float64(h), Actual: float64(h)}
			errs = append(errs, e, e)
		}
	}
	got := WindowValues(errs, 4)
	// The order records arrive in changes nothing, to the last bit.
	rev := slices.Clone(errs)
	slices.Reverse(rev)
	if again := WindowValues(rev, 4); !reflect.DeepEqual(again, got) {
		t.Errorf("records in reverse: %+v, want %+v", again, got)
	}
	if len(got) != 3 {
		t.Fatalf("%d rows, want 3", len(got))
	}
	for _, w := range got {
		if w.Days != 1 || w.Best != 1.5 || w.Model != 1.5 || w.DayMean != 11.5 {
			t.Errorf("%+v: want one day, best and model 1.5, day mean 11.5", w)
		}
	}
	if got[0].Region != "FI" || got[0].Role != "challenger" || got[2].Region != "SE3" {
		t.Errorf("rows not by region, role, model: %+v", got)
	}
}

// The live store answers as the function does on the same error records,
// and its window keeps the days that end within it.
func TestAccuracyWindowValues(t *testing.T) {
	t.Parallel()
	acc, err := NewAccuracy(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	day0 := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	var all, last2 []schemas.ForecastError
	for d := range 5 {
		if d == 3 {
			// Asked before the last days arrive: the answer of the
			// moment, which their arrival must replace.
			if got, want := acc.WindowValues(30*24*time.Hour, 3), WindowValues(all, 3); !reflect.DeepEqual(got, want) {
				t.Errorf("store over the first three days: %+v, want %+v", got, want)
			}
		}
		day := day0.AddDate(0, 0, d)
		issue := day.Add(-14 * time.Hour)
		for _, m := range []string{"a", "b"} {
			for h := range 24 {
				hour := day.Add(time.Duration(h) * time.Hour)
				naive := float64((h*7 + d) % 24)
				e := schemas.ForecastError{ForecastID: fmt.Sprintf("FI/%s@1/%s", m, issue.Format(time.RFC3339)), Region: "FI", ModelID: m,
					ModelVersion: "1", Role: schemas.RoleChampion, IssueTime: issue, Hour: hour,
					Forecast: float64((h*5+d)%24) + float64(len(m)), Actual: float64((h*3 + d) % 24), NaiveWeekly: &naive}
				acc.Add(&e)
				all = append(all, e)
				if d >= 3 {
					last2 = append(last2, e)
				}
			}
		}
	}
	if got, want := acc.WindowValues(30*24*time.Hour, 3), WindowValues(all, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("store over everything: %+v, want %+v", got, want)
	}
	if got, want := acc.WindowValues(48*time.Hour, 3), WindowValues(last2, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("store over the last two days: %+v, want %+v", got, want)
	}
}

// The store's WindowValues (reading its points) against the package
// function on the same records (what the demo uses), recomputed each time:
// 30 regions, 3 models, 35 days.
func BenchmarkWindowValues(b *testing.B) {
	acc, err := NewAccuracy(nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	var errs []schemas.ForecastError
	day0 := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	for r := range 30 {
		for d := range 35 {
			day, issue := day0.AddDate(0, 0, d), day0.AddDate(0, 0, d).Add(-14*time.Hour)
			for _, m := range []string{"a", "b", "c"} {
				for h := range 24 {
					naive := float64((h*7 + d) % 24)
					e := schemas.ForecastError{ForecastID: fmt.Sprintf("R%d/%s@1/%s", r, m, issue.Format(time.RFC3339)), Region: fmt.Sprint("R", r),
						ModelID: m, ModelVersion: "1", Role: schemas.RoleChampion, IssueTime: issue, Hour: day.Add(time.Duration(h) * time.Hour),
						Forecast: float64((h*5 + d) % 24), Actual: float64((h*3 + d) % 24), NaiveWeekly: &naive}
					acc.Add(&e)
					errs = append(errs, e)
				}
			}
		}
	}
	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			acc.mu.Lock()
			acc.gen++ // no cached answer: the cost of a recomputation
			acc.mu.Unlock()
			acc.WindowValues(35*24*time.Hour, 3)
		}
	})
	b.Run("records", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			WindowValues(errs, 3)
		}
	})
}
