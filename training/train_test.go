package training_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wattcast/wattcast/data"
	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/csvimport"
	"github.com/wattcast/wattcast/training"
	"github.com/wattcast/wattcast/training/backtest"
	"github.com/wattcast/wattcast/training/dataset"
	"github.com/wattcast/wattcast/training/models"
	"github.com/wattcast/wattcast/training/registry"
)

var (
	fiOnce sync.Once
	fiRows []schemas.FeatureRow
	fiErr  error
)

// shippedRows reads the shipped ENTSO-E Finland slice through csvimport and
// the feature engine: the rows the lake would hold for that CSV.
func shippedRows(t *testing.T) []schemas.FeatureRow {
	t.Helper()
	fiOnce.Do(func() {
		m, err := csvimport.Preset("entsoe-FI")
		if err != nil {
			fiErr = err
			return
		}
		fiRows, _, fiErr = dataset.Load("testdata/entsoe_FI_2021H1.csv.gz", dataset.Options{Mapping: m,
			Region: &features.Region{Zone: "Europe/Helsinki", Country: "FI", IssueTime: "10:00"}})
	})
	if fiErr != nil {
		t.Fatal(fiErr)
	}
	return fiRows
}

// twoRegions returns the slice as two regions (the second a relabelled
// copy), as the demo's two-region lake.
func twoRegions(rows []schemas.FeatureRow) []schemas.FeatureRow {
	out := append([]schemas.FeatureRow(nil), rows...)
	for _, r := range rows {
		r.Region = "FI-COPY"
		out = append(out, r)
	}
	return out
}

// rowsReader serves rows (and names files as their source) whatever is asked.
func rowsReader(rows []schemas.FeatureRow, files []string) training.FeatureReaderFunc {
	return func(context.Context, []string, time.Time, time.Time) ([]schemas.FeatureRow, []string, error) {
		return rows, files, nil
	}
}

