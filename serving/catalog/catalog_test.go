package catalog_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/serving/scorer"
	"github.com/wattcast/wattcast/serving/servingtest"
	"github.com/wattcast/wattcast/training/models"
	"github.com/wattcast/wattcast/training/registry"
)

// countingRegistry counts model loads.
type countingRegistry struct {
	catalog.Registry
	loads atomic.Int32
}

func (c *countingRegistry) Load(ctx context.Context, id, version string) (models.Model, error) {
	c.loads.Add(1)
	return c.Registry.Load(ctx, id, version)
}

func ids(ds []scorer.Deployed) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID+"@"+d.Version+"/"+d.Role)
	}
	return out
}

// The catalog serves, per region, the champion first and the challengers
// after it, from the registry's stages; versions are loaded once; a stage
// change shows after a refresh; a region no version names gets nothing.
func TestDeployedFollowsTheRegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	reg, err := servingtest.NewRegistry(ctx, t.TempDir(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		id      string
		regions []string
		stage   string
	}{
		{"weekly", []string{"FI", "DK_1"}, catalog.StageChampion},
		{"lear", []string{"FI", "DK_1"}, catalog.StageChallenger},
		{"gru", []string{"FI"}, catalog.StageChallenger},
		{"old", []string{"FI"}, catalog.StageArchived},
		{"new", []string{"FI"}, catalog.StageCandidate},
	} {
		if _, err := reg.Add(ctx, v.id, v.regions, v.stage, models.NaiveWeekly{}); err != nil {
			t.Fatal(err)
		}
	}
	cr := &countingRegistry{Registry: reg}
	cat := catalog.New(cr, catalog.Options{Now: func() time.Time { return now }})
	if err := cat.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for region, want := range map[string][]string{
		"FI":   {"weekly@1/champion", "gru@1/challenger", "lear@1/challenger"},
		"DK_1": {"weekly@1/champion", "lear@1/challenger"},
		"SE_3": nil,
	} {
		ds, _ := cat.Deployed(ctx, region)
		if got := ids(ds); !equal(got, want) {
			t.Errorf("%s: deployed %v, want %v", region, got, want)
		}
	}
	if n := cr.loads.Load(); n != 3 {
		t.Errorf("%d loads for 3 deployed versions", n)
	}
	// Promote lear (one stage-log record), refresh: no new load.
	err = reg.SetStages(ctx, []catalog.StageMove{
		{ID: "lear", Version: "1", From: catalog.StageChallenger, To: catalog.StageChampion},
		{ID: "weekly", Version: "1", From: catalog.StageChampion, To: catalog.StageArchived},
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	ds, _ := cat.Deployed(ctx, "FI")
	if got := ids(ds); !equal(got, []string{"lear@1/champion", "gru@1/challenger"}) {
		t.Errorf("after the promotion FI has %v", got)
	}
	if n := cr.loads.Load(); n != 3 {
		t.Errorf("%d loads after a refresh, want still 3 (versions are immutable)", n)
	}
	// The stage log says where each version came from and since when.
	for _, v := range cat.Versions() {
		if v.ID == "weekly" && (v.Stage != catalog.StageArchived || v.PreviousStage != catalog.StageChampion || !v.StageSince.Equal(now)) {
			t.Errorf("weekly: %+v; want archived from champion at %s", v, now)
		}
	}
	// A conditional write that lost its race is a stage conflict.
	err = reg.SetStages(ctx, []catalog.StageMove{{ID: "gru", Version: "1", From: catalog.StageChampion, To: catalog.StageArchived}}, "test")
	if !errors.Is(err, catalog.ErrStageConflict) {
		t.Errorf("SetStages from the wrong stage: %v, want ErrStageConflict", err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// With ShadowArchived, the champion archived by a promotion keeps
// forecasting in the shadows (never official) for that long.
func TestArchivedChampionIsShadowedForAWhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	reg, err := servingtest.NewRegistry(ctx, t.TempDir(), func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		stage := catalog.StageChampion
		if id == "b" {
			stage = catalog.StageChallenger
		}
		if _, err := reg.Add(ctx, id, []string{"FI"}, stage, models.NaiveWeekly{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.SetStages(ctx, []catalog.StageMove{{ID: "b", Version: "1", From: catalog.StageChallenger, To: catalog.StageChampion},
		{ID: "a", Version: "1", From: catalog.StageChampion, To: catalog.StageArchived}}, "test"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		now  time.Time
		want []string
	}{
		{at.Add(24 * time.Hour), []string{"b@1/champion", "a@1/challenger"}},
		{at.Add(15 * 24 * time.Hour), []string{"b@1/champion"}},
	} {
		cat := catalog.New(reg, catalog.Options{ShadowArchived: 14 * 24 * time.Hour, Now: func() time.Time { return tc.now }})
		if err := cat.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		ds, _ := cat.Deployed(ctx, "FI")
		if got := ids(ds); !equal(got, tc.want) {
			t.Errorf("at %s: %v, want %v", tc.now, got, tc.want)
		}
	}
}

// A version's calibration residuals become the conformal interval of the
// forecasts: the half-width is the ceil((n+1)*level)-th smallest absolute
// residual of the hour.
func TestIntervalsFromTheCard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg, err := servingtest.NewRegistry(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cal := &models.Conformal{}
	for i := 1; i <= 19; i++ { // hour 5: residuals ±1..±19
		sign := 1.0
		if i%2 == 0 {
			sign = -1
		}
		cal.Add(5, sign*float64(i))
	}
	blob, _ := models.Marshal(models.NaiveWeekly{})
	card, err := reg.Training.Registry().Register(ctx, registry.Card{ID: "w", Kind: models.KindNaiveWeekly, Regions: []string{"FI"},
		Calibration: map[string]*models.Conformal{"FI": cal}}, blob)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.SetStages(ctx, []catalog.StageMove{{ID: card.ID, Version: card.Version, From: catalog.StageCandidate, To: catalog.StageChampion}}, "t"); err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(reg, catalog.Options{IntervalLevel: 0.9})
	if err := cat.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	ds, _ := cat.Deployed(ctx, "FI")
	if len(ds) != 1 || ds[0].Interval == nil || ds[0].Level != 0.9 {
		t.Fatalf("deployed %+v: want one model with a 90%% interval", ds)
	}
	// n = 19, level 0.9: the 18th smallest |residual| is 18.
	if lo, hi, ok := ds[0].Interval(5); !ok || lo != -18 || hi != 18 {
		t.Errorf("hour 5 interval %v..%v (%v), want -18..18", lo, hi, ok)
	}
	if _, _, ok := ds[0].Interval(6); ok {
		t.Error("hour 6 has no residuals but got an interval")
	}
}

// Deployed is safe to call while the catalog refreshes (run with -race).
func TestDeployedDuringRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg, err := servingtest.NewRegistry(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Add(ctx, "w", []string{"FI"}, catalog.StageChampion, models.NaiveWeekly{}); err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(reg, catalog.Options{Refresh: time.Millisecond})
	if err := cat.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = cat.Run(runCtx) }()
	for range 200 {
		cat.Notify()
		ds, err := cat.Deployed(ctx, "FI")
		if err != nil || len(ds) != 1 || ds[0].Role != schemas.RoleChampion {
			t.Fatalf("deployed %v, %v", ids(ds), err)
		}
	}
	cancel()
	wg.Wait()
}

// memRegistry is an in-memory registry whose loads of the versions in fail
// return an error; it counts loads.
type memRegistry struct {
	mu    sync.Mutex
	vs    []catalog.Version
	fail  map[string]bool // "id@version"
	loads int
}

func (m *memRegistry) set(vs []catalog.Version, fail ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.vs, m.fail = vs, map[string]bool{}
	for _, k := range fail {
		m.fail[k] = true
	}
}

func (m *memRegistry) List(context.Context) ([]catalog.Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]catalog.Version(nil), m.vs...), nil
}

var errS3 = errors.New("S3 timeout")

// stages lists versions as "id@version/stage".
func stages(vs []catalog.Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Key()+"/"+v.Stage)
	}
	return out
}

func (m *memRegistry) Load(_ context.Context, id, version string) (models.Model, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	if m.fail[id+"@"+version] {
		return nil, errS3
	}
	return models.NaiveWeekly{}, nil
}

func (m *memRegistry) SetStages(context.Context, []catalog.StageMove, string) error { return nil }

// A refresh in which a deployed version fails to load keeps the previous
// mapping and says so: installing the rest would drop that version, and a
// dropped champion leaves a challenger first in the region. The versions
// that did load are not loaded again by the next refresh.
func TestFailedLoadKeepsThePreviousMapping(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	fi := []string{"FI"}
	before := []catalog.Version{
		{ID: "a", Version: "1", Regions: fi, Stage: catalog.StageChampion},
		{ID: "b", Version: "1", Regions: fi, Stage: catalog.StageChallenger},
	}
	// c is registered and promoted at once; a is archived (shadowed).
	promoted := []catalog.Version{
		{ID: "a", Version: "1", Regions: fi, Stage: catalog.StageArchived, PreviousStage: catalog.StageChampion, StageSince: now},
		{ID: "b", Version: "1", Regions: fi, Stage: catalog.StageChallenger},
		{ID: "c", Version: "1", Regions: fi, Stage: catalog.StageChampion, StageSince: now},
		{ID: "d", Version: "1", Regions: fi, Stage: catalog.StageChallenger},
	}
	for _, tc := range []struct {
		name  string
		first []catalog.Version // nil: no successful refresh before
		fail  []string
		want  []string // FI after the failed refresh
	}{
		{"promoted champion fails", before, []string{"c@1"}, []string{"a@1/champion", "b@1/challenger"}},
		{"new challenger fails", before, []string{"d@1"}, []string{"a@1/champion", "b@1/challenger"}},
		{"first refresh, champion fails", nil, []string{"c@1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := &memRegistry{}
			cat := catalog.New(reg, catalog.Options{ShadowArchived: 14 * 24 * time.Hour, Now: func() time.Time { return now }})
			if tc.first != nil {
				reg.set(tc.first)
				if err := cat.Refresh(ctx); err != nil {
					t.Fatal(err)
				}
			}
			refreshed, versions := cat.Refreshed(), stages(cat.Versions())
			reg.set(promoted, tc.fail...)
			if err := cat.Refresh(ctx); !errors.Is(err, errS3) {
				t.Fatalf("refresh with a failing load: %v, want the load error", err)
			}
			if got, _ := cat.Deployed(ctx, "FI"); !equal(ids(got), tc.want) {
				t.Errorf("FI after the failed refresh: %v, want the previous %v", ids(got), tc.want)
			}
			if got, _ := cat.Deployed(ctx, "SE1"); len(got) != 0 {
				t.Errorf("SE1 after the failed refresh: %v, want nothing", ids(got))
			}
			if got := stages(cat.Versions()); !equal(got, versions) {
				t.Errorf("versions after the failed refresh: %v, want the previous %v", got, versions)
			}
			if !cat.Refreshed().Equal(refreshed) {
				t.Errorf("refreshed at %s after a failed refresh, want still %s", cat.Refreshed(), refreshed)
			}
			// The store recovers: the new mapping is installed, and only
			// the version that failed is loaded again.
			loads := reg.loads
			reg.set(promoted)
			if err := cat.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			want := []string{"c@1/champion", "b@1/challenger", "d@1/challenger", "a@1/challenger"}
			if got, _ := cat.Deployed(ctx, "FI"); !equal(ids(got), want) {
				t.Errorf("FI after recovery: %v, want %v", ids(got), want)
			}
			if n := reg.loads - loads; n != len(tc.fail) {
				t.Errorf("%d loads after recovery, want %d (the versions that loaded are kept)", n, len(tc.fail))
			}
		})
	}
}

// A version naming no region serves every region; in a region nobody names
// its intervals still come from its calibration for that region.
func TestAnyRegionVersionIntervals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cal := &models.Conformal{}
	for i := 1; i <= 19; i++ {
		cal.Add(5, float64(i))
	}
	reg := &memRegistry{}
	reg.set([]catalog.Version{
		{ID: "all", Version: "1", Stage: catalog.StageChampion, Calibration: map[string]*models.Conformal{"FI": cal, "SE1": cal}},
		{ID: "fi", Version: "1", Regions: []string{"FI"}, Stage: catalog.StageChallenger},
	})
	cat := catalog.New(reg, catalog.Options{})
	if err := cat.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		region   string
		want     []string
		interval bool // the champion's
	}{
		{"FI", []string{"all@1/champion", "fi@1/challenger"}, true},
		{"SE1", []string{"all@1/champion"}, true}, // named by nobody, calibrated
		{"SE2", []string{"all@1/champion"}, false},
	} {
		ds, err := cat.Deployed(ctx, tc.region)
		if err != nil || !equal(ids(ds), tc.want) {
			t.Errorf("%s: deployed %v (%v), want %v", tc.region, ids(ds), err, tc.want)
			continue
		}
		got := false
		if ds[0].Interval != nil {
			_, _, got = ds[0].Interval(5)
		}
		if got != tc.interval {
			t.Errorf("%s: the champion has an interval at hour 5: %v, want %v", tc.region, got, tc.interval)
		}
	}
}
