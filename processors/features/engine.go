package features

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wattcast/wattcast/processors/calendar"
	"github.com/wattcast/wattcast/schemas"
)

// Kind is an input stream of the engine.
type Kind int

// The engine's inputs.
const (
	KindPrice Kind = iota
	KindObservation
	KindForecast
	numKinds
)

func (k Kind) String() string {
	return [...]string{"price", "observation", "forecast"}[k]
}

// Rejection is returned for an input the engine will not use. Reason is a
// schemas.Reason* code for the dead-letter topic.
type Rejection struct {
	Reason string
	Msg    string
}

func (r *Rejection) Error() string { return "features: " + r.Reason + ": " + r.Msg }

// Engine computes feature rows for the regions of one partition. It is not
// safe for concurrent use: the processor runs one per partition.
type Engine struct {
	cfg     Config
	infos   map[string]*regionInfo
	regions map[string]*regionState
	ids     []string // the keys of regions, sorted
	clock   int64
	wm      [numKinds]int64
	dirty   map[string]bool
	meta    bool  // clock or watermarks changed since the last Changes
	pruned  int64 // the clock hour of the last prune

	// Scratch space of AdvanceAppend's sort, reused.
	keys      []dueKey
	rowRegion []int32
	scratch   []schemas.FeatureRow

	// daily holds the daily windows closed since the last DailyAppend.
	daily []schemas.DailyFeatures
}

// NewEngine returns an engine with empty state.
func NewEngine(cfg Config) (*Engine, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: c, infos: map[string]*regionInfo{}, regions: map[string]*regionState{}, dirty: map[string]bool{}}, nil
}

// Clock is the engine's clock; the zero time before any Advance.
func (e *Engine) Clock() time.Time { return unix(e.clock) }

// Watermark is the largest known-at time seen on input k.
func (e *Engine) Watermark(k Kind) time.Time { return unix(e.wm[k]) }

func unix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

func (e *Engine) info(region string) (*regionInfo, error) {
	if ri, ok := e.infos[region]; ok {
		return ri, nil
	}
	r, ok := e.cfg.Regions[region]
	if !ok {
		if e.cfg.Fallback.Zone == "" {
			return nil, &Rejection{schemas.ReasonInvalid, fmt.Sprintf("region %q is not configured (add it to the processor's region config)", region)}
		}
		r = e.cfg.Fallback
	}
	ri, err := resolve(region, r)
	if err != nil {
		return nil, &Rejection{schemas.ReasonInvalid, err.Error()}
	}
	e.infos[region] = ri
	return ri, nil
}

// state returns the state of region, creating it.
func (e *Engine) state(region string) *regionState {
	s := e.regions[region]
	if s == nil {
		s = newRegionState(region)
		e.regions[region] = s
		i, _ := slices.BinarySearch(e.ids, region)
		e.ids = slices.Insert(e.ids, i, region)
	}
	return s
}

// admit checks an input's known-at time against the clock and returns its
// region's state.
func (e *Engine) admit(k Kind, region string, knownAt time.Time) (*regionState, error) {
	ka := knownAt.Unix()
	if e.clock != 0 && ka < e.clock-int64(e.cfg.AllowedLateness/time.Second) {
		return nil, &Rejection{schemas.ReasonLate, fmt.Sprintf("%s for %s known at %s is older than the clock %s minus the allowed lateness %s",
			k, region, knownAt.UTC().Format(time.RFC3339), e.Clock().Format(time.RFC3339), e.cfg.AllowedLateness)}
	}
	if s := e.regions[region]; s != nil && s.info != nil {
		return s, nil
	}
	ri, err := e.info(region)
	if err != nil {
		return nil, err
	}
	s := e.state(region)
	s.info = ri
	return s, nil
}

func (e *Engine) seen(k Kind, knownAt time.Time) {
	if ka := knownAt.Unix(); ka > e.wm[k] {
		e.wm[k] = ka
		e.meta = true
	}
}

