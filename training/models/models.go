package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// Model kinds.
const (
	KindNaiveWeekly   = "naive-weekly"   // the price 168 hours earlier
	KindNaiveStandard = "naive-standard" // epftoolbox: Mon, Sat, Sun a week back, else yesterday
	KindLEAR          = "lear"           // LASSO on lagged prices and exogenous values, asinh-scaled
	KindGRU           = "gru"            // recurrent encoder over 7 days + dense head
	KindEnsemble      = "ensemble"       // mean of member models
)

// Kinds lists every model kind.
func Kinds() []string {
	return []string{KindNaiveWeekly, KindNaiveStandard, KindLEAR, KindGRU, KindEnsemble}
}

// Day is one day-ahead forecasting problem.
type Day struct {
	// History holds final rows before the target day, oldest first. A
	// model reads at most its HistoryDays() days of it; more is ignored.
	History []schemas.FeatureRow
	// Target holds the rows of the target day (one local date, one
	// region), normally ready rows. Their Price and Observed are never read.
	Target []schemas.FeatureRow
}

// Model is a fitted day-ahead model.
type Model interface {
	// Kind is one of the Kind constants.
	Kind() string
	// HistoryDays is how many days before the target day Predict reads.
	HistoryDays() int
	// Predict returns one forecast per Target row, in the same order. It
	// returns an error, never a silent NaN, when it cannot forecast.
	Predict(day Day) ([]float64, error)
}

// ErrNoHistory is returned by Predict when History lacks the prices a
// model needs (for example a region seen for the first time).
var ErrNoHistory = errors.New("models: not enough price history before the target day; feed at least a week of final rows")

// Spec says which model to fit and with which hyperparameters. The zero
// value of each parameter struct means its documented defaults.
type Spec struct {
	Kind string      `json:"kind"`
	LEAR *LEARParams `json:"lear,omitempty"`
	GRU  *GRUParams  `json:"gru,omitempty"`
	// Members are the ensemble's models (KindEnsemble only).
	Members []Spec `json:"members,omitempty"`
}

// Name is a short display name: the kind, or ensemble(a+b).
func (s Spec) Name() string {
	if s.Kind != KindEnsemble {
		return s.Kind
	}
	n := "ensemble("
	ms := s.Members
	if len(ms) == 0 {
		ms = DefaultEnsemble()
	}
	for i, m := range ms {
		if i > 0 {
			n += "+"
		}
		n += m.Name()
	}
	return n + ")"
}

// FitOptions are the inputs of a fit other than data and hyperparameters.
type FitOptions struct {
	// Seed seeds all randomness of the fit.
	Seed uint64
	// Progress, when set, is called after each unit of work (an epoch, an
	// hour's regularisation path) with how many are done of total.
	Progress func(done, total int)
	// Init, when set, is a model of the same kind to start from (a warm
	// start for recalibration). Kinds without weights ignore it.
	Init Model
}

// FitInfo reports how a fit went.
type FitInfo struct {
	Kind string `json:"kind"`
	// From and To are the first and last local dates of the training rows.
	From string `json:"from"`
	To   string `json:"to"`
	// Days is how many complete days were used as training targets.
	Days int `json:"days"`
	// Features names the model's inputs.
	Features []string `json:"features,omitempty"`
	// Status says why an iterative fit ended: converged, early-stopped or
	// max-epochs.
	Status    string  `json:"status,omitempty"`
	Epochs    int     `json:"epochs,omitempty"`
	BestEpoch int     `json:"best_epoch,omitempty"`
	TrainLoss float64 `json:"train_loss,omitempty"`
	ValLoss   float64 `json:"val_loss,omitempty"`
	// Duration is the wall time of the fit; EpochTime the mean per epoch.
	Duration  time.Duration `json:"duration_ns"`
	EpochTime time.Duration `json:"epoch_time_ns,omitempty"`
	// Members reports the members of an ensemble.
	Members []FitInfo `json:"members,omitempty"`
}

