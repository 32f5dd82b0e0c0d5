package features

import (
	"cmp"
	"slices"
	"sort"
	"strings"
)

// The state of one region. Times are Unix seconds; hours are the Unix
// seconds of the hour's start. In the changelog a region is stored as one
// small meta record plus one record per UTC day of event time (see
// dayChunk), so that a transaction rewrites only the days it touched and no
// record grows with the length of the history.
type regionState struct {
	Region string
	Market string
	Unit   string
	// hours holds each hour's prices, observations and forecasts; an hour
	// with none of them has no entry. One map of small sorted slices rather
	// than a map per input kind of maps: the engine reads an hour's inputs
	// together, and a slice of one or two entries is faster to walk and far
	// smaller than a map.
	hours map[int64]*hourState
	// FirstHour is the first hour with a price; emission starts there.
	FirstHour int64
	// ReadyThrough is the local midnight (Unix) of the last day whose
	// ready rows are done; FinalThrough the last hour whose final row is.
	ReadyThrough int64
	FinalThrough int64

	dirtyDays map[int64]bool // UTC days changed since the last Changes
	metaDirty bool
	// days caches the context of the delivery days whose rows are not all
	// out yet, by local midnight (Unix); not part of the changelog.
	days map[int64]*dayCtx

	// Pruning bookkeeping, not part of the changelog (see prune). When
	// scanned is false (a new or restored state) the next prune walks all
	// hours; afterwards it walks only the hours that became prunable.
	scanned bool
	odd     bool  // an hour key that is not a whole hour (a crafted changelog)
	floor   int64 // no hour below floor has state
	settled int64 // the forecasts of hours below settled are pruned

	// nextReady is the delivery day after nextReadyFrom's day: the next
	// whose ready rows are due, cached for emitReady.
	nextReady     dayRange
	nextReadyFrom int64

	info  *regionInfo
	names map[[2]string]string // feature names by location and variable
	ring  *[ringHours]ringSlot
}

// hourState is what is known about one hour. Each slice is sorted: prices
// by sub-period start, observations and forecasts by location.
type hourState struct {
	prices []subPrices
	obs    []locValues
	fcs    []locValues
	// Room for the usual one entry of each, so that a new hour takes one
	// allocation rather than four. (An hourState is never copied: the
	// slices may point into it.)
	price1    [1]subPrices
	obs1, fc1 [1]locValues
	// And for the first version of the first of each.
	version1        [1]version
	obsVal1, fcVal1 [1]valuesAt
}

// addPrice adds version v of the sub-period starting at start; changed is
// false for a re-delivery of what was there.
func (hs *hourState) addPrice(start int64, v version) (changed bool) {
	i, ok := subIndex(hs.prices, start)
	if ok {
		hs.prices[i].vs, changed = addVersion(hs.prices[i].vs, v)
		return changed
	}
	var vs []version
	if len(hs.prices) == 0 {
		hs.version1[0] = v
		vs = hs.version1[:1:1]
	} else {
		vs = []version{v}
	}
	hs.prices = slices.Insert(hs.prices, i, subPrices{start, vs})
	return true
}

// addObs and addFc add the values v of a location.
func (hs *hourState) addObs(loc string, v valuesAt) {
	hs.obs = addLocValues(hs.obs, &hs.obsVal1, loc, v)
}
func (hs *hourState) addFc(loc string, v valuesAt) { hs.fcs = addLocValues(hs.fcs, &hs.fcVal1, loc, v) }

// subPrices are the published versions of the price of one sub-period of an
// hour (the hour itself for hourly prices), sorted by publication.
type subPrices struct {
	start int64
	vs    []version
}

// locValues are the versions of one location's values for an hour, sorted
// by their known-at time.
type locValues struct {
	loc string
	vs  []valuesAt
}

