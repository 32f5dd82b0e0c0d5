package models

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/wattcast/wattcast/schemas"
)

// LEARParams are the LEAR hyperparameters. Zero values mean the defaults.
type LEARParams struct {
	// Windows are the calibration windows in days; the forecast is the
	// mean of one LASSO per window. Default 56, 84, 1092, 1456: the
	// epftoolbox LEAR ensemble. A window longer than the data uses all of
	// it; windows that end up identical are fitted once.
	Windows []int `json:"windows,omitempty"`
	// Criterion chooses λ on each hour's path: "aicc" (default, the
	// corrected AIC), "aic" (epftoolbox's choice, which overfits when a
	// short window has about as many days as inputs) or "bic".
	Criterion string `json:"criterion,omitempty"`
	// PathLength is the number of λ values, log-spaced from the smallest λ
	// that zeroes every coefficient down to MinRatio times it. Default 30.
	PathLength int `json:"path_length,omitempty"`
	// MinRatio defaults to 1e-3.
	MinRatio float64 `json:"min_ratio,omitempty"`
}

func (p LEARParams) withDefaults() LEARParams {
	if len(p.Windows) == 0 {
		p.Windows = []int{56, 84, 1092, 1456}
	}
	if p.Criterion == "" {
		p.Criterion = "aicc"
	}
	return p
}

// minLEARDays is the fewest complete training days a window may have.
const minLEARDays = 28

// LEAR is epftoolbox's Lasso Estimated AutoRegressive model (Lago, Marcjasz,
// De Schutter and Weron 2021): for each hour of the day, a LASSO on the
// prices of D-1, D-2, D-3 and D-7 (all 24 hours each), the known-ahead
// values of D, D-1 and D-7, the observed values of D-1 (hours observed by
// the issue time; earlier days fill the rest), day-of-week dummies and a
// holiday flag. Inputs and prices are scaled with the invariant asinh
// transform fitted on the calibration window; λ is chosen per hour by an
// information criterion; several calibration windows are averaged.
type LEAR struct {
	Known    []string  `json:"known"`
	Observed []string  `json:"observed"`
	Fits     []learFit `json:"fits"`
}

type learFit struct {
	Window  int              `json:"window_days"`
	Days    int              `json:"days"`
	X       []scaler         `json:"x_scale"`
	XMean   []float64        `json:"x_mean"`
	Y       [Slots]scaler    `json:"y_scale"`
	YMean   [Slots]float64   `json:"y_mean"`
	Lambda  [Slots]float64   `json:"lambda"`
	Coef    [Slots][]float64 `json:"coef"`
	NonZero [Slots]int       `json:"non_zero"`
}

// Kind implements Model.
func (*LEAR) Kind() string { return KindLEAR }

// HistoryDays implements Model.
func (*LEAR) HistoryDays() int { return 7 }

func (m *LEAR) check() error {
	p := len(learFeatureNames(m.Known, m.Observed))
	if len(m.Fits) == 0 {
		return errors.New("models: lear has no fitted window")
	}
	for _, f := range m.Fits {
		if len(f.X) != p || len(f.XMean) != p {
			return fmt.Errorf("models: lear window %d has %d inputs; want %d", f.Window, len(f.X), p)
		}
		for s := range f.Coef {
			if len(f.Coef[s]) != p {
				return fmt.Errorf("models: lear window %d hour %d has %d coefficients; want %d", f.Window, s, len(f.Coef[s]), p)
			}
		}
	}
	return nil
}

// Predict implements Model.
func (m *LEAR) Predict(day Day) ([]float64, error) {
	p, t, err := prepare(day, m.Known, m.Observed, 7)
	if err != nil {
		return nil, err
	}
	if t < 7 || !hasPrices(p, t) {
		return nil, ErrNoHistory
	}
	x := make([]float64, len(m.Fits[0].X))
	learFeatures(p, t, x)
	var pred [Slots]float64
	z := make([]float64, len(x))
	for _, f := range m.Fits {
		for j, v := range x {
			z[j] = f.X[j].fwd(v) - f.XMean[j]
		}
		for s := 0; s < Slots; s++ {
			y := f.YMean[s]
			for j, c := range f.Coef[s] {
				if c != 0 {
					y += c * z[j]
				}
			}
			pred[s] += f.Y[s].inv(y) / float64(len(m.Fits))
		}
	}
	return toRows(pred, day.Target)
}

// hasPrices reports whether some price is known for the week before t.
func hasPrices(p *panel, t int) bool {
	for s := 0; s < Slots; s++ {
		if !math.IsNaN(p.price(t-1, s, t)) {
			return true
		}
	}
	return false
}

// learFeatureNames names LEAR's inputs, in learFeatures' order.
func learFeatureNames(known, observed []string) []string {
	var names []string
	slots := func(prefix string) {
		for s := 0; s < Slots; s++ {
			names = append(names, fmt.Sprintf("%s[h%02d]", prefix, s))
		}
	}
	for _, lag := range []int{1, 2, 3, 7} {
		slots(fmt.Sprintf("price(D-%d)", lag))
	}
	for _, k := range known {
		slots(k + "(D)")
		slots(k + "(D-1)")
		slots(k + "(D-7)")
	}
	for _, o := range observed {
		slots(o + "(D-1,observed)")
	}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		names = append(names, "weekday="+d)
	}
	return append(names, "holiday")
}

