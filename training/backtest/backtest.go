package backtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sort"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/training/decision"
	"github.com/wattcast/wattcast/training/models"
	"github.com/wattcast/wattcast/training/progress"
)

// Config configures Run. Zero values mean the defaults.
type Config struct {
	// TestStart and TestEnd bound the test period, local delivery dates
	// YYYY-MM-DD, both included.
	TestStart, TestEnd string
	// RecalibrateEvery refits each model every that many days; default 1
	// (daily, as epftoolbox). Per-kind overrides go in RecalibrateKind.
	RecalibrateEvery int
	// RecalibrateKind overrides RecalibrateEvery for a model kind, e.g.
	// {"gru": 91}: a network is expensive to refit daily.
	RecalibrateKind map[string]int
	// WarmStart refits weighted models (the GRU) from the previous fit's
	// weights, with fewer epochs.
	WarmStart bool
	// TrainWindowDays limits each fit to the latest days before the
	// forecast day; 0 (default) uses all of them.
	TrainWindowDays int
	// CalibrationDays is the conformal calibration set (and warm-up) in
	// days; default 28.
	CalibrationDays int
	// Levels are the central prediction-interval levels; default 0.5, 0.8, 0.9.
	Levels []float64
	// WindowHours is the load the decision value is measured for: each
	// day, the model's cheapest run of that many hours priced at the
	// actual prices (package decision); default 3, a home battery's
	// charge.
	WindowHours int
	// Seed seeds every fit (fit k of a model uses Seed + k).
	Seed uint64
	// Progress, when set, gets a progress bar per model.
	Progress io.Writer
	// Log, when set, gets one line per fit.
	Log *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.RecalibrateEvery == 0 {
		c.RecalibrateEvery = 1
	}
	if c.CalibrationDays == 0 {
		c.CalibrationDays = 28
	}
	if len(c.Levels) == 0 {
		c.Levels = []float64{0.5, 0.8, 0.9}
	}
	if c.WindowHours == 0 {
		c.WindowHours = 3
	}
	if c.WindowHours < 0 || c.WindowHours > 24 {
		return c, fmt.Errorf("backtest: window of %d hours: want 1 to 24", c.WindowHours)
	}
	if c.RecalibrateEvery < 0 || c.CalibrationDays < 0 || c.TrainWindowDays < 0 {
		return c, errors.New("backtest: recalibration, calibration and window days must not be negative")
	}
	for _, l := range c.Levels {
		if l <= 0 || l >= 1 {
			return c, fmt.Errorf("backtest: interval level %g is not in (0, 1)", l)
		}
	}
	if _, err := time.Parse(time.DateOnly, c.TestStart); err != nil {
		return c, fmt.Errorf("backtest: test start %q: want YYYY-MM-DD", c.TestStart)
	}
	if _, err := time.Parse(time.DateOnly, c.TestEnd); err != nil {
		return c, fmt.Errorf("backtest: test end %q: want YYYY-MM-DD", c.TestEnd)
	}
	if c.TestEnd < c.TestStart {
		return c, fmt.Errorf("backtest: test end %s is before test start %s", c.TestEnd, c.TestStart)
	}
	return c, nil
}

// Interval reports a prediction-interval level's measured coverage.
type Interval struct {
	Level float64 `json:"level"`
	// Coverage is the share of test hours whose actual price fell inside.
	Coverage float64 `json:"coverage"`
	// MeanWidth is the mean interval width, in price units.
	MeanWidth float64 `json:"mean_width"`
	// Unbounded counts hours with too few calibration residuals for this
	// level (counted as covered, with no width).
	Unbounded int `json:"unbounded,omitempty"`
}

