package models

import (
	"math"
	"testing"
	"time"
)

// Clock changes: a 25-hour day puts two rows in one slot (averaged) and a
// 23-hour day leaves one slot empty (interpolated from its neighbours).
func TestPanelDSTDays(t *testing.T) {
	t.Parallel()
	rows := synthRows(t, synthOpts{zone: "Europe/Helsinki", start: "2023-03-20", days: 230, seed: 1})
	p, err := buildPanel(rows, []string{"load"}, []string{"temp"})
	if err != nil {
		t.Fatal(err)
	}
	spring := p.index(time.Date(2023, 3, 26, 0, 0, 0, 0, time.UTC))
	autumn := p.index(time.Date(2023, 10, 29, 0, 0, 0, 0, time.UTC))
	if p.days[spring].rows != 23 || p.days[autumn].rows != 25 {
		t.Fatalf("rows on clock-change days: %d and %d; want 23 and 25", p.days[spring].rows, p.days[autumn].rows)
	}
	// Helsinki skips 03:00 in spring: slot 3 is the mean of slots 2 and 4.
	sp := p.days[spring].price
	if math.Abs(sp[3]-(sp[2]+sp[4])/2) > 1e-9 {
		t.Errorf("spring slot 3 = %v; want mean of %v and %v", sp[3], sp[2], sp[4])
	}
	// Autumn repeats 03:00: slot 3 averages the two rows.
	var sum float64
	var n int
	for _, r := range rows {
		if r.LocalDate == "2023-10-29" && r.LocalHour == 3 {
			sum += *r.Price
			n++
		}
	}
	if n != 2 || math.Abs(p.days[autumn].price[3]-sum/2) > 1e-9 {
		t.Errorf("autumn slot 3 = %v from %d rows; want mean %v of 2", p.days[autumn].price[3], n, sum/2)
	}
	for s, v := range p.days[autumn].price {
		if math.IsNaN(v) {
			t.Errorf("autumn slot %d is NaN", s)
		}
	}
}

// A price after the target's LastPriceHour was not known at the issue time:
// the panel must hide it and fall back to the same slot a day earlier.
func TestPanelHidesPricesUnknownAtIssue(t *testing.T) {
	t.Parallel()
	rows := synthRows(t, synthOpts{zone: "Europe/Helsinki", start: "2023-01-02", days: 10, seed: 2})
	// Pretend the market publishes late: at the issue time for Jan 10 only
	// prices up to Jan 9 05:00 UTC are known.
	cut := time.Date(2023, 1, 9, 5, 0, 0, 0, time.UTC)
	for i := range rows {
		if rows[i].LocalDate == "2023-01-10" {
			rows[i].LastPriceHour = &cut
		}
	}
	p, err := buildPanel(rows, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tIdx := p.index(time.Date(2023, 1, 10, 0, 0, 0, 0, time.UTC))
	for s := 0; s < Slots; s++ {
		got := p.price(tIdx-1, s, tIdx)
		h := p.days[tIdx-1].hour[s]
		want := p.days[tIdx-1].price[s]
		if h.After(cut) {
			want = p.days[tIdx-2].price[s]
		}
		if got != want {
			t.Errorf("slot %d (%s): price %v; want %v", s, h.Format(time.RFC3339), got, want)
		}
	}
}
