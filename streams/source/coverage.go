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

// ForecastSeries is the series of f; its key time is f.IssuedAt, since a
// forecast run is published whole.
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