// ModelResult is one model's backtest.
type ModelResult struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Spec is what was fitted.
	Spec    models.Spec           `json:"spec"`
	Overall Metrics               `json:"overall"`
	ByHour  [models.Slots]Metrics `json:"by_hour"`
	// Intervals are the conformal intervals' measured coverage.
	Intervals []Interval `json:"intervals"`
	// Window is what following the model's cheapest Config.WindowHours
	// hours each test day was worth at the actual prices.
	Window decision.Value `json:"window"`
	// Calibration is the conformal state at the end of the run: the
	// residuals a live forecast would use next.
	Calibration *models.Conformal `json:"calibration,omitempty"`
	// Fits is how many times the model was (re)fitted; FitTime their total
	// wall time, EpochTime the mean epoch time of iterative fits.
	Fits      int           `json:"fits"`
	FitTime   time.Duration `json:"fit_time_ns"`
	EpochTime time.Duration `json:"epoch_time_ns,omitempty"`
	// PredictTime is the mean wall time of one day's forecast.
	PredictTime time.Duration `json:"predict_time_ns"`
	// LastFit is the report of the last fit.
	LastFit models.FitInfo `json:"last_fit"`
	// Errors holds forecast minus actual per scored day and row, for
	// Diebold-Mariano tests between models.
	Errors [][]float64 `json:"-"`
}

