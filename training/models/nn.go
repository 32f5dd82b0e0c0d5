package models

// Neural-network layers for the GRU model, hand-written on gonum's BLAS
// (pure Go unless a cgo BLAS is registered with blas32.Use). Adapted from
// the project's gonum GRU prototype (shared/reference/gru-gonum), whose
// measurements chose this design over GoMLX, gorgonia and libtorch (see
// issue 6). Generic over float32 (training) and float64 (gradient checks).
//
// Conventions: row-major matrices, batch-major activations ([B][...]);
// Forward methods write into caller-kept workspaces, Backward methods
// overwrite gradient holders and accumulate nothing across calls.

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// Float is the element type of the layers.
type Float interface{ float32 | float64 }

// gemm computes C = alpha·op(A)·op(B) + beta·C (row-major; op(A) is m×k,
// op(B) k×n).
func gemm[E Float](tA, tB bool, m, n, k int, alpha float64, a []E, lda int, b []E, ldb int, beta float64, c []E, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	switch a := any(a).(type) {
	case []float64:
		blas64.Implementation().Dgemm(ta, tb, m, n, k, alpha, a, lda, any(b).([]float64), ldb, beta, any(c).([]float64), ldc)
	case []float32:
		blas32.Implementation().Sgemm(ta, tb, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	}
}

func fillRows[E Float](dst, row []E) {
	for i := 0; i < len(dst); i += len(row) {
		copy(dst[i:i+len(row)], row)
	}
}

func colSum[E Float](dst, src []E) {
	clear(dst)
	n := len(dst)
	for i := 0; i < len(src); i += n {
		for j, v := range src[i : i+n] {
			dst[j] += v
		}
	}
}

func sigmoid[E Float](x E) E { return E(1 / (1 + math.Exp(-float64(x)))) }

// uniformInit fills p with U(-k, k), PyTorch's default for GRU and Linear.
func uniformInit[E Float](p []E, k float64, rng *rand.Rand) {
	for i := range p {
		p[i] = E((2*rng.Float64() - 1) * k)
	}
}

// dense is y = x·W + b, W [In][Out].
type dense[E Float] struct {
	In, Out int
	W, B    []E
}

func newDense[E Float](in, out int, rng *rand.Rand) dense[E] {
	d := dense[E]{In: in, Out: out, W: make([]E, in*out), B: make([]E, out)}
	k := 1 / math.Sqrt(float64(in))
	uniformInit(d.W, k, rng)
	uniformInit(d.B, k, rng)
	return d
}

func (d *dense[E]) params() [][]E { return [][]E{d.W, d.B} }

// forward writes x·W + b into y; x is [n][In] with row stride ldx.
func (d *dense[E]) forward(n int, x []E, ldx int, y []E) {
	fillRows(y[:n*d.Out], d.B)
	gemm(false, false, n, d.Out, d.In, 1, x, ldx, d.W, d.Out, 1, y, d.Out)
}

// backward overwrites g with dL/dW, dL/db from the layer input x and dy,
// and, when dx is not nil, writes dL/dx (beta·dx + dy·Wᵀ, stride lddx).
func (d *dense[E]) backward(n int, x []E, ldx int, dy []E, g *dense[E], dx []E, lddx int, beta float64) {
	gemm(true, false, d.In, d.Out, n, 1, x, ldx, dy, d.Out, 0, g.W, d.Out)
	colSum(g.B, dy[:n*d.Out])
	if dx != nil {
		gemm(false, true, n, d.In, d.Out, 1, dy, d.Out, d.W, d.Out, beta, dx, lddx)
	}
}

// gruLayer is a GRU over a sequence (PyTorch gate convention), starting
// from h₀ = 0 and returning the last hidden state:
//
//	r = σ(x·Wxr + bxr + h·Whr + bhr)
//	z = σ(x·Wxz + bxz + h·Whz + bhz)
//	n = tanh(x·Wxn + bxn + r ⊙ (h·Whn + bhn))
//	h' = (1-z) ⊙ n + z ⊙ h
//
// Gate blocks are ordered r, z, n in the 3H columns.
type gruLayer[E Float] struct {
	F, H   int
	Wx, Bx []E // [F][3H], [3H]
	Wh, Bh []E // [H][3H], [3H]
}

func newGRULayer[E Float](f, h int, rng *rand.Rand) gruLayer[E] {
	g := gruLayer[E]{F: f, H: h, Wx: make([]E, f*3*h), Bx: make([]E, 3*h), Wh: make([]E, h*3*h), Bh: make([]E, 3*h)}
	k := 1 / math.Sqrt(float64(h))
	for _, p := range g.params() {
		uniformInit(p, k, rng)
	}
	return g
}

func (g *gruLayer[E]) params() [][]E { return [][]E{g.Wx, g.Bx, g.Wh, g.Bh} }

// gruWork keeps one forward pass's activations for backpropagation through
// time; reused between batches, it allocates nothing.
type gruWork[E Float] struct {
	B, T     int
	xt       []E // [T][B][F] time-major copy of the input
	xp, hp   []E // [T][B][3H]: x·Wx + bx, h·Wh + bh
	r, z, n  []E // [T][B][H]
	hs       []E // [T+1][B][H], hs[0] = 0
	dxp, dhp []E // [T][B][3H]
	dh, dh2  []E // [B][H]
}

func (g *gruLayer[E]) newWork(b, t int) *gruWork[E] {
	H, H3 := g.H, 3*g.H
	return &gruWork[E]{B: b, T: t,
		xt: make([]E, t*b*g.F), xp: make([]E, t*b*H3), hp: make([]E, t*b*H3),
		r: make([]E, t*b*H), z: make([]E, t*b*H), n: make([]E, t*b*H),
		hs: make([]E, (t+1)*b*H), dxp: make([]E, t*b*H3), dhp: make([]E, t*b*H3),
		dh: make([]E, b*H), dh2: make([]E, b*H)}
}

// forward runs the layer over x ([B][T][F]) and returns the last hidden
// state ([B][H], aliasing the workspace).
func (g *gruLayer[E]) forward(ws *gruWork[E], x []E) []E {
	B, T, F, H := ws.B, ws.T, g.F, g.H
	H3 := 3 * H
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			copy(ws.xt[(t*B+b)*F:(t*B+b+1)*F], x[(b*T+t)*F:(b*T+t+1)*F])
		}
	}
	// All input projections in one product: [T·B, F]·[F, 3H].
	fillRows(ws.xp, g.Bx)
	gemm(false, false, T*B, H3, F, 1, ws.xt, F, g.Wx, H3, 1, ws.xp, H3)
	clear(ws.hs[:B*H])
	for t := 0; t < T; t++ {
		hprev := ws.hs[t*B*H : (t+1)*B*H]
		hnext := ws.hs[(t+1)*B*H : (t+2)*B*H]
		hp := ws.hp[t*B*H3 : (t+1)*B*H3]
		xp := ws.xp[t*B*H3 : (t+1)*B*H3]
		fillRows(hp, g.Bh)
		gemm(false, false, B, H3, H, 1, hprev, H, g.Wh, H3, 1, hp, H3)
		r, z, n := ws.r[t*B*H:(t+1)*B*H], ws.z[t*B*H:(t+1)*B*H], ws.n[t*B*H:(t+1)*B*H]
		for b := 0; b < B; b++ {
			xr, hr := xp[b*H3:], hp[b*H3:]
			for j := 0; j < H; j++ {
				i := b*H + j
				rv := sigmoid(xr[j] + hr[j])
				zv := sigmoid(xr[H+j] + hr[H+j])
				nv := E(math.Tanh(float64(xr[2*H+j] + rv*hr[2*H+j])))
				r[i], z[i], n[i] = rv, zv, nv
				hnext[i] = (1-zv)*nv + zv*hprev[i]
			}
		}
	}
	return ws.hs[T*B*H:]
}

