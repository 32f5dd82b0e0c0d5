// Package catalog tells the scorer which models serve each region: it maps
// every region to its champion and challengers from the model registry,
// keeps the loaded models in memory, and refreshes the mapping periodically
// and whenever a model event arrives. It implements scorer.Catalog.
//
// # Vocabulary
//
// A model version is immutable: its weights never change, only its stage in
// the registry does (candidate, challenger, champion, archived). A version
// holds one fitted model per region of its card and serves those regions
// (a version naming no region serves every region). The registry has one
// champion at a time. In a region:
//
//   - the champion forecasts officially;
//   - every challenger forecasts in the shadows (or, in split A/B mode, the
//     first challenger officially for a share of regions);
//   - optionally, for a probation period after a promotion, the previous
//     champion (now archived) forecasts in the shadows too, so that the
//     promotion decider can compare the new champion with it and roll back.
package catalog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/scorer"
	"github.com/wattcast/wattcast/training/models"
)

// Registry stages.
const (
	StageCandidate  = "candidate"
	StageChallenger = "challenger"
	StageChampion   = "champion"
	StageArchived   = "archived"
)

// ErrStageConflict is returned by Registry.SetStages when a version is not
// at the expected stage: someone else moved it first.
var ErrStageConflict = errors.New("catalog: the model version is not at the expected stage (another decision moved it first)")

// Version is what serving needs to know of one model version.
type Version struct {
	ID, Version, Kind string
	// Regions are the regions the version has a fitted model for; none
	// means every region.
	Regions []string
	Stage   string
	// StageSince is when the version reached its stage; PreviousStage the
	// stage it left then ("" if unknown).
	StageSince    time.Time
	PreviousStage string
	// CreatedAt is when the version was registered (its age is measured
	// from it).
	CreatedAt time.Time
	// Calibration holds, per region, out-of-sample residuals per hour of
	// day from which split-conformal intervals at IntervalLevel are drawn.
	Calibration   map[string]*models.Conformal
	IntervalLevel float64
	// BacktestMAE and BacktestRMAE are the card's backtest metrics (NaN
	// when unknown).
	BacktestMAE, BacktestRMAE float64
}

// Key is "id@version".
func (v Version) Key() string { return v.ID + "@" + v.Version }

// Serves reports whether the version forecasts region.
func (v Version) Serves(region string) bool {
	return len(v.Regions) == 0 || slices.Contains(v.Regions, region)
}

// StageMove moves one version from one stage to another.
type StageMove struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	From    string `json:"from"`
	To      string `json:"to"`
}

// Registry is what serving needs of the model registry. The training
// registry satisfies it through Training.
type Registry interface {
	// List returns every version with its current stage.
	List(ctx context.Context) ([]Version, error)
	// Load returns a version's fitted model.
	Load(ctx context.Context, id, version string) (models.Model, error)
	// SetStages applies moves atomically, only if every version is at its
	// move's From now (a conditional write), recording reason. It returns
	// an error wrapping ErrStageConflict when one is not.
	SetStages(ctx context.Context, moves []StageMove, reason string) error
}

// Options configure a Catalog.
type Options struct {
	// Refresh is how often the registry is listed again; default 1 minute.
	// Notify triggers a refresh at once (on a model event).
	Refresh time.Duration
	// ShadowArchived keeps an archived former champion forecasting in the
	// shadows (role challenger, never official) for this long after it was
	// archived, so that a new champion can be compared with it. 0 turns it
	// off; turn it off in split A/B mode, where the first challenger of a
	// region may be made official.
	ShadowArchived time.Duration
	// IntervalLevel is the level of the conformal intervals drawn from a
	// version's calibration residuals when its card names none; default 0.9.
	IntervalLevel float64
	// Wrap, when set, wraps every deployed model (for metrics); the
	// champion and the challengers are wrapped alike.
	Wrap   func(scorer.Deployed) scorer.Deployed
	Logger *slog.Logger
	// Now is the wall clock; default time.Now.
	Now func() time.Time
}

// Catalog maps regions to deployed models. Create it with New; call
// Refresh (or Run) before the scorer starts. Safe for concurrent use.
type Catalog struct {
	reg    Registry
	opts   Options
	notify chan struct{}

	// refresh serialises Refresh, so that two refreshes (Run's and a
	// caller's) cannot install their mappings out of order.
	refresh sync.Mutex

	mu       sync.RWMutex
	versions []Version
	byRegion map[string][]scorer.Deployed
	any      []scorer.Deployed // versions that name no region
	loaded   map[string]scorer.Predictor
	refreshd time.Time
}

// New returns a catalog over reg. It does not read the registry.
func New(reg Registry, opts Options) *Catalog {
	if opts.Refresh == 0 {
		opts.Refresh = time.Minute
	}
	if opts.IntervalLevel == 0 {
		opts.IntervalLevel = 0.9
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Catalog{reg: reg, opts: opts, notify: make(chan struct{}, 1), byRegion: map[string][]scorer.Deployed{},
		loaded: map[string]scorer.Predictor{}}
}

// Deployed implements scorer.Catalog: the region's champion first, then its
// challengers, then any shadowed former champion.
func (c *Catalog) Deployed(_ context.Context, region string) ([]scorer.Deployed, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if ds, ok := c.byRegion[region]; ok {
		return ds, nil
	}
	// A region no version names: the versions that serve every region.
	return c.any, nil
}

// Versions returns the versions of the last successful refresh, sorted by
// id and version.
func (c *Catalog) Versions() []Version {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.versions)
}

