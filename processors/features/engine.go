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
	clock   int64
	wm      [numKinds]int64
	dirty   map[string]bool
	meta    bool  // clock or watermarks changed since the last Changes
	pruned  int64 // the clock hour of the last prune
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

// admit checks an input's known-at time against the clock and returns its
// region's state.
func (e *Engine) admit(k Kind, region string, knownAt time.Time) (*regionState, *regionInfo, error) {
	ka := knownAt.Unix()
	if e.clock != 0 && ka < e.clock-int64(e.cfg.AllowedLateness/time.Second) {
		return nil, nil, &Rejection{schemas.ReasonLate, fmt.Sprintf("%s for %s known at %s is older than the clock %s minus the allowed lateness %s",
			k, region, knownAt.UTC().Format(time.RFC3339), e.Clock().Format(time.RFC3339), e.cfg.AllowedLateness)}
	}
	ri, err := e.info(region)
	if err != nil {
		return nil, nil, err
	}
	s := e.regions[region]
	if s == nil {
		s = newRegionState(region)
		e.regions[region] = s
	}
	return s, ri, nil
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
	s, _, err := e.admit(KindPrice, p.Region, p.PublishedAt)
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
		if old, ok := latestVersion(s.Prices[hour][sub], math.MaxInt64); ok && old == p.Value {
			e.seen(KindPrice, p.PublishedAt)
			return nil
		}
		return &Rejection{schemas.ReasonWindowClosed, fmt.Sprintf("price for %s at %s arrived after the hour's final feature row was emitted",
			p.Region, p.Start.UTC().Format(time.RFC3339))}
	}
	subs := s.Prices[hour]
	if subs == nil {
		subs = map[int64][]version{}
		s.Prices[hour] = subs
	}
	var changed bool
	subs[sub], changed = addVersion(subs[sub], v)
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
	s, _, err := e.admit(KindObservation, o.Region, o.AvailableAt)
	if err != nil {
		return err
	}
	hour := o.Time.Truncate(time.Hour).Unix()
	locs := s.Obs[hour]
	if locs == nil {
		locs = map[string][]valuesAt{}
		s.Obs[hour] = locs
	}
	locs[o.Location] = addValues(locs[o.Location], valuesAt{At: o.AvailableAt.Unix(), V: valuesOf(o.Values)})
	s.touch(hour)
	e.dirty[o.Region] = true
	e.seen(KindObservation, o.AvailableAt)
	return nil
}

// AddForecast adds a weather forecast or known-ahead value.
func (e *Engine) AddForecast(f *schemas.WeatherForecast) error {
	s, _, err := e.admit(KindForecast, f.Region, f.IssuedAt)
	if err != nil {
		return err
	}
	hour := f.Time.Truncate(time.Hour).Unix()
	locs := s.Fcs[hour]
	if locs == nil {
		locs = map[string][]valuesAt{}
		s.Fcs[hour] = locs
	}
	locs[f.Location] = addValues(locs[f.Location], valuesAt{At: f.IssuedAt.Unix(), V: valuesOf(f.Values)})
	s.touch(hour)
	e.dirty[f.Region] = true
	e.seen(KindForecast, f.IssuedAt)
	return nil
}

