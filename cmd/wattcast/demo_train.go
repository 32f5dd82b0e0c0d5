package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/scorer"
	"github.com/wattcast/wattcast/training/models"
)

type trainedModel struct {
	region, id, version, kind, stage string
	mae, rmae                        float64
}

type trainResult struct {
	models       []trainedModel
	catalog      scorer.Catalog
	forecastFrom map[string]time.Time
}

type mapCatalog map[string][]scorer.Deployed

func (c mapCatalog) Deployed(_ context.Context, region string) ([]scorer.Deployed, error) {
	return c[region], nil
}

// demoTrain fits the demo's models per region on the lake's final rows
// before the held-out weeks.
func demoTrain(ctx context.Context, o demoOptions, lb *lake.Bucket, pr *progress) (*trainResult, error) {
	rows, _, err := lake.ReadFeatures(ctx, lb, lake.FeatureFilter{})
	if err != nil {
		return nil, err
	}
	byRegion := map[string][]schemas.FeatureRow{}
	for _, r := range rows {
		byRegion[r.Region] = append(byRegion[r.Region], r)
	}
	res := &trainResult{forecastFrom: map[string]time.Time{}}
	cat := mapCatalog{}
	regions := sortedKeys(byRegion)
	for _, region := range regions {
		rs := byRegion[region]
		sort.Slice(rs, func(i, j int) bool { return rs[i].Hour.Before(rs[j].Hour) })
		last := rs[len(rs)-1].Hour
		cut := last.Add(-o.holdout)
		var train []schemas.FeatureRow
		from := time.Time{}
		for _, r := range rs {
			if r.Hour.Before(cut) {
				train = append(train, r)
			} else if from.IsZero() || r.IssueTime.Before(from) {
				from = r.IssueTime
			}
		}
		res.forecastFrom[region] = from
		kinds := []string{models.KindLEAR, models.KindNaiveWeekly, models.KindNaiveStandard}
		for i, kind := range kinds {
			m, _, err := models.Fit(ctx, models.Spec{Kind: kind}, train, models.FitOptions{Seed: o.seed})
			if err != nil {
				return nil, fmt.Errorf("fit %s for %s: %w", kind, region, err)
			}
			role := schemas.RoleChallenger
			if i == 0 {
				role = schemas.RoleChampion
			}
			id := region + "-" + kind
			cat[region] = append(cat[region], scorer.Deployed{ID: id, Version: "1", Kind: kind, Role: role, Model: m})
			res.models = append(res.models, trainedModel{region: region, id: id, version: "1", kind: kind, stage: role})
		}
	}
	res.catalog = cat
	return res, nil
}
