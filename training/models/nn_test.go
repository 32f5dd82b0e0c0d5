package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Gradient checks: every layer's analytic backward pass against central
// finite differences, (f(θ+ε) - f(θ-ε)) / 2ε, in float64. With ε = 1e-6
// the truncation error is O(ε²) and the rounding error about 1e-16/ε, so a
// correct gradient agrees to about 1e-7 relative; a wrong term shows as
// 1e-2 or worse. fdTol leaves room between the two. fdAbs absorbs the
// rounding error (about 1e-16·|loss|/ε = 1e-10 here) of gradients near zero.
const (
	fdEps = 1e-6
	fdTol = 1e-5
	fdAbs = 1e-8
)

// checkGrad compares analytic with the finite-difference gradient of loss
// with respect to every element of param.
func checkGrad(t *testing.T, name string, param, analytic []float64, loss func() float64) {
	t.Helper()
	if len(param) != len(analytic) {
		t.Fatalf("%s: %d params but %d gradients", name, len(param), len(analytic))
	}
	worst := 0.0
	for i := range param {
		orig := param[i]
		param[i] = orig + fdEps
		lp := loss()
		param[i] = orig - fdEps
		lm := loss()
		param[i] = orig
		num := (lp - lm) / (2 * fdEps)
		diff := math.Abs(num - analytic[i])
		rel := diff / math.Max(1e-300, math.Abs(num)+math.Abs(analytic[i]))
		if math.Abs(num) > 1e-4 { // below that, rel is rounding noise
			worst = math.Max(worst, rel)
		}
		if diff > fdAbs+fdTol*(math.Abs(num)+math.Abs(analytic[i])) {
			t.Errorf("%s[%d]: analytic %.9g, numeric %.9g (relative error %.2g)", name, i, analytic[i], num, rel)
		}
	}
	t.Logf("%s: %d values, worst relative error %.2g", name, len(param), worst)
}

func randVec(rng *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * rng.NormFloat64()
	}
	return v
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func TestDenseGradients(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 1))
	const n, in, out = 4, 5, 3
	d := newDense[float64](in, out, rng)
	x := randVec(rng, n*in, 1)
	w := randVec(rng, n*out, 1) // loss = w·y, so dL/dy = w
	y := make([]float64, n*out)
	loss := func() float64 { d.forward(n, x, in, y); return dot(w, y) }
	loss()
	g := dense[float64]{In: in, Out: out, W: make([]float64, in*out), B: make([]float64, out)}
	dx := make([]float64, n*in)
	d.backward(n, x, in, w, &g, dx, in, 0)
	checkGrad(t, "dense.W", d.W, g.W, loss)
	checkGrad(t, "dense.B", d.B, g.B, loss)
	checkGrad(t, "dense.x", x, dx, loss)
}

func TestGRULayerGradients(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(2, 2))
	const B, T, F, H = 3, 7, 4, 5
	g := newGRULayer[float64](F, H, rng)
	for _, p := range g.params() { // larger weights so every non-linearity matters
		for i := range p {
			p[i] *= 3
		}
	}
	x := randVec(rng, B*T*F, 1)
	w := randVec(rng, B*H, 1) // loss = w·h_T
	ws := g.newWork(B, T)
	loss := func() float64 { return dot(w, g.forward(ws, x)) }
	loss()
	gr := gruLayer[float64]{F: F, H: H, Wx: make([]float64, len(g.Wx)), Bx: make([]float64, len(g.Bx)), Wh: make([]float64, len(g.Wh)), Bh: make([]float64, len(g.Bh))}
	dx := make([]float64, len(x))
	g.backward(ws, w, &gr, dx)
	names := []string{"gru.Wx", "gru.Bx", "gru.Wh", "gru.Bh"}
	for k, p := range g.params() {
		checkGrad(t, names[k], p, gr.params()[k], loss)
	}
	checkGrad(t, "gru.x", x, dx, loss)
}