// Fit fits a model of spec's kind to rows: final rows of one region, in
// any order. The fit uses only rows, spec and opts.
func Fit(ctx context.Context, spec Spec, rows []schemas.FeatureRow, opts FitOptions) (Model, FitInfo, error) {
	start := time.Now()
	var (
		m    Model
		info FitInfo
		err  error
	)
	switch spec.Kind {
	case KindNaiveWeekly:
		m, info = NaiveWeekly{}, FitInfo{}
	case KindNaiveStandard:
		m, info = NaiveStandard{}, FitInfo{}
	case KindLEAR:
		p := LEARParams{}
		if spec.LEAR != nil {
			p = *spec.LEAR
		}
		m, info, err = fitLEAR(ctx, p, rows, opts)
	case KindGRU:
		p := GRUParams{}
		if spec.GRU != nil {
			p = *spec.GRU
		}
		m, info, err = fitGRU(ctx, p, rows, opts)
	case KindEnsemble:
		m, info, err = fitEnsemble(ctx, spec.Members, rows, opts)
	default:
		return nil, FitInfo{}, fmt.Errorf("models: unknown kind %q; want one of %v", spec.Kind, Kinds())
	}
	if err != nil {
		return nil, FitInfo{}, err
	}
	info.Kind = spec.Kind
	info.Duration = time.Since(start)
	if info.From == "" && len(rows) > 0 {
		info.From, info.To = dateRange(rows)
	}
	return m, info, nil
}

func dateRange(rows []schemas.FeatureRow) (string, string) {
	lo, hi := rows[0].LocalDate, rows[0].LocalDate
	for i := range rows {
		if d := rows[i].LocalDate; d < lo {
			lo = d
		} else if d > hi {
			hi = d
		}
	}
	return lo, hi
}

// target checks a Day's target rows and returns its date and region.
func (d Day) target() (time.Time, string, error) {
	if len(d.Target) == 0 {
		return time.Time{}, "", errors.New("models: day has no target rows")
	}
	t0 := d.Target[0]
	for i := range d.Target {
		r := &d.Target[i]
		if r.LocalDate != t0.LocalDate || r.Region != t0.Region {
			return time.Time{}, "", fmt.Errorf("models: target rows span %s/%s and %s/%s; give one region's day", t0.Region, t0.LocalDate, r.Region, r.LocalDate)
		}
	}
	date, err := parseDate(t0.LocalDate)
	return date, t0.Region, err
}

// prepare lays out a Day as a panel whose last day is the target. Target
// rows are stripped of Price and Observed first, so that a caller handing
// in final rows cannot leak the answer.
func prepare(day Day, known, observed []string, historyDays int) (*panel, int, error) {
	date, _, err := day.target()
	if err != nil {
		return nil, 0, err
	}
	firstKept := date.AddDate(0, 0, -(historyDays + fallbackDays)).Format(time.DateOnly)
	last := date.Format(time.DateOnly)
	rows := make([]schemas.FeatureRow, 0, (historyDays+fallbackDays+1)*Slots)
	for i := range day.History {
		r := &day.History[i]
		if r.LocalDate >= firstKept && r.LocalDate < last && r.Region == day.Target[0].Region {
			rows = append(rows, *r)
		}
	}
	for _, r := range day.Target {
		r.Final, r.Price, r.Observed = false, nil, nil
		rows = append(rows, r)
	}
	p, err := buildPanel(rows, known, observed)
	if err != nil {
		return nil, 0, err
	}
	return p, len(p.days) - 1, nil
}

// toRows maps slot forecasts onto the target rows (two rows share a slot on
// a 25-hour day).
func toRows(pred [Slots]float64, target []schemas.FeatureRow) ([]float64, error) {
	out := make([]float64, len(target))
	for i := range target {
		s := target[i].LocalHour
		if s < 0 || s >= Slots {
			return nil, fmt.Errorf("models: target row %s has local_hour %d; want 0..23", target[i].Hour.Format(time.RFC3339), s)
		}
		if !finite(pred[s]) {
			return nil, fmt.Errorf("models: no forecast for %s hour %d: %w", target[i].LocalDate, s, ErrNoHistory)
		}
		out[i] = pred[s]
	}
	return out, nil
}

// envelope is the serialised form of every model.
type envelope struct {
	Format  int                        `json:"format"`
	Kind    string                     `json:"kind"`
	Model   json.RawMessage            `json:"model,omitempty"`
	Regions map[string]json.RawMessage `json:"regions,omitempty"`
}

const envelopeFormat = 1

