package catalog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/wattcast/wattcast/training/models"
	"github.com/wattcast/wattcast/training/registry"
)

// Training adapts the training registry (training/registry) to Registry.
// It caches what never changes: cards and stage-log records are immutable,
// so a List reads only the cards and stage records it has not seen.
type Training struct {
	reg   *registry.Registry
	actor string
	// Load, when set, replaces the registry's model loading (tests use it
	// to serve models the registry cannot serialise).
	load func(ctx context.Context, card registry.Card) (models.Model, error)

	mu      sync.Mutex
	cards   map[string]registry.Card // "id@version"
	history []registry.StageRecord
}

// NewTraining adapts reg; actor names this service in the stage log.
func NewTraining(reg *registry.Registry, actor string) *Training {
	return &Training{reg: reg, actor: actor, cards: map[string]registry.Card{}}
}

// WithLoader replaces how models are loaded from their cards.
func (t *Training) WithLoader(load func(ctx context.Context, card registry.Card) (models.Model, error)) *Training {
	t.load = load
	return t
}

// Registry returns the adapted registry.
func (t *Training) Registry() *registry.Registry { return t.reg }

// List implements Registry.
func (t *Training) List(ctx context.Context) ([]Version, error) {
	ids, err := t.reg.IDs(ctx)
	if err != nil {
		return nil, err
	}
	hist, err := t.stageHistory(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Version
	for _, id := range ids {
		cards, err := t.cardsOf(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, c := range cards {
			v := Version{ID: c.ID, Version: c.Version, Kind: c.Kind, Regions: c.Regions, Stage: registry.StageCandidate,
				CreatedAt: c.CreatedAt, Calibration: c.Calibration, BacktestMAE: math.NaN(), BacktestRMAE: math.NaN()}
			if c.Backtest != nil {
				v.BacktestMAE, v.BacktestRMAE = c.Backtest.Overall.MAE, c.Backtest.Overall.RMAE
			}
			// The stage log: the latest record holds every stage; the
			// last change of this version says since when and from what.
			ref := c.Ref().String()
			for i := len(hist) - 1; i >= 0; i-- {
				if st, ok := hist[i].Stages[ref]; ok && i == len(hist)-1 {
					v.Stage = st
				}
				if moved(hist[i], ref) {
					v.StageSince = hist[i].Time
					if i > 0 {
						v.PreviousStage = hist[i-1].Stage(c.Ref())
					} else {
						v.PreviousStage = registry.StageCandidate
					}
					break
				}
			}
			if v.StageSince.IsZero() {
				v.StageSince = c.CreatedAt
			}
			out = append(out, v)
		}
	}
	return out, nil
}

func moved(rec registry.StageRecord, ref string) bool {
	for _, c := range rec.Changes {
		if c.Ref.String() == ref {
			return true
		}
	}
	return false
}

// cardsOf returns id's cards, reading only versions not cached. Called
// with t.mu held.
func (t *Training) cardsOf(ctx context.Context, id string) ([]registry.Card, error) {
	// Versions lists the keys; a card read once is never read again.
	latest, err := t.reg.Card(ctx, registry.Ref{ID: id})
	if err != nil {
		return nil, err
	}
	n := 0
	fmt.Sscanf(latest.Version, "%d", &n)
	t.cards[latest.Ref().String()] = latest
	var out []registry.Card
	for v := 1; v <= n; v++ {
		ref := registry.Ref{ID: id, Version: fmt.Sprint(v)}
		c, ok := t.cards[ref.String()]
		if !ok {
			c, err = t.reg.Card(ctx, ref)
			if errors.Is(err, registry.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			t.cards[ref.String()] = c
		}
		out = append(out, c)
	}
	return out, nil
}

// stageHistory returns the stage log, reading only records not cached.
func (t *Training) stageHistory(ctx context.Context) ([]registry.StageRecord, error) {
	cur, err := t.reg.Stages(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	have := len(t.history)
	t.mu.Unlock()
	if cur.Seq == have {
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.history, nil
	}
	// Records are immutable: fetch the whole log only when it grew, and
	// keep it (the log grows by a record per decision: small).
	hist, err := t.reg.History(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(hist, func(i, j int) bool { return hist[i].Seq < hist[j].Seq })
	t.mu.Lock()
	defer t.mu.Unlock()
	t.history = hist
	return hist, nil
}

// Load implements Registry.
func (t *Training) Load(ctx context.Context, id, version string) (models.Model, error) {
	card, err := t.reg.Card(ctx, registry.Ref{ID: id, Version: version})
	if err != nil {
		return nil, err
	}
	if t.load != nil {
		return t.load(ctx, card)
	}
	return t.reg.Model(ctx, card)
}

// SetStages implements Registry with one record of the stage log.
func (t *Training) SetStages(ctx context.Context, moves []StageMove, reason string) error {
	changes := make([]registry.StageChange, len(moves))
	for i, m := range moves {
		changes[i] = registry.StageChange{Ref: registry.Ref{ID: m.ID, Version: m.Version}, From: m.From, To: m.To}
	}
	_, err := t.reg.SetStages(ctx, changes, reason, t.actor)
	if errors.Is(err, registry.ErrStageConflict) {
		return fmt.Errorf("%w: %w", ErrStageConflict, err)
	}
	return err
}

// Describe is a short description of moves, for logs.
func Describe(moves []StageMove) string {
	parts := make([]string, len(moves))
	for i, m := range moves {
		parts[i] = fmt.Sprintf("%s@%s %s->%s", m.ID, m.Version, m.From, m.To)
	}
	return strings.Join(parts, ", ")
}

var _ Registry = (*Training)(nil)
