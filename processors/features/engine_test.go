package features

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	x, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// fixture is a synthetic but realistic history for region FI: hourly prices
// published at 11:45 UTC the day before delivery (Nord Pool's 12:45 CET),
// hourly observations available at the end of their hour, and a weather
// forecast issued every day at 06:00 UTC for the next 48 hours.
type fixture struct {
	prices []schemas.Price
	obs    []schemas.WeatherObservation
	fcs    []schemas.WeatherForecast
}

func priceOf(h time.Time) float64 {
	// A daily shape plus a slow trend: every hour's value is distinct, so a
	// wrong lag cannot pass by coincidence.
	return 50 + 20*math.Sin(float64(h.Hour())/24*2*math.Pi) + float64(h.Unix()/3600%1000)/10
}

func tempOf(h time.Time) float64 { return -5 + float64(h.Hour())/2 + float64(h.YearDay())/100 }

func newFixture(t *testing.T, from string, days int) fixture {
	t.Helper()
	start := mustTime(t, from)
	loc, _ := time.LoadLocation("Europe/Helsinki")
	var f fixture
	for d := 0; d < days; d++ {
		day := start.AddDate(0, 0, d)
		l := day.In(loc)
		midnight := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
		next := midnight.AddDate(0, 0, 1)
		pub := time.Date(l.Year(), l.Month(), l.Day()-1, 13, 45, 0, 0, loc).UTC()
		for h := midnight.UTC(); h.Before(next.UTC()); h = h.Add(time.Hour) {
			f.prices = append(f.prices, schemas.Price{Region: "FI", Market: "nordpool-dayahead", Source: "test",
				Start: h, End: h.Add(time.Hour), Value: priceOf(h), Unit: "c/kWh", Currency: "EUR", VATIncluded: true, PublishedAt: pub})
		}
	}
	end := start.AddDate(0, 0, days)
	for h := start; h.Before(end); h = h.Add(time.Hour) {
		f.obs = append(f.obs, schemas.WeatherObservation{Region: "FI", Location: "FI", Source: "test", Time: h,
			Values: map[string]float64{"t": tempOf(h)}, AvailableAt: h.Add(time.Hour)})
	}
	for d := 0; d < days; d++ {
		iss := start.AddDate(0, 0, d).Add(6 * time.Hour)
		for k := 0; k < 48; k++ {
			h := iss.Truncate(time.Hour).Add(time.Duration(k) * time.Hour)
			f.fcs = append(f.fcs, schemas.WeatherForecast{Region: "FI", Location: "FI", Source: "test", IssuedAt: iss,
				Time: h, LeadHours: schemas.LeadHours(iss, h), Values: map[string]float64{"t": tempOf(h) + float64(d%3)}})
		}
	}
	return f
}

