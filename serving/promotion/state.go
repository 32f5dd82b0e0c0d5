package promotion

import (
	"encoding/json"
	"math"
	"slices"
	"time"
)

// hourErr is one scored hour: its start (Unix seconds), the absolute error
// and the weekly naive forecast's absolute error (-1 when unknown).
type hourErr struct {
	H int64   `json:"h"`
	E float64 `json:"e"`
	N float64 `json:"n"`
}

// defaultDayHours is the length of a day of a region with no known zone.
// A region's day is complete at once when every model has all its hours
// (Decider.dayHours: 23, 24 or 25 by the zone); a day with a gap is
// complete when a later day is scored.
const defaultDayHours = 24

// pairedDay holds two models' absolute errors on the (region, hour) pairs
// both scored on one day, and the weekly naive forecast's (-1 when
// unknown).
type pairedDay struct {
	Day      string
	A, B     []float64
	Naive    []float64
	LastHour time.Time
}

// summary is a model's MAE and rMAE over a set of hours.
type summary struct {
	MAE, RMAE float64
	Hours     int
}

// summarise returns the MAE and rMAE of abs errors e with the naive
// forecast's abs errors naive (-1 where unknown: those hours count in the
// MAE, not in the rMAE).
func summarise(e, naive []float64) summary {
	var n, nn int
	var abs, absN, nv float64
	for i, v := range e {
		n++
		abs += v
		if naive[i] >= 0 {
			nn++
			absN += v
			nv += naive[i]
		}
	}
	s := summary{MAE: math.NaN(), RMAE: math.NaN(), Hours: n}
	if n > 0 {
		s.MAE = abs / float64(n)
	}
	if nn > 0 && nv > 0 {
		s.RMAE = absN / nv
	}
	return s
}

func sortHours(h []hourErr) {
	slices.SortFunc(h, func(a, b hourErr) int { return int(a.H - b.H) })
}

// num is a float64 that encodes NaN as JSON null (encoding/json refuses
// NaN), for metrics that can be undefined.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

func (n *num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = num(f)
	return nil
}
