package models

import (
	"context"
	"errors"
	"fmt"

	"github.com/wattcast/wattcast/schemas"
)

// Ensemble forecasts the mean of its members' forecasts (the GRU and LEAR
// by default), which usually beats each one: their errors are only partly
// correlated.
type Ensemble struct {
	Members []Model
}

// NewEnsemble combines fitted models.
func NewEnsemble(members ...Model) *Ensemble { return &Ensemble{Members: members} }

// Kind implements Model.
func (*Ensemble) Kind() string { return KindEnsemble }

// HistoryDays implements Model.
func (e *Ensemble) HistoryDays() int {
	n := 0
	for _, m := range e.Members {
		n = max(n, m.HistoryDays())
	}
	return n
}

// Predict implements Model. It fails if any member fails, rather than
// silently becoming a different model.
func (e *Ensemble) Predict(day Day) ([]float64, error) {
	if len(e.Members) == 0 {
		return nil, errors.New("models: ensemble has no members")
	}
	var out []float64
	for _, m := range e.Members {
		p, err := m.Predict(day)
		if err != nil {
			return nil, fmt.Errorf("models: ensemble member %s: %w", m.Kind(), err)
		}
		if out == nil {
			out = make([]float64, len(p))
		}
		for i, v := range p {
			out[i] += v / float64(len(e.Members))
		}
	}
	return out, nil
}

// DefaultEnsemble is the members of an ensemble spec without any: GRU and LEAR.
func DefaultEnsemble() []Spec { return []Spec{{Kind: KindGRU}, {Kind: KindLEAR}} }

func fitEnsemble(ctx context.Context, members []Spec, rows []schemas.FeatureRow, opts FitOptions) (*Ensemble, FitInfo, error) {
	if len(members) == 0 {
		members = DefaultEnsemble()
	}
	e := &Ensemble{}
	info := FitInfo{}
	for i, s := range members {
		if s.Kind == KindEnsemble {
			return nil, FitInfo{}, errors.New("models: an ensemble cannot contain an ensemble")
		}
		o := opts
		o.Seed = opts.Seed + uint64(i)
		o.Init = nil
		m, mi, err := Fit(ctx, s, rows, o)
		if err != nil {
			return nil, FitInfo{}, err
		}
		e.Members = append(e.Members, m)
		info.Members = append(info.Members, mi)
	}
	return e, info, nil
}