// AddPrice adds a price. It returns a *Rejection for an input that is late,
// that would change an hour whose final row is out, or that does not fit the
// region (another market or unit).
func (e *Engine) AddPrice(p *schemas.Price) error {
	s, err := e.admit(KindPrice, p.Region, p.PublishedAt)
	if err != nil {
		return err
	}
	if s.Market == "" {
		s.Market, s.Unit = p.Market, p.Unit
		s.metaDirty = true
	} else if s.Market != p.Market || s.Unit != p.Unit {
		return &Rejection{schemas.ReasonInvalid, fmt.Sprintf("region %s carries market %s in %s; this price is market %s in %s (use another region id per market)",
			p.Region, s.Market, s.Unit, p.Market, p.Unit)}
	}
	hour := p.Start.Truncate(time.Hour).Unix()
	sub := p.Start.Unix()
	v := version{At: p.PublishedAt.Unix(), V: p.Value}
	if s.FinalThrough != 0 && hour <= s.FinalThrough {
		// A re-delivery of what we have is harmless; anything else would
		// change a target that has already been used.
		hs := s.at(hour)
		if hs != nil {
			if i, ok := subIndex(hs.prices, sub); ok {
				if old, ok := latestVersion(hs.prices[i].vs, math.MaxInt64); ok && old == p.Value {
					e.seen(KindPrice, p.PublishedAt)
					return nil
				}
			}
		}
		// An hour had a final row if and only if a price was known at its
		// end. One that had none (its prices were published late, e.g. a
		// backfill after an outage) gets none now, but the price is kept:
		// the lags and statistics of later hours use it from its
		// publication on.
		if hour < e.clock-int64(e.cfg.Retention/time.Second) {
			return &Rejection{schemas.ReasonLate, fmt.Sprintf("price for %s at %s is older than the feature state's retention (%s): no feature can use it any more",
				p.Region, p.Start.UTC().Format(time.RFC3339), e.cfg.Retention)}
		}
		if hs != nil {
			if _, _, final := hs.price(hour + 3600); final {
				return &Rejection{schemas.ReasonWindowClosed, fmt.Sprintf("price for %s at %s arrived after the hour's final feature row was emitted",
					p.Region, p.Start.UTC().Format(time.RFC3339))}
			}
		}
	}
	changed := s.hour(hour).addPrice(sub, v)
	if s.FinalThrough == 0 && (s.FirstHour == 0 || hour < s.FirstHour) {
		s.FirstHour = hour
		s.metaDirty = true
		changed = true
	}
	if changed {
		s.touch(hour)
		e.dirty[p.Region] = true
	}
	e.seen(KindPrice, p.PublishedAt)
	return nil
}

// AddObservation adds an observation. Observations of hours whose final row
// is out are still used by later rows (last observed values, forecast
// errors), so they are accepted.
func (e *Engine) AddObservation(o *schemas.WeatherObservation) error {
	s, err := e.admit(KindObservation, o.Region, o.AvailableAt)
	if err != nil {
		return err
	}
	hour := o.Time.Truncate(time.Hour).Unix()
	s.hour(hour).addObs(o.Location, valuesAt{At: o.AvailableAt.Unix(), V: valuesOf(o.Values)})
	s.touch(hour)
	e.dirty[o.Region] = true
	e.seen(KindObservation, o.AvailableAt)
	return nil
}

// AddForecast adds a weather forecast or known-ahead value.
func (e *Engine) AddForecast(f *schemas.WeatherForecast) error {
	s, err := e.admit(KindForecast, f.Region, f.IssuedAt)
	if err != nil {
		return err
	}
	hour := f.Time.Truncate(time.Hour).Unix()
	s.hour(hour).addFc(f.Location, valuesAt{At: f.IssuedAt.Unix(), V: valuesOf(f.Values)})
	s.touch(hour)
	e.dirty[f.Region] = true
	e.seen(KindForecast, f.IssuedAt)
	return nil
}

// Advance moves the clock to t (it never moves back) and returns the rows
// that became due, ready and final, ordered by region and hour.
func (e *Engine) Advance(t time.Time) []schemas.FeatureRow {
	return e.AdvanceAppend(nil, t)
}