// regionMeta is a region's changelog meta record.
type regionMeta struct {
	Market       string `json:"market"`
	Unit         string `json:"unit"`
	FirstHour    int64  `json:"first_hour"`
	ReadyThrough int64  `json:"ready_through"`
	FinalThrough int64  `json:"final_through"`
}

// dayChunk is the state of one UTC day of event time of a region, as read
// back from its changelog record.
type dayChunk struct {
	Prices map[int64]map[int64][]version   `json:"p,omitempty"`
	Obs    map[int64]map[string][]valuesAt `json:"o,omitempty"`
	Fcs    map[int64]map[string][]valuesAt `json:"f,omitempty"`
}

func dayOf(hour int64) int64 {
	d := hour / 86400
	if hour < 0 && hour%86400 != 0 {
		d--
	}
	return d
}

// touch marks the day of hour as changed.
func (s *regionState) touch(hour int64) { s.dirtyDays[dayOf(hour)] = true }

func (s *regionState) meta() regionMeta {
	return regionMeta{s.Market, s.Unit, s.FirstHour, s.ReadyThrough, s.FinalThrough}
}

func (s *regionState) setMeta(m regionMeta) {
	s.Market, s.Unit, s.FirstHour, s.ReadyThrough, s.FinalThrough = m.Market, m.Unit, m.FirstHour, m.ReadyThrough, m.FinalThrough
}

// ringHours is the size of regionState.ring: more than the hours the
// engine reads back from an issue time (168 h of statistics and forecast
// errors, and the forecasts ahead).
const ringHours = 512

type ringSlot struct {
	h  int64
	hs *hourState
}

// at returns the state of hour h, nil if there is none. The engine reads
// runs of consecutive hours: a ring indexed by hour finds them faster than
// the map, which it caches.
func (s *regionState) at(h int64) *hourState {
	slot := &s.ring[(h/3600)&(ringHours-1)]
	if slot.hs != nil && slot.h == h {
		return slot.hs
	}
	hs := s.hours[h]
	if hs != nil {
		*slot = ringSlot{h, hs}
	}
	return hs
}

// drop forgets hour h.
func (s *regionState) drop(h int64) {
	delete(s.hours, h)
	if slot := &s.ring[(h/3600)&(ringHours-1)]; slot.h == h {
		*slot = ringSlot{}
	}
}

// hour returns the state of hour h, creating it.
func (s *regionState) hour(h int64) *hourState {
	hs := s.at(h)
	if hs == nil {
		hs = &hourState{}
		hs.prices, hs.obs, hs.fcs = hs.price1[:0], hs.obs1[:0], hs.fc1[:0]
		s.hours[h] = hs
		s.ring[(h/3600)&(ringHours-1)] = ringSlot{h, hs}
		s.floor = min(s.floor, h)
		s.odd = s.odd || h%3600 != 0
	}
	return hs
}

// setChunk replaces the state of one UTC day (nil: the day is empty).
func (s *regionState) setChunk(day int64, c *dayChunk) {
	s.scanned = false // the pruning bookkeeping no longer holds
	for h := day * 86400; h < (day+1)*86400; h += 3600 {
		s.drop(h)
	}
	if c == nil {
		return
	}
	for h, subs := range c.Prices {
		hs := s.hour(h)
		for start, vs := range subs {
			hs.prices = append(hs.prices, subPrices{start, vs})
		}
		slices.SortFunc(hs.prices, func(a, b subPrices) int { return cmp.Compare(a.start, b.start) })
	}
	set := func(m map[int64]map[string][]valuesAt, field func(*hourState) *[]locValues) {
		for h, locs := range m {
			p := field(s.hour(h))
			for loc, vs := range locs {
				*p = append(*p, locValues{loc, vs})
			}
			slices.SortFunc(*p, func(a, b locValues) int { return strings.Compare(a.loc, b.loc) })
		}
	}
	set(c.Obs, func(hs *hourState) *[]locValues { return &hs.obs })
	set(c.Fcs, func(hs *hourState) *[]locValues { return &hs.fcs })
}

