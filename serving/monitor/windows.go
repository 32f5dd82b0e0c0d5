package monitor

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// Runs finds, among hours (sorted, distinct) and their values, the run of
// n consecutive hours with the lowest mean value and the one with the
// highest, and returns their start indexes; -1 for both when no n hours
// in a row exist. Hours one hour apart are consecutive (UTC hours, so a
// clock-change day's 23 or 25 are too); a gap breaks a run. Of equal runs,
// the earliest wins.
func Runs(hours []time.Time, values []float64, n int) (cheapest, dearest int) {
	cheapest, dearest = -1, -1
	var lo, hi float64
	run := 0 // consecutive hours ending at i
	for i, h := range hours {
		if i > 0 && !h.Equal(hours[i-1].Add(time.Hour)) {
			run = 0
		}
		if run++; run < n || n < 1 {
			continue
		}
		// Summed afresh (n is at most a day): equal runs get equal
		// means, so the earliest of them wins.
		m := mean(values[i-n+1 : i+1])
		if cheapest < 0 || m < lo {
			cheapest, lo = i-n+1, m
		}
		if dearest < 0 || m > hi {
			dearest, hi = i-n+1, m
		}
	}
	return cheapest, dearest
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// WindowValue is what a forecast is worth to a load that can move, such as
// a home battery charging for n hours a day: over the days a model
// forecast, the actual prices of the hours its forecast said were the
// cheapest n in a row, against the day's mean and its truly cheapest n
// hours. MAE says how far the forecast is from the price; this says how
// much of the possible saving following it gets.
type WindowValue struct {
	Region, ModelID, ModelVersion, Role string
	Hours                               int // the window length
	Days                                int // forecast days with n consecutive scored hours
	// Means over Days of actual prices, in the market's unit: the day's
	// hours; the truly cheapest window; the window the model picked.
	DayMean, Best, Model float64
	// NaiveDays of those had a weekly naive forecast (the price a week
	// earlier) for every hour; Naive is the mean actual price of the
	// window it picked, and NaiveBest and NaiveDayMean the day's, over
	// those days.
	NaiveDays                      int
	Naive, NaiveBest, NaiveDayMean float64
}

// Capture is the share of the possible saving the model's window gets:
// (DayMean - Model) / (DayMean - Best). 1 is the cheapest window every day,
// 0 no better than a random hour, below 0 worse.
func (w WindowValue) Capture() float64 { return (w.DayMean - w.Model) / (w.DayMean - w.Best) }

// NaiveCapture is Capture for the weekly naive forecast on its days.
func (w WindowValue) NaiveCapture() float64 {
	return (w.NaiveDayMean - w.Naive) / (w.NaiveDayMean - w.NaiveBest)
}

// WindowValues computes, per region, model version and role, the value of
// each forecast's cheapest run of n hours from the error records of its
// hours (forecast and actual price; one forecast is one ForecastID).
func WindowValues(errs []schemas.ForecastError, n int) []WindowValue {
	byForecast := map[string][]schemas.ForecastError{}
	for _, e := range errs {
		byForecast[e.ForecastID] = append(byForecast[e.ForecastID], e)
	}
	type key struct{ region, model, version, role string }
	acc := map[key]*WindowValue{}
	// In a fixed order, so that the sums, and so the means to the last
	// bit, do not depend on the order the records came in.
	for _, id := range slices.Sorted(maps.Keys(byForecast)) {
		day := byForecast[id]
		slices.SortFunc(day, func(a, b schemas.ForecastError) int { return a.Hour.Compare(b.Hour) })
		day = slices.CompactFunc(day, func(a, b schemas.ForecastError) bool { return a.Hour.Equal(b.Hour) }) // a record read twice
		hours := make([]time.Time, len(day))
		fc, act, naive := make([]float64, len(day)), make([]float64, len(day)), make([]float64, len(day))
		hasNaive := true
		for i, e := range day {
			hours[i], fc[i], act[i] = e.Hour, e.Forecast, e.Actual
			if e.NaiveWeekly == nil {
				hasNaive = false
			} else {
				naive[i] = *e.NaiveWeekly
			}
		}
		picked, _ := Runs(hours, fc, n)
		best, _ := Runs(hours, act, n)
		if picked < 0 {
			continue
		}
		e := day[0]
		k := key{e.Region, e.ModelID, e.ModelVersion, e.Role}
		w := acc[k]
		if w == nil {
			w = &WindowValue{Region: e.Region, ModelID: e.ModelID, ModelVersion: e.ModelVersion, Role: e.Role, Hours: n}
			acc[k] = w
		}
		dayMean, bestMean := mean(act), mean(act[best:best+n])
		w.Days++
		w.DayMean += dayMean
		w.Best += bestMean
		w.Model += mean(act[picked : picked+n])
		if np, _ := Runs(hours, naive, n); hasNaive && np >= 0 {
			w.NaiveDays++
			w.Naive += mean(act[np : np+n])
			w.NaiveBest += bestMean
			w.NaiveDayMean += dayMean
		}
	}
	out := make([]WindowValue, 0, len(acc))
	for _, w := range acc {
		d := float64(w.Days)
		w.DayMean, w.Best, w.Model = w.DayMean/d, w.Best/d, w.Model/d
		if nd := float64(w.NaiveDays); nd > 0 {
			w.Naive, w.NaiveBest, w.NaiveDayMean = w.Naive/nd, w.NaiveBest/nd, w.NaiveDayMean/nd
		}
		out = append(out, *w)
	}
	slices.SortFunc(out, func(a, b WindowValue) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Role, b.Role), cmp.Compare(a.ModelID, b.ModelID),
			cmp.Compare(a.ModelVersion, b.ModelVersion))
	})
	return out
}

// WindowValues is the package function WindowValues over the scored hours
// of every region in the window ending at its latest scored hour: the
// value of following each model's forecasts with a load of n hours a day,
// live. A forecast is a model's hours with one issue time; one cut by the
// window's start counts with the hours left of it.
func (a *Accuracy) WindowValues(window time.Duration, n int) []WindowValue {
	a.mu.RLock()
	var errs []schemas.ForecastError
	for region, models := range a.byReg {
		from := a.clock[region].Add(-window)
		for k, s := range models {
			for _, p := range s.points {
				if !p.hour.After(from) {
					continue
				}
				e := schemas.ForecastError{ForecastID: region + "/" + k.String() + "/" + p.issue.Format(time.RFC3339), Region: region,
					ModelID: k.ModelID, ModelVersion: k.Version, Role: s.role, Hour: p.hour, Forecast: p.forecast, Actual: p.actual}
				if !math.IsNaN(p.naive) {
					e.NaiveWeekly = &p.naive
				}
				errs = append(errs, e)
			}
		}
	}
	a.mu.RUnlock()
	return WindowValues(errs, n)
}