// Advance moves the clock to t (it never moves back) and returns the rows
// that became due, ready and final, ordered by region and hour.
func (e *Engine) Advance(t time.Time) []schemas.FeatureRow {
	c := t.Unix()
	if c <= e.clock {
		return nil
	}
	e.clock = c
	e.meta = true
	var out []schemas.FeatureRow
	ids := make([]string, 0, len(e.regions))
	for id := range e.regions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	late := int64(e.cfg.AllowedLateness / time.Second)
	for _, id := range ids {
		s := e.regions[id]
		ri, err := e.info(id)
		if err != nil || s.FirstHour == 0 {
			continue
		}
		ready, final := s.ReadyThrough, s.FinalThrough
		out = e.emitReady(out, s, ri, late)
		out = e.emitFinal(out, s, ri, late)
		for start, c := range s.days {
			if c.next <= s.FinalThrough+3600 {
				delete(s.days, start) // every row of the day is out
			}
		}
		pruned := false
		if hour := e.clock / 3600; hour != e.pruned {
			// Pruning walks all state: once per clock hour is enough.
			cutoff := e.clock - int64(e.cfg.Retention/time.Second)
			pruned = s.prune(cutoff, func(h int64) (int64, bool) {
				start, _ := ri.day(unix(h))
				iss := ri.issue(start.In(ri.cal.Location())).Unix()
				return iss, iss+late < e.clock
			})
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
	return sortByDue(out, late)
}

// sortByDue orders rows by the time they became due, then region and hour.
// Rows are large, so it sorts their indices and moves each row once.
func sortByDue(out []schemas.FeatureRow, late int64) []schemas.FeatureRow {
	type key struct {
		due, hour int64
		region    string
		i         int
	}
	keys := make([]key, len(out))
	for i := range out {
		r := &out[i]
		k := key{hour: r.Hour.Unix(), region: r.Region, i: i}
		if r.Final {
			k.due = k.hour + 3600 + late
		} else {
			k.due = r.IssueTime.Unix() + late
		}
		keys[i] = k
	}
	cmpKeys := func(a, b key) int {
		return cmp.Or(cmp.Compare(a.due, b.due), strings.Compare(a.region, b.region), cmp.Compare(a.hour, b.hour))
	}
	if slices.IsSortedFunc(keys, cmpKeys) {
		return out
	}
	slices.SortStableFunc(keys, cmpKeys)
	sorted := make([]schemas.FeatureRow, len(out))
	for i, k := range keys {
		sorted[i] = out[k.i]
	}
	return sorted
}

func (e *Engine) emitReady(out []schemas.FeatureRow, s *regionState, ri *regionInfo, late int64) []schemas.FeatureRow {
	var d time.Time
	if s.ReadyThrough == 0 {
		_, d = ri.day(unix(s.FirstHour))
	} else {
		_, d = ri.day(unix(s.ReadyThrough))
	}
	for {
		iss := ri.issue(d.In(ri.cal.Location()))
		if iss.Unix()+late >= e.clock {
			return out
		}
		prev, _ := ri.day(d.Add(-time.Hour))
		if e.anyPrice(s, prev.Unix(), d.Unix(), iss.Unix()) {
			_, next := ri.day(d)
			ctx := e.dayContext(s, ri, d, next, iss)
			for h := d.Unix(); h < next.Unix(); h += 3600 {
				out = append(out, e.row(s, ri, ctx, h, false))
			}
		}
		s.ReadyThrough = d.Unix()
		_, d = ri.day(d)
	}
}

func (e *Engine) emitFinal(out []schemas.FeatureRow, s *regionState, ri *regionInfo, late int64) []schemas.FeatureRow {
	h := s.FirstHour
	if s.FinalThrough != 0 {
		h = s.FinalThrough + 3600
	}
	for ; h+3600+late < e.clock; h += 3600 {
		if _, _, ok := s.price(h, h+3600); ok {
			start, next := ri.day(unix(h))
			iss := ri.issue(start.In(ri.cal.Location()))
			ctx := e.dayContext(s, ri, start, next, iss)
			out = append(out, e.row(s, ri, ctx, h, true))
		}
		s.FinalThrough = h
	}
	return out
}

func (e *Engine) anyPrice(s *regionState, from, to, asOf int64) bool {
	for h := from; h < to; h += 3600 {
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
// the same inputs.)
type dayCtx struct {
	region        string
	start, next   int64
	iss           int64
	lastPrice     *float64
	lastHour      *time.Time
	s24, s168     stats
	lastObserved  map[string]float64
	forecastError map[string]float64
}

type stats struct{ mean, std, min, max *float64 }

func (e *Engine) dayContext(s *regionState, ri *regionInfo, start, next, iss time.Time) *dayCtx {
	if c := s.days[start.Unix()]; c != nil {
		return c
	}
	c := &dayCtx{region: s.Region, start: start.Unix(), next: next.Unix(), iss: iss.Unix()}
	// The last hourly price known at the issue time, looking back two days.
	for h := c.start - 3600; h >= c.start-48*3600; h -= 3600 {
		if p, _, ok := s.price(h, c.iss); ok {
			c.lastPrice = &p
			t := unix(h)
			c.lastHour = &t
			break
		}
	}
	if c.lastHour != nil {
		last := c.lastHour.Unix()
		c.s24 = e.window(s, last, 24, c.iss)
		c.s168 = e.window(s, last, 168, c.iss)
	}
	c.lastObserved = lastObserved(s, c.iss)
	c.forecastError = forecastError(s, c.iss)
	if s.days == nil {
		s.days = map[int64]*dayCtx{}
	}
	s.days[c.start] = c
	return c
}

// window returns statistics of the n hourly prices up to and including
// last, as known at asOf.
func (e *Engine) window(s *regionState, last int64, n int, asOf int64) stats {
	var sum, sq float64
	lo, hi := math.Inf(1), math.Inf(-1)
	k := 0
	for h := last - int64(n-1)*3600; h <= last; h += 3600 {
		if p, _, ok := s.price(h, asOf); ok {
			sum += p
			sq += p * p
			lo, hi = math.Min(lo, p), math.Max(hi, p)
			k++
		}
	}
	if k == 0 {
		return stats{}
	}
	mean := sum / float64(k)
	v := sq/float64(k) - mean*mean
	std := math.Sqrt(math.Max(v, 0))
	return stats{&mean, &std, &lo, &hi}
}

func varName(region, location, v string) string {
	if location == "" || location == region {
		return v
	}
	return location + "." + v
}

// lastObserved returns, per variable, the value of the most recent hour
// observed and available at asOf, looking back three days.
func lastObserved(s *regionState, asOf int64) map[string]float64 {
	out := map[string]float64{}
	top := asOf - asOf%3600
	for h := top; h >= top-72*3600; h -= 3600 {
		for loc, vs := range s.Obs[h] {
			va, ok := latestValues(vs, asOf)
			if !ok {
				continue
			}
			for _, x := range va.V {
				k, v := x.Name, x.V
				n := varName(s.Region, loc, k)
				if _, done := out[n]; !done {
					out[n] = v
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// forecastError returns, per variable both forecast and observed, the mean
// of forecast minus observation over the 168 hours before asOf, using only
// observations available at asOf and, for each hour, the latest forecast
// issued before that hour began.
func forecastError(s *regionState, asOf int64) map[string]float64 {
	sum := map[string]float64{}
	cnt := map[string]int{}
	top := asOf - asOf%3600
	for h := top - 168*3600; h < top; h += 3600 {
		obs, fcs := s.Obs[h], s.Fcs[h]
		if len(obs) == 0 || len(fcs) == 0 {
			continue
		}
		for loc, ovs := range obs {
			o, ok := latestValues(ovs, asOf)
			if !ok {
				continue
			}
			f, ok := latestValues(fcs[loc], min(h, asOf))
			if !ok {
				continue
			}
			for _, x := range o.V {
				k, ov := x.Name, x.V
				if fv, ok := f.V.get(k); ok {
					n := varName(s.Region, loc, k)
					sum[n] += fv - ov
					cnt[n]++
				}
			}
		}
	}
	if len(sum) == 0 {
		return nil
	}
	out := make(map[string]float64, len(sum))
	for k, v := range sum {
		out[k] = v / float64(cnt[k])
	}
	return out
}

func (e *Engine) row(s *regionState, ri *regionInfo, c *dayCtx, h int64, final bool) schemas.FeatureRow {
	hour := unix(h)
	cf := ri.cal.Fields(hour)
	r := schemas.FeatureRow{
		Region:        s.Region,
		Market:        s.Market,
		Unit:          s.Unit,
		Hour:          hour,
		LocalDate:     cf.LocalDate,
		IssueTime:     unix(c.iss),
		LeadHours:     schemas.LeadHours(unix(c.iss), hour),
		Final:         final,
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
	lag := func(hours int64) *float64 {
		if p, _, ok := s.price(h-hours*3600, c.iss); ok {
			return &p
		}
		return nil
	}
	r.PriceLag24h, r.PriceLag48h, r.PriceLag168h = lag(24), lag(48), lag(168)

	var issued int64
	for loc, vs := range s.Fcs[h] {
		va, ok := latestValues(vs, c.iss)
		if !ok {
			continue
		}
		if r.KnownAhead == nil {
			r.KnownAhead = map[string]float64{}
		}
		for _, x := range va.V {
			k, v := x.Name, x.V
			r.KnownAhead[varName(s.Region, loc, k)] = v
		}
		issued = max(issued, va.At)
	}
	if issued != 0 {
		t := unix(issued)
		lead := schemas.LeadHours(t, hour)
		r.KnownAheadIssuedAt, r.KnownAheadLeadHours = &t, &lead
	}
	if final {
		end := h + 3600
		p, n, _ := s.price(h, end)
		r.Price, r.PriceCount = &p, n
		for loc, vs := range s.Obs[h] {
			va, ok := latestValues(vs, end)
			if !ok {
				continue
			}
			if r.Observed == nil {
				r.Observed = map[string]float64{}
			}
			for _, x := range va.V {
				k, v := x.Name, x.V
				r.Observed[varName(s.Region, loc, k)] = v
			}
		}
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
	s := e.regions[region]
	if s == nil {
		s = newRegionState(region)
		e.regions[region] = s
	}
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
func (e *Engine) Regions() []string {
	ids := make([]string, 0, len(e.regions))
	for id := range e.regions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
