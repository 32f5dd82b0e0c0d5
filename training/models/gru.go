package models

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// GRUParams are the GRU model's hyperparameters. Zero values mean the
// defaults.
type GRUParams struct {
	// Hidden is the GRU state size; default 32.
	Hidden int `json:"hidden,omitempty"`
	// HeadHidden is the dense head's hidden width; default 64.
	HeadHidden int `json:"head_hidden,omitempty"`
	// SeqDays is how many days of hourly inputs the encoder reads; default 7.
	SeqDays int `json:"seq_days,omitempty"`
	// MaxEpochs caps training; default 40 (10 on a warm start).
	MaxEpochs int `json:"max_epochs,omitempty"`
	// Patience stops training after that many epochs without a better
	// validation MAE; default 6. The best epoch's weights are kept.
	Patience int `json:"patience,omitempty"`
	// BatchSize defaults to 32.
	BatchSize int `json:"batch_size,omitempty"`
	// LearningRate is Adam's step; default 0.002.
	LearningRate float64 `json:"learning_rate,omitempty"`
	// Clip is the global gradient-norm clip; default 1.
	Clip float64 `json:"clip,omitempty"`
	// HuberDelta is the loss's switch from quadratic to linear, in scaled
	// units; default 0.5.
	HuberDelta float64 `json:"huber_delta,omitempty"`
	// ValidationFraction is the share of the latest training days held out
	// (time-ordered) for early stopping; default 0.15, at least 14 days.
	ValidationFraction float64 `json:"validation_fraction,omitempty"`
	// NoBaseline turns off the baseline: by default the network's output
	// is a correction added to yesterday's (scaled) prices.
	NoBaseline bool `json:"no_baseline,omitempty"`
	// WindowDays limits training to the latest days; default 1095 (three
	// years: older prices say little about today's market, and each epoch
	// costs time); negative uses all.
	WindowDays int `json:"window_days,omitempty"`
}

func (p GRUParams) withDefaults(warm bool) GRUParams {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	deff := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&p.Hidden, 32)
	def(&p.HeadHidden, 64)
	def(&p.SeqDays, 7)
	if warm {
		def(&p.MaxEpochs, 10)
	}
	def(&p.MaxEpochs, 40)
	def(&p.Patience, 6)
	def(&p.WindowDays, 1095)
	def(&p.BatchSize, 32)
	deff(&p.LearningRate, 0.002)
	deff(&p.Clip, 1)
	deff(&p.HuberDelta, 0.5)
	deff(&p.ValidationFraction, 0.15)
	return p
}

// GRU is the recurrent model: a GRU encoder over the last SeqDays days of
// hourly inputs (price, its known flag, known-ahead and observed values,
// hour and weekday as sine/cosine, holiday), its last state joined with the
// target day's context (its 24 known-ahead values per variable, the prices
// of D-1 and D-7, weekday one-hot, holiday, day of year), then a dense head
// to 24 outputs (see network), added to yesterday's prices unless
// NoBaseline: the network learns tomorrow's change, not its level. Trained
// in float32 with Adam on the Huber
// loss of asinh-scaled prices, early-stopped on a time-ordered validation
// split; every scaler is fitted on the days before the validation days
// (all the history known at the fit, not only the training window).
type GRU struct {
	p        GRUParams
	known    []string
	observed []string
	price    scaler
	kScale   []scaler
	oScale   []scaler
	net      *network[float32]
}

// Kind implements Model.
func (*GRU) Kind() string { return KindGRU }

// HistoryDays implements Model.
func (m *GRU) HistoryDays() int { return max(m.p.SeqDays, 7) }

// NumParams is the number of trained weights.
func (m *GRU) NumParams() int { return m.net.numParams() }

func seqFeatures(nk, no int) int { return 2 + nk + no + 5 }

// baselineIndex is where yesterday's 24 scaled prices sit in the context.
func baselineIndex(nk int) int { return Slots * nk }
func ctxFeatures(nk int) int   { return Slots*nk + 2*Slots + 7 + 1 + 2 }

