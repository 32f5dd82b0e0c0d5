package models

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// Slots is the number of forecast slots per delivery day: one per local hour.
const Slots = 24

// fallbackDays is how far back a missing value is looked up at the same slot.
const fallbackDays = 7

var nan = math.NaN()

// panel is one region's feature rows as consecutive local days of 24 slots.
// Index i of days is the date first+i; dates with no rows are present=false
// and hold NaN everywhere.
type panel struct {
	known    []string // known-ahead variables, sorted
	observed []string // observed variables, sorted
	first    time.Time
	days     []dayRec
}

type dayRec struct {
	date    time.Time // the local date, as midnight UTC of that civil date
	present bool
	rows    int
	price   [Slots]float64
	known   [][Slots]float64 // by index in panel.known
	obs     [][Slots]float64 // by index in panel.observed
	hour    [Slots]time.Time // UTC start of the slot's first hour
	// lag24 is the price of the previous day's same slot as known at this
	// day's issue time (the rows' price_lag_24h), NaN where the rows had
	// none: the previous day's later hours end after the issue time, and
	// their final rows' prices may hold a correction published after it.
	lag24 [Slots]float64
	issue time.Time
	// lastPrice is the latest price hour known at issue; when the rows did
	// not say, priceKnownBefore is used instead (hours before the issue time).
	lastPrice time.Time
	weekday   int // ISO 1..7
	holiday   bool
	dst       bool
}

// isoWeekday is Monday 1 to Sunday 7.
func isoWeekday(d time.Time) int {
	if w := int(d.Weekday()); w != 0 {
		return w
	}
	return 7
}

// parseDate parses a LocalDate.
func parseDate(s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("models: local_date %q: %w", s, err)
	}
	return d, nil
}

