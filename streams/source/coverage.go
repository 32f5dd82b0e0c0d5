package source

import (
	"sort"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// Series kinds.
const (
	KindPrice       = "price"
	KindObservation = "weather-observation"
	KindForecast    = "weather-forecast"
)

// Series identifies one stream of records a producer writes.
type Series struct {
	Kind   string `json:"kind"`
	Source string `json:"source"`
	Region string `json:"region"`
	// Name is the market for prices, the location for weather.
	Name string `json:"name"`
}

// Key is the series' checkpoint key, e.g. "price/octopus-api/GB-A/octopus-agile".
func (s Series) Key() string { return s.Kind + "/" + s.Source + "/" + s.Region + "/" + s.Name }

func (s Series) String() string { return s.Key() }

// PriceSeries is the series of p; its key time is p.Start.
func PriceSeries(p *schemas.Price) Series {
	return Series{KindPrice, p.Source, p.Region, p.Market}
}

// ObservationSeries is the series of o; its key time is o.Time.
func ObservationSeries(o *schemas.WeatherObservation) Series {
	return Series{KindObservation, o.Source, o.Region, o.Location}
}

// ForecastSeries is the series of f; its key time is f.IssuedAt. A
// forecast itself is identified by its issue time and its hour, since a run
// may be published in parts (a file that ends mid-run): see Publisher.
func ForecastSeries(f *schemas.WeatherForecast) Series {
	return Series{KindForecast, f.Source, f.Region, f.Location}
}

// Interval is [From, To).
type Interval struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Coverage is a set of disjoint, sorted, non-adjacent intervals. The zero
// value is empty. Methods that change it return a new Coverage.
type Coverage []Interval

// maxIntervals bounds a checkpoint's size; beyond it the oldest intervals
// are forgotten (re-publishing them becomes possible, losing nothing).
const maxIntervals = 1000

// Add returns c with [from, to) added and touching intervals merged.
func (c Coverage) Add(from, to time.Time) Coverage {
	if !from.Before(to) {
		return c
	}
	out := make(Coverage, 0, len(c)+1)
	from, to = from.UTC(), to.UTC()
	for _, iv := range c {
		switch {
		case iv.To.Before(from):
			out = append(out, iv)
		case to.Before(iv.From):
			out = append(out, iv)
		default: // overlapping or touching
			if iv.From.Before(from) {
				from = iv.From
			}
			if iv.To.After(to) {
				to = iv.To
			}
		}
	}
	out = append(out, Interval{from, to})
	sort.Slice(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	if len(out) > maxIntervals {
		out = out[len(out)-maxIntervals:]
	}
	return out
}

// Contains reports whether t is covered.
func (c Coverage) Contains(t time.Time) bool {
	i := sort.Search(len(c), func(i int) bool { return c[i].To.After(t) })
	return i < len(c) && !t.Before(c[i].From)
}

// End is the end of the last interval, or the zero time.
func (c Coverage) End() time.Time {
	if len(c) == 0 {
		return time.Time{}
	}
	return c[len(c)-1].To
}

// Minus returns the parts of c that d does not cover.
func (c Coverage) Minus(d Coverage) Coverage {
	var out Coverage
	for _, iv := range c {
		out = append(out, d.Gaps(iv.From, iv.To)...)
	}
	return out
}

// Gaps returns the parts of [from, to) that c does not cover, in order.
func (c Coverage) Gaps(from, to time.Time) []Interval {
	var out []Interval
	cur := from
	for _, iv := range c {
		if !iv.To.After(cur) {
			continue
		}
		if !iv.From.Before(to) {
			break
		}
		if iv.From.After(cur) {
			out = append(out, Interval{cur, iv.From})
		}
		cur = iv.To
		if !cur.Before(to) {
			return out
		}
	}
	if cur.Before(to) {
		out = append(out, Interval{cur, to})
	}
	return out
}

// maxRuns bounds the partly published runs a series keeps; beyond it the
// oldest are forgotten (as with maxIntervals, at worst re-publishing).
const maxRuns = 1000

// state is what one series has published.
type state struct {
	// covered holds key times: price starts, observation hours, or the
	// issue times of forecast runs published whole.
	covered Coverage
	// hours (forecast series) holds valid hours whose forecasts, of every
	// issue time, are all published: what an import knows of the rows it
	// read.
	hours Coverage
	// runs (forecast series) holds, per issue time (UnixNano) that covered
	// does not cover, the valid hours published: a run published in part,
	// e.g. by a file that ends mid-run, is recognised hour by hour.
	runs map[int64]Coverage
}

// hasForecast reports whether the forecast of hour issued at issued has
// been published.
func (s *state) hasForecast(issued, hour time.Time) bool {
	return s.covered.Contains(issued) || s.hours.Contains(hour) || s.runs[issued.UnixNano()].Contains(hour)
}

func (s *state) clone() *state {
	c := *s
	c.runs = make(map[int64]Coverage, len(s.runs))
	for k, v := range s.runs {
		c.runs[k] = v
	}
	return &c
}

func (s *state) addRun(issued, from, to time.Time) {
	if s.runs == nil {
		s.runs = map[int64]Coverage{}
	}
	k := issued.UnixNano()
	s.runs[k] = s.runs[k].Add(from, to)
}

// normalise drops from runs what covered or hours already say, so that a
// run's hours are kept only while the run is incomplete, and bounds runs.
func (s *state) normalise() {
	for k, c := range s.runs {
		if s.covered.Contains(time.Unix(0, k)) {
			delete(s.runs, k)
			continue
		}
		if c = c.Minus(s.hours); len(c) == 0 {
			delete(s.runs, k)
		} else {
			s.runs[k] = c
		}
	}
	if len(s.runs) > maxRuns {
		keys := s.runKeys()
		for _, k := range keys[:len(keys)-maxRuns] {
			delete(s.runs, k)
		}
	}
}

// runKeys returns the issue times of runs, oldest first.
func (s *state) runKeys() []int64 {
	keys := make([]int64, 0, len(s.runs))
	for k := range s.runs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

func (s *state) equal(o *state) bool {
	if !sameCoverage(s.covered, o.covered) || !sameCoverage(s.hours, o.hours) || len(s.runs) != len(o.runs) {
		return false
	}
	for k, c := range s.runs {
		if oc, ok := o.runs[k]; !ok || !sameCoverage(c, oc) {
			return false
		}
	}
	return true
}

func sameCoverage(a, b Coverage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].From.Equal(b[i].From) || !a[i].To.Equal(b[i].To) {
			return false
		}
	}
	return true
}