// backward back-propagates dhT (dL/dh_T, [B][H]) through the last forward
// and overwrites gr with the parameter gradients. When dx is not nil it
// also writes dL/dx ([B][T][F]).
func (g *gruLayer[E]) backward(ws *gruWork[E], dhT []E, gr *gruLayer[E], dx []E) {
	B, T, F, H := ws.B, ws.T, g.F, g.H
	H3 := 3 * H
	dh, dh2 := ws.dh, ws.dh2
	copy(dh, dhT)
	for t := T - 1; t >= 0; t-- {
		hprev := ws.hs[t*B*H : (t+1)*B*H]
		hp := ws.hp[t*B*H3 : (t+1)*B*H3]
		r, z, n := ws.r[t*B*H:(t+1)*B*H], ws.z[t*B*H:(t+1)*B*H], ws.n[t*B*H:(t+1)*B*H]
		dxp, dhp := ws.dxp[t*B*H3:(t+1)*B*H3], ws.dhp[t*B*H3:(t+1)*B*H3]
		for b := 0; b < B; b++ {
			for j := 0; j < H; j++ {
				i := b*H + j
				d := dh[i]
				rv, zv, nv := r[i], z[i], n[i]
				dnPre := d * (1 - zv) * (1 - nv*nv)
				dzPre := d * (hprev[i] - nv) * zv * (1 - zv)
				drPre := dnPre * hp[b*H3+2*H+j] * rv * (1 - rv)
				o := b * H3
				dxp[o+j], dxp[o+H+j], dxp[o+2*H+j] = drPre, dzPre, dnPre
				dhp[o+j], dhp[o+H+j], dhp[o+2*H+j] = drPre, dzPre, dnPre*rv
				dh2[i] = d * zv
			}
		}
		gemm(false, true, B, H, H3, 1, dhp, H3, g.Wh, H3, 1, dh2, H) // dh_{t-1} += dhp·Whᵀ
		dh, dh2 = dh2, dh
	}
	// Weight gradients for all steps at once.
	gemm(true, false, H, H3, T*B, 1, ws.hs[:T*B*H], H, ws.dhp, H3, 0, gr.Wh, H3)
	colSum(gr.Bh, ws.dhp)
	gemm(true, false, F, H3, T*B, 1, ws.xt, F, ws.dxp, H3, 0, gr.Wx, H3)
	colSum(gr.Bx, ws.dxp)
	if dx != nil {
		// dxt = dxp·Wxᵀ, time-major; reorder into [B][T][F].
		dxt := make([]E, T*B*F)
		gemm(false, true, T*B, F, H3, 1, ws.dxp, H3, g.Wx, H3, 0, dxt, F)
		for b := 0; b < B; b++ {
			for t := 0; t < T; t++ {
				copy(dx[(b*T+t)*F:(b*T+t+1)*F], dxt[(t*B+b)*F:(t*B+b+1)*F])
			}
		}
	}
}

