package models

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wattcast/wattcast/schemas"
)

func TestNaiveForecasts(t *testing.T) {
	t.Parallel()
	rows := synthRows(t, synthOpts{zone: "Europe/Helsinki", start: "2023-01-02", days: 21, seed: 3, noise: 5})
	priceAt := map[string]map[int]float64{}
	for _, r := range rows {
		if priceAt[r.LocalDate] == nil {
			priceAt[r.LocalDate] = map[int]float64{}
		}
		priceAt[r.LocalDate][r.LocalHour] = *r.Price
	}
	tests := []struct {
		name  string
		model Model
		date  string // target
		from  string // the day its forecast must copy
	}{
		{"weekly naive copies a week back", NaiveWeekly{}, "2023-01-18", "2023-01-11"},
		{"standard naive on a Wednesday copies yesterday", NaiveStandard{}, "2023-01-18", "2023-01-17"},
		{"standard naive on a Monday copies a week back", NaiveStandard{}, "2023-01-16", "2023-01-09"},
		{"standard naive on a Saturday copies a week back", NaiveStandard{}, "2023-01-21", "2023-01-14"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hist, target := splitDay(rows, tc.date)
			// Hand in final rows: Predict must ignore their prices.
			got, err := tc.model.Predict(Day{History: hist, Target: target})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range target {
				if want := priceAt[tc.from][r.LocalHour]; got[i] != want {
					t.Errorf("hour %d: %v; want %v (price of %s)", r.LocalHour, got[i], want, tc.from)
				}
			}
		})
	}
}

func TestNaiveWithoutHistoryFails(t *testing.T) {
	t.Parallel()
	rows := synthRows(t, synthOpts{zone: "Europe/Helsinki", start: "2023-01-02", days: 3, seed: 3})
	hist, target := splitDay(rows, "2023-01-04")
	_, err := NaiveWeekly{}.Predict(Day{History: hist, Target: readyRows(target)})
	if !errors.Is(err, ErrNoHistory) {
		t.Fatalf("err = %v; want ErrNoHistory", err)
	}
}