// AdvanceAppend is Advance appending the rows to dst, so that a caller can
// reuse one slice for the rows of every call.
func (e *Engine) AdvanceAppend(dst []schemas.FeatureRow, t time.Time) []schemas.FeatureRow {
	c := t.Unix()
	if c <= e.clock {
		return dst
	}
	e.clock = c
	e.meta = true
	n0 := len(dst)
	out := dst
	late := int64(e.cfg.AllowedLateness / time.Second)
	pruneNow := e.clock/3600 != e.pruned
	e.rowRegion = e.rowRegion[:0]
	for idx, id := range e.ids {
		s := e.regions[id]
		if s.info == nil {
			ri, err := e.info(id)
			if err != nil {
				continue
			}
			s.info = ri
		}
		if s.FirstHour == 0 {
			continue
		}
		ri := s.info
		ready, final := s.ReadyThrough, s.FinalThrough
		before := len(out)
		out = e.emitReady(out, s, ri, late)
		out = e.emitFinal(out, s, ri, late)
		for range len(out) - before {
			e.rowRegion = append(e.rowRegion, int32(idx))
		}
		for start, c := range s.days {
			if c.next <= s.FinalThrough+3600 {
				delete(s.days, start) // every row of the day is out
			}
		}
		pruned := false
		if pruneNow {
			// Pruning runs once per clock hour, as it always has: the
			// state it leaves (and so the changelog) depends on when.
			cutoff := e.clock - int64(e.cfg.Retention/time.Second)
			var day dayRange
			issue := func(h int64) int64 {
				if !day.has(h) {
					day = ri.dayRange(h)
				}
				return day.iss
			}
			bound := func(h int64) int64 {
				d := ri.dayRange(h)
				if d.iss+late >= e.clock {
					return h
				}
				for d.iss+late < e.clock {
					d = ri.dayRange(d.next)
				}
				return d.start
			}
			pruned = s.prune(cutoff, bound, issue)
		}
		if ready != s.ReadyThrough || final != s.FinalThrough {
			s.metaDirty = true
		}
		if pruned || s.metaDirty {
			e.dirty[id] = true
		}
	}
	e.pruned = e.clock / 3600
	// Emit in the order the rows became due, as they would have been sent
	// had the clock moved an hour at a time: a consumer then sees the final
	// rows of the hours before an issue time ahead of the ready rows issued
	// then, however far one Advance jumped.
	e.sortByDue(out[n0:], e.rowRegion, late)
	return out
}

// dueKey orders a row by the time it became due, then region and hour.
type dueKey struct {
	due, hour int64
	region    int32 // the region's place in the sorted ids
	i         int32
}

// cmpDue orders keys by due time, region and hour. No two rows share all
// three (a region's ready and final rows of an hour fall due at different
// times, as the issue time precedes the hour), so an unstable sort gives the
// one order; the index breaks ties only to make that plain.
func cmpDue(a, b dueKey) int {
	return cmp.Or(cmp.Compare(a.due, b.due), cmp.Compare(a.region, b.region), cmp.Compare(a.hour, b.hour), cmp.Compare(a.i, b.i))
}

// sortByDue orders rows by the time they became due, then region and hour
// (region[i] is row i's region's place in the sorted ids). Rows are large,
// so it sorts their indices and moves each row once.
func (e *Engine) sortByDue(rows []schemas.FeatureRow, region []int32, late int64) {
	keys := e.keys[:0]
	for i := range rows {
		r := &rows[i]
		k := dueKey{hour: r.Hour.Unix(), region: region[i], i: int32(i)}
		if r.Final {
			k.due = k.hour + 3600 + late
		} else {
			k.due = r.IssueTime.Unix() + late
		}
		keys = append(keys, k)
	}
	e.keys = keys[:0]
	if slices.IsSortedFunc(keys, cmpDue) {
		return
	}
	slices.SortFunc(keys, cmpDue)
	e.scratch = append(e.scratch[:0], rows...)
	for i, k := range keys {
		rows[i] = e.scratch[k.i]
	}
	clear(e.scratch) // keep no row's maps alive
}

func (e *Engine) emitReady(out []schemas.FeatureRow, s *regionState, ri *regionInfo, late int64) []schemas.FeatureRow {
	from := s.ReadyThrough
	if from == 0 {
		from = s.FirstHour
	}
	// The day after from's is the next whose ready rows are due. It is
	// cached with its issue time: most calls find it not due yet.
	if s.nextReady.start == 0 || s.nextReadyFrom != from {
		s.nextReady = ri.dayRange(ri.dayRange(from).next)
		s.nextReadyFrom = from
	}
	for {
		d := s.nextReady
		if d.iss+late >= e.clock {
			return out
		}
		prev := ri.dayRange(d.start - 3600)
		if e.anyPrice(s, prev.start, d.start, d.iss) {
			ctx := e.dayContext(s, ri, d)
			for h := hourCeil(d.start); h < d.next; h += 3600 {
				out = append(out, e.row(s, ri, ctx, h, false))
			}
		}
		s.ReadyThrough = d.start
		s.nextReady = ri.dayRange(d.next)
		s.nextReadyFrom = d.start
	}
}