// learFeatures writes the inputs for target day t into x (raw units, NaN
// where unknown). t must be at least 7.
func learFeatures(p *panel, t int, x []float64) {
	i := 0
	for _, lag := range []int{1, 2, 3, 7} {
		for s := 0; s < Slots; s++ {
			x[i] = p.price(t-lag, s, t)
			i++
		}
	}
	for j := range p.known {
		for _, lag := range []int{0, 1, 7} {
			for s := 0; s < Slots; s++ {
				x[i] = p.knownVar(j, t-lag, s)
				i++
			}
		}
	}
	for j := range p.observed {
		for s := 0; s < Slots; s++ {
			x[i] = p.obsVar(j, t-1, s, t)
			i++
		}
	}
	wd := p.days[t].weekday
	for d := 1; d <= 7; d++ {
		x[i] = b2f(wd == d)
		i++
	}
	x[i] = b2f(p.days[t].holiday)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// trainingDays lists the days of p usable as targets: complete prices and
// at least minLag days before them in the panel.
func trainingDays(p *panel, minLag int) []int {
	var ts []int
	for t := minLag; t < len(p.days); t++ {
		if _, ok := p.targetPrices(t); ok {
			ts = append(ts, t)
		}
	}
	return ts
}

func fitLEAR(ctx context.Context, params LEARParams, rows []schemas.FeatureRow, opts FitOptions) (*LEAR, FitInfo, error) {
	params = params.withDefaults()
	switch params.Criterion {
	case "aic", "aicc", "bic":
	default:
		return nil, FitInfo{}, fmt.Errorf("models: lear criterion %q; want aicc, aic or bic", params.Criterion)
	}
	known, observed := variables(rows)
	p, err := buildPanel(rows, known, observed)
	if err != nil {
		return nil, FitInfo{}, err
	}
	ts := trainingDays(p, 7)
	if len(ts) < minLEARDays {
		return nil, FitInfo{}, fmt.Errorf("models: lear needs at least %d complete days with a week of history before each; got %d", minLEARDays, len(ts))
	}
	m := &LEAR{Known: known, Observed: observed}
	names := learFeatureNames(known, observed)
	np := len(names)
	windows := append([]int(nil), params.Windows...)
	sort.Ints(windows)
	last := ts[len(ts)-1]
	type window struct {
		days int
		sel  []int
	}
	var sels []window
	for _, w := range windows {
		if w < minLEARDays {
			return nil, FitInfo{}, fmt.Errorf("models: lear window %d days; want at least %d", w, minLEARDays)
		}
		var sel []int
		for _, t := range ts {
			if t > last-w {
				sel = append(sel, t)
			}
		}
		if len(sels) > 0 && len(sels[len(sels)-1].sel) == len(sel) {
			continue // same days as the previous window
		}
		sels = append(sels, window{w, sel})
	}
	// Raw inputs of every training day, computed once for all windows.
	raw := make(map[int][]float64, len(ts))
	longest := sels[len(sels)-1].sel
	for _, t := range longest {
		x := make([]float64, np)
		learFeatures(p, t, x)
		raw[t] = x
	}
	total := len(sels) * Slots
	done := 0
	for _, w := range sels {
		if err := ctx.Err(); err != nil {
			return nil, FitInfo{}, fmt.Errorf("models: lear fit: %w", err)
		}
		sel := w.sel
		f := learFit{Window: w.days, Days: len(sel)}
		n := len(sel)
		x := make([]float64, n*np)
		y := make([]float64, n*Slots)
		col := make([]float64, n)
		f.X = make([]scaler, np)
		f.XMean = make([]float64, np)
		for j := 0; j < np; j++ {
			for i, t := range sel {
				col[i] = raw[t][j]
			}
			f.X[j] = fitScaler(col)
			var sum float64
			for i := range col {
				v := f.X[j].fwd(col[i])
				x[i*np+j] = v
				sum += v
			}
			f.XMean[j] = sum / float64(n)
			for i := range col {
				x[i*np+j] -= f.XMean[j]
			}
		}
		for s := 0; s < Slots; s++ {
			for i, t := range sel {
				col[i] = p.days[t].price[s]
			}
			f.Y[s] = fitScaler(col)
			var sum float64
			for i := range col {
				v := f.Y[s].fwd(col[i])
				y[i*Slots+s] = v
				sum += v
			}
			f.YMean[s] = sum / float64(n)
			for i := range col {
				y[i*Slots+s] -= f.YMean[s]
			}
		}
		g, c := gram(x, n, np, y, Slots)
		for s := 0; s < Slots; s++ {
			if err := ctx.Err(); err != nil {
				return nil, FitInfo{}, fmt.Errorf("models: lear fit: %w", err)
			}
			lp := &lassoProblem{p: np, n: n, g: g, c: make([]float64, np)}
			for j := 0; j < np; j++ {
				lp.c[j] = c[j*Slots+s]
			}
			for i := 0; i < n; i++ {
				v := y[i*Slots+s]
				lp.yy += v * v / float64(n)
			}
			beta, lambda := lp.solvePath(lassoSettings{pathLength: params.PathLength, minRatio: params.MinRatio, criterion: params.Criterion})
			f.Coef[s], f.Lambda[s] = beta, lambda
			for _, b := range beta {
				if b != 0 {
					f.NonZero[s]++
				}
			}
			done++
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		}
		m.Fits = append(m.Fits, f)
	}
	info := FitInfo{Days: len(longest), Features: names, Status: "converged"}
	info.From = p.days[longest[0]].date.Format("2006-01-02")
	info.To = p.days[last].date.Format("2006-01-02")
	return m, info, nil
}
