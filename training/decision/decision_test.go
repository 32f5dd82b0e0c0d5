package decision

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func hoursFrom(start time.Time, n int, skip ...int) []time.Time {
	var out []time.Time
	for h := range n {
		skipped := false
		for _, s := range skip {
			skipped = skipped || s == h
		}
		if !skipped {
			out = append(out, start.Add(time.Duration(h)*time.Hour))
		}
	}
	return out
}

func TestRuns(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 3, 30, 23, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		hours       []time.Time
		values      []float64
		n           int
		cheap, dear int
	}{
		{"one hour", hoursFrom(t0, 4), []float64{3, 1, 4, 1}, 1, 1, 2},
		{"two hours", hoursFrom(t0, 5), []float64{3, 1, 4, 1, 5}, 2, 0, 3},
		{"ties: the earliest", hoursFrom(t0, 4), []float64{2, 2, 2, 2}, 2, 0, 0},
		{"the whole day", hoursFrom(t0, 3), []float64{1, 2, 3}, 3, 0, 0},
		{"too few hours", hoursFrom(t0, 2), []float64{1, 2}, 3, -1, -1},
		// Hour 2 is missing: [1,3] are not consecutive, so the cheapest
		// pair is [3,4] (1+2), not [1,3] (0+1).
		{"a gap breaks a run", hoursFrom(t0, 5, 2), []float64{5, 0, 1, 2}, 2, 2, 0},
		{"no window", hoursFrom(t0, 3), []float64{1, 2, 3}, 0, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, d := Runs(tt.hours, tt.values, tt.n)
			if c != tt.cheap || d != tt.dear {
				t.Errorf("Runs = %d, %d; want %d, %d", c, d, tt.cheap, tt.dear)
			}
		})
	}
}

// A tally of days: a perfect forecast captures all of the possible saving,
// one that picks the dearest hours less than nothing, and a day without
// enough consecutive hours counts for nothing.
func TestTally(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	actual := []float64{4, 1, 1, 4, 10, 10} // mean 5; best pair 1, dearest 10
	tests := []struct {
		name     string
		forecast []float64
		model    float64
		capture  float64
	}{
		{"perfect", actual, 1, 1},
		{"biased by a constant", []float64{9, 6, 6, 9, 15, 15}, 1, 1},
		{"inverted", []float64{-4, -1, -1, -4, -10, -10}, 10, -1.25},
		{"flat: the earliest pair", []float64{2, 2, 2, 2, 2, 2}, 2.5, 2.5 / 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tl := Tally{Hours: 2}
			if !tl.Add(hoursFrom(t0, 6), tt.forecast, actual) {
				t.Fatal("a day of six hours did not count for a two-hour window")
			}
			if tl.Add(hoursFrom(t0.AddDate(0, 0, 1), 3, 1), []float64{1, 2}, []float64{1, 2}) {
				t.Error("a day with no two consecutive hours counted")
			}
			v := tl.Value()
			if v.Days != 1 || v.Hours != 2 || v.DayMean != 5 || v.Best != 1 || math.Abs(v.Model-tt.model) > 1e-12 || math.Abs(v.Capture()-tt.capture) > 1e-12 {
				t.Errorf("value %+v capture %v; want one day, mean 5, best 1, model %v, capture %v", v, v.Capture(), tt.model, tt.capture)
			}
		})
	}
	if v := (&Tally{Hours: 2}).Value(); v.Days != 0 || !math.IsNaN(v.Capture()) {
		t.Errorf("an empty tally: %+v, capture %v; want no days and a NaN capture", v, v.Capture())
	}
}

// The JSON of a Value carries its capture, and reads back as the Value.
func TestValueJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v    Value
		want string
	}{
		{Value{Hours: 3, Days: 2, DayMean: 5, Best: 1, Model: 2}, `"capture":0.75`},
		{Value{Hours: 3}, `"capture":null`},
	} {
		b, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tt.want) || !strings.Contains(string(b), `"day_mean":`) {
			t.Errorf("%+v encodes as %s; want %s among its fields", tt.v, b, tt.want)
		}
		var back Value
		if err := json.Unmarshal(b, &back); err != nil || back != tt.v {
			t.Errorf("%s reads back as %+v (%v); want %+v", b, back, err, tt.v)
		}
	}
}