func (e *Engine) emitFinal(out []schemas.FeatureRow, s *regionState, ri *regionInfo, late int64) []schemas.FeatureRow {
	h := s.FirstHour
	if s.FinalThrough != 0 {
		h = s.FinalThrough + 3600
	}
	var ctx *dayCtx
	var day dayRange
	for ; h+3600+late < e.clock; h += 3600 {
		if hs := s.at(h); hs != nil {
			if _, _, ok := hs.price(h + 3600); ok {
				if ctx == nil || h < ctx.start || h >= ctx.next {
					ctx = e.dayContext(s, ri, ri.dayRange(h))
				}
				out = append(out, e.row(s, ri, ctx, h, true))
			}
		}
		s.FinalThrough = h
		if !day.has(h) {
			day = ri.dayRange(h)
		}
		if h+3600 >= day.next {
			e.closeDay(s, ri, day) // the day's last hour is final: its window closes
		}
	}
	return out
}

func (e *Engine) anyPrice(s *regionState, from, to, asOf int64) bool {
	for h := hourCeil(from); h < to; h += 3600 {
		if _, _, ok := s.price(h, asOf); ok {
			return true
		}
	}
	return false
}

// dayCtx holds what every row of one delivery day shares: the features as
// known at the day's issue time. It is computed once, for the day's ready
// rows, and reused for its final rows: once the clock has passed the issue
// time plus the allowed lateness, no input known by then can still arrive,
// so the features cannot change. (After a restore it is computed again, from
// the same inputs.) For the same reason the part of each hour's row known at
// the issue time (everything but the price and the observations) is
// computed once, for the ready row, and copied into the final row.
type dayCtx struct {
	region        string
	start, next   int64
	iss           int64
	lastPrice     *float64
	lastHour      *time.Time
	s24, s168     stats
	lastObserved  map[string]float64
	forecastError map[string]float64

	// The issue-time part of each hour's row, by hour of the day, once
	// computed (have). The values the rows point to are in slabs of their
	// own, so that rows kept by a caller do not keep the context alive.
	base   []schemas.FeatureRow
	have   []bool
	floats []float64 // per hour: lag 24 h, 48 h, 168 h, price
	times  []time.Time
	ints   []int
	cal    calendar.Fields // of the day's first hour
	calY   int
	calM   time.Month
	calD   int
}

type stats struct{ mean, std, min, max *float64 }

// Per-hour float slots of a dayCtx.
const (
	slotLag24 = iota
	slotLag48
	slotLag168
	slotPrice
	slots
)

func (e *Engine) dayContext(s *regionState, ri *regionInfo, d dayRange) *dayCtx {
	if c := s.days[d.start]; c != nil {
		return c
	}
	c := &dayCtx{region: s.Region, start: d.start, next: d.next, iss: d.iss}
	// The last hourly price known at the issue time, looking back two days.
	for h := hourCeil(c.start) - 3600; h >= c.start-48*3600; h -= 3600 {
		if p, _, ok := s.price(h, c.iss); ok {
			c.lastPrice = &p
			t := unix(h)
			c.lastHour = &t
			break
		}
	}
	if c.lastHour != nil {
		c.s24, c.s168 = windows(s, c.lastHour.Unix(), c.iss)
	}
	c.lastObserved = s.lastObserved(c.iss)
	c.forecastError = s.forecastError(c.iss)
	n := int((c.next - c.start + 3599) / 3600)
	c.base = make([]schemas.FeatureRow, n)
	c.have = make([]bool, n)
	c.floats = make([]float64, n*slots)
	c.times = make([]time.Time, n)
	c.ints = make([]int, n)
	c.cal = ri.cal.Fields(unix(c.start))
	c.calY, c.calM, c.calD = unix(c.start).In(ri.cal.Location()).Date()
	if s.days == nil {
		s.days = map[int64]*dayCtx{}
	}
	s.days[c.start] = c
	return c
}