// inputs writes the sequence x ([SeqDays·24][F]) and context c of target
// day t (t >= max(SeqDays, 7)), scaled.
func (m *GRU) inputs(p *panel, t int, x, c []float32) {
	nk, no := len(m.known), len(m.observed)
	F := seqFeatures(nk, no)
	i := 0
	for d := t - m.p.SeqDays; d < t; d++ {
		wd := float64(p.days[d].weekday - 1)
		hol := float32(b2f(p.days[d].holiday))
		for s := 0; s < Slots; s++ {
			row := x[i*F : (i+1)*F]
			v := p.price(d, s, t)
			row[0] = float32(m.price.fwd(v))
			row[1] = float32(b2f(p.priceKnown(d, s, t) && !math.IsNaN(p.days[d].price[s])))
			for j := 0; j < nk; j++ {
				row[2+j] = float32(m.kScale[j].fwd(p.knownVar(j, d, s)))
			}
			for j := 0; j < no; j++ {
				row[2+nk+j] = float32(m.oScale[j].fwd(p.obsVar(j, d, s, t)))
			}
			a := 2 * math.Pi * float64(s) / Slots
			w := 2 * math.Pi * wd / 7
			o := 2 + nk + no
			row[o], row[o+1], row[o+2], row[o+3], row[o+4] = float32(math.Sin(a)), float32(math.Cos(a)), float32(math.Sin(w)), float32(math.Cos(w)), hol
			i++
		}
	}
	k := 0
	for j := 0; j < nk; j++ {
		for s := 0; s < Slots; s++ {
			c[k] = float32(m.kScale[j].fwd(p.knownVar(j, t, s)))
			k++
		}
	}
	for _, lag := range []int{1, 7} {
		for s := 0; s < Slots; s++ {
			c[k] = float32(m.price.fwd(p.price(t-lag, s, t)))
			k++
		}
	}
	wd := p.days[t].weekday
	for d := 1; d <= 7; d++ {
		c[k] = float32(b2f(wd == d))
		k++
	}
	c[k] = float32(b2f(p.days[t].holiday))
	doy := 2 * math.Pi * float64(p.days[t].date.YearDay()) / 365.25
	c[k+1], c[k+2] = float32(math.Sin(doy)), float32(math.Cos(doy))
}

// Predict implements Model.
func (m *GRU) Predict(day Day) ([]float64, error) {
	hd := m.HistoryDays()
	p, t, err := prepare(day, m.known, m.observed, hd)
	if err != nil {
		return nil, err
	}
	if t < hd || !hasPrices(p, t) {
		return nil, ErrNoHistory
	}
	T := m.p.SeqDays * Slots
	x := make([]float32, T*m.net.F)
	c := make([]float32, m.net.C)
	m.inputs(p, t, x, c)
	ws := m.net.newWork(1, T)
	y := m.net.forward(ws, x, c)
	var pred [Slots]float64
	for s := range pred {
		pred[s] = m.price.inv(float64(y[s]))
	}
	return toRows(pred, day.Target)
}

// gruState is the serialised GRU.
type gruState struct {
	Params   GRUParams   `json:"params"`
	Known    []string    `json:"known"`
	Observed []string    `json:"observed"`
	Price    scaler      `json:"price_scale"`
	KScale   []scaler    `json:"known_scale"`
	OScale   []scaler    `json:"observed_scale"`
	Dims     [5]int      `json:"dims"` // F, H, C, D, O
	Baseline bool        `json:"baseline,omitempty"`
	Weights  [][]float32 `json:"weights"`
}

func (m *GRU) state() gruState {
	n := m.net
	return gruState{Params: m.p, Known: m.known, Observed: m.observed, Price: m.price, KScale: m.kScale, OScale: m.oScale,
		Dims: [5]int{n.F, n.H, n.C, n.D, n.O}, Baseline: n.Base >= 0, Weights: n.params()}
}

