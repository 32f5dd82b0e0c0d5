// Package servingtest holds test helpers for the serving packages: an
// in-memory model registry with conditional stage writes, and "oracle"
// models whose accuracy a test controls (the truth plus seeded noise), so
// that a test can say which of two models is really better.
//
// MemRegistry stands in for training/registry in unit tests: it keeps the
// same contract (immutable versions, conditional stage changes) without an
// object store. Tests that can use the real registry should.
package servingtest

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/training/models"
)

// MemRegistry is an in-memory catalog.Registry. Safe for concurrent use.
type MemRegistry struct {
	mu       sync.Mutex
	versions map[string]*catalog.Version
	models   map[string]models.Model
	changes  []StageChange
	now      func() time.Time
	// ListCalls counts List calls.
	ListCalls int
}

// StageChange is one applied SetStage.
type StageChange struct {
	Key, From, To, Reason string
}

// NewMemRegistry returns an empty registry whose stage times come from now
// (default time.Now).
func NewMemRegistry(now func() time.Time) *MemRegistry {
	if now == nil {
		now = time.Now
	}
	return &MemRegistry{versions: map[string]*catalog.Version{}, models: map[string]models.Model{}, now: now}
}

// Add registers a version and its model.
func (r *MemRegistry) Add(v catalog.Version, m models.Model) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v.StageSince.IsZero() {
		v.StageSince = r.now()
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt = r.now()
	}
	r.versions[v.Key()] = &v
	r.models[v.Key()] = m
}

// List implements catalog.Registry.
func (r *MemRegistry) List(context.Context) ([]catalog.Version, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ListCalls++
	out := make([]catalog.Version, 0, len(r.versions))
	for _, v := range r.versions {
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b catalog.Version) int {
		if a.Key() < b.Key() {
			return -1
		}
		if a.Key() > b.Key() {
			return 1
		}
		return 0
	})
	return out, nil
}

// Load implements catalog.Registry.
func (r *MemRegistry) Load(_ context.Context, id, version string) (models.Model, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.models[id+"@"+version]
	if !ok {
		return nil, fmt.Errorf("servingtest: no model %s@%s", id, version)
	}
	return m, nil
}

// SetStage implements catalog.Registry with a conditional write.
func (r *MemRegistry) SetStage(_ context.Context, id, version, from, to, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.versions[id+"@"+version]
	if !ok {
		return fmt.Errorf("servingtest: no model %s@%s", id, version)
	}
	if v.Stage != from {
		return fmt.Errorf("servingtest: %s@%s is %s, not %s: %w", id, version, v.Stage, from, catalog.ErrStageConflict)
	}
	v.PreviousStage, v.Stage, v.StageSince = v.Stage, to, r.now()
	r.changes = append(r.changes, StageChange{v.Key(), from, to, reason})
	return nil
}

// Stage returns the stage of id@version.
func (r *MemRegistry) Stage(key string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.versions[key]; ok {
		return v.Stage
	}
	return ""
}

// Changes returns the applied stage changes, oldest first.
func (r *MemRegistry) Changes() []StageChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changes)
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
