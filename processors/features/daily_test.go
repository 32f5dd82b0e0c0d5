package features

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// TestDailyWindowsAggregateTheDaysFinalRows checks every daily window
// against the final hourly rows of its day, aggregated here independently:
// one window per local day with a price, over 23, 24 and 25-hour days,
// with the statistics, the cheapest and dearest hours and the peak split of
// those rows, and the weather observed during the day.
func TestDailyWindowsAggregateTheDaysFinalRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		from  string
		days  int
		hours map[string]int // local date -> hours of the day
	}{
		{"spring clock change", "2023-03-20T00:00:00Z", 12, map[string]int{"2023-03-26": 23, "2023-03-27": 24}},
		{"autumn clock change", "2023-10-23T00:00:00Z", 12, map[string]int{"2023-10-29": 25, "2023-10-30": 24}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.from, tt.days)
			// A gap: two hours without a price on the third day.
			gap := f.prices[50].Start
			f.prices = append(f.prices[:50], f.prices[52:]...)
			res := f.batch(t)

			type agg struct {
				n                         int
				sum, sq, lo, hi           float64
				loH, hiH                  time.Time
				peak, off                 float64
				peakN, offN               int
				obsSum, obsMin, obsMax, k float64
			}
			byDate := map[string]*agg{}
			for _, r := range res.Final {
				a := byDate[r.LocalDate]
				if a == nil {
					a = &agg{lo: math.Inf(1), hi: math.Inf(-1), obsMin: math.Inf(1), obsMax: math.Inf(-1)}
					byDate[r.LocalDate] = a
				}
				p := *r.Price
				a.n++
				a.sum += p
				a.sq += p * p
				if p < a.lo {
					a.lo, a.loH = p, r.Hour
				}
				if p > a.hi {
					a.hi, a.hiH = p, r.Hour
				}
				if r.LocalHour >= 8 && r.LocalHour < 20 {
					a.peak += p
					a.peakN++
				} else {
					a.off += p
					a.offN++
				}
			}
			// Weather counts for every hour of the day, priced or not.
			for _, o := range f.obs {
				if a := byDate[o.Time.In(helsinki(t)).Format(time.DateOnly)]; a != nil {
					v := o.Values["t"]
					a.obsSum += v
					a.obsMin, a.obsMax = math.Min(a.obsMin, v), math.Max(a.obsMax, v)
					a.k++
				}
			}
			if len(res.Daily) != len(byDate) {
				t.Fatalf("%d daily windows for %d local days with final rows", len(res.Daily), len(byDate))
			}
			seen := map[string]bool{}
			near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
			for _, d := range res.Daily {
				if err := d.Validate(); err != nil {
					t.Errorf("%s: %v", d.LocalDate, err)
				}
				if seen[d.LocalDate] {
					t.Fatalf("%s: two daily windows", d.LocalDate)
				}
				seen[d.LocalDate] = true
				a := byDate[d.LocalDate]
				if a == nil {
					t.Fatalf("%s: a daily window without final rows", d.LocalDate)
				}
				mean := a.sum / float64(a.n)
				std := math.Sqrt(math.Max(a.sq/float64(a.n)-mean*mean, 0))
				if d.PriceHours != a.n || !near(d.PriceMean, mean) || !near(d.PriceStd, std) || d.PriceMin != a.lo || d.PriceMax != a.hi {
					t.Errorf("%s: price hours %d mean %g std %g min %g max %g; final rows give %d %g %g %g %g",
						d.LocalDate, d.PriceHours, d.PriceMean, d.PriceStd, d.PriceMin, d.PriceMax, a.n, mean, std, a.lo, a.hi)
				}
				if !d.MinHour.Equal(a.loH) || !d.MaxHour.Equal(a.hiH) {
					t.Errorf("%s: cheapest %s dearest %s; final rows give %s %s", d.LocalDate, d.MinHour, d.MaxHour, a.loH, a.hiH)
				}
				if d.PeakMean == nil || d.OffPeakMean == nil || !near(*d.PeakMean, a.peak/float64(a.peakN)) || !near(*d.OffPeakMean, a.off/float64(a.offN)) {
					t.Errorf("%s: peak %v off-peak %v; final rows give %g %g", d.LocalDate, d.PeakMean, d.OffPeakMean, a.peak/float64(a.peakN), a.off/float64(a.offN))
				}
				if a.k > 0 && (!near(d.ObservedMean["t"], a.obsSum/a.k) || d.ObservedMin["t"] != a.obsMin || d.ObservedMax["t"] != a.obsMax) {
					t.Errorf("%s: observed t mean %g min %g max %g; final rows give %g %g %g",
						d.LocalDate, d.ObservedMean["t"], d.ObservedMin["t"], d.ObservedMax["t"], a.obsSum/a.k, a.obsMin, a.obsMax)
				}
				day, _ := time.ParseInLocation(time.DateOnly, d.LocalDate, helsinki(t))
				if !d.Start.Equal(day) || !d.End.Equal(day.AddDate(0, 0, 1)) || d.Hours != int(d.End.Sub(d.Start)/time.Hour) {
					t.Errorf("%s: [%s, %s) %d hours, want local midnight to midnight", d.LocalDate, d.Start, d.End, d.Hours)
				}
				if want, ok := tt.hours[d.LocalDate]; ok && (d.Hours != want || d.PriceHours != want) {
					t.Errorf("%s: %d hours, %d with a price; want %d", d.LocalDate, d.Hours, d.PriceHours, want)
				}
				if wd := int(day.Weekday()+6)%7 + 1; d.Weekday != wd || d.Weekend != (wd >= 6) {
					t.Errorf("%s: weekday %d weekend %v, want %d", d.LocalDate, d.Weekday, d.Weekend, wd)
				}
			}
			gapDate := gap.In(helsinki(t)).Format(time.DateOnly)
			for _, d := range res.Daily {
				if d.LocalDate == gapDate && d.PriceHours != d.Hours-2 {
					t.Errorf("%s: %d of %d hours priced; the gap removed 2", gapDate, d.PriceHours, d.Hours)
				}
			}
		})
	}
}

