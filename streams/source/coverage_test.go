package source

import (
	"testing"
	"time"
)

func at(h int) time.Time {
	return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour)
}

func TestCoverage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		adds [][2]int
		want [][2]int
	}{
		{"empty add ignored", [][2]int{{5, 5}}, nil},
		{"touching intervals merge", [][2]int{{0, 2}, {2, 4}}, [][2]int{{0, 4}}},
		{"disjoint stay apart, sorted", [][2]int{{6, 8}, {0, 2}}, [][2]int{{0, 2}, {6, 8}}},
		{"a bridge merges three", [][2]int{{0, 2}, {6, 8}, {1, 7}}, [][2]int{{0, 8}}},
		{"contained adds nothing", [][2]int{{0, 10}, {3, 4}}, [][2]int{{0, 10}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c Coverage
			for _, a := range tc.adds {
				c = c.Add(at(a[0]), at(a[1]))
			}
			if len(c) != len(tc.want) {
				t.Fatalf("got %v, want %v", c, tc.want)
			}
			for i, w := range tc.want {
				if !c[i].From.Equal(at(w[0])) || !c[i].To.Equal(at(w[1])) {
					t.Errorf("interval %d = %v, want %v", i, c[i], w)
				}
			}
		})
	}
	c := Coverage{}.Add(at(0), at(2)).Add(at(4), at(6))
	for h, want := range map[int]bool{-1: false, 0: true, 1: true, 2: false, 3: false, 4: true, 6: false} {
		if got := c.Contains(at(h)); got != want {
			t.Errorf("Contains(%d) = %t, want %t", h, got, want)
		}
	}
	gaps := c.Gaps(at(-2), at(8))
	want := [][2]int{{-2, 0}, {2, 4}, {6, 8}}
	if len(gaps) != len(want) {
		t.Fatalf("gaps %v, want %v", gaps, want)
	}
	for i, w := range want {
		if !gaps[i].From.Equal(at(w[0])) || !gaps[i].To.Equal(at(w[1])) {
			t.Errorf("gap %d = %v, want %v", i, gaps[i], w)
		}
	}
	if g := c.Gaps(at(0), at(2)); len(g) != 0 {
		t.Errorf("a covered range has gaps %v", g)
	}
	if m := c.Minus(Coverage{}.Add(at(1), at(5))); len(m) != 2 || !m[0].To.Equal(at(1)) || !m[1].From.Equal(at(5)) || !m[1].To.Equal(at(6)) {
		t.Errorf("Minus %v, want [0,1) and [5,6)", m)
	}
	if !c.End().Equal(at(6)) {
		t.Errorf("End %v", c.End())
	}
}
