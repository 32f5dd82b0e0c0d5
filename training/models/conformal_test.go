package models_test

import (
	"math"
	"testing"

	"github.com/wattcast/wattcast/training/models"
)

// The half-width is the ⌈(n+1)·level⌉-th smallest absolute residual, and
// there is none (false, +Inf) when that rank passes n. Residuals are ±1..±n
// in scrambled order with alternating signs, so the rank's residual is the
// rank itself; the cases are where ⌈⌉ and ⌊⌋ differ, or where the rank
// lands exactly on n.
func TestConformalHalfWidthRank(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		n      int
		window int
		level  float64
		want   float64 // the rank; 0 for none
	}{
		{name: "n 10 at 0.9: rank ceil(9.9) = 10", n: 10, level: 0.9, want: 10},
		{name: "n 18 at 0.9: rank ceil(17.1) = 18", n: 18, level: 0.9, want: 18},
		{name: "n 19 at 0.9: rank 18", n: 19, level: 0.9, want: 18},
		{name: "n 9 at 0.9: rank exactly 9", n: 9, level: 0.9, want: 9},
		{name: "n 8 at 0.9: rank ceil(8.1) = 9 > 8, too few", n: 8, level: 0.9},
		{name: "n 4 at 0.5: rank ceil(2.5) = 3", n: 4, level: 0.5, want: 3},
		{name: "n 3 at 0.5: rank exactly 2", n: 3, level: 0.5, want: 2},
		{name: "n 1 at 0.3: rank ceil(0.6) = 1", n: 1, level: 0.3, want: 1},
		{name: "n 38 at 0.95: rank ceil(37.05) = 38", n: 38, level: 0.95, want: 38},
		{name: "n 18 at 0.95: rank ceil(18.05) = 19 > 18, too few", n: 18, level: 0.95},
		{name: "none", n: 0, level: 0.5},
		{name: "level 0", n: 10, level: 0},
		{name: "level 1", n: 10, level: 1},
		// A window of 10 keeps residuals 16..25 (by absolute value):
		// rank 10 of those is 25, rank 9 would be 24.
		{name: "window 10 of 25 at 0.9", n: 25, window: 10, level: 0.9, want: 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := models.Conformal{Window: tc.window}
			const slot = 7
			// 1..n in the order n, 1, n-1, 2, ...: sorting is needed.
			var order []int
			for lo, hi := 1, tc.n; lo <= hi; lo, hi = lo+1, hi-1 {
				order = append(order, hi)
				if lo != hi {
					order = append(order, lo)
				}
			}
			if tc.window > 0 {
				order = order[:0]
				for i := 1; i <= tc.n; i++ {
					order = append(order, i) // oldest first: the window keeps the largest
				}
			}
			for i, v := range order {
				sign := float64(1 - 2*(i%2))
				c.Add(slot, sign*float64(v))
			}
			c.Add(slot+1, 1000) // another slot's residuals do not count
			got, ok := c.HalfWidth(slot, tc.level)
			if tc.want == 0 {
				if ok || !math.IsInf(got, 1) {
					t.Fatalf("HalfWidth = %v, %v; want +Inf, false", got, ok)
				}
				return
			}
			if !ok || got != tc.want {
				t.Fatalf("HalfWidth = %v, %v; want %v, true", got, ok, tc.want)
			}
		})
	}
}