func (st gruState) model() (*GRU, error) {
	F, H, C, D, O := st.Dims[0], st.Dims[1], st.Dims[2], st.Dims[3], st.Dims[4]
	if F != seqFeatures(len(st.Known), len(st.Observed)) || C != ctxFeatures(len(st.Known)) || O != Slots ||
		len(st.KScale) != len(st.Known) || len(st.OScale) != len(st.Observed) || H <= 0 || D <= 0 {
		return nil, fmt.Errorf("models: gru state has inconsistent dimensions %v", st.Dims)
	}
	net := newNetwork[float32](F, H, C, D, O, rand.New(rand.NewPCG(0, 0)))
	if st.Baseline {
		net.Base = baselineIndex(len(st.Known))
	}
	ps := net.params()
	if len(st.Weights) != len(ps) {
		return nil, fmt.Errorf("models: gru state has %d weight blocks; want %d", len(st.Weights), len(ps))
	}
	for i, w := range st.Weights {
		if len(w) != len(ps[i]) {
			return nil, fmt.Errorf("models: gru weight block %s has %d values; want %d", net.paramNames()[i], len(w), len(ps[i]))
		}
		copy(ps[i], w)
	}
	return &GRU{p: st.Params, known: st.Known, observed: st.Observed, price: st.Price, kScale: st.KScale, oScale: st.OScale, net: net}, nil
}

// gruSample is one training day's tensors.
type gruSample struct {
	t    int
	x, c []float32
	y    [Slots]float32
	raw  [Slots]float64
}

