package models

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// lassoProblem is a LASSO in covariance form (Friedman, Hastie and
// Tibshirani 2010, "Regularization paths for generalized linear models via
// coordinate descent", section 2.2): with centred X (n×p) and y,
//
//	minimise 1/(2n)·|y - Xβ|² + λ|β|₁
//
// needs only G = XᵀX/n, c = Xᵀy/n and yy = yᵀy/n. G is shared by the 24
// hourly problems of a LEAR fit, which differ only in y; each coordinate
// update then costs O(p) and a whole regularisation path is cheap.
type lassoProblem struct {
	p  int
	n  int
	g  []float64 // p×p, row-major
	c  []float64 // p
	yy float64
}

// lassoSettings control the path. Zero values mean the defaults.
type lassoSettings struct {
	pathLength int     // λ values on the path, default 30
	minRatio   float64 // λ_min/λ_max, default 1e-3
	tol        float64 // stop when no fitted value moves more than tol, default 1e-4
	maxPasses  int     // coordinate-descent sweeps per λ, default 500
	criterion  string  // "aicc" (default), "aic" or "bic"
	// patience stops the path after that many λ values without a better
	// criterion (the criterion is U-shaped along the path); default 8.
	patience int
}

// gram returns XᵀX/n (p×p) and XᵀY/n (p×k) for row-major X (n×p), Y (n×k).
func gram(x []float64, n, p int, y []float64, k int) (g, c []float64) {
	g = make([]float64, p*p)
	c = make([]float64, p*k)
	impl := blas64.Implementation()
	impl.Dgemm(blas.Trans, blas.NoTrans, p, p, n, 1/float64(n), x, p, x, p, 0, g, p)
	impl.Dgemm(blas.Trans, blas.NoTrans, p, k, n, 1/float64(n), x, p, y, k, 0, c, k)
	return g, c
}

// solvePath runs coordinate descent down a log-spaced λ path with warm
// starts and returns the coefficients and λ with the best information
// criterion, n·ln(RSS/n) + k·df (k = 2 for AIC, ln n for BIC), as
// scikit-learn's LassoLarsIC that epftoolbox's LEAR uses, or the corrected
// AIC.
func (lp *lassoProblem) solvePath(s lassoSettings) (best []float64, bestLambda float64) {
	if s.pathLength == 0 {
		s.pathLength = 30
	}
	if s.minRatio == 0 {
		s.minRatio = 1e-3
	}
	if s.tol == 0 {
		s.tol = 1e-4
	}
	if s.maxPasses == 0 {
		s.maxPasses = 500
	}
	if s.patience == 0 {
		s.patience = 8
	}
	p := lp.p
	lmax := 0.0
	for j := 0; j < p; j++ {
		if lp.g[j*p+j] > 0 {
			lmax = math.Max(lmax, math.Abs(lp.c[j]))
		}
	}
	beta := make([]float64, p)
	best = make([]float64, p)
	if lmax == 0 {
		return best, 0
	}
	q := make([]float64, p) // G·β
	n := float64(lp.n)
	ic := func(rss float64, df int) float64 {
		d := float64(df)
		switch s.criterion {
		case "bic":
			return n*math.Log(rss) + math.Log(n)*d
		case "aic":
			return n*math.Log(rss) + 2*d
		}
		// AICc (Hurvich and Tsai 1989): AIC with the small-sample term that
		// stops it from choosing a near-saturated model when p is close to n.
		return n*math.Log(rss) + 2*d + 2*d*(d+1)/(n-d-1)
	}
	bestIC := math.Inf(1)
	// The empty model is a candidate too.
	if rss := lp.yy; rss > 0 {
		bestIC = ic(rss, 0)
		bestLambda = lmax
	}
	worse := 0
	active := make([]int, 0, p)
	for i := 0; i < s.pathLength; i++ {
		lambda := lmax * math.Pow(s.minRatio, float64(i)/float64(s.pathLength-1))
		lp.descend(beta, q, lambda, s, &active)
		df := 0
		var bc, bq float64
		for j, b := range beta {
			if b != 0 {
				df++
				bc += b * lp.c[j]
				bq += b * q[j]
			}
		}
		if df >= lp.n-1 {
			break // saturated: the criterion is meaningless from here on
		}
		rss := lp.yy - 2*bc + bq
		if rss <= 1e-300 {
			break
		}
		if v := ic(rss, df); v < bestIC {
			bestIC, bestLambda, worse = v, lambda, 0
			copy(best, beta)
		} else if worse++; worse >= s.patience {
			break
		}
	}
	return best, bestLambda
}

// descend minimises at one λ from the warm start beta (q = G·beta kept in
// step). It sweeps the active set until it settles, then checks with a full
// sweep, the usual active-set strategy.
func (lp *lassoProblem) descend(beta, q []float64, lambda float64, s lassoSettings, active *[]int) {
	p := lp.p
	sweep := func(idx []int, all bool) float64 {
		maxd := 0.0
		n := p
		if !all {
			n = len(idx)
		}
		for ii := 0; ii < n; ii++ {
			j := ii
			if !all {
				j = idx[ii]
			}
			gjj := lp.g[j*p+j]
			if gjj <= 0 {
				continue
			}
			old := beta[j]
			z := lp.c[j] - q[j] + gjj*old
			nb := 0.0
			if z > lambda {
				nb = (z - lambda) / gjj
			} else if z < -lambda {
				nb = (z + lambda) / gjj
			}
			if d := nb - old; d != 0 {
				beta[j] = nb
				col := lp.g[j*p : (j+1)*p] // G is symmetric: row j is column j
				for i, v := range col {
					q[i] += d * v
				}
				maxd = math.Max(maxd, math.Abs(d)*math.Sqrt(gjj))
			}
		}
		return maxd
	}
	sweeps := 0
	for sweeps < s.maxPasses {
		sweeps++
		if sweep(nil, true) < s.tol {
			return
		}
		*active = (*active)[:0]
		for j, b := range beta {
			if b != 0 {
				*active = append(*active, j)
			}
		}
		for sweeps < s.maxPasses {
			sweeps++
			if sweep(*active, false) < s.tol {
				break
			}
		}
	}
}
