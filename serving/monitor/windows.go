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
	// Unit is the price unit of the region's prices (DayMean, Best and
	// Model are in it).
	Unit string
	decision.Value
	// Naive is the same for the weekly naive forecast (the price a week
	// earlier) of the days that had one for every hour: the reference.
	Naive decision.Value
}

// WindowValues computes, per region, model version and role, the value of
// each forecast's cheapest run of n hours from the error records of its
// hours (forecast and actual price; one forecast is one ForecastID).
func WindowValues(errs []schemas.ForecastError, n int) []WindowValue {
	type key struct{ region, model, version, role, unit string }
	byKey := map[key]map[string][]point{}
	for _, e := range errs {
		p := point{hour: e.Hour, forecast: e.Forecast, actual: e.Actual, naive: math.NaN()}
		if e.NaiveWeekly != nil {
			p.naive = *e.NaiveWeekly
		}
		k := key{e.Region, e.ModelID, e.ModelVersion, e.Role, e.Unit}
		if byKey[k] == nil {
			byKey[k] = map[string][]point{}
		}
		byKey[k][e.ForecastID] = append(byKey[k][e.ForecastID], p)
	}
	var out []WindowValue
	for k, byID := range byKey {
		// In a fixed order, so that the sums, and so the means to the
		// last bit, do not depend on the order the records came in.
		var days [][]point
		for _, id := range slices.Sorted(maps.Keys(byID)) {
			days = append(days, byID[id])
		}
		if v, ref := tallyDays(days, n); v.Days > 0 {
			out = append(out, WindowValue{Region: k.region, ModelID: k.model, ModelVersion: k.version, Role: k.role, Unit: k.unit, Value: v, Naive: ref})
		}
	}
	sortWindowValues(out)
	return out
}

// WindowValues is the package function WindowValues over the scored hours
// of every region in the window ending at its latest scored hour: the
// value of following each model's forecasts with a load of n hours a day,
// live. A forecast cut by the window's start counts with the hours left of
// it. It keeps its answer until the next scored hour arrives, so that
// scrapes and page loads in between cost nothing: the answers of the
// current scored hours only, for at most maxCachedWindows (window, n)
// pairs.
func (a *Accuracy) WindowValues(window time.Duration, n int) []WindowValue {
	a.mu.RLock()
	defer a.mu.RUnlock()
	key := windowKey{window, n}
	a.wvMu.Lock()
	if c, ok := a.wvCache[key]; ok && c.gen == a.gen {
		a.wvUse++
		c.used = a.wvUse
		a.wvCache[key] = c
		a.wvMu.Unlock()
		return slices.Clone(c.values)
	}
	a.wvMu.Unlock()

	var out []WindowValue
	var pts []point // reused from one series to the next
	var days [][]point
	for region, models := range a.byReg {
		from := a.clock[region].Add(-window)
		for k, s := range models {
			pts, days = pts[:0], days[:0]
			for _, p := range s.points {
				if p.hour.After(from) {
					pts = append(pts, p)
				}
			}
			// A forecast is the hours of one issue time, taken in issue
			// order; they arrive together, so the sort has little to do.
			slices.SortFunc(pts, func(x, y point) int { return cmp.Or(x.issue.Compare(y.issue), x.hour.Compare(y.hour)) })
			for i := 0; i < len(pts); {
				j := i + 1
				for j < len(pts) && pts[j].issue.Equal(pts[i].issue) {
					j++
				}
				days, i = append(days, pts[i:j]), j
			}
			if v, ref := tallyDays(days, n); v.Days > 0 {
				out = append(out, WindowValue{Region: region, ModelID: k.ModelID, ModelVersion: k.Version, Role: s.role, Unit: s.unit, Value: v, Naive: ref})
			}
		}
	}
	sortWindowValues(out)
	a.wvMu.Lock()
	a.cacheWindowValues(key, out)
	a.wvMu.Unlock()
	return slices.Clone(out)
}

// tallyDays scores one model's forecast days, in the order given (each the
// scored hours of one forecast, in any order; an hour recorded twice counts
// once): the model's window value, and the weekly naive forecast's over the
// days it had every hour of.
func tallyDays(days [][]point, n int) (model, naive decision.Value) {
	m, ref := decision.Tally{Hours: n}, decision.Tally{Hours: n}
	var hours []time.Time
	var fc, act, nv []float64 // reused: a Tally keeps none of them
	for _, day := range days {
		slices.SortFunc(day, func(x, y point) int { return x.hour.Compare(y.hour) })
		day = slices.CompactFunc(day, func(x, y point) bool { return x.hour.Equal(y.hour) })
		hours, fc, act, nv = hours[:0], fc[:0], act[:0], nv[:0]
		hasNaive := true
		for _, p := range day {
			hours, fc, act, nv = append(hours, p.hour), append(fc, p.forecast), append(act, p.actual), append(nv, p.naive)
			hasNaive = hasNaive && !math.IsNaN(p.naive)
		}
		if m.Add(hours, fc, act) && hasNaive {
			ref.Add(hours, nv, act)
		}
	}
	return m.Value(), ref.Value()
}

// maxCachedWindows bounds the (window, hours) pairs whose window values are
// kept: the metrics' and the page's few, and room for the API's callers.
// The API takes up to 35 x 24 pairs, which a caller scanning them would
// otherwise all keep.
const maxCachedWindows = 16

// cacheWindowValues keeps values as the answer for key at the current
// generation, with a.wvMu held. Answers of older generations, which no
// query can return any more, are dropped; beyond maxCachedWindows the least
// recently used goes.
func (a *Accuracy) cacheWindowValues(key windowKey, values []WindowValue) {
	if a.wvCache == nil {
		a.wvCache = map[windowKey]cachedValues{}
	}
	for k, c := range a.wvCache {
		if c.gen != a.gen {
			delete(a.wvCache, k)
		}
	}
	a.wvUse++
	a.wvCache[key] = cachedValues{gen: a.gen, values: values, used: a.wvUse}
	for len(a.wvCache) > maxCachedWindows {
		oldest := key
		for k, c := range a.wvCache {
			if c.used < a.wvCache[oldest].used {
				oldest = k
			}
		}
		delete(a.wvCache, oldest)
	}
}

type windowKey struct {
	window time.Duration
	n      int
}

type cachedValues struct {
	gen    uint64
	values []WindowValue
	used   uint64 // wvUse when last returned or stored
}

func sortWindowValues(out []WindowValue) {
	slices.SortFunc(out, func(a, b WindowValue) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Role, b.Role), cmp.Compare(a.ModelID, b.ModelID),
			cmp.Compare(a.ModelVersion, b.ModelVersion), cmp.Compare(a.Unit, b.Unit))
	})
}