// windows returns statistics of the 24 and of the 168 hourly prices up to
// and including last, as known at asOf: one pass over the hours, each
// summed in hour order as a pass of its own would.
func windows(s *regionState, last int64, asOf int64) (s24, s168 stats) {
	// Sums of the prices shifted by the window's first one, so that the
	// variance does not cancel catastrophically (E[x²] - mean² of 168
	// equal prices of 1234.5678 is not 0); the mean is clamped to
	// [min, max] against rounding.
	type acc struct {
		shift, sum, sq, lo, hi float64
		k                      int
	}
	a24 := acc{lo: math.Inf(1), hi: math.Inf(-1)}
	a168 := a24
	add := func(a *acc, p float64) {
		if a.k == 0 {
			a.shift = p
		}
		d := p - a.shift
		a.sum += d
		a.sq += d * d
		a.lo, a.hi = math.Min(a.lo, p), math.Max(a.hi, p)
		a.k++
	}
	from24 := last - 23*3600
	for h := last - 167*3600; h <= last; h += 3600 {
		if p, _, ok := s.price(h, asOf); ok {
			add(&a168, p)
			if h >= from24 {
				add(&a24, p)
			}
		}
	}
	st := func(a acc) stats {
		if a.k == 0 {
			return stats{}
		}
		n := float64(a.k)
		md := a.sum / n
		std := math.Sqrt(math.Max(a.sq/n-md*md, 0))
		lo, hi := a.lo, a.hi
		mean := math.Min(math.Max(a.shift+md, lo), hi)
		return stats{&mean, &std, &lo, &hi}
	}
	return st(a24), st(a168)
}

// name is a feature's name for variable v at location: the variable's
// own name at the region's location, "location.variable" elsewhere. Names
// are remembered: the same few are built for every row.
func (s *regionState) name(location, v string) string {
	if location == "" || location == s.Region {
		return v
	}
	k := [2]string{location, v}
	if n, ok := s.names[k]; ok {
		return n
	}
	if s.names == nil {
		s.names = map[[2]string]string{}
	}
	n := location + "." + v
	s.names[k] = n
	return n
}

// pairSum accumulates the values of one variable at one location.
type pairSum struct {
	loc, v string
	sum    float64
	n      int
}

func findPair(acc []pairSum, loc, v string) int {
	for i := range acc {
		if acc[i].v == v && acc[i].loc == loc {
			return i
		}
	}
	return -1
}

// observedLookBack is how far back lastObserved looks for an observation
// available at the issue time: archives publish days late (Open-Meteo's
// ERA5 about five days after the hour), so three days found none. It stays
// inside the state's minimum retention (minRetention).
const observedLookBack = 8 * 24 * 3600

// lastObserved returns, per variable, the value of the most recent hour
// observed and available at asOf, looking back observedLookBack.
func (s *regionState) lastObserved(asOf int64) map[string]float64 {
	var arr [8]pairSum
	acc := arr[:0]
	top := asOf - asOf%3600
	for h := top; h >= top-observedLookBack; h -= 3600 {
		hs := s.at(h)
		if hs == nil {
			continue
		}
		for _, lv := range hs.obs {
			va, ok := latestValues(lv.vs, asOf)
			if !ok {
				continue
			}
			for _, x := range va.V {
				if findPair(acc, lv.loc, x.Name) < 0 {
					acc = append(acc, pairSum{loc: lv.loc, v: x.Name, sum: x.V})
				}
			}
		}
	}
	if len(acc) == 0 {
		return nil
	}
	out := make(map[string]float64, len(acc))
	for _, a := range acc {
		// Should two locations' variables share a feature name, the most
		// recent (found first) wins.
		if n := s.name(a.loc, a.v); !has(out, n) {
			out[n] = a.sum
		}
	}
	return out
}

func has(m map[string]float64, k string) bool {
	_, ok := m[k]
	return ok
}

// forecastError returns, per variable both forecast and observed, the mean
// of forecast minus observation over the 168 hours before asOf, using only
// observations available at asOf and, for each hour, the latest forecast
// issued before that hour began.
func (s *regionState) forecastError(asOf int64) map[string]float64 {
	var arr [8]pairSum
	acc := arr[:0]
	top := asOf - asOf%3600
	for h := top - 168*3600; h < top; h += 3600 {
		hs := s.at(h)
		if hs == nil || len(hs.obs) == 0 || len(hs.fcs) == 0 {
			continue
		}
		for _, lo := range hs.obs {
			o, ok := latestValues(lo.vs, asOf)
			if !ok {
				continue
			}
			i, ok := locIndex(hs.fcs, lo.loc)
			if !ok {
				continue
			}
			f, ok := latestValues(hs.fcs[i].vs, min(h, asOf))
			if !ok {
				continue
			}
			for _, x := range o.V {
				if fv, ok := f.V.get(x.Name); ok {
					j := findPair(acc, lo.loc, x.Name)
					if j < 0 {
						j = len(acc)
						acc = append(acc, pairSum{loc: lo.loc, v: x.Name})
					}
					acc[j].sum += fv - x.V
					acc[j].n++
				}
			}
		}
	}
	if len(acc) == 0 {
		return nil
	}
	out := make(map[string]float64, len(acc))
	for _, a := range acc {
		if n := s.name(a.loc, a.v); !has(out, n) {
			out[n] = a.sum / float64(a.n)
		}
	}
	return out
}