// version is one published value of a price.
type version struct {
	At int64   `json:"at"`
	V  float64 `json:"v"`
}

// valuesAt is a set of variable values known from time At (an
// observation's availability or a forecast's issue time).
type valuesAt struct {
	At int64
	V  values
}

// values holds variable values sorted by name: a slice, not a map, because
// the state holds one per observation and forecast hour, and a map of one
// or two entries takes ten times the memory of the slice and is slower to
// walk.
type values []namedValue

type namedValue struct {
	Name string
	V    float64
}

// valuesOf returns m's values sorted by name.
func valuesOf(m map[string]float64) values {
	vs := make(values, 0, len(m))
	for k, v := range m {
		vs = append(vs, namedValue{k, v})
	}
	slices.SortFunc(vs, func(a, b namedValue) int { return strings.Compare(a.Name, b.Name) })
	return vs
}

// get returns the value of the variable name.
func (vs values) get(name string) (float64, bool) {
	for _, nv := range vs {
		if nv.Name == name {
			return nv.V, true
		}
	}
	return 0, false
}

func newRegionState(region string) *regionState {
	return &regionState{
		Region:    region,
		hours:     map[int64]*hourState{},
		dirtyDays: map[int64]bool{},
		ring:      new([ringHours]ringSlot),
	}
}

// addVersion inserts v keeping order by At; a version with the same At
// replaces the old one (a re-delivery), and it reports whether anything
// changed.
func addVersion(vs []version, v version) ([]version, bool) {
	i := sort.Search(len(vs), func(i int) bool { return vs[i].At >= v.At })
	if i < len(vs) && vs[i].At == v.At {
		if vs[i].V == v.V {
			return vs, false
		}
		vs[i] = v
		return vs, true
	}
	return slices.Insert(vs, i, v), true
}

func addValues(vs []valuesAt, v valuesAt) []valuesAt {
	i := sort.Search(len(vs), func(i int) bool { return vs[i].At >= v.At })
	if i < len(vs) && vs[i].At == v.At {
		vs[i] = v
		return vs
	}
	return slices.Insert(vs, i, v)
}

// latestVersion returns the last version known at asOf.
func latestVersion(vs []version, asOf int64) (float64, bool) {
	// Usually there is one version, known long before asOf.
	if n := len(vs); n > 0 && vs[n-1].At <= asOf {
		return vs[n-1].V, true
	}
	i := sort.Search(len(vs), func(i int) bool { return vs[i].At > asOf })
	if i == 0 {
		return 0, false
	}
	return vs[i-1].V, true
}

// latestValues returns the last values known at asOf.
func latestValues(vs []valuesAt, asOf int64) (valuesAt, bool) {
	if n := len(vs); n > 0 && vs[n-1].At <= asOf {
		return vs[n-1], true
	}
	i := sort.Search(len(vs), func(i int) bool { return vs[i].At > asOf })
	if i == 0 {
		return valuesAt{}, false
	}
	return vs[i-1], true
}

// locIndex returns the index of loc in ls, or where to insert it.
func locIndex(ls []locValues, loc string) (int, bool) {
	for i := range ls {
		if c := strings.Compare(ls[i].loc, loc); c >= 0 {
			return i, c == 0
		}
	}
	return len(ls), false
}

// addLocValues adds v for loc to ls; the first location's first values go
// to first.
func addLocValues(ls []locValues, first *[1]valuesAt, loc string, v valuesAt) []locValues {
	i, ok := locIndex(ls, loc)
	if ok {
		ls[i].vs = addValues(ls[i].vs, v)
		return ls
	}
	var vs []valuesAt
	if len(ls) == 0 {
		first[0] = v
		vs = first[:1:1]
	} else {
		vs = []valuesAt{v}
	}
	return slices.Insert(ls, i, locValues{loc, vs})
}

