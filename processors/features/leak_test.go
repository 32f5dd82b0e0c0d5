package features

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// leakRegion is a region of the look-ahead fixture and its two weather
// locations.
type leakRegion struct {
	id, zone  string
	locations [2]string
}

var leakRegions = []leakRegion{
	{"FI", "Europe/Helsinki", [2]string{"helsinki", "oulu"}},
	{"SE3", "Europe/Stockholm", [2]string{"stockholm", "goteborg"}},
}

// leakInputs is a history whose inputs become known at many different
// times around each issue time, so that a feature using anything known
// even a minute after its issue time sees a different value:
//
//   - hourly prices published at 11:45 UTC the day before delivery, and a
//     corrected version of some of them published later: of local hours 3
//     and 17 at 15:00 UTC the day before, and of local hours 16 and 20 of
//     day D one and twenty minutes after the issue time of D+1 (so the
//     features of D+1 must take the original);
//   - observations at two locations, available 5 h after their hour (at
//     the second location a minute later);
//   - weather forecasts at two locations issued every 3 h, at local 01:01,
//     04:01, ..., 10:01 (a minute after the issue time), ..., 22:01, each
//     for the next 40 hours.
//
// Every value is distinct per region, hour, location and version.
type leakInputs struct {
	prices []schemas.Price
	obs    []schemas.WeatherObservation
	fcs    []schemas.WeatherForecast
}

func leakPrice(r int, h time.Time) float64 {
	return 40 + 15*math.Sin(float64(h.Hour())/24*2*math.Pi) + 7.3*float64(r) + float64(h.Unix()/3600%10007)/100
}

func leakWeather(r, loc int, h time.Time) float64 {
	return -3 + float64(h.Hour())/3 + 2.1*float64(r) + 0.7*float64(loc) + float64(h.Unix()/3600%10007)/1000
}

// newLeakInputs returns the inputs for the local delivery days from first
// to last of every leakRegion.
func newLeakInputs(t *testing.T, first, last string) leakInputs {
	t.Helper()
	var in leakInputs
	for r, reg := range leakRegions {
		loc, err := time.LoadLocation(reg.zone)
		if err != nil {
			t.Fatal(err)
		}
		d0, err := time.ParseInLocation(time.DateOnly, first, loc)
		if err != nil {
			t.Fatal(err)
		}
		d1, err := time.ParseInLocation(time.DateOnly, last, loc)
		if err != nil {
			t.Fatal(err)
		}
		price := func(h time.Time, v float64, pub time.Time) schemas.Price {
			return schemas.Price{Region: reg.id, Market: "nordpool-dayahead", Source: "test", Start: h, End: h.Add(time.Hour),
				Value: v, Unit: "EUR/MWh", Currency: "EUR", PublishedAt: pub}
		}
		for d := d0; !d.After(d1); d = d.AddDate(0, 0, 1) {
			next := d.AddDate(0, 0, 1)
			y, m, dd := d.Date()
			pub := time.Date(y, m, dd-1, 11, 45, 0, 0, time.UTC)
			late := time.Date(y, m, dd-1, 15, 0, 0, 0, time.UTC)
			afterNextIssue := func(minute int) time.Time { return time.Date(y, m, dd, 10, minute, 0, 0, loc).UTC() }
			for h := d.UTC(); h.Before(next.UTC()); h = h.Add(time.Hour) {
				v := leakPrice(r, h)
				in.prices = append(in.prices, price(h, v, pub))
				switch h.In(loc).Hour() {
				case 3, 17:
					in.prices = append(in.prices, price(h, v+0.25, late))
				case 16:
					in.prices = append(in.prices, price(h, v+0.5, afterNextIssue(1)))
				case 20:
					in.prices = append(in.prices, price(h, v+0.5, afterNextIssue(20)))
				}
			}
			for _, lt := range []int{1, 4, 7, 10, 13, 16, 19, 22} {
				iss := time.Date(y, m, dd, lt, 1, 0, 0, loc).UTC()
				for k := 1; k <= 40; k++ {
					h := iss.Truncate(time.Hour).Add(time.Duration(k) * time.Hour)
					for li, l := range reg.locations {
						in.fcs = append(in.fcs, schemas.WeatherForecast{Region: reg.id, Location: l, Source: "test", IssuedAt: iss,
							Time: h, LeadHours: schemas.LeadHours(iss, h),
							Values: map[string]float64{"t": leakWeather(r, li, h) + float64(lt)/10, "wind": float64(k) + float64(li)/10}})
					}
				}
			}
		}
		// Observations from a week before the first day.
		for h := d0.AddDate(0, 0, -7).UTC(); h.Before(d1.AddDate(0, 0, 1)); h = h.Add(time.Hour) {
			for li, l := range reg.locations {
				in.obs = append(in.obs, schemas.WeatherObservation{Region: reg.id, Location: l, Source: "test", Time: h,
					Values: map[string]float64{"t": leakWeather(r, li, h), "wind": 5 + leakWeather(r, li, h)/7}, AvailableAt: h.Add(5*time.Hour + time.Duration(li)*time.Minute)})
			}
		}
	}
	return in
}