// Refreshed returns when the registry was last read successfully.
func (c *Catalog) Refreshed() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.refreshd
}

// Notify asks Run to refresh now (for example on a model event). It never
// blocks.
func (c *Catalog) Notify() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// Run refreshes every Options.Refresh and on Notify until ctx is done. A
// failed refresh keeps the previous mapping (the scorer keeps forecasting
// with the models it has) and is logged.
func (c *Catalog) Run(ctx context.Context) error {
	t := time.NewTicker(c.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.notify:
		}
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			c.opts.Logger.Warn("catalog: refresh failed; serving the previous models", "err", err)
		}
	}
}

// Refresh reads the registry and rebuilds the mapping, loading the models it
// has not loaded yet. Versions are immutable, so a loaded model is kept for
// as long as it is deployed.
//
// A refresh is all or nothing: if the registry cannot be listed or any
// deployed version fails to load, the previous mapping stays (versions and
// models of every region) and the error is returned. Installing the rest
// would drop the version that failed, and if that is the champion, leave a
// region without its official model. The models that did load are kept, so
// the next refresh does not load them again.
func (c *Catalog) Refresh(ctx context.Context) error {
	c.refresh.Lock()
	defer c.refresh.Unlock()
	vs, err := c.reg.List(ctx)
	if err != nil {
		return fmt.Errorf("catalog: list the registry (check its address and access to its store): %w", err)
	}
	slices.SortFunc(vs, func(a, b Version) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Version, b.Version))
	})
	now := c.opts.Now()
	type entry struct {
		v    Version
		role string
		rank int // 0 champion, 1 challenger, 2 shadowed former champion
	}
	var es []entry
	regions := map[string]bool{}
	for _, v := range vs {
		for _, r := range v.Regions {
			regions[r] = true
		}
		// A version serving every region may be calibrated for regions
		// nobody names: map those too, so that its intervals there come
		// from Calibration[region] (the any-region list has none).
		if len(v.Regions) == 0 {
			for r := range v.Calibration {
				regions[r] = true
			}
		}
		switch {
		case v.Stage == StageChampion:
			es = append(es, entry{v, schemas.RoleChampion, 0})
		case v.Stage == StageChallenger:
			es = append(es, entry{v, schemas.RoleChallenger, 1})
		case v.Stage == StageArchived && v.PreviousStage == StageChampion && c.opts.ShadowArchived > 0 &&
			now.Sub(v.StageSince) < c.opts.ShadowArchived:
			es = append(es, entry{v, schemas.RoleChallenger, 2})
		}
	}
	slices.SortStableFunc(es, func(a, b entry) int { return cmp.Compare(a.rank, b.rank) })
	c.mu.RLock()
	loaded := maps.Clone(c.loaded)
	c.mu.RUnlock()
	next := map[string]scorer.Predictor{}
	var loadErrs []error
	for _, e := range es {
		if _, ok := next[e.v.Key()]; ok {
			continue
		}
		p, ok := loaded[e.v.Key()]
		if !ok {
			m, err := c.reg.Load(ctx, e.v.ID, e.v.Version)
			if err != nil {
				loadErrs = append(loadErrs, fmt.Errorf("catalog: load %s: %w", e.v.Key(), err))
				continue
			}
			p = m
		}
		next[e.v.Key()] = p
	}
	if len(loadErrs) > 0 {
		c.mu.Lock()
		for k, p := range next {
			c.loaded[k] = p
		}
		c.mu.Unlock()
		return fmt.Errorf("catalog: %d deployed version(s) failed to load, so the mapping is left as it was "+
			"(check the registry's store, or archive a version that cannot load): %w", len(loadErrs), errors.Join(loadErrs...))
	}
	deploy := func(region string) []scorer.Deployed {
		var out []scorer.Deployed
		for _, e := range es {
			p, ok := next[e.v.Key()]
			if !ok || (region != "" && !e.v.Serves(region)) || (region == "" && len(e.v.Regions) > 0) {
				continue
			}
			d := scorer.Deployed{ID: e.v.ID, Version: e.v.Version, Kind: e.v.Kind, Role: e.role, Model: p}
			if cal := e.v.Calibration[region]; cal != nil {
				level := e.v.IntervalLevel
				if level == 0 {
					level = c.opts.IntervalLevel
				}
				d.Level = level
				d.Interval = func(localHour int) (float64, float64, bool) {
					if localHour < 0 || localHour >= models.Slots {
						return 0, 0, false
					}
					q, ok := cal.HalfWidth(localHour, level)
					return -q, q, ok
				}
			}
			if c.opts.Wrap != nil {
				d = c.opts.Wrap(d)
			}
			out = append(out, d)
		}
		return out
	}
	out := map[string][]scorer.Deployed{}
	for r := range regions {
		out[r] = deploy(r)
	}
	anyRegion := deploy("")
	c.mu.Lock()
	c.versions = vs
	c.any = anyRegion
	c.byRegion = out
	c.loaded = next
	c.refreshd = now
	c.mu.Unlock()
	return nil
}
