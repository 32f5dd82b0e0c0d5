// Package training is wattcast's batch trainer: it reads final feature rows
// (from the lake, through a FeatureReader), backtests each configured model
// kind on the held-out last weeks, fits each on all the rows, and registers
// every model with its card in the registry. When the registry has no
// champion yet, the model with the best backtest rMAE becomes champion and
// the others challengers, so that a fresh deployment serves forecasts at
// once; after that, promotion is the scorer's decision (issue 7).
//
// Subpackages: models (the models, stdlib + gonum only), backtest
// (epftoolbox-style evaluation, Diebold-Mariano), registry (versions,
// cards, stages), dataset (CSV to feature rows), progress (bars).
package training

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/training/backtest"
	"github.com/wattcast/wattcast/training/decision"
	"github.com/wattcast/wattcast/training/models"
	"github.com/wattcast/wattcast/training/progress"
	"github.com/wattcast/wattcast/training/registry"
)

// FeatureReader reads final feature rows of regions (all when empty) whose
// delivery hour is in [from, to) (open where zero), and names the files
// they came from. cmd/wattcast adapts lake.ReadFeatures to it.
type FeatureReader interface {
	ReadFeatures(ctx context.Context, regions []string, from, to time.Time) ([]schemas.FeatureRow, []string, error)
}

// FeatureReaderFunc adapts a function to FeatureReader.
type FeatureReaderFunc func(ctx context.Context, regions []string, from, to time.Time) ([]schemas.FeatureRow, []string, error)

// ReadFeatures implements FeatureReader.
func (f FeatureReaderFunc) ReadFeatures(ctx context.Context, regions []string, from, to time.Time) ([]schemas.FeatureRow, []string, error) {
	return f(ctx, regions, from, to)
}

// Presets name model sets.
const (
	// PresetDemo is fast: weekly naive and LEAR with short windows (about
	// 45k rows of two regions train and backtest in well under 30 s on two
	// cores).
	PresetDemo = "demo"
	// PresetDemoGRU adds a small GRU to the demo set.
	PresetDemoGRU = "demo-gru"
	// PresetFull trains everything with the defaults used in
	// docs/backtest.md: weekly and standard naive, LEAR, GRU, ensemble.
	PresetFull = "full"
)

// Preset returns the model specs of a preset.
func Preset(name string) ([]models.Spec, error) {
	demoLEAR := models.Spec{Kind: models.KindLEAR, LEAR: &models.LEARParams{Windows: []int{56, 364}}}
	switch name {
	case PresetDemo:
		return []models.Spec{{Kind: models.KindNaiveWeekly}, demoLEAR}, nil
	case PresetDemoGRU:
		gru := models.Spec{Kind: models.KindGRU, GRU: &models.GRUParams{Hidden: 16, HeadHidden: 32, MaxEpochs: 8, WindowDays: 365}}
		return []models.Spec{{Kind: models.KindNaiveWeekly}, demoLEAR, gru}, nil
	case PresetFull, "":
		return []models.Spec{{Kind: models.KindNaiveWeekly}, {Kind: models.KindNaiveStandard}, {Kind: models.KindLEAR},
			{Kind: models.KindGRU}, {Kind: models.KindEnsemble}}, nil
	}
	return nil, fmt.Errorf("training: no preset %q; want %s, %s or %s", name, PresetDemo, PresetDemoGRU, PresetFull)
}

// Options configure Train. Zero values mean the defaults.
type Options struct {
	Reader   FeatureReader
	Registry *registry.Registry
	// Regions to train (all in the lake when empty); From and To bound the
	// delivery hours read.
	Regions  []string
	From, To time.Time
	// Specs are the models to train (default: Preset(PresetFull)).
	Specs []models.Spec
	// HoldoutDays is the backtest period: the last days of the data;
	// default 28.
	HoldoutDays int
	// RecalibrateEvery is the backtest's refit interval in days; default 7.
	RecalibrateEvery int
	// Seed seeds every fit: spec i fits with Seed+i, except that an
	// ensemble's member spec takes the seed the ensemble's fit gives it
	// (so the ensemble reuses it). Each card records its seed.
	Seed uint64
	// CodeVersion is recorded on each card.
	CodeVersion string
	// IDPrefix starts every model id (default none): ids are the spec
	// names, e.g. "lear", "ensemble-gru-lear".
	IDPrefix string
	// NoBootstrap leaves stages alone even when there is no champion.
	NoBootstrap bool
	// Stage is where the new versions go when a champion exists:
	// registry.StageCandidate (the default: a person stages them) or
	// registry.StageChallenger (the scorer forecasts with them in shadow
	// and promotes one only if it is measurably better: a scheduled
	// trainer's setting). With no champion, the first run bootstraps.
	Stage    string
	Progress io.Writer
	Log      *slog.Logger
}

