package backtest

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Metrics summarise errors over a set of hours.
type Metrics struct {
	N    int     `json:"n"`
	MAE  float64 `json:"mae"`
	RMSE float64 `json:"rmse"`
	// SMAPE is the symmetric MAPE in percent, 100·mean(2|y-ŷ| / (|y|+|ŷ|)),
	// as epftoolbox defines it (an hour with y = ŷ = 0 counts as 0).
	SMAPE float64 `json:"smape"`
	// RMAE is MAE over the MAE of the weekly naive forecast on the same
	// hours; NaN when that is zero. Every metric is NaN over no hours.
	// JSON writes NaN as null (json.go).
	RMAE float64 `json:"rmae"`
}

// acc accumulates errors.
type acc struct {
	n              int
	abs, sq, smape float64
	naiveAbs       float64
}

func (a *acc) add(pred, actual, naive float64) {
	e := pred - actual
	a.n++
	a.abs += math.Abs(e)
	a.sq += e * e
	if d := math.Abs(actual) + math.Abs(pred); d > 0 {
		a.smape += 2 * math.Abs(e) / d
	}
	a.naiveAbs += math.Abs(naive - actual)
}

func (a *acc) metrics() Metrics {
	if a.n == 0 {
		return Metrics{MAE: math.NaN(), RMSE: math.NaN(), SMAPE: math.NaN(), RMAE: math.NaN()}
	}
	n := float64(a.n)
	m := Metrics{N: a.n, MAE: a.abs / n, RMSE: math.Sqrt(a.sq / n), SMAPE: 100 * a.smape / n, RMAE: math.NaN()}
	if a.naiveAbs > 0 {
		m.RMAE = a.abs / a.naiveAbs
	}
	return m
}

// DMResult is the outcome of a Diebold-Mariano test.
type DMResult struct {
	// Stat is the DM statistic; positive when the second forecast has the
	// smaller loss.
	Stat float64 `json:"stat"`
	// PValue is the one-sided p-value of H1 "the second forecast is more
	// accurate than the first": a value below 0.05 says it is, at 5%.
	PValue float64 `json:"p_value"`
	// N is the number of loss differentials (days, or hours).
	N int `json:"n"`
	// MeanDiff is the mean loss of the first minus that of the second.
	MeanDiff float64 `json:"mean_diff"`
}

// ErrTooLittleHistory is returned by Run when the data before the test
// period is too short to fit and calibrate the models.
var ErrTooLittleHistory = errors.New("backtest: too little history before the test period")

// ErrTooFewPairs is returned by the Diebold-Mariano tests when there are
// fewer than 2 differentials or they have no variance.
var ErrTooFewPairs = errors.New("backtest: diebold-mariano needs at least 2 paired errors with non-zero variance")

// DieboldMariano is the multivariate Diebold-Mariano test of epftoolbox
// (Lago et al. 2021, section 3.4): for each day t, the loss differential is
// d_t = mean_h |e1_th|^norm - mean_h |e2_th|^norm over the day's hours, so
// that the 24 correlated hourly errors of a day-ahead forecast count as one
// observation. errs1 and errs2 hold forecast errors per day, paired
// (errs1[t][h] and errs2[t][h] for the same hour); norm is 1 (absolute) or
// 2 (squared) loss. DM = mean(d) / sqrt(var(d)/N), compared with N(0,1);
// the day-ahead differentials are one step apart, so no autocovariance
// terms are added.
func DieboldMariano(errs1, errs2 [][]float64, norm int) (DMResult, error) {
	if len(errs1) != len(errs2) {
		return DMResult{}, fmt.Errorf("backtest: diebold-mariano got %d and %d days; pair them", len(errs1), len(errs2))
	}
	d := make([]float64, 0, len(errs1))
	for t := range errs1 {
		if len(errs1[t]) != len(errs2[t]) || len(errs1[t]) == 0 {
			return DMResult{}, fmt.Errorf("backtest: diebold-mariano day %d has %d and %d errors; pair them", t, len(errs1[t]), len(errs2[t]))
		}
		var l1, l2 float64
		for h := range errs1[t] {
			l1 += loss(errs1[t][h], norm)
			l2 += loss(errs2[t][h], norm)
		}
		n := float64(len(errs1[t]))
		d = append(d, l1/n-l2/n)
	}
	return dmFromDiffs(d, 0)
}

// DieboldMarianoSeries is the univariate test on paired errors e1 and e2
// (one per hour, say), with a Newey-West long-run variance over lags
// autocovariances (h-1 for an h-step-ahead forecast; 0 for none).
func DieboldMarianoSeries(e1, e2 []float64, norm, lags int) (DMResult, error) {
	if len(e1) != len(e2) {
		return DMResult{}, fmt.Errorf("backtest: diebold-mariano got %d and %d errors; pair them", len(e1), len(e2))
	}
	d := make([]float64, len(e1))
	for i := range e1 {
		d[i] = loss(e1[i], norm) - loss(e2[i], norm)
	}
	return dmFromDiffs(d, lags)
}

func loss(e float64, norm int) float64 {
	if norm == 2 {
		return e * e
	}
	return math.Abs(e)
}

func dmFromDiffs(d []float64, lags int) (DMResult, error) {
	n := len(d)
	if n < 2 {
		return DMResult{N: n}, ErrTooFewPairs
	}
	var mean float64
	for _, v := range d {
		mean += v
	}
	mean /= float64(n)
	gamma := func(k int) float64 {
		var s float64
		for i := k; i < n; i++ {
			s += (d[i] - mean) * (d[i-k] - mean)
		}
		return s / float64(n)
	}
	v := gamma(0)
	for k := 1; k <= lags && k < n; k++ {
		v += 2 * (1 - float64(k)/float64(lags+1)) * gamma(k)
	}
	if v <= 0 {
		return DMResult{N: n, MeanDiff: mean}, ErrTooFewPairs
	}
	stat := mean / math.Sqrt(v/float64(n))
	return DMResult{Stat: stat, PValue: 1 - distuv.UnitNormal.CDF(stat), N: n, MeanDiff: mean}, nil
}