// variables lists the known-ahead and observed variable names in rows.
func variables(rows []schemas.FeatureRow) (known, observed []string) {
	ks, os := map[string]bool{}, map[string]bool{}
	for i := range rows {
		for k := range rows[i].KnownAhead {
			ks[k] = true
		}
		for k := range rows[i].Observed {
			os[k] = true
		}
	}
	return sortedKeys(ks), sortedKeys(os)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// buildPanel lays rows (any order, one region) out as days. Price and
// Observed are read only from final rows.
func buildPanel(rows []schemas.FeatureRow, known, observed []string) (*panel, error) {
	p := &panel{known: known, observed: observed}
	if len(rows) == 0 {
		return p, nil
	}
	kIdx := indexOf(known)
	oIdx := indexOf(observed)
	dates := map[string]time.Time{}
	var lo, hi time.Time
	region := rows[0].Region
	for i := range rows {
		r := &rows[i]
		if r.Region != region {
			return nil, fmt.Errorf("models: rows of regions %q and %q mixed; fit one region at a time", region, r.Region)
		}
		d, ok := dates[r.LocalDate]
		if !ok {
			var err error
			if d, err = parseDate(r.LocalDate); err != nil {
				return nil, err
			}
			dates[r.LocalDate] = d
		}
		if lo.IsZero() || d.Before(lo) {
			lo = d
		}
		if hi.IsZero() || d.After(hi) {
			hi = d
		}
	}
	n := int(hi.Sub(lo).Hours()/24+0.5) + 1
	p.first = lo
	p.days = make([]dayRec, n)
	type acc struct {
		price        [Slots]float64
		priceN       [Slots]int
		known, obs   [][Slots]float64
		knownN, obsN [][Slots]int
	}
	accs := make([]*acc, n)
	for i := range p.days {
		dr := &p.days[i]
		dr.date = lo.AddDate(0, 0, i)
		dr.weekday = isoWeekday(dr.date)
		dr.price = nanSlots()
		dr.lag24 = nanSlots()
		dr.known = make([][Slots]float64, len(known))
		dr.obs = make([][Slots]float64, len(observed))
		for k := range dr.known {
			dr.known[k] = nanSlots()
		}
		for k := range dr.obs {
			dr.obs[k] = nanSlots()
		}
	}
	for i := range rows {
		r := &rows[i]
		di := int(dates[r.LocalDate].Sub(lo).Hours()/24 + 0.5)
		if r.LocalHour < 0 || r.LocalHour >= Slots {
			return nil, fmt.Errorf("models: row %s %s has local_hour %d; want 0..23", r.Region, r.Hour.Format(time.RFC3339), r.LocalHour)
		}
		a := accs[di]
		if a == nil {
			a = &acc{known: make([][Slots]float64, len(known)), obs: make([][Slots]float64, len(observed)),
				knownN: make([][Slots]int, len(known)), obsN: make([][Slots]int, len(observed))}
			accs[di] = a
		}
		dr := &p.days[di]
		s := r.LocalHour
		if !dr.present {
			dr.present = true
			dr.issue = r.IssueTime
		}
		dr.rows++
		dr.holiday = dr.holiday || r.Holiday
		dr.dst = dr.dst || r.DST
		if r.LastPriceHour != nil && r.LastPriceHour.After(dr.lastPrice) {
			dr.lastPrice = *r.LastPriceHour
		}
		if dr.hour[s].IsZero() || r.Hour.Before(dr.hour[s]) {
			dr.hour[s] = r.Hour
		}
		if r.Final && r.Price != nil && finite(*r.Price) {
			a.price[s] += *r.Price
			a.priceN[s]++
		}
		if r.PriceLag24h != nil && finite(*r.PriceLag24h) {
			dr.lag24[s] = *r.PriceLag24h // both rows of a repeated hour carry the same
		}
		for k, v := range r.KnownAhead {
			if j, ok := kIdx[k]; ok && finite(v) {
				a.known[j][s] += v
				a.knownN[j][s]++
			}
		}
		if r.Final {
			for k, v := range r.Observed {
				if j, ok := oIdx[k]; ok && finite(v) {
					a.obs[j][s] += v
					a.obsN[j][s]++
				}
			}
		}
	}
	for i, a := range accs {
		if a == nil {
			continue
		}
		dr := &p.days[i]
		mean(&dr.price, &a.price, &a.priceN)
		for k := range known {
			mean(&dr.known[k], &a.known[k], &a.knownN[k])
		}
		for k := range observed {
			mean(&dr.obs[k], &a.obs[k], &a.obsN[k])
		}
		if dr.rows == Slots-1 {
			fillShortDay(dr)
		}
	}
	return p, nil
}

func mean(dst, sum *[Slots]float64, n *[Slots]int) {
	for s := range dst {
		if n[s] > 0 {
			dst[s] = sum[s] / float64(n[s])
		}
	}
}

// fillShortDay fills the one empty slot of a 23-hour day (clocks go
// forward) with the mean of its neighbours, so that lag inputs stay whole.
func fillShortDay(dr *dayRec) {
	for s := 1; s < Slots-1; s++ {
		if !dr.hour[s].IsZero() {
			continue
		}
		if dr.hour[s-1].IsZero() || dr.hour[s+1].IsZero() {
			return
		}
		dr.hour[s] = dr.hour[s-1].Add(time.Hour)
		interp := func(a *[Slots]float64) { a[s] = (a[s-1] + a[s+1]) / 2 }
		interp(&dr.price)
		for k := range dr.known {
			interp(&dr.known[k])
		}
		for k := range dr.obs {
			interp(&dr.obs[k])
		}
		return
	}
}

func nanSlots() (a [Slots]float64) {
	for i := range a {
		a[i] = nan
	}
	return a
}

func indexOf(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// index returns the day index of date, or -1.
func (p *panel) index(date time.Time) int {
	if len(p.days) == 0 {
		return -1
	}
	i := int(date.Sub(p.first).Hours()/24 + 0.5)
	if i < 0 || i >= len(p.days) {
		return -1
	}
	return i
}

// priceKnown reports whether the price of day d, slot s was known at the
// issue time of target day t.
func (p *panel) priceKnown(d, s, t int) bool {
	h := p.days[d].hour[s]
	if h.IsZero() {
		return false
	}
	td := &p.days[t]
	if !td.lastPrice.IsZero() {
		return !h.After(td.lastPrice)
	}
	// The rows did not say which prices were known: assume only hours that
	// had started by the issue time, true of every market.
	return h.Before(td.issue)
}

// price is the price of day d slot s as known for target day t, falling
// back to the same slot on earlier days; NaN if none is known.
func (p *panel) price(d, s, t int) float64 {
	// The previous day's hours that end after the target's issue time:
	// their price as known at the issue time, not as corrected later.
	if d == t-1 && t < len(p.days) && !p.days[d].hour[s].IsZero() && p.days[d].hour[s].Add(time.Hour).After(p.days[t].issue) {
		if v := p.days[t].lag24[s]; !math.IsNaN(v) && p.priceKnown(d, s, t) {
			return v
		}
	}
	for k := 0; k <= fallbackDays && d-k >= 0; k++ {
		if p.priceKnown(d-k, s, t) {
			if v := p.days[d-k].price[s]; !math.IsNaN(v) {
				return v
			}
		}
	}
	return nan
}

// knownVar is known-ahead variable j of day d slot s. Day d's values were
// issued at d's own issue time, never after the target's for d <= t.
func (p *panel) knownVar(j, d, s int) float64 {
	for k := 0; k <= fallbackDays && d-k >= 0; k++ {
		if v := p.days[d-k].known[j][s]; !math.IsNaN(v) {
			return v
		}
	}
	return nan
}

// obsVar is observed variable j of day d slot s as known at the issue time
// of target day t: only hours that had ended by then.
func (p *panel) obsVar(j, d, s, t int) float64 {
	issue := p.days[t].issue
	for k := 0; k <= fallbackDays && d-k >= 0; k++ {
		h := p.days[d-k].hour[s]
		if h.IsZero() || h.Add(time.Hour).After(issue) {
			continue
		}
		if v := p.days[d-k].obs[j][s]; !math.IsNaN(v) {
			return v
		}
	}
	return nan
}

// targetPrices returns day t's actual prices and whether all 24 slots are
// known (only such days are training targets).
func (p *panel) targetPrices(t int) ([Slots]float64, bool) {
	dr := &p.days[t]
	if !dr.present {
		return dr.price, false
	}
	for _, v := range dr.price {
		if math.IsNaN(v) {
			return dr.price, false
		}
	}
	return dr.price, true
}
