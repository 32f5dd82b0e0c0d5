package monitor

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// DefaultBandEdges are the lead-hour edges of the horizon bands: [0,12),
// [12,24), [24,36), [36,48) and 48 hours or more. A day-ahead forecast issued
// at 10:00 the day before covers leads 14 to 37, so it spans three bands.
var defaultBandEdges = []int{0, 12, 24, 36, 48}

// DefaultBandEdges returns the default horizon band edges.
func DefaultBandEdges() []int { return slices.Clone(defaultBandEdges) }

// Bands are horizon bands of lead hours, from sorted edges e: [e0,e1),
// [e1,e2), ... and [elast, +inf).
type Bands []int

// Label names the band of lead hours lead, e.g. "12-23h" or "48h+". Leads
// below the first edge fall in the first band.
func (b Bands) Label(lead int) string {
	i := b.index(lead)
	if i == len(b)-1 {
		return strconv.Itoa(b[i]) + "h+"
	}
	return fmt.Sprintf("%02d-%02dh", b[i], b[i+1]-1)
}

func (b Bands) index(lead int) int {
	i := 0
	for j, e := range b {
		if lead >= e {
			i = j
		}
	}
	return i
}

// Labels lists every band label in order.
func (b Bands) Labels() []string {
	out := make([]string, len(b))
	for i, e := range b {
		out[i] = b.Label(e)
	}
	return out
}

func (b Bands) check() error {
	if len(b) == 0 {
		return fmt.Errorf("monitor: no horizon band edges; want sorted lead hours such as %v", defaultBandEdges)
	}
	for i := 1; i < len(b); i++ {
		if b[i] <= b[i-1] {
			return fmt.Errorf("monitor: horizon band edges %v are not strictly increasing", []int(b))
		}
	}
	return nil
}

// ModelKey names one model version.
type ModelKey struct {
	ModelID, Version string
}

func (k ModelKey) String() string { return k.ModelID + "@" + k.Version }

// point is one scored hour of one model, kept compact.
type point struct {
	hour     time.Time
	issue    time.Time
	lead     int
	forecast float64
	actual   float64
	naive    float64 // NaN when the error record had no weekly naive value
	lo, hi   float64 // NaN when there was no interval
	level    float64
	official bool
	covered  int8 // -1 no interval, 0 no, 1 yes
}

// series is one model's scored hours in one region, in arrival order.
type series struct {
	kind, role string
	unit       string
	points     []point
}

// Accuracy holds the scored hours of the error topics and answers rolling
// accuracy queries. Windows are in event time: a region's window ends at the
// latest scored hour of that region, so a replay of history shows the same
// numbers as the live run did. Safe for concurrent use.
type Accuracy struct {
	bands Bands
	keep  time.Duration

	mu     sync.RWMutex
	byReg  map[string]map[ModelKey]*series
	clock  map[string]time.Time // latest scored hour per region
	counts map[countKey]int64   // error records per model, for the counter
	gen    uint64               // scored hours added so far: the caches' key

	// WindowValues' answers, valid while gen is unchanged. Its own lock:
	// readers holding mu.RLock fill it.
	wvMu    sync.Mutex
	wvCache map[windowKey]cachedValues
	wvUse   uint64 // a clock for the cache's least recently used
}

type countKey struct {
	region string
	ModelKey
	role string
}

// NewAccuracy keeps keep of history per region (default 35 days) in the
// given horizon bands (default DefaultBandEdges).
func NewAccuracy(bandEdges []int, keep time.Duration) (*Accuracy, error) {
	if bandEdges == nil {
		bandEdges = DefaultBandEdges()
	}
	b := Bands(bandEdges)
	if err := b.check(); err != nil {
		return nil, err
	}
	if keep == 0 {
		keep = 35 * 24 * time.Hour
	}
	return &Accuracy{bands: b, keep: keep, byReg: map[string]map[ModelKey]*series{},
		clock: map[string]time.Time{}, counts: map[countKey]int64{}}, nil
}

// Bands returns the horizon bands.
func (a *Accuracy) Bands() Bands { return a.bands }

// Keep returns how much event time of scored hours is kept per region: the
// longest window a query can look back over.
func (a *Accuracy) Keep() time.Duration { return a.keep }

// Unit returns the price unit of region's scored hours (should two model
// versions disagree, the last one's by ModelKey.String); "" for a region
// with none.
func (a *Accuracy) Unit(region string) string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	unit := ""
	for _, k := range slices.SortedFunc(maps.Keys(a.byReg[region]), func(x, y ModelKey) int { return cmp.Compare(x.String(), y.String()) }) {
		if u := a.byReg[region][k].unit; u != "" {
			unit = u
		}
	}
	return unit
}