// perturbedAfter returns a copy of in in which every input known after cut
// has other values (its known-at time unchanged, so that it still arrives
// when it did), each shifted by a different amount: no two perturbed
// values coincide, and none equals a value of the original. It also returns
// how many inputs changed.
func (in leakInputs) perturbedAfter(cut time.Time) (leakInputs, int) {
	out := leakInputs{slices.Clone(in.prices), slices.Clone(in.obs), slices.Clone(in.fcs)}
	n := 0
	shift := func(i int) float64 { return 1000 + float64(n)/8 + float64(i)/65536 }
	for i := range out.prices {
		if out.prices[i].PublishedAt.After(cut) {
			n++
			out.prices[i].Value += shift(i)
		}
	}
	values := func(m map[string]float64, i int) map[string]float64 {
		c := maps.Clone(m)
		for k := range c {
			c[k] += shift(i)
		}
		return c
	}
	for i := range out.obs {
		if out.obs[i].AvailableAt.After(cut) {
			n++
			out.obs[i].Values = values(out.obs[i].Values, i)
		}
	}
	for i := range out.fcs {
		if out.fcs[i].IssuedAt.After(cut) {
			n++
			out.fcs[i].Values = values(out.fcs[i].Values, i)
		}
	}
	return out, n
}

func (in leakInputs) batch(t *testing.T) BatchResult {
	t.Helper()
	res, err := Batch(Config{}, in.prices, in.obs, in.fcs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) > 0 {
		t.Fatalf("%d inputs rejected, the first: %v", len(res.Rejected), res.Rejected[0])
	}
	return res
}

type leakKey struct {
	region string
	hour   time.Time
}

func rowsByKey(rows []schemas.FeatureRow) map[leakKey]schemas.FeatureRow {
	m := make(map[leakKey]schemas.FeatureRow, len(rows))
	for _, r := range rows {
		m[leakKey{r.Region, r.Hour.UTC()}] = r
	}
	return m
}

// issuePart is a final row less what may use values known after its issue
// time (FeatureRow.IssueTime): Final, Price, PriceCount and Observed.
func issuePart(r schemas.FeatureRow) schemas.FeatureRow {
	r.Final, r.Price, r.PriceCount, r.Observed = false, nil, 0, nil
	return r
}