func fitGRU(ctx context.Context, params GRUParams, rows []schemas.FeatureRow, opts FitOptions) (*GRU, FitInfo, error) {
	init, _ := opts.Init.(*GRU)
	params = params.withDefaults(init != nil)
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	known, observed := variables(rows)
	if init != nil {
		known, observed = init.known, init.observed
	}
	p, err := buildPanel(rows, known, observed)
	if err != nil {
		return nil, FitInfo{}, err
	}
	hd := max(params.SeqDays, 7)
	ts := trainingDays(p, hd)
	if params.WindowDays > 0 && len(ts) > 0 {
		last := ts[len(ts)-1]
		for len(ts) > 0 && ts[0] <= last-params.WindowDays {
			ts = ts[1:]
		}
	}
	nVal := max(14, int(float64(len(ts))*params.ValidationFraction))
	if len(ts) < nVal+28 {
		return nil, FitInfo{}, fmt.Errorf("models: gru needs at least %d complete days with %d days of history before each; got %d", nVal+28, hd, len(ts))
	}
	trainTs, valTs := ts[:len(ts)-nVal], ts[len(ts)-nVal:]

	m := &GRU{p: params, known: known, observed: observed}
	if init != nil {
		// A warm start keeps the scalers its weights were trained with
		// (fitted on that fit's training days, all before these).
		m.price, m.kScale, m.oScale = init.price, init.kScale, init.oScale
	} else {
		// Scalers from every day before the validation days: never from
		// validation or test days. (More history than WindowDays makes the
		// scale steadier; the backtests in docs/backtest.md were run so.)
		firstVal := valTs[0]
		var prices []float64
		kv := make([][]float64, len(known))
		ov := make([][]float64, len(observed))
		for d := 0; d < firstVal; d++ {
			dr := &p.days[d]
			for s := 0; s < Slots; s++ {
				prices = append(prices, dr.price[s])
				for j := range known {
					kv[j] = append(kv[j], dr.known[j][s])
				}
				for j := range observed {
					ov[j] = append(ov[j], dr.obs[j][s])
				}
			}
		}
		m.price = fitScaler(prices)
		for j := range known {
			m.kScale = append(m.kScale, fitScaler(kv[j]))
		}
		for j := range observed {
			m.oScale = append(m.oScale, fitScaler(ov[j]))
		}
	}
	F, C, T := seqFeatures(len(known), len(observed)), ctxFeatures(len(known)), params.SeqDays*Slots
	if init != nil {
		if init.net.F != F || init.net.C != C || init.net.H != params.Hidden || init.net.D != params.HeadHidden || init.p.SeqDays != params.SeqDays {
			return nil, FitInfo{}, errors.New("models: gru warm start from a model of another shape; fit from scratch")
		}
		st := init.state()
		st.Params = params
		warm, err := st.model()
		if err != nil {
			return nil, FitInfo{}, err
		}
		m.net = warm.net
	} else {
		m.net = newNetwork[float32](F, params.Hidden, C, params.HeadHidden, Slots, rng)
		if !params.NoBaseline {
			m.net.Base = baselineIndex(len(known))
		}
	}

	mk := func(ts []int) []gruSample {
		out := make([]gruSample, len(ts))
		for i, t := range ts {
			s := gruSample{t: t, x: make([]float32, T*F), c: make([]float32, C)}
			m.inputs(p, t, s.x, s.c)
			for h := 0; h < Slots; h++ {
				s.raw[h] = p.days[t].price[h]
				s.y[h] = float32(m.price.fwd(s.raw[h]))
			}
			out[i] = s
		}
		return out
	}
	train, val := mk(trainTs), mk(valTs)

	B := min(params.BatchSize, len(train))
	ws := m.net.newWork(B, T)
	grads := m.net.zeroLike()
	opt := newAdam[float32](params.LearningRate, params.Clip)
	xb := make([]float32, B*T*F)
	cb := make([]float32, B*C)
	yb := make([]float32, B*Slots)
	order := make([]int, len(train))
	for i := range order {
		order[i] = i
	}
	evalWS := m.net.newWork(1, T)
	valMAE := func() float64 {
		var s float64
		for i := range val {
			y := m.net.forward(evalWS, val[i].x, val[i].c)
			for h := 0; h < Slots; h++ {
				s += math.Abs(m.price.inv(float64(y[h])) - val[i].raw[h])
			}
		}
		return s / float64(len(val)*Slots)
	}
	best := cloneParams(m.net.params())
	bestMAE := valMAE()
	info := FitInfo{Days: len(ts), Status: "max-epochs", ValLoss: bestMAE}
	bad := 0
	start := time.Now()
	for epoch := 1; epoch <= params.MaxEpochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return nil, FitInfo{}, fmt.Errorf("models: gru fit: %w", err)
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var lossSum float64
		steps := 0
		for off := 0; off+B <= len(order); off += B {
			for b := 0; b < B; b++ {
				s := &train[order[off+b]]
				copy(xb[b*T*F:], s.x)
				copy(cb[b*C:], s.c)
				copy(yb[b*Slots:], s.y[:])
			}
			m.net.forward(ws, xb, cb)
			l := ws.huber(yb, params.HuberDelta)
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return nil, FitInfo{}, fmt.Errorf("models: gru loss became %g at epoch %d; lower the learning rate", l, epoch)
			}
			lossSum += l
			steps++
			m.net.backward(ws, grads)
			opt.step(m.net.params(), grads.params())
		}
		info.Epochs = epoch
		info.TrainLoss = lossSum / float64(max(steps, 1))
		mae := valMAE()
		if mae < bestMAE {
			bestMAE, info.BestEpoch, bad = mae, epoch, 0
			best = cloneParams(m.net.params())
		} else if bad++; bad >= params.Patience {
			info.Status = "early-stopped"
			break
		}
		if opts.Progress != nil {
			opts.Progress(epoch, params.MaxEpochs)
		}
	}
	for i, p := range m.net.params() {
		copy(p, best[i])
	}
	info.ValLoss = bestMAE
	if info.Epochs > 0 {
		info.EpochTime = time.Since(start) / time.Duration(info.Epochs)
	}
	info.From = p.days[ts[0]].date.Format(time.DateOnly)
	info.To = p.days[ts[len(ts)-1]].date.Format(time.DateOnly)
	info.Features = gruFeatureNames(known, observed)
	return m, info, nil
}

func cloneParams(ps [][]float32) [][]float32 {
	out := make([][]float32, len(ps))
	for i, p := range ps {
		out[i] = append([]float32(nil), p...)
	}
	return out
}

func gruFeatureNames(known, observed []string) []string {
	names := []string{"seq:price", "seq:price_known"}
	for _, k := range known {
		names = append(names, "seq:"+k)
	}
	for _, o := range observed {
		names = append(names, "seq:"+o+"(observed)")
	}
	names = append(names, "seq:hour_sin", "seq:hour_cos", "seq:weekday_sin", "seq:weekday_cos", "seq:holiday")
	for _, k := range known {
		names = append(names, "ctx:"+k+"(D)[24]")
	}
	return append(names, "ctx:price(D-1)[24]", "ctx:price(D-7)[24]", "ctx:weekday[7]", "ctx:holiday", "ctx:day_of_year_sin", "ctx:day_of_year_cos")
}
