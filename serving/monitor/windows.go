package monitor

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/training/decision"
)

// WindowValue is what a forecast is worth to a load that can move, such as
// a home battery charging n hours a day (package decision): over the days
// a model version forecast in a region, the actual prices of the hours its
// forecast said were the cheapest n in a row, against the day's mean and
// its truly cheapest n hours. MAE says how far the forecast is from the
// price; this says how much of the possible saving following it gets.
type WindowValue struct {
	Region, ModelID, ModelVersion, Role string
	decision.Value
	// Naive is the same for the weekly naive forecast (the price a week
	// earlier) of the days that had one for every hour: the reference.
	Naive decision.Value
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
	type tallies struct{ model, naive decision.Tally }
	acc := map[key]*tallies{}
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
		e := day[0]
		k := key{e.Region, e.ModelID, e.ModelVersion, e.Role}
		t := acc[k]
		if t == nil {
			t = &tallies{decision.Tally{Hours: n}, decision.Tally{Hours: n}}
		}
		if !t.model.Add(hours, fc, act) {
			continue
		}
		acc[k] = t
		if hasNaive {
			t.naive.Add(hours, naive, act)
		}
	}
	out := make([]WindowValue, 0, len(acc))
	for k, t := range acc {
		out = append(out, WindowValue{Region: k.region, ModelID: k.model, ModelVersion: k.version, Role: k.role,
			Value: t.model.Value(), Naive: t.naive.Value()})
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