// row returns the row of hour h of day c: the issue-time part, computed once
// per hour, and for a final row the hour's price and observations.
func (e *Engine) row(s *regionState, ri *regionInfo, c *dayCtx, h int64, final bool) schemas.FeatureRow {
	i := int((h - c.start) / 3600)
	if !c.have[i] {
		c.base[i] = e.baseRow(s, ri, c, h, i)
		c.have[i] = true
	}
	r := c.base[i]
	if !final {
		return r
	}
	r.Final = true
	end := h + 3600
	hs := s.at(h)
	p, n, _ := hs.price(end)
	c.floats[i*slots+slotPrice] = p
	r.Price, r.PriceCount = &c.floats[i*slots+slotPrice], n
	for _, lv := range hs.obs {
		va, ok := latestValues(lv.vs, end)
		if !ok {
			continue
		}
		if r.Observed == nil {
			r.Observed = make(map[string]float64, len(va.V))
		}
		for _, x := range va.V {
			r.Observed[s.name(lv.loc, x.Name)] = x.V
		}
	}
	return r
}

// sameLocalHour returns the Unix time of the hour whose local date is days
// before the local date of l (hour in its zone) and whose local clock hour
// is l's, or 0 when no such hour exists (a spring-forward day). Where that
// hour occurs twice (a fall-back day), it is one of the two: time.Date's
// choice, the same every time.
func sameLocalHour(hour, l time.Time, days int) int64 {
	y, m, d := l.Date()
	t := time.Date(y, m, d-days, l.Hour(), 0, 0, 0, l.Location())
	if t.Hour() != l.Hour() {
		return 0
	}
	if off := hour.Sub(t); off%time.Hour == 0 && off > 0 && off <= time.Duration(days*24+1)*time.Hour && l.Minute() == 0 {
		return t.Unix()
	}
	// A zone whose offset is not whole hours: keep the UTC-hour lag, so
	// that the lag is an hour the state holds.
	return hour.Add(-time.Duration(days) * 24 * time.Hour).Unix()
}

// baseRow computes the issue-time part of the row of hour h, the i-th hour
// of day c.
func (e *Engine) baseRow(s *regionState, ri *regionInfo, c *dayCtx, h int64, i int) schemas.FeatureRow {
	hour := unix(h)
	// The date fields are those of the day (its hours share the local
	// date, which is checked); the hour and daylight saving time are the
	// hour's own.
	cf := c.cal
	l := hour.In(ri.cal.Location())
	if y, m, d := l.Date(); y == c.calY && m == c.calM && d == c.calD {
		cf.LocalHour, cf.DST = l.Hour(), l.IsDST()
	} else {
		cf = ri.cal.Fields(hour)
	}
	issue := unix(c.iss)
	r := schemas.FeatureRow{
		Region:        s.Region,
		Market:        s.Market,
		Unit:          s.Unit,
		Hour:          hour,
		LocalDate:     cf.LocalDate,
		IssueTime:     issue,
		LeadHours:     schemas.LeadHours(issue, hour),
		LastPrice:     c.lastPrice,
		LastPriceHour: c.lastHour,
		Mean24h:       c.s24.mean, Std24h: c.s24.std, Min24h: c.s24.min, Max24h: c.s24.max,
		Mean168h: c.s168.mean, Std168h: c.s168.std, Min168h: c.s168.min, Max168h: c.s168.max,
		LocalHour:     cf.LocalHour,
		Weekday:       cf.Weekday,
		Month:         cf.Month,
		DayOfYear:     cf.DayOfYear,
		Weekend:       cf.Weekend,
		Holiday:       cf.Holiday,
		DST:           cf.DST,
		LastObserved:  c.lastObserved,
		ForecastError: c.forecastError,
	}
	// The lags are the same local hour 1, 2 and 7 days earlier, as the
	// models' daily slots and the backtest's naive forecasts are: 24 h
	// apart except across a clock change. An hour that did not exist that
	// day (spring forward) has no lag; both hours of a day with a
	// repeated hour take the same lag.
	lag := func(days int, slot int) *float64 {
		if p, _, ok := s.price(sameLocalHour(hour, l, days), c.iss); ok {
			f := &c.floats[i*slots+slot]
			*f = p
			return f
		}
		return nil
	}
	r.PriceLag24h, r.PriceLag48h, r.PriceLag168h = lag(1, slotLag24), lag(2, slotLag48), lag(7, slotLag168)

	var issued int64
	if hs := s.at(h); hs != nil {
		for _, lv := range hs.fcs {
			va, ok := latestValues(lv.vs, c.iss)
			if !ok {
				continue
			}
			if r.KnownAhead == nil {
				r.KnownAhead = make(map[string]float64, len(va.V)*len(hs.fcs))
			}
			for _, x := range va.V {
				r.KnownAhead[s.name(lv.loc, x.Name)] = x.V
			}
			issued = max(issued, va.At)
		}
	}
	if issued != 0 {
		c.times[i] = unix(issued)
		c.ints[i] = schemas.LeadHours(c.times[i], hour)
		r.KnownAheadIssuedAt, r.KnownAheadLeadHours = &c.times[i], &c.ints[i]
	}
	return r
}