// tempLake is an empty store for a registry.
func tempLake(t *testing.T) *lake.Bucket {
	t.Helper()
	b, err := lake.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTrainRegistersAndBootstrapsStages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rows := twoRegions(shippedRows(t))
	files := []string{"features/region=FI/date=2021-06-30/wattcast.features+p0+0000000000-0000008687.parquet"}
	reader, b := rowsReader(rows, files), tempLake(t)
	reg := registry.New(b)
	// The demo's model kinds, with one LEAR window to keep the test fast
	// (it runs under -race in make test).
	specs := []models.Spec{{Kind: models.KindNaiveWeekly}, {Kind: models.KindLEAR, LEAR: &models.LEARParams{Windows: []int{56}}}}
	opts := training.Options{Reader: reader, Registry: reg, Specs: specs, HoldoutDays: 14, RecalibrateEvery: 14, Seed: 1, CodeVersion: "test"}
	res, err := training.Train(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Models) != 2 || len(res.Regions) != 2 || !res.Bootstrapped {
		t.Fatalf("trained %d models for %v, bootstrapped %v; want 2 models, 2 regions, bootstrapped", len(res.Models), res.Regions, res.Bootstrapped)
	}
	byKind := map[string]training.Trained{}
	for _, m := range res.Models {
		byKind[m.Card.Kind] = m
	}
	naive, lear := byKind[models.KindNaiveWeekly], byKind[models.KindLEAR]
	if r := naive.Card.Backtest.Overall.RMAE; math.Abs(r-1) > 1e-12 {
		t.Errorf("weekly naive rMAE = %v; it is the reference, so exactly 1", r)
	}
	if r := lear.Card.Backtest.Overall.RMAE; !(r < 0.95) {
		t.Errorf("LEAR rMAE = %v on the shipped Finland slice; want below 0.95", r)
	}
	if lear.Stage != registry.StageChampion || naive.Stage != registry.StageChallenger || res.Champion != lear.Card.Ref() {
		t.Errorf("stages: lear %s, naive %s, champion %v; want the better rMAE (lear) champion", lear.Stage, naive.Stage, res.Champion)
	}
	c := lear.Card
	if len(c.LakeFiles) != 1 || len(c.KafkaOffsets) != 1 || c.KafkaOffsets[0].Last != 8687 || c.Seed == 0 && c.Kind != models.KindNaiveWeekly ||
		c.CodeVersion != "test" || c.TrainingWindow.From == "" || len(c.Features) == 0 || c.Calibration["FI"] == nil {
		t.Errorf("card lineage incomplete: %+v", c)
	}
	// The card keeps each region's decision value from the backtest.
	for region, m := range c.Backtest.ByRegion {
		if w := c.Backtest.Windows[region]; w.Hours != 3 || w.Days == 0 || w.Days*23 > m.N || w.Days*25 < m.N || w.Model < w.Best {
			t.Errorf("card's window value in %s: %+v over %d scored hours", region, w, m.N)
		}
	}
	// The stored model forecasts like a model: one value per target row.
	m, err := reg.Model(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var hist, target []schemas.FeatureRow
	for _, r := range rows {
		if r.Region == "FI-COPY" && r.LocalDate < "2021-06-30" {
			hist = append(hist, r)
		} else if r.Region == "FI-COPY" && r.LocalDate == "2021-06-30" {
			target = append(target, r)
		}
	}
	pred, err := m.Predict(models.Day{History: hist, Target: target})
	if err != nil || len(pred) != len(target) {
		t.Fatalf("predict: %d values for %d rows, %v", len(pred), len(target), err)
	}

	// A second run registers new versions and leaves the champion alone.
	res2, err := training.Train(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Bootstrapped || res2.Champion != lear.Card.Ref() || res2.Models[0].Card.Version != "2" {
		t.Fatalf("second run: bootstrapped %v, champion %v, version %s; want no bootstrap, same champion, version 2",
			res2.Bootstrapped, res2.Champion, res2.Models[0].Card.Version)
	}
	for _, m := range res2.Models {
		if m.Stage != registry.StageCandidate {
			t.Errorf("second run: %s is %s, want candidate (the default)", m.Card.Ref(), m.Stage)
		}
	}

	// A scheduled trainer's run (Stage challenger) stages its versions as
	// challengers, where the scorer forecasts with them and the decider
	// may promote one; the champion stays.
	opts.Stage = registry.StageChallenger
	res3, err := training.Train(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	st, err := reg.Stages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ch, _ := st.Champion(); ch != lear.Card.Ref() {
		t.Errorf("third run: champion %v, want %v kept", ch, lear.Card.Ref())
	}
	for _, m := range res3.Models {
		if m.Stage != registry.StageChallenger || st.Stage(m.Card.Ref()) != registry.StageChallenger {
			t.Errorf("third run: %s reported %s, registry %s; want challenger", m.Card.Ref(), m.Stage, st.Stage(m.Card.Ref()))
		}
	}
	opts.Stage = registry.StageChampion
	if _, err := training.Train(ctx, opts); err == nil || !strings.Contains(err.Error(), "candidate or challenger") {
		t.Errorf("Stage champion: err %v, want refused", err)
	}
}

// staleStages hides the stage log from its first listing: the trainer
// using it reads "no champion" just before another trainer's bootstrap
// record lands.
type staleStages struct {
	*lake.Bucket
	listed bool
}

func (s *staleStages) List(ctx context.Context, prefix string) ([]string, error) {
	if strings.HasPrefix(prefix, "stages/") && !s.listed {
		s.listed = true
		return nil, nil
	}
	return s.Bucket.List(ctx, prefix)
}

// Two trainers bootstrapping one registry at once: the one that loses the
// race keeps the winner's champion instead of failing after registering.
func TestTrainLosingConcurrentBootstrapKeepsWinner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rows := shippedRows(t)
	reader, b := rowsReader(rows, nil), tempLake(t)
	// Naive models only: the race is in the stages, not in the fits.
	opts := training.Options{Reader: reader, Specs: []models.Spec{{Kind: models.KindNaiveWeekly}, {Kind: models.KindNaiveStandard}},
		HoldoutDays: 14, RecalibrateEvery: 14}
	optsA, optsB := opts, opts
	optsA.Registry, optsB.Registry = registry.New(b), registry.New(&staleStages{Bucket: b})
	resA, err := training.Train(ctx, optsA)
	if err != nil || !resA.Bootstrapped {
		t.Fatalf("trainer A: bootstrapped %v, %v", resA != nil && resA.Bootstrapped, err)
	}
	resB, err := training.Train(ctx, optsB)
	if err != nil {
		t.Fatalf("trainer B lost the bootstrap race and failed: %v", err)
	}
	if resB.Bootstrapped || resB.Champion != resA.Champion {
		t.Errorf("trainer B: bootstrapped %v, champion %v; want A's champion %v kept", resB.Bootstrapped, resB.Champion, resA.Champion)
	}
	for _, m := range resB.Models {
		if m.Stage != registry.StageCandidate {
			t.Errorf("trainer B's %s is %s; want candidate", m.Card.Ref(), m.Stage)
		}
	}
	st, err := optsA.Registry.Stages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ch := st.In(registry.StageChampion); len(ch) != 1 || ch[0] != resA.Champion {
		t.Errorf("champions %v; want only %v", ch, resA.Champion)
	}
}

// A card promises that its spec and seed, fitted on the same rows, give its
// weights. An ensemble reusing members fitted for their own cards must keep
// that promise too, listed after its members as in the full preset.
func TestTrainCardsReproduceTheirWeights(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rows := shippedRows(t)
	reader, b := rowsReader(rows, nil), tempLake(t)
	reg := registry.New(b)
	// Tiny models: the seeds matter, not the quality.
	lear := models.Spec{Kind: models.KindLEAR, LEAR: &models.LEARParams{Windows: []int{56}}}
	gru := models.Spec{Kind: models.KindGRU, GRU: &models.GRUParams{Hidden: 3, HeadHidden: 3, MaxEpochs: 1, WindowDays: 120}}
	specs := []models.Spec{{Kind: models.KindNaiveWeekly}, lear, gru, {Kind: models.KindEnsemble, Members: []models.Spec{gru, lear}}}
	res, err := training.Train(ctx, training.Options{Reader: reader, Registry: reg, Specs: specs, HoldoutDays: 7, RecalibrateEvery: 7, Seed: 1,
		NoBootstrap: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range res.Models {
		t.Run(tr.Card.ID, func(t *testing.T) {
			stored, err := reg.Model(ctx, tr.Card)
			if err != nil {
				t.Fatal(err)
			}
			refits := map[string]models.Model{}
			for _, region := range tr.Card.Regions {
				var rr []schemas.FeatureRow
				for _, r := range rows {
					if r.Region == region && r.Final && r.Price != nil {
						rr = append(rr, r)
					}
				}
				refits[region], _, err = models.Fit(ctx, tr.Card.Spec, rr, models.FitOptions{Seed: tr.Card.Seed})
				if err != nil {
					t.Fatal(err)
				}
			}
			refit, err := models.NewRegional(refits)
			if err != nil {
				t.Fatal(err)
			}
			want, err := models.Marshal(stored)
			if err != nil {
				t.Fatal(err)
			}
			got, err := models.Marshal(refit)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s refitted from its card's spec and seed %d differs from its registered weights", tr.Card.Ref(), tr.Card.Seed)
			}
		})
	}
}

// The demo preset must stay fast: the walking skeleton trains it on about
// 45k rows of two regions within its time budget. This checks the shape
// (preset contents), not the time; the time is in the benchmark below.
func TestDemoPresetIsLight(t *testing.T) {
	t.Parallel()
	specs, err := training.Preset(training.PresetDemo)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		if s.Kind == models.KindGRU || s.Kind == models.KindEnsemble {
			t.Errorf("demo preset includes %s", s.Kind)
		}
	}
}

// BenchmarkTrainDemo measures Train with the demo preset on the demo's
// own data: the shipped Nord Pool Finland and Octopus Agile A histories
// (about 45k hourly rows in two regions) through csvimport and the feature
// engine, as the demo's lake would hold them. Feature computation is not
// timed.
func BenchmarkTrainDemo(b *testing.B) {
	ctx := context.Background()
	var rows []schemas.FeatureRow
	for _, d := range []struct{ file, preset string }{{data.NordPoolFI, csvimport.PresetNordPoolFI}, {data.OctopusAgileA, csvimport.PresetOctopusAgile}} {
		m, err := csvimport.Preset(d.preset)
		if err != nil {
			b.Fatal(err)
		}
		f, err := data.Open(d.file)
		if err != nil {
			b.Fatal(err)
		}
		rr, _, err := dataset.Read(f, d.file, dataset.Options{Mapping: m})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		rows = append(rows, rr...)
	}
	b.Logf("%d feature rows", len(rows))
	b.ResetTimer()
	reader := training.FeatureReaderFunc(func(ctx context.Context, _ []string, _, _ time.Time) ([]schemas.FeatureRow, []string, error) {
		return rows, nil, nil
	})
	specs, _ := training.Preset(training.PresetDemo)
	for i := 0; i < b.N; i++ {
		bk, err := lake.Open(ctx, "file://"+b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		res, err := training.Train(ctx, training.Options{Reader: reader, Registry: registry.New(bk), Specs: specs, HoldoutDays: 28, RecalibrateEvery: 14})
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range res.Models {
			b.Logf("%s: rMAE %.3f (%v)", m.Card.Ref(), m.Card.Backtest.Overall.RMAE, m.Card.Backtest.ByRegion)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "s/train")
	}
}

// A region with too little history to backtest (a region just added, the
// smoke test's rows) is skipped, named or not, so it cannot stop the
// others' training, and the models' lineage leaves out its rows and files;
// with no region left, training fails.
func TestTrainSkipsRegionsTooShortToBacktest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rows := shippedRows(t)
	all := append([]schemas.FeatureRow(nil), rows...)
	last := rows[len(rows)-1].LocalDate
	lastDay, err := time.Parse(time.DateOnly, last)
	if err != nil {
		t.Fatal(err)
	}
	from := lastDay.AddDate(0, 0, -10).Format(time.DateOnly)
	for _, r := range rows {
		if r.LocalDate > from {
			r.Region = "SMOKE"
			all = append(all, r)
		}
	}
	specs := []models.Spec{{Kind: models.KindNaiveWeekly}}
	for _, tc := range []struct {
		name    string
		regions []string
		wantErr bool
	}{
		{"every region", nil, false},
		{"asked by name", []string{"FI", "SMOKE"}, false},
		{"only short regions", []string{"SMOKE"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := []string{"features/region=FI/date=2021-06-30/a.parquet", "features/region=SMOKE/date=2021-06-30/b.parquet"}
			reader := training.FeatureReaderFunc(func(_ context.Context, regions []string, _, _ time.Time) ([]schemas.FeatureRow, []string, error) {
				var out []schemas.FeatureRow
				for _, r := range all {
					if len(regions) == 0 || slices.Contains(regions, r.Region) {
						out = append(out, r)
					}
				}
				return out, files, nil
			})
			opts := training.Options{Reader: reader, Registry: registry.New(tempLake(t)), Specs: specs, Regions: tc.regions,
				HoldoutDays: 14, RecalibrateEvery: 14, Seed: 1, CodeVersion: "test"}
			res, err := training.Train(ctx, opts)
			if tc.wantErr {
				if !errors.Is(err, backtest.ErrTooLittleHistory) {
					t.Fatalf("err %v, want ErrTooLittleHistory", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Regions, []string{"FI"}) || res.Skipped["SMOKE"] == "" {
				t.Fatalf("regions %v, skipped %v; want FI trained and SMOKE skipped", res.Regions, res.Skipped)
			}
			for _, m := range res.Models {
				if slices.Contains(m.Card.Regions, "SMOKE") {
					t.Errorf("%s's card names SMOKE", m.Card.Ref())
				}
				if !slices.Equal(m.Card.LakeFiles, files[:1]) || m.Card.Rows != len(rows) {
					t.Errorf("%s's lineage: files %v, %d rows; want FI's file and %d rows", m.Card.Ref(), m.Card.LakeFiles, m.Card.Rows, len(rows))
				}
			}
		})
	}
}
