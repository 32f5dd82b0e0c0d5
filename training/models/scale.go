package models

import (
	"math"
	"sort"
)

// madToSigma turns a median absolute deviation into a standard deviation
// estimate for normal data (1/Φ⁻¹(3/4)), as statsmodels' mad does.
const madToSigma = 1.482602218505602

// scaler is epftoolbox's "invariant" transform (Uniejewski, Weron and
// Ziel 2018): z = asinh((x - median) / MAD), which tames price spikes and
// negative prices alike. It is fitted on training data only.
type scaler struct {
	Median float64 `json:"median"`
	MAD    float64 `json:"mad"`
}

// fitScaler fits a scaler to the finite values of xs. A constant or empty
// column gets MAD 1 so that it scales to zeros instead of infinities.
func fitScaler(xs []float64) scaler {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if finite(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return scaler{Median: 0, MAD: 1}
	}
	med := median(v)
	for i, x := range v {
		v[i] = math.Abs(x - med)
	}
	mad := median(v) * madToSigma
	if mad < 1e-9*math.Max(1, math.Abs(med)) {
		// More than half the values equal the median (solar at night):
		// fall back to the mean absolute deviation.
		var s float64
		for _, x := range v {
			s += x
		}
		mad = s / float64(len(v)) * madToSigma
		if mad < 1e-9*math.Max(1, math.Abs(med)) {
			mad = 1
		}
	}
	return scaler{Median: med, MAD: mad}
}

// median sorts v in place and returns its median.
func median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// fwd scales x; NaN (missing) becomes 0, the median.
func (s scaler) fwd(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return math.Asinh((x - s.Median) / s.MAD)
}

// inv undoes fwd.
func (s scaler) inv(z float64) float64 { return math.Sinh(z)*s.MAD + s.Median }
