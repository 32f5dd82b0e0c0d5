package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/training"
	"github.com/wattcast/wattcast/training/registry"
)

func trainCommand() *command {
	return &command{
		name:    "train",
		summary: "train, backtest and register models from the feature lake",
		usage:   "wattcast train [--preset demo|demo-gru|full] [--regions R1,R2] [--from DATE] [--to DATE] [--stage candidate|challenger] [flags]",
		uses:    sharedStore,
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			var (
				regions  listFlag
				preset   = fs.String("preset", training.PresetFull, "model set: demo (weekly naive + LEAR, fast), demo-gru, full")
				from     = fs.String("from", "", "first delivery date to read, YYYY-MM-DD (default: all)")
				to       = fs.String("to", "", "read delivery hours before this date, YYYY-MM-DD (default: all)")
				holdout  = fs.Int("holdout-days", 28, "backtest the models on the last N days")
				recal    = fs.Int("recalibrate-every", 7, "refit interval in the backtest, days")
				seed     = fs.Uint64("seed", 1, "random seed of every fit")
				idPrefix = fs.String("id-prefix", "", "prefix of the model ids in the registry")
				every    = fs.Duration("every", 0, "retrain on this interval (e.g. 24h) instead of once")
				stage    = fs.String("stage", registry.StageCandidate, "stage of the new versions when a champion exists: candidate (a person stages them) "+
					"or challenger (the scorer forecasts with them and promotes one only if it is measurably better: for a scheduled trainer)")
			)
			fs.Var(&regions, "regions", "regions to train, comma separated (default: every region in the lake); a region with too little history to backtest is skipped and listed")
			return func(rc *runContext) error {
				if *stage != registry.StageCandidate && *stage != registry.StageChallenger {
					return fmt.Errorf("train: --stage %q: want candidate or challenger", *stage)
				}
				specs, err := training.Preset(*preset)
				if err != nil {
					return err
				}
				fromT, err := parseDate(*from)
				if err != nil {
					return fmt.Errorf("train: --from: %w", err)
				}
				toT, err := parseDate(*to)
				if err != nil {
					return fmt.Errorf("train: --to: %w", err)
				}
				lk, err := g.openLakeToRead(rc) // a mistyped --lake is an error, not an empty lake
				if err != nil {
					return err
				}
				rb, loc, err := g.openRegistry(rc)
				if err != nil {
					return err
				}
				reader := training.FeatureReaderFunc(func(ctx context.Context, regions []string, from, to time.Time) ([]schemas.FeatureRow, []string, error) {
					return lake.ReadFeatures(ctx, lk, lake.FeatureFilter{Regions: regions, From: from, To: to})
				})
				opts := training.Options{Reader: reader, Registry: registry.New(rb), Regions: regions, From: fromT, To: toT,
					Specs: specs, HoldoutDays: *holdout, RecalibrateEvery: *recal, Seed: *seed, CodeVersion: version,
					IDPrefix: *idPrefix, Stage: *stage, Progress: rc.out, Log: rc.log}
				for {
					res, err := training.Train(rc, opts)
					if err != nil {
						return err
					}
					printTrainSummary(rc, res, loc)
					if *every <= 0 {
						return nil
					}
					select {
					case <-rc.Done():
						return rc.Err()
					case <-time.After(*every):
					}
				}
			}
		},
	}
}

func printTrainSummary(rc *runContext, res *training.Result, loc string) {
	fmt.Fprintf(rc.out, "trained on %d feature rows from %d lake files, regions %s; registry %s\n",
		res.Rows, res.Files, strings.Join(res.Regions, ","), loc)
	for _, r := range slices.Sorted(maps.Keys(res.Skipped)) {
		fmt.Fprintf(rc.out, "skipped region %s: %s\n", r, res.Skipped[r])
	}
	tw := tabwriter.NewWriter(rc.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tKIND\tSTAGE\tBACKTEST\tMAE\trMAE\tCOV90")
	for _, m := range res.Models {
		bt := m.Card.Backtest
		cov := "-"
		if c, ok := pooledCoverage(bt, 0.9); ok {
			cov = fmt.Sprintf("%.2f", c)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s..%s\t%.3f\t%.3f\t%s\n", m.Card.Ref(), m.Card.Kind, m.Stage, bt.From, bt.To, bt.Overall.MAE, bt.Overall.RMAE, cov)
	}
	tw.Flush()
	if res.Bootstrapped {
		fmt.Fprintf(rc.out, "no champion existed: %s (best backtest rMAE) is now champion, the others challengers\n", res.Champion)
	}
}

// pooledCoverage is the coverage of a backtest's intervals at level over
// every region's hours (each region weighted by its scored hours), as MAE
// and rMAE are pooled; ok is false when no region has that level.
func pooledCoverage(bt *registry.Backtest, level float64) (float64, bool) {
	var sum, n float64
	if bt == nil {
		return 0, false
	}
	for region, ivs := range bt.Intervals {
		for _, iv := range ivs {
			if iv.Level == level {
				w := float64(max(bt.ByRegion[region].N, 1))
				sum, n = sum+iv.Coverage*w, n+w
			}
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / n, true
}