// The whole network under its training loss, in both regimes of the Huber
// loss and as plain squared error: every parameter block, end to end.
func TestNetworkGradients(t *testing.T) {
	t.Parallel()
	for _, delta := range []float64{0, 0.3, 100} {
		t.Run(fmt.Sprintf("huber delta %g", delta), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(3, uint64(delta*10)))
			const B, T, F, H, C, D, O = 3, 6, 4, 5, 7, 6, 4
			m := newNetwork[float64](F, H, C, D, O, rng)
			if delta > 0 {
				m.Base = C - O // the baseline path must not disturb any gradient
			}
			x := randVec(rng, B*T*F, 1)
			c := randVec(rng, B*C, 1)
			y := randVec(rng, B*O, 1)
			ws := m.newWork(B, T)
			loss := func() float64 { m.forward(ws, x, c); return ws.huber(y, delta) }
			loss()
			g := m.zeroLike()
			m.backward(ws, g)
			for k, p := range m.params() {
				checkGrad(t, m.paramNames()[k], p, g.params()[k], loss)
			}
		})
	}
}

// float32 training must compute (nearly) what float64 computes.
func TestNetworkFloat32MatchesFloat64(t *testing.T) {
	t.Parallel()
	const B, T, F, H, C, D, O = 4, 24, 5, 8, 6, 7, 24
	m64 := newNetwork[float64](F, H, C, D, O, rand.New(rand.NewPCG(4, 4)))
	m32 := newNetwork[float32](F, H, C, D, O, rand.New(rand.NewPCG(4, 4)))
	rng := rand.New(rand.NewPCG(5, 5))
	x64, c64, y64 := randVec(rng, B*T*F, 1), randVec(rng, B*C, 1), randVec(rng, B*O, 1)
	f32 := func(v []float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	ws64, ws32 := m64.newWork(B, T), m32.newWork(B, T)
	m64.forward(ws64, x64, c64)
	m32.forward(ws32, f32(x64), f32(c64))
	l64, l32 := ws64.huber(y64, 0.5), ws32.huber(f32(y64), 0.5)
	if math.Abs(l64-l32) > 1e-5*math.Abs(l64) {
		t.Fatalf("loss float64 %.8g, float32 %.8g", l64, l32)
	}
	g64, g32 := m64.zeroLike(), m32.zeroLike()
	m64.backward(ws64, g64)
	m32.backward(ws32, g32)
	for k, p := range g64.params() {
		for i, v := range p {
			if d := math.Abs(v - float64(g32.params()[k][i])); d > 1e-4*(1+math.Abs(v)) {
				t.Fatalf("%s[%d]: float64 %.8g, float32 %.8g", m64.paramNames()[k], i, v, g32.params()[k][i])
			}
		}
	}
}

// Training must be able to fit one batch whose targets depend on both the
// sequence and the context.
func TestAdamFitsOneBatch(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(6, 6))
	const B, T, F, H, C, D, O = 8, 12, 3, 16, 2, 16, 4
	m := newNetwork[float64](F, H, C, D, O, rng)
	x, c := randVec(rng, B*T*F, 1), randVec(rng, B*C, 1)
	y := make([]float64, B*O)
	for b := 0; b < B; b++ {
		for o := 0; o < O; o++ {
			y[b*O+o] = 0.5*x[(b*T+T-1-o)*F] + 0.3*c[b*C]
		}
	}
	ws, g, opt := m.newWork(B, T), m.zeroLike(), newAdam[float64](0.01, 0)
	var first, last float64
	for i := 0; i < 300; i++ {
		m.forward(ws, x, c)
		l := ws.huber(y, 0)
		if i == 0 {
			first = l
		}
		last = l
		m.backward(ws, g)
		opt.step(m.params(), g.params())
	}
	if last > first/20 {
		t.Fatalf("loss fell only from %.4f to %.4f in 300 steps", first, last)
	}
}
