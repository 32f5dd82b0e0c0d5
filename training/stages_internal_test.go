package training

import (
	"context"
	"testing"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/training/registry"
)

// When a person stages one of a run's new versions between their
// registration and toChallengers (the all-or-none record then conflicts),
// that decision stands and the run's other versions still become
// challengers.
func TestToChallengersKeepsAPersonsDecisionAndMovesTheRest(t *testing.T) {
	ctx := context.Background()
	b, err := lake.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(b)
	res := &Result{}
	for _, id := range []string{"a", "b"} {
		c, err := reg.Register(ctx, registry.Card{ID: id, Kind: "naive-weekly", Regions: []string{"FI"}}, []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		res.Models = append(res.Models, Trained{Card: c, Stage: registry.StageCandidate})
	}
	person := registry.StageChange{Ref: res.Models[0].Card.Ref(), From: registry.StageCandidate, To: registry.StageArchived}
	if _, err := reg.SetStages(ctx, []registry.StageChange{person}, "not this one", "a person"); err != nil {
		t.Fatal(err)
	}
	if err := toChallengers(ctx, reg, res); err != nil {
		t.Fatal(err)
	}
	st, err := reg.Stages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{registry.StageArchived, registry.StageChallenger} {
		ref := res.Models[i].Card.Ref()
		if got := st.Stage(ref); got != want || res.Models[i].Stage != want {
			t.Errorf("%v: registry %s, result %s; want %s", ref, got, res.Models[i].Stage, want)
		}
	}
}