// network is the GRU model's graph: a GRU encoder over the input sequence,
// its last state joined with the context vector (the target day's
// known-ahead values and calendar), then a ReLU hidden layer and a linear
// output layer, plus a linear skip from the context to the output (the
// "wide" part, which can learn LEAR-like linear effects directly):
//
//	h = GRU(x)
//	y = W2·relu(W1·[h, c] + b1) + b2 + Ws·c + bs (+ c[Base:Base+O])
//
// With Base >= 0, the O context values from index Base are added to the
// output unchanged: the network then learns a correction to a baseline
// (the GRU model passes yesterday's prices), which keeps it on the current
// price level when the market moves away from its training data.
type network[E Float] struct {
	F, H, C, D, O int
	Base          int
	GRU           gruLayer[E]
	D1, D2, Skip  dense[E]
}

func newNetwork[E Float](f, h, c, d, o int, rng *rand.Rand) *network[E] {
	return &network[E]{F: f, H: h, C: c, D: d, O: o, Base: -1,
		GRU:  newGRULayer[E](f, h, rng),
		D1:   newDense[E](h+c, d, rng),
		D2:   newDense[E](d, o, rng),
		Skip: newDense[E](c, o, rng),
	}
}

// params lists every parameter slice (aliases) in a fixed order.
func (m *network[E]) params() [][]E {
	p := m.GRU.params()
	p = append(p, m.D1.params()...)
	p = append(p, m.D2.params()...)
	return append(p, m.Skip.params()...)
}