// KV is one changelog record.
type KV struct {
	Key   string
	Value []byte
}

// metaKey holds the clock and watermarks; region ids cannot start with "_".
const metaKey = "_meta"

type meta struct {
	Clock int64           `json:"clock"`
	WM    [numKinds]int64 `json:"watermarks"`
}

// Changes returns the changelog records for the state changed since the
// last call: per changed region a meta record ("<region>|m") and one record
// per changed UTC day ("<region>|d|<day>", nil when the day was pruned), and
// the clock ("_meta").
func (e *Engine) Changes() ([]KV, error) {
	var out []KV
	var de dayEncoder
	ids := make([]string, 0, len(e.dirty))
	for id := range e.dirty {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := e.regions[id]
		if s == nil {
			continue
		}
		if s.metaDirty {
			out = append(out, KV{id + "|m", encodeRegionMeta(s.meta())})
			s.metaDirty = false
		}
		days := make([]int64, 0, len(s.dirtyDays))
		for d := range s.dirtyDays {
			days = append(days, d)
		}
		slices.Sort(days)
		for _, d := range days {
			b, _ := de.encodeDay(s, d) // nil, a tombstone, when the day is empty
			out = append(out, KV{id + "|d|" + strconv.FormatInt(d, 10), b})
		}
		clear(s.dirtyDays)
	}
	clear(e.dirty)
	if e.meta {
		out = append(out, KV{metaKey, encodeMeta(meta{Clock: e.clock, WM: e.wm})})
		e.meta = false
	}
	return out, nil
}

// Restore loads one changelog record written by Changes. Records are
// applied in changelog order; the last one for a key wins.
func (e *Engine) Restore(key string, value []byte) error {
	if key == metaKey {
		m, err := decodeMeta(key, value)
		if err != nil {
			return err
		}
		e.clock, e.wm = m.Clock, m.WM
		return nil
	}
	region, rest, ok := strings.Cut(key, "|")
	if !ok {
		return fmt.Errorf("features: restore: unknown changelog key %q", key)
	}
	s := e.state(region)
	switch {
	case rest == "m":
		m, err := decodeRegionMeta(key, value)
		if err != nil {
			return err
		}
		s.setMeta(m)
	case strings.HasPrefix(rest, "d|"):
		d, err := strconv.ParseInt(rest[2:], 10, 64)
		if err != nil {
			return fmt.Errorf("features: restore: bad day in changelog key %q", key)
		}
		if value == nil {
			s.setChunk(d, nil)
			return nil
		}
		c, err := decodeChunk(key, value)
		if err != nil {
			return err
		}
		s.setChunk(d, c)
	default:
		return fmt.Errorf("features: restore: unknown changelog key %q", key)
	}
	return nil
}

// Regions returns the ids of the regions in the state, sorted.
func (e *Engine) Regions() []string { return slices.Clone(e.ids) }
