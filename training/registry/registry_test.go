package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/training/models"
)

// newTestRegistry opens a registry on a real lake.Bucket over a temporary
// directory (the file backend the demo uses).
func newTestRegistry(t *testing.T) (*Registry, *lake.Bucket) {
	t.Helper()
	b, err := lake.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(b), b
}

func weekly(t *testing.T) []byte {
	t.Helper()
	b, err := models.Marshal(models.NaiveWeekly{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRegisterVersionsAreImmutableAndOrdered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	for i := 1; i <= 3; i++ {
		c, err := r.Register(ctx, Card{ID: "naive", Kind: models.KindNaiveWeekly, Seed: uint64(i)}, weekly(t))
		if err != nil {
			t.Fatal(err)
		}
		if c.Version != fmt.Sprint(i) {
			t.Fatalf("version %s; want %d", c.Version, i)
		}
	}
	latest, err := r.Card(ctx, Ref{ID: "naive"})
	if err != nil || latest.Version != "3" || latest.Seed != 3 {
		t.Fatalf("latest = %+v, %v; want version 3 with seed 3", latest, err)
	}
	m, err := r.Model(ctx, latest)
	if err != nil || m.Kind() != models.KindNaiveWeekly {
		t.Fatalf("model = %v, %v", m, err)
	}
	if _, err := r.Card(ctx, Ref{ID: "naive", Version: "9"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing version: err = %v; want ErrNotFound", err)
	}
	ids, err := r.IDs(ctx)
	if err != nil || len(ids) != 1 || ids[0] != "naive" {
		t.Fatalf("ids = %v, %v", ids, err)
	}
}

// Writers registering the same model id at once each get their own
// version: none is lost or overwritten.
func TestConcurrentRegisterGetsDistinctVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	const n = 8
	var wg sync.WaitGroup
	versions := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := r.Register(ctx, Card{ID: "lear", Kind: models.KindLEAR, Seed: uint64(i)}, weekly(t))
			if err != nil {
				t.Error(err)
				return
			}
			versions <- c.Version
		}(i)
	}
	wg.Wait()
	close(versions)
	seen := map[string]bool{}
	for v := range versions {
		if seen[v] {
			t.Fatalf("version %s handed out twice", v)
		}
		seen[v] = true
	}
	cards, err := r.Versions(ctx, "lear")
	if err != nil || len(cards) != n {
		t.Fatalf("%d versions stored (%v); want %d", len(cards), err, n)
	}
}