// Add records one error record. A record for an hour already recorded for
// the same model and forecast is ignored (a re-read after a restart).
func (a *Accuracy) Add(e *schemas.ForecastError) {
	p := point{hour: e.Hour.UTC(), issue: e.IssueTime.UTC(), lead: e.LeadHours, forecast: e.Forecast, actual: e.Actual,
		naive: math.NaN(), lo: math.NaN(), hi: math.NaN(), official: e.Official, covered: -1}
	if e.NaiveWeekly != nil {
		p.naive = *e.NaiveWeekly
	}
	if e.Lower != nil && e.Upper != nil {
		p.lo, p.hi = *e.Lower, *e.Upper
		p.covered = 0
		if e.Actual >= *e.Lower && e.Actual <= *e.Upper {
			p.covered = 1
		}
		if e.IntervalLevel != nil {
			p.level = *e.IntervalLevel
		}
	}
	k := ModelKey{e.ModelID, e.ModelVersion}
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.byReg[e.Region]
	if m == nil {
		m = map[ModelKey]*series{}
		a.byReg[e.Region] = m
	}
	s := m[k]
	if s == nil {
		s = &series{}
		m[k] = s
	}
	// Errors arrive in hour order per model; a duplicate is at the tail.
	for i := len(s.points) - 1; i >= 0 && i >= len(s.points)-48; i-- {
		if s.points[i].hour.Equal(p.hour) && s.points[i].issue.Equal(p.issue) {
			return
		}
	}
	s.kind, s.role, s.unit = e.ModelKind, e.Role, e.Unit
	s.points = append(s.points, p)
	a.gen++
	a.counts[countKey{e.Region, k, e.Role}]++
	if p.hour.After(a.clock[e.Region]) {
		a.clock[e.Region] = p.hour
		a.prune(e.Region)
	}
}

// prune drops the hours of region older than its clock minus keep. It runs
// when a region's clock advances and only rewrites a series with old hours
// at its head, so its cost is amortised over the additions.
func (a *Accuracy) prune(region string) {
	cut := a.clock[region].Add(-a.keep)
	for _, s := range a.byReg[region] {
		if len(s.points) > 0 && s.points[0].hour.Before(cut) {
			s.points = slices.DeleteFunc(s.points, func(p point) bool { return p.hour.Before(cut) })
		}
	}
}

// Row is the accuracy of one model version in one region and horizon band
// over a window. Band is "all" for every band together.
type Row struct {
	Region, ModelID, Version, Kind, Role string
	// Unit is the price unit of the hours (MAE is in it).
	Unit string
	Band string
	// From and To bound the scored hours [From, To] of the window.
	From, To time.Time
	N        int
	MAE      float64
	// RMAE is MAE over the weekly naive forecast's MAE on the same hours
	// (the hours whose error record carried the naive value); NaN when
	// there are none.
	RMAE float64
	// Coverage is the share of hours whose actual fell inside the
	// prediction interval, over IntervalN hours with an interval at level
	// Level; NaN when there were none.
	Coverage  float64
	IntervalN int
	Level     float64
}

type sums struct {
	n, naiveN, intN, covered int
	abs, absN, naiveAbs      float64
	level                    float64
}

func (s *sums) add(p *point) {
	e := math.Abs(p.forecast - p.actual)
	s.n++
	s.abs += e
	if !math.IsNaN(p.naive) {
		s.naiveN++
		s.absN += e
		s.naiveAbs += math.Abs(p.naive - p.actual)
	}
	if p.covered >= 0 {
		s.intN++
		s.covered += int(p.covered)
		s.level = p.level
	}
}

func (s *sums) row(r Row) Row {
	r.N = s.n
	r.MAE, r.RMAE, r.Coverage = math.NaN(), math.NaN(), math.NaN()
	if s.n > 0 {
		r.MAE = s.abs / float64(s.n)
	}
	if s.naiveN > 0 && s.naiveAbs > 0 {
		r.RMAE = s.absN / s.naiveAbs
	}
	if s.intN > 0 {
		r.Coverage = float64(s.covered) / float64(s.intN)
		r.IntervalN, r.Level = s.intN, s.level
	}
	return r
}

// Query selects rows of Accuracy.Rows.
type Query struct {
	// Window is how far back from each region's latest scored hour to
	// look; 0 means everything kept.
	Window time.Duration
	// Region and ModelID, when set, keep only that region or model.
	Region, ModelID string
	// ByBand adds a row per horizon band to the overall ("all") rows.
	ByBand bool
	// Pool pools the regions priced in the same unit: one row per model
	// version and unit (and band), with Region "" (each region's hours
	// still in its own window). Regions priced in different units (EUR/MWh
	// and p/kWh) are never pooled: their errors do not add up.
	Pool bool
}

