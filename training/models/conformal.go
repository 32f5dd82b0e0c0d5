package models

import (
	"math"
	"sort"
)

// Conformal turns calibration residuals into prediction intervals, per
// slot (hour of day), by split conformal prediction (Vovk et al. 2005;
// Lei et al. 2018): with n absolute residuals |actual - forecast| from
// forecasts the model did not train on, the interval forecast ± q, q the
// ⌈(n+1)·level⌉-th smallest, covers a new actual with probability at least
// level when the errors are exchangeable. Keeping only the latest Window
// residuals per slot (a rolling calibration set) tracks changing volatility.
//
// The zero value keeps every residual. Not safe for concurrent use.
type Conformal struct {
	// Window is how many residuals per slot are kept; 0 keeps all.
	Window int `json:"window"`
	// Residuals holds actual minus forecast per slot, oldest first.
	Residuals [Slots][]float64 `json:"residuals"`
}

// Add records a residual (actual - forecast) for slot.
func (c *Conformal) Add(slot int, residual float64) {
	if slot < 0 || slot >= Slots || !finite(residual) {
		return
	}
	r := append(c.Residuals[slot], residual)
	if c.Window > 0 && len(r) > c.Window {
		r = r[len(r)-c.Window:]
	}
	c.Residuals[slot] = r
}

// N is the number of residuals held for slot.
func (c *Conformal) N(slot int) int { return len(c.Residuals[slot]) }

// HalfWidth returns q for a central interval of the given level (e.g. 0.9)
// at slot, and false when there are too few residuals for that level
// (fewer than 1/(1-level) - 1): the honest interval is then unbounded.
func (c *Conformal) HalfWidth(slot int, level float64) (float64, bool) {
	r := c.Residuals[slot]
	n := len(r)
	if n == 0 || level <= 0 || level >= 1 {
		return math.Inf(1), false
	}
	k := int(math.Ceil(float64(n+1) * level))
	if k > n {
		return math.Inf(1), false
	}
	abs := make([]float64, n)
	for i, v := range r {
		abs[i] = math.Abs(v)
	}
	sort.Float64s(abs)
	return abs[k-1], true
}

// Quantile returns the q-quantile of the signed residuals at slot (linear
// interpolation), so that forecast + Quantile(slot, q) is a quantile
// forecast; false when slot has no residuals.
func (c *Conformal) Quantile(slot int, q float64) (float64, bool) {
	r := append([]float64(nil), c.Residuals[slot]...)
	if len(r) == 0 || q < 0 || q > 1 {
		return 0, false
	}
	sort.Float64s(r)
	pos := q * float64(len(r)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(r)-1)
	return r[lo] + (pos-float64(lo))*(r[hi]-r[lo]), true
}