func helsinki(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestDailyWindowIsSentOnceItsLastHourIsFinal checks when a day closes: not
// while its last hour can still change, and in the same Advance as that
// hour's final row.
func TestDailyWindowIsSentOnceItsLastHourIsFinal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2023-06-01T00:00:00Z", 3)
	e, err := NewEngine(Config{AllowedLateness: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.prices {
		if err := e.AddPrice(&f.prices[i]); err != nil {
			t.Fatal(err)
		}
	}
	// Helsinki's 1 June 2023 (the fixture's first day) is 31 May 21:00 UTC
	// to 1 June 21:00 UTC; its last hour's final row is due once the clock
	// passes 21:00 plus the hour of allowed lateness.
	last := mustTime(t, "2023-05-31T20:00:00Z").Add(24 * time.Hour)
	if rows := e.Advance(last.Add(2 * time.Hour)); len(rows) == 0 {
		t.Fatal("no final rows of 1 June's earlier hours")
	}
	if d := e.DailyAppend(nil); len(d) != 0 {
		t.Fatalf("before 1 June's last hour is final: windows %+v, want none", d)
	}
	rows := e.Advance(last.Add(2*time.Hour + time.Second))
	d := e.DailyAppend(nil)
	if len(d) != 1 || d[0].LocalDate != "2023-06-01" {
		t.Fatalf("windows %+v, want 1 June's", d)
	}
	if n := len(rows); n == 0 || !rows[n-1].Final || !rows[n-1].Hour.Equal(last) {
		t.Fatalf("the window was sent without its last hour's final row in the same Advance")
	}
	if again := e.DailyAppend(nil); len(again) != 0 {
		t.Fatalf("DailyAppend returned %d windows twice", len(again))
	}
	// The closed day's prices can no longer change.
	p := f.prices[5]
	p.Value++
	p.PublishedAt = e.Clock()
	var rej *Rejection
	if err := e.AddPrice(&p); !errors.As(err, &rej) || rej.Reason != schemas.ReasonWindowClosed {
		t.Fatalf("a changed price of a closed day: %v, want a %s rejection", err, schemas.ReasonWindowClosed)
	}
}

// A zone with a half-hour offset (India, UTC+5:30) starts its days
// mid-hour: a day's ready rows, final rows and window cover the 24 hours
// that start in it, and the ready rows see the day before's prices.
func TestHalfHourOffsetZoneGetsRowsAndWindows(t *testing.T) {
	t.Parallel()
	loc, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	var prices []schemas.Price
	for h := range 4 * 24 {
		s := start.Add(time.Duration(h) * time.Hour)
		prices = append(prices, schemas.Price{Region: "IN-S", Market: "iex-dam", Source: "test", Start: s, End: s.Add(time.Hour),
			Value: float64(h % 24), Unit: "EUR/MWh", Currency: "EUR", PublishedAt: s.Add(-24 * time.Hour).Truncate(24 * time.Hour)})
	}
	res, err := Batch(Config{Fallback: Region{Zone: "Asia/Kolkata", IssueTime: "10:00"}}, prices, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	finals, ready := map[string]int{}, map[string]int{}
	for _, r := range res.Final {
		finals[r.LocalDate]++
	}
	for _, r := range res.Ready {
		if err := r.Validate(); err != nil {
			t.Fatalf("ready row %s: %v", r.Hour, err)
		}
		inData := r.LocalDate == "2024-02-03" || r.LocalDate == "2024-02-04" // lag 24 h within the prices
		if r.LastPrice == nil || inData && r.PriceLag24h == nil {
			t.Fatalf("ready row %s of %s: last price %v, lag 24h %v: the day before's prices not found", r.Hour, r.LocalDate, r.LastPrice, r.PriceLag24h)
		}
		ready[r.LocalDate]++
	}
	if ready["2024-02-03"] != 24 || ready["2024-02-04"] != 24 {
		t.Fatalf("ready rows per local day %v, want 24 on 3 and 4 February", ready)
	}
	full := 0
	for _, d := range res.Daily {
		if err := d.Validate(); err != nil {
			t.Fatalf("%s: %v", d.LocalDate, err)
		}
		if d.Hours != 24 || d.PriceHours != finals[d.LocalDate] {
			t.Errorf("%s: %d hours, %d priced; its final rows number %d", d.LocalDate, d.Hours, d.PriceHours, finals[d.LocalDate])
		}
		if l := d.Start.In(loc); l.Hour() != 0 || l.Minute() != 0 || l.Format(time.DateOnly) != d.LocalDate {
			t.Errorf("%s starts at %s local", d.LocalDate, l)
		}
		if d.PriceHours == 24 {
			full++
		}
	}
	if full < 2 {
		t.Fatalf("%d full days among %d windows, want the middle days full", full, len(res.Daily))
	}
}