// Rows returns the accuracy per region and model version, overall and (with
// ByBand) per horizon band, sorted by region, model, version and band.
func (a *Accuracy) Rows(q Query) []Row {
	a.mu.RLock()
	defer a.mu.RUnlock()
	type group struct {
		region, unit string
		ModelKey
	}
	type agg struct {
		kind, role  string
		all         sums
		bands       []sums
		first, last time.Time
	}
	groups := map[group]*agg{}
	var order []group
	for region, ms := range a.byReg {
		if q.Region != "" && region != q.Region {
			continue
		}
		var from time.Time
		if q.Window > 0 {
			from = a.clock[region].Add(-q.Window)
		}
		for k, s := range ms {
			if q.ModelID != "" && k.ModelID != q.ModelID {
				continue
			}
			g := group{region, s.unit, k}
			if q.Pool {
				g.region = ""
			}
			x := groups[g]
			if x == nil {
				x = &agg{bands: make([]sums, len(a.bands))}
				groups[g] = x
				order = append(order, g)
			}
			x.kind, x.role = s.kind, s.role
			for i := range s.points {
				p := &s.points[i]
				if !p.hour.After(from) {
					continue
				}
				x.all.add(p)
				x.bands[a.bands.index(p.lead)].add(p)
				if x.first.IsZero() || p.hour.Before(x.first) {
					x.first = p.hour
				}
				if p.hour.After(x.last) {
					x.last = p.hour
				}
			}
		}
	}
	var out []Row
	for _, g := range order {
		x := groups[g]
		if x.all.n == 0 {
			continue
		}
		base := Row{Region: g.region, ModelID: g.ModelID, Version: g.Version, Kind: x.kind, Role: x.role, Unit: g.unit, From: x.first, To: x.last}
		r := base
		r.Band = "all"
		out = append(out, x.all.row(r))
		if q.ByBand {
			for i := range x.bands {
				if x.bands[i].n == 0 {
					continue
				}
				r := base
				r.Band = a.bands.Label(a.bands[i])
				out = append(out, x.bands[i].row(r))
			}
		}
	}
	slices.SortFunc(out, func(x, y Row) int {
		return cmp.Or(cmp.Compare(x.Region, y.Region), cmp.Compare(x.ModelID, y.ModelID),
			cmp.Compare(x.Version, y.Version), cmp.Compare(x.Unit, y.Unit), cmp.Compare(bandOrder(x.Band), bandOrder(y.Band)), cmp.Compare(x.Band, y.Band))
	})
	return out
}

func bandOrder(b string) int {
	if b == "all" {
		return 0
	}
	return 1
}

// Clock returns the latest scored hour of region.
func (a *Accuracy) Clock(region string) time.Time {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.clock[region]
}

// Regions lists the regions with scored hours, sorted.
func (a *Accuracy) Regions() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]string, 0, len(a.byReg))
	for r := range a.byReg {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// SeriesPoint is one hour of a region: the actual price and each model's
// forecast of it. Official is the forecast users were told to act on.
type SeriesPoint struct {
	Hour     time.Time
	Actual   float64 // NaN for an hour not yet scored
	Official float64 // NaN when no official forecast was scored
	// Lower and Upper bound the official forecast's interval; NaN if none.
	Lower, Upper float64
	// Models maps ModelKey.String() to that model's forecast.
	Models map[string]float64
}

// Series returns region's scored hours in the window ending at its latest
// scored hour, oldest first.
func (a *Accuracy) Series(region string, window time.Duration) []SeriesPoint {
	a.mu.RLock()
	defer a.mu.RUnlock()
	from := a.clock[region].Add(-window)
	byHour := map[time.Time]*SeriesPoint{}
	for k, s := range a.byReg[region] {
		for i := range s.points {
			p := &s.points[i]
			if !p.hour.After(from) {
				continue
			}
			sp := byHour[p.hour]
			if sp == nil {
				sp = &SeriesPoint{Hour: p.hour, Actual: p.actual, Official: math.NaN(), Lower: math.NaN(), Upper: math.NaN(), Models: map[string]float64{}}
				byHour[p.hour] = sp
			}
			sp.Models[k.String()] = p.forecast
			if p.official {
				sp.Official, sp.Lower, sp.Upper = p.forecast, p.lo, p.hi
			}
		}
	}
	out := make([]SeriesPoint, 0, len(byHour))
	for _, sp := range byHour {
		out = append(out, *sp)
	}
	slices.SortFunc(out, func(x, y SeriesPoint) int { return x.Hour.Compare(y.Hour) })
	return out
}

// Count is the number of error records seen for a model version in a
// region and role.
type Count struct {
	Region, ModelID, Version, Role string
	N                              int64
}

// Counts returns the error record counts.
func (a *Accuracy) Counts() []Count {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]Count, 0, len(a.counts))
	for k, n := range a.counts {
		out = append(out, Count{k.region, k.ModelID, k.Version, k.role, n})
	}
	return out
}