// subIndex returns the index of the sub-period starting at start, or where
// to insert it.
func subIndex(ps []subPrices, start int64) (int, bool) {
	for i := range ps {
		if ps[i].start >= start {
			return i, ps[i].start == start
		}
	}
	return len(ps), false
}

// price returns the hour's mean price as known at asOf and the number of
// sub-periods it averages (summed in sub-period order, so that the mean is
// the same bits on every run).
func (s *regionState) price(hour, asOf int64) (float64, int, bool) {
	hs := s.at(hour)
	if hs == nil {
		return 0, 0, false
	}
	return hs.price(asOf)
}

func (hs *hourState) price(asOf int64) (float64, int, bool) {
	var sum float64
	n := 0
	for i := range hs.prices {
		if v, ok := latestVersion(hs.prices[i].vs, asOf); ok {
			sum += v
			n++
		}
	}
	if n == 0 {
		return 0, 0, false
	}
	return sum / float64(n), n, true
}

// prune forgets everything about hours before cutoff, and forecasts that can
// no longer be chosen: once the issue time of an hour's day is settled (no
// input known before it can still arrive), only the latest forecast issued
// by then and those issued later can still be used.
//
// bound(h) returns the start of the first hour at or after h whose day's
// issue is not settled (hours are settled in order, as their days' issue
// times are), and issue(h) the issue time of h's day.
//
// Pruning used to walk all state on every clock hour; it now walks only the
// hours that became prunable since the last prune. That is the same result:
// no hour below the floor is ever created without lowering the floor, and
// a forecast for an hour already settled cannot be issued at or before the
// hour's issue time (it would be late), so a settled hour needs pruning
// once.
func (s *regionState) prune(cutoff int64, bound func(h int64) int64, issue func(h int64) int64) (changed bool) {
	pruneFcs := func(h int64, hs *hourState, iss int64) {
		for i := range hs.fcs {
			vs := hs.fcs[i].vs
			j := sort.Search(len(vs), func(j int) bool { return vs[j].At > iss })
			if j > 1 {
				hs.fcs[i].vs = slices.Clone(vs[j-1:])
				s.touch(h)
				changed = true
			}
		}
	}
	// dropBelow walks every hour held: what a first prune, or one with
	// more hours to drop than are held, does.
	dropBelow := func() {
		for h := range s.hours {
			if h < cutoff {
				s.drop(h)
				s.touch(h)
				changed = true
			}
		}
	}
	if !s.scanned || s.odd {
		dropBelow()
		s.floor = cutoff
		for h := range s.hours {
			s.floor = min(s.floor, h)
		}
		// Forecasts: every hour up to the settled bound.
		s.settled = bound(max(s.floor, cutoff))
		for h, hs := range s.hours {
			if h < s.settled && len(hs.fcs) > 0 {
				pruneFcs(h, hs, issue(h))
			}
		}
		s.scanned = true
		return changed
	}
	if s.floor < cutoff {
		if int((cutoff-s.floor)/3600) <= len(s.hours) {
			for h := s.floor - s.floor%3600; h < cutoff; h += 3600 {
				if _, ok := s.hours[h]; ok {
					s.drop(h)
					s.touch(h)
					changed = true
				}
			}
			// An hour key is a whole hour; anything else was never stored.
		} else {
			dropBelow()
		}
		s.floor = cutoff
	}
	from := max(s.settled, cutoff)
	to := bound(from)
	if to > from {
		if int((to-from)/3600) <= len(s.hours) {
			for h := from; h < to; h += 3600 {
				if hs := s.at(h); hs != nil && len(hs.fcs) > 0 {
					pruneFcs(h, hs, issue(h))
				}
			}
		} else {
			for h, hs := range s.hours {
				if h >= from && h < to && len(hs.fcs) > 0 {
					pruneFcs(h, hs, issue(h))
				}
			}
		}
	}
	s.settled = max(s.settled, to)
	return changed
}