// No feature may use anything published after its issue time. For each
// region's daily issue time T, and for T plus 59 minutes, every input known
// after that cut is perturbed, and Batch must give the same ready rows, the
// same issue-time part of the final rows and the same daily windows for
// everything issued (or, for a window, ended) by the cut. Cuts every day
// and a minute apart from inputs catch a leak of any length, which one
// fixed cut (TestPerturbingTheFutureChangesNoPastFeature) does not.
func TestNoFeatureUsesAnythingPublishedAfterItsIssueTime(t *testing.T) {
	t.Parallel()
	// FI and SE3 over the spring clock change of 26 March 2023.
	const first, last = "2023-03-16", "2023-03-31"
	base := newLeakInputs(t, first, last)
	want := base.batch(t)
	if len(want.Ready) == 0 || len(want.Final) == 0 || len(want.Daily) == 0 {
		t.Fatalf("the fixture gives %d ready rows, %d final rows and %d daily windows", len(want.Ready), len(want.Final), len(want.Daily))
	}
	wantReady, wantFinal := rowsByKey(want.Ready), rowsByKey(want.Final)

	// The cuts: each region's issue time for the delivery days whose next
	// day also has inputs, so that something after every cut changes.
	var cuts []time.Time
	for _, reg := range leakRegions {
		loc, _ := time.LoadLocation(reg.zone)
		d0, _ := time.ParseInLocation(time.DateOnly, first, loc)
		d1, _ := time.ParseInLocation(time.DateOnly, last, loc)
		for d := d0.AddDate(0, 0, 1); d.Before(d1); d = d.AddDate(0, 0, 1) {
			y, m, dd := d.Date()
			iss := time.Date(y, m, dd-1, 10, 0, 0, 0, loc).UTC()
			cuts = append(cuts, iss, iss.Add(59*time.Minute))
		}
	}

	sawDST := false
	for _, cut := range cuts {
		t.Run(cut.Format(time.RFC3339), func(t *testing.T) {
			t.Parallel()
			pert, n := base.perturbedAfter(cut)
			if n == 0 {
				t.Fatal("nothing known after the cut")
			}
			got := pert.batch(t)
			gotReady, gotFinal := rowsByKey(got.Ready), rowsByKey(got.Final)

			checked, differ := 0, 0
			for k, w := range wantReady {
				g, ok := gotReady[k]
				if w.IssueTime.After(cut) {
					if !ok || !reflect.DeepEqual(w, g) {
						differ++
					}
					continue
				}
				checked++
				if !ok {
					t.Fatalf("%s %s: ready row (issued %s) gone when only inputs known after %s changed", k.region, k.hour, w.IssueTime, cut)
				}
				if !reflect.DeepEqual(w, g) {
					t.Fatalf("%s %s: ready row issued %s changed when only inputs known after %s changed:\n%s",
						k.region, k.hour, w.IssueTime, cut, rowDiff(w, g))
				}
			}
			for k, w := range wantFinal {
				if w.IssueTime.After(cut) {
					continue
				}
				checked++
				g, ok := gotFinal[k]
				if !ok {
					t.Fatalf("%s %s: final row (issued %s) gone", k.region, k.hour, w.IssueTime)
				}
				if a, b := issuePart(w), issuePart(g); !reflect.DeepEqual(a, b) {
					t.Fatalf("%s %s: the issue-time part of the final row issued %s changed when only inputs known after %s changed:\n%s",
						k.region, k.hour, w.IssueTime, cut, rowDiff(a, b))
				}
			}
			gotDaily := map[string]schemas.DailyFeatures{}
			for _, d := range got.Daily {
				gotDaily[d.Region+" "+d.LocalDate] = d
			}
			for _, w := range want.Daily {
				if w.End.After(cut) {
					continue
				}
				checked++
				if g := gotDaily[w.Region+" "+w.LocalDate]; !reflect.DeepEqual(w, g) {
					t.Fatalf("%s %s: daily window ended %s changed when only inputs known after %s changed:\n%+v\n%+v",
						w.Region, w.LocalDate, w.End, cut, w, g)
				}
			}
			// The test must be able to fail: the rows issued after the cut
			// see the perturbation.
			if checked < 24 || differ == 0 {
				t.Fatalf("checked %d rows and windows up to the cut and %d later ready rows differ: the perturbation is not exercised", checked, differ)
			}
		})
		if !sawDST {
			loc, _ := time.LoadLocation("Europe/Helsinki")
			sawDST = cut.In(loc).IsDST()
		}
	}
	if !sawDST {
		t.Fatal("no cut in summer time: the fixture misses the clock change")
	}
	// What makes the test sharp is there: a forecast and a price
	// correction a minute after an issue time.
	afterIssue := func(t time.Time, minute int) bool {
		for _, reg := range leakRegions {
			loc, _ := time.LoadLocation(reg.zone)
			if l := t.In(loc); l.Hour() == 10 && l.Minute() == minute {
				return true
			}
		}
		return false
	}
	if !slices.ContainsFunc(base.fcs, func(f schemas.WeatherForecast) bool { return afterIssue(f.IssuedAt, 1) }) ||
		!slices.ContainsFunc(base.prices, func(p schemas.Price) bool { return afterIssue(p.PublishedAt, 1) }) {
		t.Fatal("the fixture lacks the inputs just after the issue times")
	}
	for _, r := range want.Ready {
		if r.KnownAheadIssuedAt == nil {
			t.Fatalf("%s %s: no known-ahead values", r.Region, r.Hour)
		}
	}
}

// rowDiff lists the fields in which two rows differ.
func rowDiff(a, b schemas.FeatureRow) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	s := ""
	for i := range va.NumField() {
		x, y := va.Field(i).Interface(), vb.Field(i).Interface()
		if !reflect.DeepEqual(x, y) {
			s += fmt.Sprintf("  %s: %s != %s\n", va.Type().Field(i).Name, show(va.Field(i)), show(vb.Field(i)))
		}
	}
	return s
}

func show(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "nil"
		}
		return fmt.Sprint(v.Elem().Interface())
	}
	return fmt.Sprint(v.Interface())
}