func (m *network[E]) paramNames() []string {
	return []string{"gru.Wx", "gru.Bx", "gru.Wh", "gru.Bh", "d1.W", "d1.B", "d2.W", "d2.B", "skip.W", "skip.B"}
}

// zeroLike returns a zeroed network of the same shape (a gradient holder).
func (m *network[E]) zeroLike() *network[E] {
	z := &network[E]{F: m.F, H: m.H, C: m.C, D: m.D, O: m.O, Base: m.Base,
		GRU:  gruLayer[E]{F: m.F, H: m.H, Wx: make([]E, len(m.GRU.Wx)), Bx: make([]E, len(m.GRU.Bx)), Wh: make([]E, len(m.GRU.Wh)), Bh: make([]E, len(m.GRU.Bh))},
		D1:   dense[E]{In: m.D1.In, Out: m.D1.Out, W: make([]E, len(m.D1.W)), B: make([]E, len(m.D1.B))},
		D2:   dense[E]{In: m.D2.In, Out: m.D2.Out, W: make([]E, len(m.D2.W)), B: make([]E, len(m.D2.B))},
		Skip: dense[E]{In: m.Skip.In, Out: m.Skip.Out, W: make([]E, len(m.Skip.W)), B: make([]E, len(m.Skip.B))},
	}
	return z
}

func (m *network[E]) numParams() int {
	n := 0
	for _, p := range m.params() {
		n += len(p)
	}
	return n
}

// netWork is a network's workspace for batches of B sequences of T steps.
type netWork[E Float] struct {
	B, T int
	gru  *gruWork[E]
	hc   []E // [B][H+C]
	a1   []E // [B][D] pre-activation
	r1   []E // [B][D] relu(a1)
	ctx  []E // [B][C]
	Y    []E // [B][O]
	dy   []E // [B][O]
	dr1  []E // [B][D]
	dhc  []E // [B][H+C]
	dhT  []E // [B][H]
}

func (m *network[E]) newWork(b, t int) *netWork[E] {
	return &netWork[E]{B: b, T: t, gru: m.GRU.newWork(b, t),
		hc: make([]E, b*(m.H+m.C)), a1: make([]E, b*m.D), r1: make([]E, b*m.D), ctx: make([]E, b*m.C),
		Y: make([]E, b*m.O), dy: make([]E, b*m.O), dr1: make([]E, b*m.D), dhc: make([]E, b*(m.H+m.C)), dhT: make([]E, b*m.H)}
}

// forward runs the network on x ([B][T][F]) and ctx ([B][C]) and returns
// the outputs ([B][O], aliasing the workspace).
func (m *network[E]) forward(ws *netWork[E], x, ctx []E) []E {
	B, H, C := ws.B, m.H, m.C
	hT := m.GRU.forward(ws.gru, x)
	copy(ws.ctx, ctx[:B*C])
	for b := 0; b < B; b++ {
		copy(ws.hc[b*(H+C):], hT[b*H:(b+1)*H])
		copy(ws.hc[b*(H+C)+H:(b+1)*(H+C)], ctx[b*C:(b+1)*C])
	}
	m.D1.forward(B, ws.hc, H+C, ws.a1)
	for i, v := range ws.a1 {
		ws.r1[i] = max(v, 0)
	}
	m.D2.forward(B, ws.r1, m.D, ws.Y)
	// Y += ctx·Ws + bs
	for b := 0; b < B; b++ {
		row := ws.Y[b*m.O : (b+1)*m.O]
		for j, v := range m.Skip.B {
			row[j] += v
		}
	}
	gemm(false, false, B, m.O, C, 1, ws.ctx, C, m.Skip.W, m.O, 1, ws.Y, m.O)
	if m.Base >= 0 {
		for b := 0; b < B; b++ {
			row := ws.Y[b*m.O : (b+1)*m.O]
			for j, v := range ws.ctx[b*C+m.Base : b*C+m.Base+m.O] {
				row[j] += v
			}
		}
	}
	return ws.Y
}

