package training

import (
	"testing"

	"github.com/wattcast/wattcast/training/models"
)

// The full preset's ensemble reuses the GRU and LEAR fitted for their own
// cards (a second GRU fit would double the training time): they take the
// seeds models.Fit(ensemble, seed) gives its members.
func TestFitSeedsLetTheFullEnsembleReuseItsMembers(t *testing.T) {
	t.Parallel()
	specs, err := Preset(PresetFull)
	if err != nil {
		t.Fatal(err)
	}
	seeds := fitSeeds(specs, 100)
	idx := map[string]int{}
	for i, s := range specs {
		idx[s.Name()] = i
	}
	ens := seeds[idx[models.Spec{Kind: models.KindEnsemble}.Name()]]
	for mi, m := range models.DefaultEnsemble() {
		if got := seeds[idx[m.Name()]]; got != ens+uint64(mi) {
			t.Errorf("%s fits with seed %d; the ensemble (seed %d) needs %d to reuse it", m.Name(), got, ens, ens+uint64(mi))
		}
	}
	if seeds[idx[models.KindNaiveWeekly]] != 100 {
		t.Errorf("seeds %v; specs outside an ensemble keep seed+index", seeds)
	}
}
