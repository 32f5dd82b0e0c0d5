package features

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// A day with more locations and variables than the encoder's short list of
// names (it switches to a map) still round-trips, and to the same bytes
// however its state was built.
func TestChangelogDayWithManyNames(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	day := int64(19500)
	c := &dayChunk{Obs: map[int64]map[string][]valuesAt{}, Fcs: map[int64]map[string][]valuesAt{}}
	for h := range 24 {
		hour := day*86400 + int64(h)*3600
		locs := map[string][]valuesAt{}
		for l := range 6 {
			vals := map[string]float64{}
			for v := range 12 {
				vals[fmt.Sprintf("var%02d", (v*7+h)%40)] = r.NormFloat64()
			}
			locs[fmt.Sprintf("loc%d", (l+h)%9)] = []valuesAt{{At: hour + 3600, V: valuesOf(vals)}}
		}
		c.Obs[hour] = locs
		c.Fcs[hour] = locs
	}
	b := encodeChunk(t, day, c)
	got, err := decodeChunk("R|d|1", b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatal("a day with many names changed in the round trip")
	}
	if again := encodeChunk(t, day, got); string(again) != string(b) {
		t.Fatal("the same day encodes to different bytes")
	}
}

// AdvanceAppend appends to what dst holds, in the order Advance returns.
func TestAdvanceAppendAppendsAdvancesRows(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2023-03-20T00:00:00Z", 10)
	a, _ := NewEngine(Config{})
	b, _ := NewEngine(Config{})
	for _, e := range []*Engine{a, b} {
		f.feed(t, e)
	}
	prefix := []schemas.FeatureRow{{Region: "keep"}, {Region: "me"}}
	var want, got []schemas.FeatureRow
	for d := range 12 {
		at := mustTime(t, "2023-03-20T00:00:00Z").Add(time.Duration(d*24+11) * time.Hour)
		want = append(want, a.Advance(at)...)
		got = b.AdvanceAppend(append(got[:0:0], prefix...), at)[len(prefix):]
		if n := len(want) - len(got); !reflect.DeepEqual(got, want[n:]) {
			t.Fatalf("day %d: AdvanceAppend gave %d rows, Advance %d, or another order", d, len(got), len(want)-n)
		}
	}
	if len(want) < 400 {
		t.Fatalf("only %d rows", len(want))
	}
}
