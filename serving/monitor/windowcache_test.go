package monitor

import (
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// The window values' cache stays bounded however many (days, hours) pairs
// are asked for, drops the answers of older scored hours, and still
// answers repeated queries from the cache.
func TestWindowValuesCacheIsBounded(t *testing.T) {
	t.Parallel()
	a, err := NewAccuracy(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for h := range 72 {
		a.Add(errRec("FI", "m", schemas.RoleChampion, t0.Add(time.Duration(h)*time.Hour), 14+h%24, float64(50+h%7), 2, 4, 0))
	}
	size := func() int {
		a.wvMu.Lock()
		defer a.wvMu.Unlock()
		return len(a.wvCache)
	}
	tests := []struct {
		name      string
		days, hrs int // pairs asked for: 1..days x 1..hrs
		max       int
	}{
		{"a few pairs", 2, 3, 6},
		{"every pair the API takes", 35, 24, maxCachedWindows},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for d := 1; d <= tt.days; d++ {
				for n := 1; n <= tt.hrs; n++ {
					a.WindowValues(time.Duration(d)*24*time.Hour, n)
					if got := size(); got > tt.max {
						t.Fatalf("%d cached answers after %d days x %d hours, want at most %d", got, d, n, tt.max)
					}
				}
			}
		})
	}
	// The most recently used pair is still cached, and answers as before.
	want := a.WindowValues(30*24*time.Hour, 3)
	a.wvMu.Lock()
	_, ok := a.wvCache[windowKey{30 * 24 * time.Hour, 3}]
	a.wvMu.Unlock()
	if !ok || len(want) != 1 {
		t.Errorf("cached %v, %d values; want the last pair cached, one model", ok, len(want))
	}
	// A new scored hour makes every cached answer old: the next query
	// drops them.
	a.Add(errRec("FI", "m", schemas.RoleChampion, t0.Add(72*time.Hour), 14, 50, 2, 4, 0))
	a.WindowValues(24*time.Hour, 1)
	if got := size(); got != 1 {
		t.Errorf("%d cached answers after a new scored hour, want 1", got)
	}
}
