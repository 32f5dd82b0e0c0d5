// Package servingtest holds test helpers for the serving packages: a real
// model registry (training/registry on a local directory) with helpers to
// stage versions, and "oracle" models whose accuracy a test controls (the
// truth plus seeded noise), so that a test can say which of two models is
// really better.
//
// The registry cannot serialise an oracle (it stores only the model kinds
// training knows), so an oracle's card is stored with a weekly-naive blob
// and the catalog's loader is pointed at the oracle instead: stages, cards
// and the stage log are the registry's own.
package servingtest

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/training/models"
	"github.com/wattcast/wattcast/training/registry"
)

// Registry is a training registry in a directory, adapted for serving.
type Registry struct {
	*catalog.Training
	reg *registry.Registry

	mu      sync.Mutex
	oracles map[string]models.Model // by model id
}

// NewRegistry opens a registry in dir (use t.TempDir()); now stamps its
// records (default time.Now).
func NewRegistry(ctx context.Context, dir string, now func() time.Time) (*Registry, error) {
	b, err := lake.Open(ctx, "file://"+dir, lake.WithoutSync())
	if err != nil {
		return nil, err
	}
	var opts []registry.Option
	if now != nil {
		opts = append(opts, registry.WithClock(now))
	}
	r := &Registry{reg: registry.New(b, opts...), oracles: map[string]models.Model{}}
	r.Training = catalog.NewTraining(r.reg, "test").WithLoader(func(ctx context.Context, card registry.Card) (models.Model, error) {
		r.mu.Lock()
		m, ok := r.oracles[card.ID]
		r.mu.Unlock()
		if ok {
			return m, nil
		}
		return r.reg.Model(ctx, card)
	})
	return r, nil
}

// Add registers model m as a new version of id serving regions and moves
// it to stage. Add the champion before anything that replaces it.
func (r *Registry) Add(ctx context.Context, id string, regions []string, stage string, m models.Model) (registry.Card, error) {
	blob, err := models.Marshal(models.NaiveWeekly{})
	if err != nil {
		return registry.Card{}, err
	}
	if _, ok := m.(*Oracle); !ok && m != nil {
		if blob, err = models.Marshal(m); err != nil {
			return registry.Card{}, err
		}
	}
	kind := models.KindNaiveWeekly
	if m != nil {
		kind = m.Kind()
	}
	card, err := r.reg.Register(ctx, registry.Card{ID: id, Kind: kind, Regions: regions}, blob)
	if err != nil {
		return registry.Card{}, err
	}
	if o, ok := m.(*Oracle); ok {
		r.mu.Lock()
		r.oracles[id] = o
		r.mu.Unlock()
	}
	if stage != registry.StageCandidate {
		if _, err := r.reg.SetStages(ctx, []registry.StageChange{{Ref: card.Ref(), From: registry.StageCandidate, To: stage}},
			"test setup", "test"); err != nil {
			return registry.Card{}, err
		}
	}
	return card, nil
}

// Stage returns the stage of "id@version"; it fails t when key is not a
// reference or the registry cannot be read.
func (r *Registry) Stage(t testing.TB, ctx context.Context, key string) string {
	t.Helper()
	ref, err := registry.ParseRef(key)
	if err != nil {
		t.Fatalf("servingtest: stage of %q: %v", key, err)
	}
	st, err := r.reg.Stages(ctx)
	if err != nil {
		t.Fatalf("servingtest: stage of %s: %v", key, err)
	}
	return st.Stage(ref)
}

// History returns the stage log's changes as "id@version from->to", one
// string per record; it fails t when the log cannot be read.
func (r *Registry) History(t testing.TB, ctx context.Context) []string {
	t.Helper()
	hist, err := r.reg.History(ctx)
	if err != nil {
		t.Fatalf("servingtest: read the stage log: %v", err)
	}
	var out []string
	for _, h := range hist {
		s := ""
		for i, c := range h.Changes {
			if i > 0 {
				s += ", "
			}
			s += fmt.Sprintf("%s %s->%s", c.Ref, c.From, c.To)
		}
		out = append(out, s)
	}
	return out
}

// Oracle is a model that forecasts Truth plus Gaussian noise of standard
// deviation Sigma, drawn from a seed and the hour, so that a forecast is
// reproducible and two oracles with different seeds err independently.
type Oracle struct {
	Truth func(region string, hour time.Time) float64
	Sigma float64
	Seed  uint64
	// Bias is added to every forecast.
	Bias float64
}

// Kind implements models.Model.
func (o *Oracle) Kind() string { return "oracle" }

// HistoryDays implements models.Model.
func (o *Oracle) HistoryDays() int { return 0 }

// Predict implements models.Model.
func (o *Oracle) Predict(day models.Day) ([]float64, error) {
	out := make([]float64, len(day.Target))
	for i, r := range day.Target {
		out[i] = o.Truth(r.Region, r.Hour) + o.Bias + o.Sigma*Noise(o.Seed, r.Region, r.Hour)
	}
	return out, nil
}

// Noise is a standard normal draw determined by seed, region and hour.
func Noise(seed uint64, region string, hour time.Time) float64 {
	h := fnv.New64a()
	h.Write([]byte(region))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()^uint64(hour.Unix())))
	v := rng.NormFloat64()
	if math.IsNaN(v) {
		return 0
	}
	return v
}