// Trained is one registered model.
type Trained struct {
	Card registry.Card
	// Stage is its stage after Train (candidate unless bootstrapped).
	Stage string
}

// Result is what Train did.
type Result struct {
	Rows    int
	Files   int
	Regions []string
	// Skipped are the regions left out, with why: a region with too little
	// history to backtest (a region just added, a smoke test's rows) is
	// skipped rather than failing the others' training, whether it was
	// named in Options.Regions or found in the lake. Train fails only when
	// no region is left.
	Skipped map[string]string
	Models  []Trained
	// Backtests are the per-region backtests.
	Backtests []*backtest.Result
	// Bootstrapped is true when Train chose the first champion.
	Bootstrapped bool
	Champion     registry.Ref
}

// ModelID is the registry id of a spec: its name with punctuation as dashes.
func ModelID(prefix string, s models.Spec) string {
	r := strings.NewReplacer("(", "-", ")", "", "+", "-")
	return prefix + r.Replace(s.Name())
}

// Train reads the rows, backtests and fits every spec per region, and
// registers one model per spec (covering every region).
func Train(ctx context.Context, o Options) (*Result, error) {
	if o.Reader == nil || o.Registry == nil {
		return nil, errors.New("training: a feature reader and a registry are required")
	}
	switch o.Stage {
	case "", registry.StageCandidate, registry.StageChallenger:
	default:
		return nil, fmt.Errorf("training: new versions go to stage candidate or challenger, not %q", o.Stage)
	}
	if o.Specs == nil {
		o.Specs, _ = Preset(PresetFull)
	}
	if o.HoldoutDays == 0 {
		o.HoldoutDays = 28
	}
	if o.RecalibrateEvery == 0 {
		o.RecalibrateEvery = 7
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rows, files, err := o.Reader.ReadFeatures(ctx, o.Regions, o.From, o.To)
	if err != nil {
		return nil, fmt.Errorf("training: read features: %w", err)
	}
	byRegion := map[string][]schemas.FeatureRow{}
	for _, r := range rows {
		if r.Final && r.Price != nil {
			byRegion[r.Region] = append(byRegion[r.Region], r)
		}
	}
	if len(byRegion) == 0 {
		return nil, errors.New("training: the lake holds no final feature rows for the regions and dates asked; run `wattcast process` first")
	}
	res := &Result{Rows: len(rows), Files: len(files)}
	for r := range byRegion {
		res.Regions = append(res.Regions, r)
	}
	sort.Strings(res.Regions)
	log.Info("training", "rows", len(rows), "files", len(files), "regions", res.Regions, "models", len(o.Specs))

	// Backtest per region on the held-out last days.
	bts := map[string]*backtest.Result{}
	var kept []string
	for _, region := range res.Regions {
		rr := byRegion[region]
		sort.SliceStable(rr, func(i, j int) bool { return rr[i].Hour.Before(rr[j].Hour) })
		last, err := time.Parse(time.DateOnly, rr[len(rr)-1].LocalDate)
		if err != nil {
			return nil, fmt.Errorf("training: %w", err)
		}
		cfg := backtest.Config{
			TestStart: last.AddDate(0, 0, -(o.HoldoutDays - 1)).Format(time.DateOnly), TestEnd: last.Format(time.DateOnly),
			RecalibrateEvery: o.RecalibrateEvery, RecalibrateKind: map[string]int{models.KindGRU: o.HoldoutDays},
			CalibrationDays: min(28, o.HoldoutDays), Seed: o.Seed, Progress: o.Progress, Log: log,
		}
		bt, err := backtest.Run(ctx, rr, o.Specs, cfg)
		if errors.Is(err, backtest.ErrTooLittleHistory) {
			if res.Skipped == nil {
				res.Skipped = map[string]string{}
			}
			res.Skipped[region] = err.Error()
			log.Warn("training: region skipped: too little history to backtest; it is trained once it has more", "region", region, "err", err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("training: backtest %s: %w", region, err)
		}
		bts[region] = bt
		res.Backtests = append(res.Backtests, bt)
		kept = append(kept, region)
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("training: %w: no region has enough to backtest %d holdout days after their calibration: %v",
			backtest.ErrTooLittleHistory, o.HoldoutDays, res.Skipped)
	}
	res.Regions = kept
	if len(res.Skipped) > 0 {
		// The lineage names what the models were built from: not the
		// skipped regions' rows and files.
		rows, files = withoutRegions(rows, files, res.Skipped)
		res.Rows, res.Files = len(rows), len(files)
	}

	// Final fits on all rows, one model per spec covering every region.
	fitted := map[string]map[string]models.Model{} // spec name -> region -> model
	infos := map[string]map[string]models.FitInfo{}
	seeds := fitSeeds(o.Specs, o.Seed)
	fitWith := map[string]fitKey{} // spec name -> the spec and seed fitted
	bar := progress.New(o.Progress, "final fits", len(o.Specs)*len(res.Regions))
	defer bar.Done()
	for si, spec := range o.Specs {
		fitted[spec.Name()] = map[string]models.Model{}
		infos[spec.Name()] = map[string]models.FitInfo{}
		for _, region := range res.Regions {
			var (
				m    models.Model
				info models.FitInfo
			)
			if members, ok := reuseMembers(spec, seeds[si], fitted, fitWith, region); ok {
				m = models.NewEnsemble(members...)
				info = models.FitInfo{Kind: models.KindEnsemble}
				for _, ms := range ensembleMembers(spec) {
					info.Members = append(info.Members, infos[ms.Name()][region])
				}
			} else {
				fm, fi, err := models.Fit(ctx, spec, byRegion[region], models.FitOptions{Seed: seeds[si]})
				if err != nil {
					return nil, fmt.Errorf("training: fit %s for %s: %w", spec.Name(), region, err)
				}
				m, info = fm, fi
			}
			fitted[spec.Name()][region] = m
			infos[spec.Name()][region] = info
			fitWith[spec.Name()] = fitKey{spec, seeds[si]}
			bar.Add(1)
			log.Info("fitted", "model", spec.Name(), "region", region, "days", info.Days, "took", info.Duration.Round(time.Millisecond))
		}
	}

	bar.Done()

	// Register.
	for si, spec := range o.Specs {
		bundle, err := models.NewRegional(fitted[spec.Name()])
		if err != nil {
			return nil, fmt.Errorf("training: %w", err)
		}
		blob, err := models.Marshal(bundle)
		if err != nil {
			return nil, fmt.Errorf("training: %w", err)
		}
		card := registry.Card{
			ID: ModelID(o.IDPrefix, spec), Kind: spec.Kind, Spec: spec, Regions: res.Regions, Rows: len(rows),
			LakeFiles: files, KafkaOffsets: registry.OffsetsFromFiles(files), CodeVersion: o.CodeVersion,
			Seed: seeds[si], Fits: infos[spec.Name()], Calibration: map[string]*models.Conformal{},
			Backtest: summarise(spec.Name(), bts, o.RecalibrateEvery),
		}
		for _, region := range res.Regions {
			info := infos[spec.Name()][region]
			if len(card.Features) == 0 {
				card.Features = info.Features
			}
			card.TrainingWindow = widen(card.TrainingWindow, info.From, info.To)
			if mr := bts[region].Model(spec.Name()); mr != nil {
				card.Calibration[region] = mr.Calibration
			}
		}
		stored, err := o.Registry.Register(ctx, card, blob)
		if err != nil {
			return nil, fmt.Errorf("training: register %s: %w", card.ID, err)
		}
		res.Models = append(res.Models, Trained{Card: stored, Stage: registry.StageCandidate})
		log.Info("registered", "model", stored.Ref().String(), "rmae", stored.Backtest.Overall.RMAE)
	}

	if !o.NoBootstrap {
		if err := bootstrap(ctx, o.Registry, res); err != nil {
			return nil, err
		}
	}
	if o.Stage == registry.StageChallenger && !res.Bootstrapped {
		if err := toChallengers(ctx, o.Registry, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func ensembleMembers(s models.Spec) []models.Spec {
	if len(s.Members) == 0 {
		return models.DefaultEnsemble()
	}
	return s.Members
}

// fitKey is what a fit was given besides the rows.
type fitKey struct {
	spec models.Spec
	seed uint64
}

// fitSeeds returns each spec's fit seed: seed+index, except that a spec
// which is also an ensemble's member takes the seed models.Fit gives that
// member (the ensemble's seed plus the member's index). The ensemble can
// then reuse the member's fit and its card's seed still reproduces its
// weights. A spec in several ensembles follows the first.
func fitSeeds(specs []models.Spec, seed uint64) []uint64 {
	out := make([]uint64, len(specs))
	for i := range specs {
		out[i] = seed + uint64(i)
	}
	taken := make([]bool, len(specs))
	for ei, e := range specs {
		if e.Kind != models.KindEnsemble {
			continue
		}
		for mi, ms := range ensembleMembers(e) {
			for si, s := range specs {
				if !taken[si] && reflect.DeepEqual(s, ms) {
					out[si], taken[si] = out[ei]+uint64(mi), true
				}
			}
		}
	}
	return out
}

// reuseMembers returns an ensemble's members already fitted for region,
// when each was fitted with the same spec and the seed models.Fit(spec,
// seed) would give it, so that the ensemble's card (spec and seed)
// reproduces the reused weights. Otherwise the ensemble is fitted anew.
func reuseMembers(spec models.Spec, seed uint64, fitted map[string]map[string]models.Model, fitWith map[string]fitKey, region string) ([]models.Model, bool) {
	if spec.Kind != models.KindEnsemble {
		return nil, false
	}
	var out []models.Model
	for i, m := range ensembleMembers(spec) {
		f, ok := fitted[m.Name()][region]
		if k := fitWith[m.Name()]; !ok || k.seed != seed+uint64(i) || !reflect.DeepEqual(k.spec, m) {
			return nil, false
		}
		out = append(out, f)
	}
	return out, true
}

func widen(w registry.Window, from, to string) registry.Window {
	if from != "" && (w.From == "" || from < w.From) {
		w.From = from
	}
	if to > w.To {
		w.To = to
	}
	return w
}

// summarise pools a model's per-region backtests: MAE, RMSE and sMAPE
// weighted by hours, rMAE as total absolute error over the weekly naive's.
func summarise(name string, bts map[string]*backtest.Result, recal int) *registry.Backtest {
	s := &registry.Backtest{RecalibrateEvery: recal, ByRegion: map[string]backtest.Metrics{}, Intervals: map[string][]backtest.Interval{},
		Windows: map[string]decision.Value{}}
	var n, abs, sq, smape, naive float64
	for region, bt := range bts {
		mr := bt.Model(name)
		if mr == nil {
			continue
		}
		o := mr.Overall
		s.ByRegion[region] = o
		s.Intervals[region] = mr.Intervals
		s.Windows[region] = mr.Window
		if s.From == "" || bt.From < s.From {
			s.From = bt.From
		}
		s.To = max(s.To, bt.To)
		s.Days = max(s.Days, len(bt.Days))
		k := float64(o.N)
		n += k
		abs += k * o.MAE
		sq += k * o.RMSE * o.RMSE
		smape += k * o.SMAPE
		if o.RMAE > 0 {
			naive += k * o.MAE / o.RMAE
		}
	}
	if n > 0 {
		s.Overall = backtest.Metrics{N: int(n), MAE: abs / n, RMSE: math.Sqrt(sq / n), SMAPE: smape / n, RMAE: math.NaN()}
		if naive > 0 {
			s.Overall.RMAE = abs / naive
		}
	}
	return s
}

// withoutRegions drops the rows of the regions in skip, and the lake files
// of their partitions (".../region=<region>/...").
func withoutRegions(rows []schemas.FeatureRow, files []string, skip map[string]string) ([]schemas.FeatureRow, []string) {
	var keptRows []schemas.FeatureRow
	for _, r := range rows {
		if _, ok := skip[r.Region]; !ok {
			keptRows = append(keptRows, r)
		}
	}
	var keptFiles []string
	for _, f := range files {
		in := false
		for region := range skip {
			if strings.Contains("/"+f, "/region="+region+"/") {
				in = true
			}
		}
		if !in {
			keptFiles = append(keptFiles, f)
		}
	}
	return keptRows, keptFiles
}

// toChallengers moves this run's versions that are still candidates to
// challenger in one stage-log record (all or none). A conflict means
// someone staged one of them first: their decision stands, and the others
// are moved in a new record.
func toChallengers(ctx context.Context, reg *registry.Registry, res *Result) error {
	for attempt := 0; ; attempt++ {
		cur, err := reg.Stages(ctx)
		if err != nil {
			return fmt.Errorf("training: %w", err)
		}
		var changes []registry.StageChange
		for i, t := range res.Models {
			res.Models[i].Stage = cur.Stage(t.Card.Ref())
			if res.Models[i].Stage == registry.StageCandidate {
				changes = append(changes, registry.StageChange{Ref: t.Card.Ref(), From: registry.StageCandidate, To: registry.StageChallenger})
			}
		}
		if len(changes) == 0 {
			return nil
		}
		_, err = reg.SetStages(ctx, changes, "trained on schedule: a challenger until it beats the champion", "trainer")
		switch {
		case err == nil:
			for i := range res.Models {
				if res.Models[i].Stage == registry.StageCandidate {
					res.Models[i].Stage = registry.StageChallenger
				}
			}
			return nil
		case !errors.Is(err, registry.ErrStageConflict) || attempt == 2:
			return fmt.Errorf("training: stage the new versions as challengers: %w", err)
		}
	}
}

// bootstrap makes the best model champion and the others challengers when
// the registry has no champion.
func bootstrap(ctx context.Context, reg *registry.Registry, res *Result) error {
	cur, err := reg.Stages(ctx)
	if err != nil {
		return fmt.Errorf("training: %w", err)
	}
	if ch, ok := cur.Champion(); ok {
		res.Champion = ch
		return nil
	}
	best := -1
	for i, t := range res.Models {
		r := t.Card.Backtest.Overall.RMAE
		if !math.IsNaN(r) && (best < 0 || r < res.Models[best].Card.Backtest.Overall.RMAE) {
			best = i
		}
	}
	if best < 0 {
		return errors.New("training: no model has a backtest rMAE; cannot choose a champion")
	}
	var changes []registry.StageChange
	for i, t := range res.Models {
		to := registry.StageChallenger
		if i == best {
			to = registry.StageChampion
		}
		changes = append(changes, registry.StageChange{Ref: t.Card.Ref(), From: registry.StageCandidate, To: to})
	}
	_, err = reg.SetStages(ctx, changes, "bootstrap: no champion yet; best backtest rMAE becomes champion", "trainer")
	if errors.Is(err, registry.ErrStageConflict) {
		// Another trainer bootstrapped first (SetStages reports a champion
		// that appeared after our read as a conflict): keep its decision.
		cur, err = reg.Stages(ctx)
		if err != nil {
			return fmt.Errorf("training: %w", err)
		}
		res.Champion, _ = cur.Champion()
		for i := range res.Models {
			res.Models[i].Stage = cur.Stage(res.Models[i].Card.Ref())
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("training: bootstrap stages: %w", err)
	}
	res.Bootstrapped = true
	for i := range res.Models {
		res.Models[i].Stage = changes[i].To
	}
	res.Champion = res.Models[best].Card.Ref()
	return nil
}