// A 25-hour target day gets 25 forecasts, the repeated hour twice.
func TestPredictOnClockChangeDays(t *testing.T) {
	t.Parallel()
	rows := synthRows(t, synthOpts{zone: "Europe/Helsinki", start: "2023-09-01", days: 70, seed: 4, noise: 3})
	m, _, err := Fit(context.Background(), Spec{Kind: KindLEAR, LEAR: &LEARParams{Windows: []int{56}}}, rows[:len(rows)-10*24], FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, date := range []string{"2023-10-29", "2023-10-30"} {
		hist, target := splitDay(rows, date)
		got, err := m.Predict(Day{History: hist, Target: readyRows(target)})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(target) {
			t.Fatalf("%s: %d forecasts for %d rows", date, len(got), len(target))
		}
		for i, r := range target {
			if r.LocalHour == 3 && date == "2023-10-29" && got[i] != got[i-1+boolInt(target[i-1].LocalHour != 3)*2] {
				t.Errorf("repeated hour forecasts differ: %v", got)
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// LASSO in covariance form recovers a sparse linear model and zeroes the
// irrelevant inputs.
func TestLassoRecoversSparseModel(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(8, 8))
	const n, p = 400, 30
	truth := make([]float64, p)
	truth[2], truth[7], truth[19] = 1.5, -2, 0.7
	x := randVec(rng, n*p, 1)
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		y[i] = dot(x[i*p:(i+1)*p], truth) + 0.1*rng.NormFloat64()
	}
	g, c := gram(x, n, p, y, 1)
	var yy float64
	for _, v := range y {
		yy += v * v / n
	}
	lp := &lassoProblem{p: p, n: n, g: g, c: c, yy: yy}
	beta, lambda := lp.solvePath(lassoSettings{criterion: "bic"})
	for j := range beta {
		if math.Abs(beta[j]-truth[j]) > 0.05 {
			t.Errorf("beta[%d] = %.3f; want %.3f (λ=%.3g)", j, beta[j], truth[j], lambda)
		}
	}
	nz := 0
	for _, b := range beta {
		if b != 0 {
			nz++
		}
	}
	if nz > 8 {
		t.Errorf("%d non-zero coefficients; BIC should keep about 3", nz)
	}
}

// fitAndScore fits on all but the last n days and returns the MAE on them.
func fitAndScore(t *testing.T, spec Spec, rows []schemas.FeatureRow, n int) (Model, float64) {
	t.Helper()
	ds := dates(rows)
	cut := ds[len(ds)-n]
	train, _ := splitDay(rows, cut)
	m, _, err := Fit(context.Background(), spec, train, FitOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m, evalMAE(t, m, rows, n)
}

// LEAR learns the synthetic market's linear structure: better than the
// naive forecast, and within 25% of the noise floor (the MAE of a perfect
// model, 4·√(2/π) for N(0, 4²) noise).
func TestLEARBeatsNaive(t *testing.T) {
	t.Parallel()
	rows := synthRows(t, synthOpts{zone: "Europe/Helsinki", start: "2022-01-03", days: 220, seed: 5, noise: 4})
	_, naive := fitAndScore(t, Spec{Kind: KindNaiveWeekly}, rows, 20)
	_, lear := fitAndScore(t, Spec{Kind: KindLEAR, LEAR: &LEARParams{Windows: []int{190}}}, rows, 20)
	t.Logf("MAE weekly naive %.2f, LEAR %.2f (noise MAE %.2f)", naive, lear, 4*math.Sqrt(2/math.Pi))
	if lear > 0.8*naive {
		t.Fatalf("LEAR MAE %.2f is not 20%% below the weekly naive's %.2f", lear, naive)
	}
	if lear > 1.25*4*math.Sqrt(2/math.Pi) {
		t.Fatalf("LEAR MAE %.2f is far above the noise floor", lear)
	}
}

// Perturbing what was not known at the issue time (the target day's prices
// and observations, prices after LastPriceHour) must not change a forecast.
func TestNoLookAhead(t *testing.T) {
	t.Parallel()
	rows := synthRows(t, synthOpts{zone: "Europe/Helsinki", start: "2022-03-01", days: 120, seed: 6, noise: 4})
	ds := dates(rows)
	train, _ := splitDay(rows, ds[100])
	specs := []Spec{{Kind: KindNaiveStandard}, {Kind: KindLEAR, LEAR: &LEARParams{Windows: []int{56}}},
		{Kind: KindGRU, GRU: &GRUParams{Hidden: 4, HeadHidden: 4, MaxEpochs: 2}}}
	for _, spec := range specs {
		m, _, err := Fit(context.Background(), spec, train, FitOptions{Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		date := ds[110]
		hist, target := splitDay(rows, date)
		want, err := m.Predict(Day{History: hist, Target: target})
		if err != nil {
			t.Fatal(err)
		}
		// Late publication: the last 6 hours of yesterday become unknown,
		// and their (perturbed) values must not be read.
		cut := target[0].Hour.Add(-7 * 3600e9)
		h2 := append([]schemas.FeatureRow(nil), hist...)
		t2 := append([]schemas.FeatureRow(nil), target...)
		for i := range t2 {
			t2[i].LastPriceHour = &cut
			v := 1e4
			t2[i].Price = &v
			t2[i].Observed = map[string]float64{"temp": 1e4}
		}
		for i := range h2 {
			if h2[i].Hour.After(cut) {
				v := *h2[i].Price + 1e3
				h2[i].Price = &v
			}
		}
		base, err := m.Predict(Day{History: hist, Target: t2})
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Predict(Day{History: h2, Target: t2})
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != base[i] {
				t.Fatalf("%s: hour %d forecast moved from %v to %v when unknown prices changed", spec.Kind, i, base[i], got[i])
			}
		}
		_ = want
	}
}

// Serialised models forecast exactly as the originals, and the same seed
// gives the same GRU, bit for bit.
func TestMarshalRoundTripAndSeed(t *testing.T) {
	t.Parallel()
	rows := synthRows(t, synthOpts{zone: "Europe/Helsinki", start: "2022-03-01", days: 120, seed: 7, noise: 4})
	ds := dates(rows)
	train, _ := splitDay(rows, ds[110])
	hist, target := splitDay(rows, ds[115])
	day := Day{History: hist, Target: readyRows(target)}
	gruSpec := Spec{Kind: KindGRU, GRU: &GRUParams{Hidden: 6, HeadHidden: 8, MaxEpochs: 3}}
	specs := []Spec{{Kind: KindNaiveWeekly}, {Kind: KindNaiveStandard}, {Kind: KindLEAR, LEAR: &LEARParams{Windows: []int{56}}},
		gruSpec, {Kind: KindEnsemble, Members: []Spec{gruSpec, {Kind: KindNaiveWeekly}}}}
	for _, spec := range specs {
		t.Run(spec.Name(), func(t *testing.T) {
			t.Parallel()
			m, _, err := Fit(context.Background(), spec, train, FitOptions{Seed: 9})
			if err != nil {
				t.Fatal(err)
			}
			b, err := Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			m2, err := Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			p1, err := m.Predict(day)
			if err != nil {
				t.Fatal(err)
			}
			p2, err := m2.Predict(day)
			if err != nil {
				t.Fatal(err)
			}
			for i := range p1 {
				if p1[i] != p2[i] {
					t.Fatalf("hour %d: %v before marshal, %v after", i, p1[i], p2[i])
				}
			}
			again, _, err := Fit(context.Background(), spec, train, FitOptions{Seed: 9})
			if err != nil {
				t.Fatal(err)
			}
			b2, _ := Marshal(again)
			if !bytes.Equal(b, b2) {
				t.Fatalf("two fits with seed 9 differ")
			}
		})
	}
}

func TestRegionalDispatchesByRegion(t *testing.T) {
	t.Parallel()
	a := synthRows(t, synthOpts{region: "A", zone: "Europe/Helsinki", start: "2022-03-01", days: 60, seed: 1, noise: 2})
	b := synthRows(t, synthOpts{region: "B", zone: "Europe/Madrid", start: "2022-03-01", days: 60, seed: 2, noise: 2})
	fit := func(rows []schemas.FeatureRow) Model {
		m, _, err := Fit(context.Background(), Spec{Kind: KindLEAR, LEAR: &LEARParams{Windows: []int{40}}}, rows, FitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	r, err := NewRegional(map[string]Model{"A": fit(a[:50*24]), "B": fit(b[:50*24])})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Unmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, rows := range [][]schemas.FeatureRow{a, b} {
		hist, target := splitDay(rows, dates(rows)[55])
		day := Day{History: hist, Target: readyRows(target)}
		want, err := r.Region(rows[0].Region).Predict(day)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r2.Predict(day)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("region %s hour %d: %v; want %v", rows[0].Region, i, got[i], want[i])
			}
		}
	}
	c := synthRows(t, synthOpts{region: "C", zone: "Europe/Helsinki", start: "2022-03-01", days: 10, seed: 3})
	hist, target := splitDay(c, dates(c)[9])
	if _, err := r2.Predict(Day{History: hist, Target: target}); err == nil {
		t.Fatal("a region the model was not trained for must be an error")
	}
}

func TestConformalCoverage(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(10, 10))
	c := Conformal{Window: 200}
	for i := 0; i < 500; i++ {
		c.Add(0, rng.NormFloat64())
	}
	q, ok := c.HalfWidth(0, 0.9)
	if !ok {
		t.Fatal("200 residuals should give a 90% interval")
	}
	covered := 0
	const n = 20000
	for i := 0; i < n; i++ {
		if math.Abs(rng.NormFloat64()) <= q {
			covered++
		}
	}
	if cov := float64(covered) / n; cov < 0.86 || cov > 0.95 {
		t.Fatalf("coverage %.3f of a 90%% interval (half-width %.3f; N(0,1) needs 1.645)", cov, q)
	}
	if c.N(0) != 200 {
		t.Fatalf("window kept %d residuals; want 200", c.N(0))
	}
	small := Conformal{}
	for i := 0; i < 5; i++ {
		small.Add(1, float64(i))
	}
	if _, ok := small.HalfWidth(1, 0.9); ok {
		t.Fatal("5 residuals cannot support a 90% interval")
	}
}

// A small GRU learns the synthetic market well enough to beat the standard
// naive forecast (its floor on real markets too), and reports an honest
// fit: early stopping on the validation days, the best epoch kept.
func TestGRUBeatsStandardNaive(t *testing.T) {
	t.Parallel()
	rows := synthRows(t, synthOpts{zone: "Europe/Helsinki", start: "2021-01-04", days: 400, seed: 11, noise: 4})
	spec := Spec{Kind: KindGRU, GRU: &GRUParams{Hidden: 8, HeadHidden: 16, MaxEpochs: 30, SeqDays: 2, LearningRate: 0.005}}
	m, gru := fitAndScore(t, spec, rows, 20)
	_, std := fitAndScore(t, Spec{Kind: KindNaiveStandard}, rows, 20)
	t.Logf("MAE standard naive %.2f, GRU %.2f", std, gru)
	if gru >= std {
		t.Fatalf("GRU MAE %.2f does not beat the standard naive's %.2f", gru, std)
	}
	if g := m.(*GRU); g.NumParams() == 0 || g.net.Base < 0 {
		t.Fatalf("GRU has %d parameters, baseline index %d", g.NumParams(), g.net.Base)
	}
}

// A correction to yesterday's price published after the issue time (in
// the final row of an hour that ends after it) must not reach a forecast:
// the model takes the price as known at the issue time, the target rows'
// price_lag_24h. Hours that ended before the issue time keep their final
// price.
func TestYesterdaysPricesAsKnownAtTheIssueTime(t *testing.T) {
	t.Parallel()
	rows := synthRows(t, synthOpts{zone: "Europe/Helsinki", start: "2023-01-02", days: 21, seed: 3, noise: 5})
	const target, yesterday = "2023-01-18", "2023-01-17" // a Wednesday: the standard naive copies yesterday
	asIssued := map[int]float64{}
	for i := range rows {
		if rows[i].LocalDate == yesterday {
			asIssued[rows[i].LocalHour] = *rows[i].Price
		}
	}
	hist, tgt := splitDay(rows, target)
	for i := range tgt {
		v := asIssued[tgt[i].LocalHour]
		tgt[i].PriceLag24h = &v
	}
	// Yesterday's hours from 10:00 (the issue time) on were corrected later.
	for i := range hist {
		if hist[i].LocalDate == yesterday && hist[i].LocalHour >= 10 {
			v := *hist[i].Price + 100
			hist[i].Price = &v
		}
	}
	got, err := NaiveStandard{}.Predict(Day{History: hist, Target: readyRows(tgt)})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range tgt {
		if want := asIssued[r.LocalHour]; got[i] != want {
			t.Errorf("local hour %d: %v, want %v, yesterday's price as known at the issue time", r.LocalHour, got[i], want)
		}
	}
}
