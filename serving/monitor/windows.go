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
	sortWindowValues(out)
	return out
}

// WindowValues is the package function WindowValues over the scored hours
// of every region in the window ending at its latest scored hour: the
// value of following each model's forecasts with a load of n hours a day,
// live. A forecast is a model's hours with one issue time; one cut by the
// window's start counts with the hours left of it. It reads the store's
// points directly and keeps its answer until the next scored hour arrives,
// so that scrapes and page loads in between cost nothing.
func (a *Accuracy) WindowValues(window time.Duration, n int) []WindowValue {
	a.mu.RLock()
	defer a.mu.RUnlock()
	key := windowKey{window, n}
	a.wvMu.Lock()
	if c, ok := a.wvCache[key]; ok && c.gen == a.gen {
		a.wvMu.Unlock()
		return slices.Clone(c.values)
	}
	a.wvMu.Unlock()

	var out []WindowValue
	var pts []point
	var hours []time.Time
	var fc, act, naive []float64
	for region, models := range a.byReg {
		from := a.clock[region].Add(-window)
		for k, s := range models {
			pts = pts[:0]
			for _, p := range s.points {
				if p.hour.After(from) {
					pts = append(pts, p)
				}
			}
			// A forecast's hours arrive together and in order, so this
			// sort has little to do.
			slices.SortFunc(pts, func(x, y point) int { return cmp.Or(x.issue.Compare(y.issue), x.hour.Compare(y.hour)) })
			model, ref := decision.Tally{Hours: n}, decision.Tally{Hours: n}
			for i := 0; i < len(pts); {
				j := i
				hours, fc, act, naive = hours[:0], fc[:0], act[:0], naive[:0]
				hasNaive := true
				for ; j < len(pts) && pts[j].issue.Equal(pts[i].issue); j++ {
					p := pts[j]
					hours, fc, act, naive = append(hours, p.hour), append(fc, p.forecast), append(act, p.actual), append(naive, p.naive)
					hasNaive = hasNaive && !math.IsNaN(p.naive)
				}
				i = j
				if model.Add(hours, fc, act) && hasNaive {
					ref.Add(hours, naive, act)
				}
			}
			if v := model.Value(); v.Days > 0 {
				out = append(out, WindowValue{Region: region, ModelID: k.ModelID, ModelVersion: k.Version, Role: s.role, Value: v, Naive: ref.Value()})
			}
		}
	}
	sortWindowValues(out)
	a.wvMu.Lock()
	if a.wvCache == nil {
		a.wvCache = map[windowKey]cachedValues{}
	}
	a.wvCache[key] = cachedValues{a.gen, out}
	a.wvMu.Unlock()
	return slices.Clone(out)
}

type windowKey struct {
	window time.Duration
	n      int
}

type cachedValues struct {
	gen    uint64
	values []WindowValue
}

func sortWindowValues(out []WindowValue) {
	slices.SortFunc(out, func(a, b WindowValue) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Role, b.Role), cmp.Compare(a.ModelID, b.ModelID),
			cmp.Compare(a.ModelVersion, b.ModelVersion))
	})
}
