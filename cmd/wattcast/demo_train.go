package main

import (
	"context"
	"fmt"
	"time"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/serving/scorer"
	"github.com/wattcast/wattcast/training"
	"github.com/wattcast/wattcast/training/registry"
)

// trainedModel is one registered model, for the summary.
type trainedModel struct {
	regions           []string
	id, version, kind string
	stage             string
	mae, rmae         float64
}

type trainResult struct {
	models       []trainedModel
	catalog      scorer.Catalog
	forecastFrom map[string]time.Time
}

// mapCatalog serves fixed models per region (the smoke test's).
type mapCatalog map[string][]scorer.Deployed

func (c mapCatalog) Deployed(_ context.Context, region string) ([]scorer.Deployed, error) {
	return c[region], nil
}

// demoTrain trains the demo's models from the lake on everything before
// each region's held-out last weeks, registers them (the trainer backtests
// each on its own last four weeks before the cut and bootstraps the first
// champion), and returns a catalog over the registry for the scorer, which
// then forecasts the held-out weeks the models never saw.
func demoTrain(ctx context.Context, o demoOptions, lb *lake.Bucket, pr *progress) (*trainResult, error) {
	all, files, err := lake.ReadFeatures(ctx, lb, lake.FeatureFilter{})
	if err != nil {
		return nil, err
	}
	last := map[string]time.Time{}
	for _, r := range all {
		if r.Hour.After(last[r.Region]) {
			last[r.Region] = r.Hour
		}
	}
	cut := map[string]time.Time{}
	res := &trainResult{forecastFrom: map[string]time.Time{}}
	for region, l := range last {
		cut[region] = l.Add(-o.holdout).Truncate(24 * time.Hour)
	}
	for _, r := range all {
		if !r.Hour.Before(cut[r.Region]) {
			if f, ok := res.forecastFrom[r.Region]; !ok || r.IssueTime.Before(f) {
				res.forecastFrom[r.Region] = r.IssueTime
			}
		}
	}
	// The trainer reads the lake through this reader: each region's rows
	// before its cut.
	reader := training.FeatureReaderFunc(func(ctx context.Context, regions []string, from, to time.Time) ([]schemas.FeatureRow, []string, error) {
		var out []schemas.FeatureRow
		for _, r := range all {
			if r.Hour.Before(cut[r.Region]) {
				out = append(out, r)
			}
		}
		return out, files, nil
	})
	rb, err := lake.Open(ctx, o.registry, o.lakeOpts...)
	if err != nil {
		return nil, fmt.Errorf("open the registry %s: %w", o.registry, err)
	}
	reg := registry.New(rb)
	preset := o.preset
	if preset == "" {
		preset = training.PresetDemo
	}
	specs, err := training.Preset(preset)
	if err != nil {
		return nil, err
	}
	tr, err := training.Train(ctx, training.Options{Reader: reader, Registry: reg, Specs: specs, HoldoutDays: o.backtestDays,
		RecalibrateEvery: 14, Seed: o.seed, CodeVersion: version, Progress: o.out, Log: o.log})
	if err != nil {
		return nil, err
	}
	for _, m := range tr.Models {
		c := m.Card
		res.models = append(res.models, trainedModel{regions: c.Regions, id: c.ID, version: c.Version, kind: c.Kind,
			stage: m.Stage, mae: c.Backtest.Overall.MAE, rmae: c.Backtest.Overall.RMAE})
	}
	cat := catalog.New(catalog.NewTraining(reg, "demo"), catalog.Options{Logger: o.log})
	if err := cat.Refresh(ctx); err != nil {
		return nil, err
	}
	res.catalog = cat
	return res, nil
}