// huber returns the mean Huber loss of the outputs against target (delta
// in the scaled units; quadratic inside, linear outside, so that price
// spikes do not dominate training) and stores its gradient for backward.
// delta <= 0 means the squared error.
func (ws *netWork[E]) huber(target []E, delta float64) float64 {
	var s float64
	k := 1 / float64(len(ws.Y))
	for i, y := range ws.Y {
		d := float64(y - target[i])
		switch {
		case delta <= 0:
			s += d * d
			ws.dy[i] = E(2 * k * d)
		case math.Abs(d) <= delta:
			s += d * d / 2
			ws.dy[i] = E(k * d)
		default:
			s += delta * (math.Abs(d) - delta/2)
			ws.dy[i] = E(k * delta * math.Copysign(1, d))
		}
	}
	return s * k
}

// backward back-propagates the loss gradient stored by huber through the
// last forward and overwrites g with dLoss/dParams.
func (m *network[E]) backward(ws *netWork[E], g *network[E]) {
	B, H, C := ws.B, m.H, m.C
	m.Skip.backward(B, ws.ctx, C, ws.dy, &g.Skip, nil, 0, 0)
	m.D2.backward(B, ws.r1, m.D, ws.dy, &g.D2, ws.dr1, m.D, 0)
	for i, v := range ws.a1 {
		if v <= 0 {
			ws.dr1[i] = 0
		}
	}
	m.D1.backward(B, ws.hc, H+C, ws.dr1, &g.D1, ws.dhc, H+C, 0)
	for b := 0; b < B; b++ {
		copy(ws.dhT[b*H:(b+1)*H], ws.dhc[b*(H+C):b*(H+C)+H])
	}
	m.GRU.backward(ws.gru, ws.dhT, &g.GRU, nil)
}

// adam is Adam (Kingma and Ba 2015) with optional global-norm gradient
// clipping (clip > 0).
type adam[E Float] struct {
	lr, beta1, beta2, eps, clip float64
	m, v                        [][]E
	t                           int
}

func newAdam[E Float](lr, clip float64) *adam[E] {
	return &adam[E]{lr: lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, clip: clip}
}

// step updates params in place from grads (same shapes, same order).
func (a *adam[E]) step(params, grads [][]E) {
	if a.m == nil {
		for _, p := range params {
			a.m = append(a.m, make([]E, len(p)))
			a.v = append(a.v, make([]E, len(p)))
		}
	}
	scale := 1.0
	if a.clip > 0 {
		var ss float64
		for _, g := range grads {
			for _, x := range g {
				ss += float64(x) * float64(x)
			}
		}
		if nrm := math.Sqrt(ss); nrm > a.clip {
			scale = a.clip / nrm
		}
	}
	a.t++
	c1 := 1 - math.Pow(a.beta1, float64(a.t))
	c2 := 1 - math.Pow(a.beta2, float64(a.t))
	for k, p := range params {
		g, m, v := grads[k], a.m[k], a.v[k]
		for i := range p {
			gi := float64(g[i]) * scale
			mi := a.beta1*float64(m[i]) + (1-a.beta1)*gi
			vi := a.beta2*float64(v[i]) + (1-a.beta2)*gi*gi
			m[i], v[i] = E(mi), E(vi)
			p[i] -= E(a.lr * (mi / c1) / (math.Sqrt(vi/c2) + a.eps))
		}
	}
}
