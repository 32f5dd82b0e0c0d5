// Package decision measures what a price forecast is worth to a load that
// can move in time: a home battery charging n hours a day, an electric car,
// a heat pump. Such a user follows the forecast to the n consecutive hours
// it says are the cheapest; what matters is the actual price of those hours,
// not how close the forecast was to every price. The backtests (training)
// and the live monitor (serving) both report it next to MAE.
package decision

import (
	"encoding/json"
	"math"
	"time"
)

// Runs finds, among hours (sorted, distinct) and their values, the run of
// n consecutive hours with the lowest mean value and the one with the
// highest, and returns their start indexes; -1 for both when no n hours in
// a row exist. Hours one hour apart are consecutive (UTC hours, so a
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
		m := Mean(values[i-n+1 : i+1])
		if cheapest < 0 || m < lo {
			cheapest, lo = i-n+1, m
		}
		if dearest < 0 || m > hi {
			dearest, hi = i-n+1, m
		}
	}
	return cheapest, dearest
}

// Mean is the mean of v (NaN if empty).
func Mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// Value is what following a forecast's cheapest window of Hours hours was
// worth over Days days, as means of the days' actual prices: of all their
// hours (DayMean), of each day's truly cheapest window (Best) and of the
// window the forecast picked (Model).
type Value struct {
	Hours   int     `json:"hours"`
	Days    int     `json:"days"`
	DayMean float64 `json:"day_mean"`
	Best    float64 `json:"best"`
	Model   float64 `json:"model"`
}

// MarshalJSON writes the Value with its Capture ("capture", null when
// undefined), so that a model card or a backtest result shows it.
func (v Value) MarshalJSON() ([]byte, error) {
	type plain Value // without this method
	var c *float64
	if x := v.Capture(); !math.IsNaN(x) && !math.IsInf(x, 0) {
		c = &x
	}
	return json.Marshal(struct {
		plain
		Capture *float64 `json:"capture"`
	}{plain(v), c})
}

// Capture is the share of the possible saving the forecast's window got:
// (DayMean - Model) / (DayMean - Best). 1 is the cheapest window every day,
// 0 no better than the day's average hour, below 0 worse; NaN when every
// hour cost the same.
func (v Value) Capture() float64 { return (v.DayMean - v.Model) / (v.DayMean - v.Best) }

// Tally accumulates a Value day by day. The zero value is not usable: set
// Hours.
type Tally struct {
	Hours                int
	days                 int
	dayMean, best, model float64
}

// Add scores one day: its hours (sorted, distinct), the forecast of each
// and the actual price. It reports false, and counts nothing, when the day
// has no Hours consecutive hours.
func (t *Tally) Add(hours []time.Time, forecast, actual []float64) bool {
	picked, _ := Runs(hours, forecast, t.Hours)
	best, _ := Runs(hours, actual, t.Hours)
	if picked < 0 {
		return false
	}
	t.days++
	t.dayMean += Mean(actual)
	t.best += Mean(actual[best : best+t.Hours])
	t.model += Mean(actual[picked : picked+t.Hours])
	return true
}

// Value returns the means so far.
func (t *Tally) Value() Value {
	v := Value{Hours: t.Hours, Days: t.days}
	if d := float64(t.days); d > 0 {
		v.DayMean, v.Best, v.Model = t.dayMean/d, t.best/d, t.model/d
	}
	return v
}