// Result is a region's backtest.
type Result struct {
	Region string `json:"region"`
	Market string `json:"market"`
	Unit   string `json:"unit"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Days lists the scored days; Skipped the test days left out (with no
	// complete actuals, or a model that could not forecast them).
	Days    []string          `json:"days"`
	Skipped map[string]string `json:"skipped,omitempty"`
	Models  []ModelResult     `json:"models"`
}

// Model returns the result of the model named name, or nil.
func (r *Result) Model(name string) *ModelResult {
	for i := range r.Models {
		if r.Models[i].Name == name {
			return &r.Models[i]
		}
	}
	return nil
}

// DM runs DieboldMariano (absolute loss) of model a against model b on
// their paired daily errors: a small p-value says b is more accurate.
func (r *Result) DM(a, b string) (DMResult, error) {
	ma, mb := r.Model(a), r.Model(b)
	if ma == nil || mb == nil {
		return DMResult{}, fmt.Errorf("backtest: no model %q or %q in the result", a, b)
	}
	return DieboldMariano(ma.Errors, mb.Errors, 1)
}

// day is one local date's rows.
type day struct {
	date  string
	lo    int // index of the day's first row in rows
	hi    int
	rows  []schemas.FeatureRow
	ready []schemas.FeatureRow
}

// forecast is one model's forecast of one day.
type forecast struct {
	pred []float64
	err  error
}

// Run backtests specs on rows: final feature rows of one region (any order).
// An ensemble spec whose members are all among specs (by Name) is computed
// from their forecasts instead of being fitted again.
func Run(ctx context.Context, rows []schemas.FeatureRow, specs []models.Spec, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errors.New("backtest: no feature rows")
	}
	rows = append([]schemas.FeatureRow(nil), rows...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Hour.Before(rows[j].Hour) })
	region := rows[0].Region
	var days []day
	for i := range rows {
		r := &rows[i]
		if r.Region != region {
			return nil, fmt.Errorf("backtest: rows of regions %q and %q mixed; run one region at a time", region, r.Region)
		}
		if !r.Final || r.Price == nil {
			return nil, fmt.Errorf("backtest: row %s %s is not final; backtests need actual prices", r.Region, r.Hour.Format(time.RFC3339))
		}
		if n := len(days); n == 0 || days[n-1].date != r.LocalDate {
			if n > 0 && r.LocalDate < days[n-1].date {
				return nil, fmt.Errorf("backtest: local dates out of order at %s", r.Hour.Format(time.RFC3339))
			}
			if n > 0 {
				days[n-1].hi = i
			}
			days = append(days, day{date: r.LocalDate, lo: i})
		}
	}
	days[len(days)-1].hi = len(rows)
	for i := range days {
		d := &days[i]
		d.rows = rows[d.lo:d.hi]
		d.ready = make([]schemas.FeatureRow, len(d.rows))
		for j, r := range d.rows {
			r.Final, r.Price, r.Observed = false, nil, nil
			d.ready[j] = r
		}
	}
	first := sort.Search(len(days), func(i int) bool { return days[i].date >= cfg.TestStart })
	end := sort.Search(len(days), func(i int) bool { return days[i].date > cfg.TestEnd })
	if first >= end {
		return nil, fmt.Errorf("backtest: no data between %s and %s (data: %s .. %s)", cfg.TestStart, cfg.TestEnd, days[0].date, days[len(days)-1].date)
	}
	start := max(0, first-cfg.CalibrationDays) // warm-up for the conformal sets
	if start < 7+1 {
		return nil, fmt.Errorf("%w: only %d days before the test period; models need at least 8 plus %d of calibration", ErrTooLittleHistory, first, cfg.CalibrationDays)
	}

	res := &Result{Region: region, Market: rows[0].Market, Unit: rows[0].Unit, From: days[first].date, To: days[end-1].date, Skipped: map[string]string{}}
	names := map[string]bool{}
	for _, s := range specs {
		names[s.Name()] = true
	}
	derived := func(s models.Spec) bool {
		if s.Kind != models.KindEnsemble {
			return false
		}
		ms := s.Members
		if len(ms) == 0 {
			ms = models.DefaultEnsemble()
		}
		for _, m := range ms {
			if !names[m.Name()] {
				return false
			}
		}
		return true
	}

	// Forecasts per model and day (start..end-1).
	fc := make(map[string][]forecast, len(specs)+1)
	results := map[string]*ModelResult{}
	naiveName := models.KindNaiveWeekly
	toRun := append([]models.Spec(nil), specs...)
	if !names[naiveName] {
		toRun = append(toRun, models.Spec{Kind: models.KindNaiveWeekly}) // rMAE's reference
	}
	for si, spec := range toRun {
		if derived(spec) {
			continue
		}
		mr, f, err := runModel(ctx, spec, si, rows, days, start, end, cfg)
		if err != nil {
			return nil, err
		}
		fc[spec.Name()] = f
		results[spec.Name()] = mr
	}
	for _, spec := range specs {
		if !derived(spec) {
			continue
		}
		ms := spec.Members
		if len(ms) == 0 {
			ms = models.DefaultEnsemble()
		}
		f := make([]forecast, end-start)
		mr := &ModelResult{Name: spec.Name(), Kind: spec.Kind, Spec: spec}
		for i := range f {
			for _, m := range ms {
				mf := fc[m.Name()][i]
				if mf.err != nil {
					f[i] = forecast{err: mf.err}
					break
				}
				if f[i].pred == nil {
					f[i].pred = make([]float64, len(mf.pred))
				}
				for j, v := range mf.pred {
					f[i].pred[j] += v / float64(len(ms))
				}
			}
			if f[i].err != nil {
				f[i].pred = nil
			}
		}
		for _, m := range ms {
			r := results[m.Name()]
			mr.Fits += r.Fits
			mr.FitTime += r.FitTime
			mr.PredictTime += r.PredictTime
		}
		fc[spec.Name()] = f
		results[spec.Name()] = mr
	}

	// Score the days every model forecast, with the same hours for all.
	type modelAcc struct {
		all    acc
		byHour [models.Slots]acc
		cal    models.Conformal
		cov    []int
		width  []float64
		unb    []int
		n      int
		window decision.Tally
	}
	accs := map[string]*modelAcc{}
	for name := range fc {
		a := &modelAcc{cal: models.Conformal{Window: cfg.CalibrationDays}, cov: make([]int, len(cfg.Levels)), width: make([]float64, len(cfg.Levels)), unb: make([]int, len(cfg.Levels)),
			window: decision.Tally{Hours: cfg.WindowHours}}
		accs[name] = a
	}
	naive := fc[naiveName]
	for i := start; i < end; i++ {
		k := i - start
		d := &days[i]
		test := i >= first
		ok := true
		reason := ""
		for name, f := range fc {
			if f[k].err != nil {
				ok, reason = false, fmt.Sprintf("%s: %v", name, f[k].err)
				break
			}
		}
		if !ok {
			if test {
				res.Skipped[d.date] = reason
			}
			continue
		}
		// The day's hours and prices, for every model's window value.
		hours, prices := make([]time.Time, len(d.rows)), make([]float64, len(d.rows))
		for j, r := range d.rows {
			hours[j], prices[j] = r.Hour, *r.Price
		}
		if test {
			res.Days = append(res.Days, d.date)
		}
		for name, f := range fc {
			a := accs[name]
			errs := make([]float64, len(d.rows))
			for j, r := range d.rows {
				pred, actual := f[k].pred[j], *r.Price
				errs[j] = pred - actual
				if test {
					a.all.add(pred, actual, naive[k].pred[j])
					a.byHour[r.LocalHour].add(pred, actual, naive[k].pred[j])
					for li, lv := range cfg.Levels {
						q, bounded := a.cal.HalfWidth(r.LocalHour, lv)
						if !bounded {
							a.unb[li]++
							a.cov[li]++
							continue
						}
						a.width[li] += 2 * q
						if math.Abs(actual-pred) <= q {
							a.cov[li]++
						}
					}
					a.n++
				}
			}
			// Residuals enter the calibration set only after the day is
			// scored: the day's actuals were not known at its issue time.
			for j, r := range d.rows {
				a.cal.Add(r.LocalHour, -errs[j])
			}
			if test {
				results[name].Errors = append(results[name].Errors, errs)
				a.window.Add(hours, f[k].pred, prices)
			}
		}
	}
	emit := append([]models.Spec(nil), specs...)
	if !names[naiveName] {
		emit = append(emit, models.Spec{Kind: models.KindNaiveWeekly})
	}
	for _, spec := range emit {
		name := spec.Name()
		mr, a := results[name], accs[name]
		mr.Overall = a.all.metrics()
		for h := range mr.ByHour {
			mr.ByHour[h] = a.byHour[h].metrics()
		}
		for li, lv := range cfg.Levels {
			iv := Interval{Level: lv, Unbounded: a.unb[li]}
			if a.n > 0 {
				iv.Coverage = float64(a.cov[li]) / float64(a.n)
			}
			if b := a.n - a.unb[li]; b > 0 {
				iv.MeanWidth = a.width[li] / float64(b)
			}
			mr.Intervals = append(mr.Intervals, iv)
		}
		mr.Window = a.window.Value()
		cal := a.cal
		mr.Calibration = &cal
		res.Models = append(res.Models, *mr)
	}
	if len(res.Days) == 0 {
		return res, errors.New("backtest: no test day could be scored; see Result.Skipped")
	}
	return res, nil
}

// runModel forecasts days[start:end] with spec, refitting every k days on
// the rows before the forecast day.
func runModel(ctx context.Context, spec models.Spec, si int, rows []schemas.FeatureRow, days []day, start, end int, cfg Config) (*ModelResult, []forecast, error) {
	k := cfg.RecalibrateEvery
	if v, ok := cfg.RecalibrateKind[spec.Kind]; ok && v > 0 {
		k = v
	}
	mr := &ModelResult{Name: spec.Name(), Kind: spec.Kind, Spec: spec}
	out := make([]forecast, end-start)
	bar := progress.New(cfg.Progress, fmt.Sprintf("%-16s %s", spec.Name(), days[0].rows[0].Region), end-start)
	defer bar.Done()
	var (
		m        models.Model
		epochSum time.Duration
		epochN   int
		predTime time.Duration
	)
	for i := start; i < end; i++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("backtest: %w", err)
		}
		if m == nil || (i-start)%k == 0 {
			lo := 0
			if cfg.TrainWindowDays > 0 {
				lo = days[max(0, i-cfg.TrainWindowDays)].lo
			}
			opts := models.FitOptions{Seed: cfg.Seed + uint64(mr.Fits) + uint64(si)<<32}
			if cfg.WarmStart {
				opts.Init = m
			}
			fm, info, err := models.Fit(ctx, spec, rows[lo:days[i].lo], opts)
			if err != nil {
				return nil, nil, fmt.Errorf("backtest: fit %s before %s: %w", spec.Name(), days[i].date, err)
			}
			m = fm
			mr.Fits++
			mr.FitTime += info.Duration
			mr.LastFit = info
			if info.Epochs > 0 {
				epochSum += info.EpochTime * time.Duration(info.Epochs)
				epochN += info.Epochs
			}
			if cfg.Log != nil {
				cfg.Log.Info("fitted", "model", spec.Name(), "before", days[i].date, "days", info.Days, "epochs", info.Epochs,
					"status", info.Status, "val_mae", info.ValLoss, "took", info.Duration.Round(time.Millisecond))
			}
		}
		hd := m.HistoryDays() + 8
		hist := rows[days[max(0, i-hd)].lo:days[i].lo]
		t0 := time.Now()
		pred, err := m.Predict(models.Day{History: hist, Target: days[i].ready})
		predTime += time.Since(t0)
		out[i-start] = forecast{pred: pred, err: err}
		bar.Add(1)
	}
	mr.PredictTime = predTime / time.Duration(end-start)
	if epochN > 0 {
		mr.EpochTime = epochSum / time.Duration(epochN)
	}
	return mr, out, nil
}