// feed adds every input of the fixture to e, in the fixture's order.
func (f fixture) feed(t *testing.T, e *Engine) {
	t.Helper()
	for i := range f.prices {
		if err := e.AddPrice(&f.prices[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range f.obs {
		if err := e.AddObservation(&f.obs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range f.fcs {
		if err := e.AddForecast(&f.fcs[i]); err != nil {
			t.Fatal(err)
		}
	}
}

func (f fixture) batch(t *testing.T) BatchResult {
	t.Helper()
	res, err := Batch(Config{}, f.prices, f.obs, f.fcs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) > 0 {
		t.Fatalf("clean input rejected: %v", res.Rejected[0])
	}
	return res
}

// checkLags checks r's price lags: the same local hour 1, 2 and 7 local
// days earlier, none for an hour that did not exist that day or before the
// data starts.
func checkLags(t *testing.T, r schemas.FeatureRow, first time.Time, loc *time.Location) {
	t.Helper()
	l := r.Hour.In(loc)
	for _, lag := range []struct {
		got  *float64
		days int
	}{{r.PriceLag24h, 1}, {r.PriceLag48h, 2}, {r.PriceLag168h, 7}} {
		src := time.Date(l.Year(), l.Month(), l.Day()-lag.days, l.Hour(), 0, 0, 0, loc)
		want := priceOf(src.UTC())
		if src.Hour() != l.Hour() || src.Before(first) {
			if lag.got != nil {
				t.Fatalf("%s (local %s): lag %dd = %v, want none (%s does not exist or precedes the data)",
					r.Hour, l.Format("01-02 15:04"), lag.days, *lag.got, src)
			}
			continue
		}
		if lag.got == nil {
			t.Fatalf("%s (local %s): no lag %dd, want %v, the price of local %s",
				r.Hour, l.Format("01-02 15:04"), lag.days, want, src.Format("01-02 15:04"))
		}
		if *lag.got != want {
			t.Fatalf("%s (local %s): lag %dd = %v, want %v, the price of local %s",
				r.Hour, l.Format("01-02 15:04"), lag.days, *lag.got, want, src.Format("01-02 15:04"))
		}
	}
}

// Across both clock changes, the lags are the same local hour: on the
// 23-hour day and the week after it, and on the 25-hour day, whose
// repeated hour takes one lag. (A lag of 24 UTC hours is a local hour off
// for a day, and 168 for a week.)
func TestLagsAreTheSameLocalHourAcrossClockChanges(t *testing.T) {
	t.Parallel()
	loc, _ := time.LoadLocation("Europe/Helsinki")
	for _, from := range []string{"2023-03-17T00:00:00Z", "2023-10-20T00:00:00Z"} {
		f := newFixture(t, from, 16)
		res := f.batch(t)
		withLag := 0
		for _, r := range append(res.Final, res.Ready...) {
			checkLags(t, r, f.prices[0].Start, loc)
			if r.PriceLag168h != nil {
				withLag++
			}
		}
		if withLag == 0 {
			t.Fatalf("from %s: no row has a weekly lag", from)
		}
	}
}

func TestRowsHaveTheRightValues(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2023-03-01T00:00:00Z", 14)
	res := f.batch(t)

	// Every hour with a price gets exactly one final row; ready rows start
	// the day after the first day with prices.
	seen := map[time.Time]bool{}
	for _, r := range res.Final {
		if seen[r.Hour] {
			t.Fatalf("final row for %s twice", r.Hour)
		}
		seen[r.Hour] = true
	}
	if len(seen) != len(f.prices) {
		t.Fatalf("%d final rows for %d hourly prices", len(seen), len(f.prices))
	}
	if want := (14 - 1 + 1) * 24; len(res.Ready) != want {
		// 13 days after the first, plus the day after the data ends, whose
		// inputs (the last day's prices) are known.
		t.Fatalf("%d ready rows, want %d", len(res.Ready), want)
	}

	loc, _ := time.LoadLocation("Europe/Helsinki")
	for _, r := range res.Final {
		if *r.Price != priceOf(r.Hour) || r.PriceCount != 1 {
			t.Fatalf("%s: price %v (%d), want %v", r.Hour, *r.Price, r.PriceCount, priceOf(r.Hour))
		}
		l := r.Hour.In(loc)
		wantIssue := time.Date(l.Year(), l.Month(), l.Day()-1, 10, 0, 0, 0, loc).UTC()
		if !r.IssueTime.Equal(wantIssue) {
			t.Fatalf("%s: issue time %s, want %s", r.Hour, r.IssueTime, wantIssue)
		}
		if r.LocalHour != l.Hour() || r.LocalDate != l.Format(time.DateOnly) {
			t.Fatalf("%s: local hour/date %d %s", r.Hour, r.LocalHour, r.LocalDate)
		}
		if r.Hour.Before(f.obs[0].Time) {
			if r.Observed != nil {
				t.Fatalf("%s: observed %v before observations start", r.Hour, r.Observed)
			}
		} else if r.Observed["t"] != tempOf(r.Hour) {
			t.Fatalf("%s: observed %v, want %v", r.Hour, r.Observed, tempOf(r.Hour))
		}
		first := f.prices[0].Start
		checkLags(t, r, first, loc)
		// The last known price at 10:00 on D-1 is D-1's last hour.
		start := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc).UTC()
		if start.After(first) {
			if r.LastPriceHour == nil || !r.LastPriceHour.Equal(start.Add(-time.Hour)) {
				t.Fatalf("%s: last price hour %v, want %s", r.Hour, r.LastPriceHour, start.Add(-time.Hour))
			}
		}
		// Known ahead: the forecast issued at 06:00 UTC on D-1 or earlier.
		if r.KnownAheadIssuedAt != nil && r.KnownAheadIssuedAt.After(r.IssueTime) {
			t.Fatalf("%s: known-ahead issued %s after the issue time %s", r.Hour, r.KnownAheadIssuedAt, r.IssueTime)
		}
	}
}

func TestReadyAndFinalRowsAgreeOnEverythingKnownAtIssue(t *testing.T) {
	t.Parallel()
	res := newFixture(t, "2023-03-01T00:00:00Z", 12).batch(t)
	ready := map[time.Time]schemas.FeatureRow{}
	for _, r := range res.Ready {
		ready[r.Hour] = r
	}
	n := 0
	for _, f := range res.Final {
		r, ok := ready[f.Hour]
		if !ok {
			continue
		}
		n++
		f.Final, f.Price, f.PriceCount, f.Observed = false, nil, 0, nil
		if !reflect.DeepEqual(r, f) {
			t.Fatalf("hour %s: ready row\n%+v\ndiffers from the final row's issue-time part\n%+v", f.Hour, r, f)
		}
	}
	if n < 200 {
		t.Fatalf("only %d hours had both rows", n)
	}
}

// No feature may use a value that was not known at the issue time of the
// forecast it feeds: change every input known after T, and no row whose
// as-of time is T or earlier may change.
func TestPerturbingTheFutureChangesNoPastFeature(t *testing.T) {
	t.Parallel()
	base := newFixture(t, "2023-03-01T00:00:00Z", 16)
	cut := mustTime(t, "2023-03-09T07:30:00Z")
	rng := rand.New(rand.NewPCG(1, 2))
	pert := newFixture(t, "2023-03-01T00:00:00Z", 16)
	changed := 0
	for i := range pert.prices {
		if pert.prices[i].PublishedAt.After(cut) {
			pert.prices[i].Value += 100 * rng.NormFloat64()
			changed++
		}
	}
	for i := range pert.obs {
		if pert.obs[i].AvailableAt.After(cut) {
			pert.obs[i].Values = map[string]float64{"t": rng.NormFloat64() * 30}
			changed++
		}
	}
	for i := range pert.fcs {
		if pert.fcs[i].IssuedAt.After(cut) {
			pert.fcs[i].Values = map[string]float64{"t": rng.NormFloat64() * 30}
			changed++
		}
	}
	if changed < 500 {
		t.Fatalf("perturbed only %d inputs", changed)
	}
	a, b := base.batch(t), pert.batch(t)
	byHour := func(rows []schemas.FeatureRow) map[time.Time]schemas.FeatureRow {
		m := map[time.Time]schemas.FeatureRow{}
		for _, r := range rows {
			m[r.Hour] = r
		}
		return m
	}
	ra, rb := byHour(a.Ready), byHour(b.Ready)
	checked, differ := 0, 0
	for h, x := range ra {
		y, ok := rb[h]
		if !x.IssueTime.After(cut) {
			checked++
			if !ok || !reflect.DeepEqual(x, y) {
				t.Fatalf("ready row %s (issued %s, before the cut %s) changed when only later inputs changed", h, x.IssueTime, cut)
			}
		} else if ok && !reflect.DeepEqual(x, y) {
			differ++
		}
	}
	fa, fb := byHour(a.Final), byHour(b.Final)
	for h, x := range fa {
		y := fb[h]
		if !x.Hour.Add(time.Hour).After(cut) {
			checked++
			if !reflect.DeepEqual(x, y) {
				t.Fatalf("final row %s (complete before the cut) changed", h)
			}
		}
	}
	// The test must be able to fail: later rows do see the perturbation.
	if checked < 150 || differ == 0 {
		t.Fatalf("checked %d rows before the cut, %d after it differ: the perturbation is not exercised", checked, differ)
	}
}

// A processor restored from its changelog halfway through must emit exactly
// the rows an uninterrupted one emits: nothing lost, nothing doubled.
func TestRestoreFromChangelogContinuesExactly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2023-10-10T00:00:00Z", 30) // spans the end of summer time
	type ev struct {
		at  time.Time
		add func(*Engine) error
	}
	var evs []ev
	for i := range f.prices {
		p := f.prices[i]
		evs = append(evs, ev{p.PublishedAt, func(e *Engine) error { return e.AddPrice(&p) }})
	}
	for i := range f.obs {
		o := f.obs[i]
		evs = append(evs, ev{o.AvailableAt, func(e *Engine) error { return e.AddObservation(&o) }})
	}
	for i := range f.fcs {
		x := f.fcs[i]
		evs = append(evs, ev{x.IssuedAt, func(e *Engine) error { return e.AddForecast(&x) }})
	}
	sortEvents := func() {
		for i := 1; i < len(evs); i++ {
			for j := i; j > 0 && evs[j].at.Before(evs[j-1].at); j-- {
				evs[j], evs[j-1] = evs[j-1], evs[j]
			}
		}
	}
	sortEvents()
	// run returns the feature rows and, collected alongside, the daily
	// windows.
	var daily []schemas.DailyFeatures
	run := func(e *Engine, evs []ev) []schemas.FeatureRow {
		var out []schemas.FeatureRow
		for _, x := range evs {
			if err := x.add(e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e.Advance(x.at)...)
			daily = e.DailyAppend(daily)
		}
		return out
	}
	whole, _ := NewEngine(Config{})
	want := run(whole, evs)
	wantDaily := daily
	daily = nil

	first, _ := NewEngine(Config{})
	var log []KV
	var got []schemas.FeatureRow
	// Changes are taken every 300 inputs, as transactions would: the log
	// holds incremental day records and tombstones of pruned days.
	half := evs[:len(evs)/2]
	for i := 0; i < len(half); i += 300 {
		got = append(got, run(first, half[i:min(i+300, len(half))])...)
		c, err := first.Changes()
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, c...)
	}
	tombstones := 0
	for _, kv := range log {
		if kv.Value == nil {
			tombstones++
		}
	}
	if tombstones == 0 {
		t.Fatal("no pruned day in the changelog: the test does not exercise tombstones")
	}
	restored, _ := NewEngine(Config{})
	for _, kv := range log {
		if err := restored.Restore(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	got = append(got, run(restored, evs[len(evs)/2:])...)
	if len(got) != len(want) {
		t.Fatalf("restored run emitted %d rows, uninterrupted %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("row %d differs after restore:\n%+v\n%+v", i, got[i], want[i])
		}
	}
	if len(wantDaily) < 25 || !reflect.DeepEqual(daily, wantDaily) {
		t.Fatalf("daily windows differ after restore: %d windows, uninterrupted %d", len(daily), len(wantDaily))
	}
}

func TestHalfHourlyPricesAverageIntoHours(t *testing.T) {
	t.Parallel()
	loc, _ := time.LoadLocation("Europe/London")
	var prices []schemas.Price
	start := time.Date(2021, 3, 1, 0, 0, 0, 0, loc)
	for d := 0; d < 4; d++ {
		day := start.AddDate(0, 0, d)
		pub := time.Date(day.Year(), day.Month(), day.Day()-1, 16, 0, 0, 0, loc).UTC()
		for i := 0; i < 48; i++ {
			s := day.UTC().Add(time.Duration(i) * 30 * time.Minute)
			prices = append(prices, schemas.Price{Region: "GB-A", Market: "octopus-agile", Source: "t", Start: s,
				End: s.Add(30 * time.Minute), Value: float64(i), Unit: "p/kWh", Currency: "GBP", VATIncluded: true, PublishedAt: pub})
		}
	}
	res, err := Batch(Config{}, prices, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Final) != 4*24 {
		t.Fatalf("%d final rows, want 96", len(res.Final))
	}
	for _, r := range res.Final {
		i := r.Hour.In(loc).Hour() * 2
		if r.PriceCount != 2 || *r.Price != float64(2*i+1)/2 {
			t.Fatalf("%s: price %v from %d half-hours, want %v from 2", r.Hour, *r.Price, r.PriceCount, float64(2*i+1)/2)
		}
	}
}

func TestClockChangeDaysHave23And25Hours(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2023-03-20T00:00:00Z", 230) // spring and autumn 2023
	res := f.batch(t)
	perDay := map[string]int{}
	for _, r := range res.Ready {
		perDay[r.LocalDate]++
	}
	for day, want := range map[string]int{"2023-03-26": 23, "2023-10-29": 25, "2023-06-01": 24} {
		if perDay[day] != want {
			t.Errorf("%s: %d ready rows, want %d", day, perDay[day], want)
		}
	}
}

func TestLateAndClosedInputsAreRejectedWithTheirReason(t *testing.T) {
	t.Parallel()
	e, err := NewEngine(Config{AllowedLateness: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, "2023-03-01T00:00:00Z", 6)
	for i := range f.prices {
		if err := e.AddPrice(&f.prices[i]); err != nil {
			t.Fatal(err)
		}
	}
	e.Advance(mustTime(t, "2023-03-05T00:00:00Z"))

	reason := func(err error) string {
		var r *Rejection
		if !errors.As(err, &r) {
			return fmt.Sprintf("not a rejection: %v", err)
		}
		return r.Reason
	}
	late := f.obs[0] // available 2023-03-01T01:00, days behind the clock
	if got := reason(e.AddObservation(&late)); got != schemas.ReasonLate {
		t.Errorf("late observation: %s, want %s", got, schemas.ReasonLate)
	}
	// A changed price for an hour whose final row is out.
	p := f.prices[30]
	p.Value += 1
	p.PublishedAt = mustTime(t, "2023-03-04T23:30:00Z")
	if got := reason(e.AddPrice(&p)); got != schemas.ReasonWindowClosed {
		t.Errorf("price after its final row: %s, want %s", got, schemas.ReasonWindowClosed)
	}
	// The same price delivered again is not an error: re-runs must be safe.
	dup := f.prices[30]
	dup.PublishedAt = mustTime(t, "2023-03-04T23:30:00Z")
	if err := e.AddPrice(&dup); err != nil {
		t.Errorf("re-delivered price: %v", err)
	}
	other := f.prices[len(f.prices)-1]
	other.Market, other.Unit = "octopus-agile", "p/kWh"
	if got := reason(e.AddPrice(&other)); got != schemas.ReasonInvalid {
		t.Errorf("second market in one region: %s, want %s", got, schemas.ReasonInvalid)
	}
	unknown := f.prices[len(f.prices)-1]
	unknown.Region = "XX"
	if got := reason(e.AddPrice(&unknown)); got != schemas.ReasonInvalid {
		t.Errorf("unknown region: %s, want %s", got, schemas.ReasonInvalid)
	}
}

// A region configured with a zone or issue time that does not parse fails
// NewEngine (and so the processor's start), naming the region, instead of
// dead-lettering every record of the region at run time.
func TestNewEngineRejectsABadRegion(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		r    Region
		want string
	}{
		{"zone", Region{Zone: "Mars/Olympus"}, "region X"},
		{"issue time", Region{Zone: "Europe/Helsinki", IssueTime: "25:00"}, `issue time "25:00"`},
	} {
		_, err := NewEngine(Config{Regions: map[string]Region{"X": c.r}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: NewEngine error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, err := NewEngine(Config{Regions: map[string]Region{"X": {Zone: "Europe/Helsinki", Country: "FI", IssueTime: "09:30"}}}); err != nil {
		t.Errorf("a good region: %v", err)
	}
}

// The rolling and daily standard deviations do not cancel: equal prices
// have a std of exactly 0, and prices a tenth of a thousandth apart around
// 5000 have their true std, where E[x²] - mean² loses most digits.
func TestStdWithoutCancellation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		price func(i int) float64
		want  float64
	}{
		{"equal prices", func(int) float64 { return 1234.5678 }, 0},
		{"alternating near 5000", func(i int) float64 { return 5000 + 0.001*float64(i%2) }, 0.0005},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "2023-03-01T00:00:00Z", 10)
			for i := range f.prices {
				f.prices[i].Value = tc.price(i)
			}
			res := f.batch(t)
			n := 0
			for _, r := range res.Final {
				for _, s := range []*float64{r.Std24h, r.Std168h} {
					if s != nil && math.Abs(*s-tc.want) > 1e-9 {
						t.Fatalf("%s: std %v, want %v", r.Hour, *s, tc.want)
					}
				}
				if r.Std168h != nil {
					n++
				}
			}
			for _, d := range res.Daily {
				if math.Abs(d.PriceStd-tc.want) > 1e-9 || d.PriceMean < d.PriceMin || d.PriceMean > d.PriceMax {
					t.Fatalf("%s: daily std %v mean %v in [%v, %v], want std %v", d.LocalDate, d.PriceStd, d.PriceMean, d.PriceMin, d.PriceMax, tc.want)
				}
			}
			if n == 0 || len(res.Daily) == 0 {
				t.Fatal("no rolling or daily statistics to check")
			}
		})
	}
}

// Observations available days after their hour (an archive such as ERA5,
// five days late) still give every ready row a last observed value: the
// look-back reaches past the delay, and only values available at the issue
// time count.
func TestLastObservedReachesDelayedArchives(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2023-03-01T00:00:00Z", 14)
	const delay = 5 * 24 * time.Hour
	for i := range f.obs {
		f.obs[i].AvailableAt = f.obs[i].Time.Add(delay)
	}
	res := f.batch(t)
	firstAvailable := f.obs[0].AvailableAt
	n := 0
	for _, r := range res.Ready {
		if !r.IssueTime.After(firstAvailable) {
			continue
		}
		v, ok := r.LastObserved["t"]
		// The latest hour available at the issue time is the one that
		// became available last, delay earlier.
		last := r.IssueTime.Add(-delay).Truncate(time.Hour)
		if !ok || v != tempOf(last) {
			t.Fatalf("%s (issued %s): last observed %v, want %v, the hour %s", r.Hour, r.IssueTime, r.LastObserved, tempOf(last), last)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no ready row issued after the first observation was available")
	}
}

// A day whose prices are published after its hours (a backfill after an
// outage) had no final rows and gets none, but its prices are kept, not
// dead-lettered: the next days' lags and statistics use them from their
// publication on. A price for an hour that did have a final row is still
// refused, and one older than the state's retention is late.
func TestPricesPublishedAfterTheirHoursFeedLaterFeatures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2023-03-01T00:00:00Z", 12)
	loc, _ := time.LoadLocation("Europe/Helsinki")
	gapDay := "2023-03-06"
	backfilled := mustTime(t, "2023-03-08T09:00:00Z") // before the 03-08 10:00 local issue of 03-09's rows
	var gap []int
	for i, p := range f.prices {
		if p.Start.In(loc).Format(time.DateOnly) == gapDay {
			f.prices[i].PublishedAt = backfilled
			gap = append(gap, i)
		}
	}
	// In publication order, as a live producer and its backfill write them.
	sort.SliceStable(f.prices, func(i, j int) bool { return f.prices[i].PublishedAt.Before(f.prices[j].PublishedAt) })
	res, err := Batch(Config{}, f.prices, f.obs, f.fcs)
	if err != nil {
		t.Fatal(err)
	}
	for _, rej := range res.Rejected {
		t.Errorf("rejected: %v", rej)
	}
	if len(gap) != 24 {
		t.Fatalf("%d prices on %s, want 24", len(gap), gapDay)
	}
	for _, r := range res.Final {
		if r.LocalDate == gapDay {
			t.Fatalf("a final row for %s, whose prices were not known at the end of its hours", r.Hour)
		}
	}
	// 03-07's rows were issued before the backfill: no 24 h lag; 03-13's
	// (issued 03-12, after it) have the weekly one.
	n := 0
	for _, r := range res.Ready {
		switch r.LocalDate {
		case "2023-03-07":
			if r.PriceLag24h != nil {
				t.Fatalf("%s: a 24 h lag %v from a price not yet published at its issue time", r.Hour, *r.PriceLag24h)
			}
		case "2023-03-13":
			if r.PriceLag168h == nil {
				t.Fatalf("%s: no weekly lag from the backfilled day", r.Hour)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no ready rows for 2023-03-13")
	}
}
