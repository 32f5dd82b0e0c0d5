package models

import (
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkGRUTrainStep times one training step (forward, backpropagation
// through time, Adam) of the network in float32, for the shape the issue
// measured (batch 64 x 168 steps x 16 features -> GRU(64) -> 24; 100-120 ms
// on the prototype) and for the default model shape (batch 32, GRU(32),
// head 64), in the same process, and reports their ratio.
func BenchmarkGRUTrainStep(b *testing.B) {
	type shape struct{ B, T, F, H, C, D int }
	step := func(s shape, n int) time.Duration {
		rng := rand.New(rand.NewPCG(1, 1))
		m := newNetwork[float32](s.F, s.H, s.C, s.D, Slots, rng)
		ws, g, opt := m.newWork(s.B, s.T), m.zeroLike(), newAdam[float32](1e-3, 1)
		x := make([]float32, s.B*s.T*s.F)
		c := make([]float32, s.B*s.C)
		y := make([]float32, s.B*Slots)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		start := time.Now()
		for i := 0; i < n; i++ {
			m.forward(ws, x, c)
			ws.huber(y, 0.5)
			m.backward(ws, g)
			opt.step(m.params(), g.params())
		}
		return time.Since(start) / time.Duration(n)
	}
	issue := shape{B: 64, T: 168, F: 16, H: 64, C: 8, D: 64}
	ours := shape{B: 32, T: 168, F: seqFeatures(4, 1), H: 32, C: ctxFeatures(4), D: 64}
	b.ResetTimer()
	var tIssue, tOurs time.Duration
	for i := 0; i < b.N; i++ {
		tIssue += step(issue, 3)
		tOurs += step(ours, 3)
	}
	b.ReportMetric(float64(tIssue.Microseconds())/1000/float64(b.N), "ms/step-issue-shape")
	b.ReportMetric(float64(tOurs.Microseconds())/1000/float64(b.N), "ms/step-default")
	b.ReportMetric(float64(tIssue)/float64(tOurs), "x-faster-than-issue-shape")
}

// BenchmarkPredictDay times one day's forecast of each model kind from
// feature rows (panel building included), against the weekly naive
// forecast as the baseline.
func BenchmarkPredictDay(b *testing.B) {
	rows := synthRows(b, synthOpts{zone: "Europe/Helsinki", start: "2022-01-03", days: 200, seed: 1, noise: 4})
	ds := dates(rows)
	train, _ := splitDay(rows, ds[190])
	hist, target := splitDay(rows, ds[195])
	day := Day{History: hist, Target: readyRows(target)}
	fit := func(s Spec) Model {
		m, _, err := Fit(b.Context(), s, train, FitOptions{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	ms := map[string]Model{
		"naive": NaiveWeekly{},
		"lear":  fit(Spec{Kind: KindLEAR, LEAR: &LEARParams{Windows: []int{56, 84}}}),
		"gru":   fit(Spec{Kind: KindGRU, GRU: &GRUParams{MaxEpochs: 1}}),
	}
	per := map[string]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for name, m := range ms {
			t0 := time.Now()
			if _, err := m.Predict(day); err != nil {
				b.Fatal(err)
			}
			per[name] += time.Since(t0)
		}
	}
	for name, d := range per {
		b.ReportMetric(float64(d.Microseconds())/1000/float64(b.N), "ms/"+name)
	}
	b.ReportMetric(float64(per["gru"])/float64(per["naive"]), "gru/naive")
}