// Marshal serialises a model (weights and everything Predict needs).
func Marshal(m Model) ([]byte, error) {
	env := envelope{Format: envelopeFormat, Kind: m.Kind()}
	var payload any
	switch m := m.(type) {
	case NaiveWeekly, NaiveStandard:
	case *LEAR:
		payload = m
	case *GRU:
		payload = m.state()
	case *Ensemble:
		var members []json.RawMessage
		for _, x := range m.Members {
			b, err := Marshal(x)
			if err != nil {
				return nil, err
			}
			members = append(members, b)
		}
		payload = members
	case *Regional:
		env.Regions = map[string]json.RawMessage{}
		for r, x := range m.byRegion {
			b, err := Marshal(x)
			if err != nil {
				return nil, err
			}
			env.Regions[r] = b
		}
	default:
		return nil, fmt.Errorf("models: cannot marshal %T", m)
	}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("models: marshal %s: %w", m.Kind(), err)
		}
		env.Model = b
	}
	return json.Marshal(env)
}

// Unmarshal restores a model written by Marshal.
func Unmarshal(b []byte) (Model, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("models: not a serialised model: %w", err)
	}
	if env.Format != envelopeFormat {
		return nil, fmt.Errorf("models: model format %d; this build reads %d", env.Format, envelopeFormat)
	}
	if env.Regions != nil {
		byRegion := map[string]Model{}
		for r, raw := range env.Regions {
			m, err := Unmarshal(raw)
			if err != nil {
				return nil, fmt.Errorf("models: region %s: %w", r, err)
			}
			byRegion[r] = m
		}
		return NewRegional(byRegion)
	}
	switch env.Kind {
	case KindNaiveWeekly:
		return NaiveWeekly{}, nil
	case KindNaiveStandard:
		return NaiveStandard{}, nil
	case KindLEAR:
		m := &LEAR{}
		if err := json.Unmarshal(env.Model, m); err != nil {
			return nil, fmt.Errorf("models: lear: %w", err)
		}
		return m, m.check()
	case KindGRU:
		var st gruState
		if err := json.Unmarshal(env.Model, &st); err != nil {
			return nil, fmt.Errorf("models: gru: %w", err)
		}
		return st.model()
	case KindEnsemble:
		var raws []json.RawMessage
		if err := json.Unmarshal(env.Model, &raws); err != nil {
			return nil, fmt.Errorf("models: ensemble: %w", err)
		}
		e := &Ensemble{}
		for _, raw := range raws {
			m, err := Unmarshal(raw)
			if err != nil {
				return nil, err
			}
			e.Members = append(e.Members, m)
		}
		return e, nil
	}
	return nil, fmt.Errorf("models: unknown kind %q in serialised model", env.Kind)
}

// Regional holds one fitted model per region, all of one kind, and
// forecasts each region with its own.
type Regional struct {
	kind     string
	byRegion map[string]Model
}

// NewRegional bundles per-region models of one kind.
func NewRegional(byRegion map[string]Model) (*Regional, error) {
	r := &Regional{byRegion: byRegion}
	for name, m := range byRegion {
		if r.kind == "" {
			r.kind = m.Kind()
		} else if m.Kind() != r.kind {
			return nil, fmt.Errorf("models: regional bundle mixes %s and %s (region %s)", r.kind, m.Kind(), name)
		}
	}
	if r.kind == "" {
		return nil, errors.New("models: regional bundle has no region")
	}
	return r, nil
}

// Kind implements Model.
func (r *Regional) Kind() string { return r.kind }

// Regions lists the regions, sorted.
func (r *Regional) Regions() []string {
	out := make([]string, 0, len(r.byRegion))
	for k := range r.byRegion {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Region returns the model of one region, or nil.
func (r *Regional) Region(name string) Model { return r.byRegion[name] }

// HistoryDays implements Model.
func (r *Regional) HistoryDays() int {
	n := 0
	for _, m := range r.byRegion {
		n = max(n, m.HistoryDays())
	}
	return n
}

// Predict implements Model with the model of the target rows' region.
func (r *Regional) Predict(day Day) ([]float64, error) {
	_, region, err := day.target()
	if err != nil {
		return nil, err
	}
	m := r.byRegion[region]
	if m == nil {
		return nil, fmt.Errorf("models: %s model was not trained for region %q (it knows %v); retrain with that region", r.kind, region, r.Regions())
	}
	return m.Predict(day)
}
