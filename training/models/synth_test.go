package models

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// synthOpts describes a synthetic market for tests: hourly rows in a real
// time zone (so DST days have 23 and 25 hours), a known-ahead "load"
// forecast, an observed "temp", and a price that depends on the load
// forecast, yesterday's price at the same hour and the weekday, plus noise.
type synthOpts struct {
	region string
	zone   string
	start  string // first local date
	days   int
	seed   uint64
	noise  float64
}

func synthRows(t testing.TB, o synthOpts) []schemas.FeatureRow {
	t.Helper()
	loc, err := time.LoadLocation(o.zone)
	if err != nil {
		t.Fatal(err)
	}
	if o.region == "" {
		o.region = "TEST"
	}
	rng := rand.New(rand.NewPCG(o.seed, 7))
	d0, err := time.ParseInLocation(time.DateOnly, o.start, loc)
	if err != nil {
		t.Fatal(err)
	}
	var rows []schemas.FeatureRow
	prevDay := map[int]float64{}
	for di := 0; di < o.days; di++ {
		day := time.Date(d0.Year(), d0.Month(), d0.Day()+di, 0, 0, 0, 0, loc)
		next := time.Date(d0.Year(), d0.Month(), d0.Day()+di+1, 0, 0, 0, 0, loc)
		issue := time.Date(day.Year(), day.Month(), day.Day()-1, 10, 0, 0, 0, loc).UTC()
		lastPrice := day.Add(-time.Hour).UTC()
		wd := isoWeekday(time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC))
		level := 1 + 0.3*math.Sin(2*math.Pi*float64(di)/365)
		cur := map[int]float64{}
		for h := day.UTC(); h.Before(next.UTC()); h = h.Add(time.Hour) {
			lh := h.In(loc).Hour()
			load := 100*level + 30*math.Sin(2*math.Pi*float64(lh-6)/24) + 5*rng.NormFloat64()
			if wd >= 6 {
				load -= 20
			}
			price := 0.4*load + 5*math.Cos(2*math.Pi*float64(lh)/24)
			if v, ok := prevDay[lh]; ok {
				price += 0.4 * (v - 0.4*100*level)
			}
			price += o.noise * rng.NormFloat64()
			cur[lh] = price
			pr := price
			lp := lastPrice
			ia := issue
			lead := 0
			rows = append(rows, schemas.FeatureRow{
				Region: o.region, Market: "test", Unit: "EUR/MWh",
				Hour: h, LocalDate: day.Format(time.DateOnly), IssueTime: issue,
				LeadHours: int(h.Sub(issue).Hours()), Final: true, Price: &pr, PriceCount: 1,
				LastPriceHour: &lp, LocalHour: lh, Weekday: wd, Month: int(day.Month()), DayOfYear: day.YearDay(),
				Weekend: wd >= 6, DST: h.In(loc).IsDST(),
				KnownAhead: map[string]float64{"load": load}, KnownAheadIssuedAt: &ia, KnownAheadLeadHours: &lead,
				Observed: map[string]float64{"temp": 10 + 0.05*load + rng.NormFloat64()},
			})
		}
		prevDay = cur
	}
	return rows
}

// splitDay returns the rows before date and the rows of date.
func splitDay(rows []schemas.FeatureRow, date string) (hist, target []schemas.FeatureRow) {
	for _, r := range rows {
		switch {
		case r.LocalDate < date:
			hist = append(hist, r)
		case r.LocalDate == date:
			target = append(target, r)
		}
	}
	return hist, target
}

// readyRows turns final rows into what the scorer sees: no price, no
// observation.
func readyRows(rows []schemas.FeatureRow) []schemas.FeatureRow {
	out := make([]schemas.FeatureRow, len(rows))
	for i, r := range rows {
		r.Final, r.Price, r.Observed = false, nil, nil
		out[i] = r
	}
	return out
}

func dates(rows []schemas.FeatureRow) []string {
	var out []string
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1] != r.LocalDate {
			out = append(out, r.LocalDate)
		}
	}
	return out
}

// mae evaluates m over the last n days of rows (each from all rows before).
func evalMAE(t testing.TB, m Model, rows []schemas.FeatureRow, n int) float64 {
	t.Helper()
	ds := dates(rows)
	var s float64
	var k int
	for _, d := range ds[len(ds)-n:] {
		hist, target := splitDay(rows, d)
		pred, err := m.Predict(Day{History: hist, Target: readyRows(target)})
		if err != nil {
			t.Fatalf("%s on %s: %v", m.Kind(), d, err)
		}
		for i, r := range target {
			s += math.Abs(pred[i] - *r.Price)
			k++
		}
	}
	return s / float64(k)
}