// Tampered weights are refused rather than loaded.
func TestModelChecksHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, b := newTestRegistry(t)
	c, err := r.Register(ctx, Card{ID: "naive"}, weekly(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, c.Blob, []byte(`{"format":1,"kind":"naive-standard"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Model(ctx, c); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v; want ErrCorrupt", err)
	}
}

func TestStagesCompareAndSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	a, _ := r.Register(ctx, Card{ID: "a"}, weekly(t))
	b, _ := r.Register(ctx, Card{ID: "b"}, weekly(t))
	if _, err := r.SetStages(ctx, []StageChange{{Ref: a.Ref(), From: StageCandidate, To: StageChampion}, {Ref: b.Ref(), To: StageChallenger}}, "bootstrap", "test"); err != nil {
		t.Fatal(err)
	}
	// A second champion without demoting the first is refused.
	if _, err := r.SetStages(ctx, []StageChange{{Ref: b.Ref(), To: StageChampion}}, "x", "test"); err == nil {
		t.Fatal("two champions accepted")
	}
	// A stale expectation is a conflict.
	if _, err := r.SetStages(ctx, []StageChange{{Ref: b.Ref(), From: StageCandidate, To: StageArchived}}, "x", "test"); !errors.Is(err, ErrStageConflict) {
		t.Fatalf("err = %v; want ErrStageConflict", err)
	}
	rec, err := r.Stages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ch, ok := rec.Champion(); !ok || ch != a.Ref() || rec.Stage(b.Ref()) != StageChallenger || rec.Seq != 1 {
		t.Fatalf("stages after refused changes: %+v", rec)
	}
	if _, err := r.SetStages(ctx, []StageChange{{Ref: Ref{"nope", "1"}, To: StageChampion}}, "x", "test"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown model: err = %v; want ErrNotFound", err)
	}
}

// Several scorers deciding the same promotion at once: exactly one wins,
// the others see a conflict, and the log holds one promotion.
func TestConcurrentPromotionDecidedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	champ, _ := r.Register(ctx, Card{ID: "champ"}, weekly(t))
	chall, _ := r.Register(ctx, Card{ID: "chall"}, weekly(t))
	if _, err := r.SetStages(ctx, []StageChange{{Ref: champ.Ref(), To: StageChampion}, {Ref: chall.Ref(), To: StageChallenger}}, "bootstrap", "t"); err != nil {
		t.Fatal(err)
	}
	const n = 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := r.SetStages(ctx, []StageChange{
				{Ref: chall.Ref(), From: StageChallenger, To: StageChampion},
				{Ref: champ.Ref(), From: StageChampion, To: StageArchived},
			}, "dm test", fmt.Sprintf("scorer-%d", i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrStageConflict):
				conflicts++
			default:
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if wins != 1 || conflicts != n-1 {
		t.Fatalf("%d wins and %d conflicts; want 1 and %d", wins, conflicts, n-1)
	}
	hist, err := r.History(ctx)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history has %d records (%v); want bootstrap + one promotion", len(hist), err)
	}
	if ch, _ := hist[1].Champion(); ch != chall.Ref() {
		t.Fatalf("champion after promotion: %v", ch)
	}
}

// A version written other than as registered ("01", "+1", "" for the
// latest) would be staged under a second key of the stage map, putting one
// version in two stages; SetStages refuses it and writes nothing.
func TestSetStagesRejectsNonCanonicalVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := newTestRegistry(t)
	a, _ := r.Register(ctx, Card{ID: "lear"}, weekly(t))
	if _, err := r.SetStages(ctx, []StageChange{{Ref: a.Ref(), To: StageChallenger}}, "x", "t"); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"01", "+1", "", "0", "-1", " 1", "1.0"} {
		_, err := r.SetStages(ctx, []StageChange{{Ref: Ref{ID: "lear", Version: v}, To: StageChampion}}, "x", "t")
		if err == nil {
			t.Errorf("version %q accepted", v)
		}
	}
	rec, err := r.Stages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Seq != 1 || len(rec.Stages) != 1 || rec.Stage(a.Ref()) != StageChallenger {
		t.Fatalf("stages after refused changes: seq %d, %v; want only lear@1 as challenger", rec.Seq, rec.Stages)
	}
}

// Two champions are always refused. When the changes promote with a From
// and leave alone a champion they do not mention (a trainer that read "no
// champion" just before another bootstrapped), it is a conflict: re-read
// and decide again. Without a From, or promoting two, it is the caller's
// mistake.
func TestSetStagesSecondChampion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		changes      func(champ, b, c Ref) []StageChange
		wantConflict bool
	}{
		{"promotion decided before the champion appeared", func(_, b, c Ref) []StageChange {
			return []StageChange{{Ref: b, From: StageCandidate, To: StageChampion}, {Ref: c, From: StageCandidate, To: StageChallenger}}
		}, true},
		{"no expectation stated", func(_, b, _ Ref) []StageChange {
			return []StageChange{{Ref: b, To: StageChampion}}
		}, false},
		{"two promoted at once", func(_, b, c Ref) []StageChange {
			return []StageChange{{Ref: b, From: StageCandidate, To: StageChampion}, {Ref: c, From: StageCandidate, To: StageChampion}}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r, _ := newTestRegistry(t)
			champ, _ := r.Register(ctx, Card{ID: "a"}, weekly(t))
			b, _ := r.Register(ctx, Card{ID: "b"}, weekly(t))
			c, _ := r.Register(ctx, Card{ID: "c"}, weekly(t))
			if _, err := r.SetStages(ctx, []StageChange{{Ref: champ.Ref(), From: StageCandidate, To: StageChampion}}, "bootstrap", "other trainer"); err != nil {
				t.Fatal(err)
			}
			_, err := r.SetStages(ctx, tc.changes(champ.Ref(), b.Ref(), c.Ref()), "x", "t")
			if err == nil {
				t.Fatal("second champion accepted")
			}
			if errors.Is(err, ErrStageConflict) != tc.wantConflict {
				t.Errorf("err = %v; want ErrStageConflict %v", err, tc.wantConflict)
			}
			rec, err := r.Stages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ch, _ := rec.Champion(); rec.Seq != 1 || ch != champ.Ref() || len(rec.In(StageChampion)) != 1 {
				t.Fatalf("stages after the refused change: %+v", rec)
			}
		})
	}
}

func TestOffsetsFromFiles(t *testing.T) {
	t.Parallel()
	files := []string{
		"features/region=FI/date=2024-01-01/wattcast.features+p0+0000000000-0000000099.parquet",
		"features/region=FI/date=2024-01-02/wattcast.features+p0+0000000100-0000000199.parquet",
		"features/region=GB-A/date=2024-01-01/wattcast.features+p2+0000000005-0000000010.parquet",
		"features/region=FI/date=2024-01-02/notes.txt",
	}
	got := OffsetsFromFiles(files)
	want := []OffsetRange{{"wattcast.features", 0, 0, 199}, {"wattcast.features", 2, 5, 10}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("offsets %v; want %v", got, want)
	}
}

func TestParseRef(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    Ref
		wantErr bool
	}{
		{"lear", Ref{"lear", ""}, false},
		{"lear@3", Ref{"lear", "3"}, false},
		{"lear@03", Ref{"lear", "3"}, false}, // canonical, as stage records are keyed
		{"lear@+3", Ref{"lear", "3"}, false},
		{"lear@0", Ref{}, true},
		{"lear@x", Ref{}, true},
		{"bad/id", Ref{}, true},
		{"", Ref{}, true},
	} {
		got, err := ParseRef(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseRef(%q) = %v, %v", tc.in, got, err)
		}
	}
}
