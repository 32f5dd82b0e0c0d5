package features

import (
	"slices"
	"sort"
	"strings"
)

// The state of one region. Times are Unix seconds; hours are the Unix
// seconds of the hour's start. In the changelog a region is stored as one
// small meta record plus one record per UTC day of event time (see chunk),
// so that a transaction rewrites only the days it touched and no record
// grows with the length of the history.
type regionState struct {
	Region string
	Market string
	Unit   string
	// Prices: hour -> sub-period start -> versions sorted by publication.
	Prices map[int64]map[int64][]version
	// Obs: hour -> location -> versions sorted by availability.
	Obs map[int64]map[string][]valuesAt
	// Fcs: valid hour -> location -> forecasts sorted by issue time.
	Fcs map[int64]map[string][]valuesAt
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

// setChunk replaces the state of one UTC day (nil: the day is empty).
func (s *regionState) setChunk(day int64, c *dayChunk) {
	for h := day * 86400; h < (day+1)*86400; h += 3600 {
		delete(s.Prices, h)
		delete(s.Obs, h)
		delete(s.Fcs, h)
	}
	if c == nil {
		return
	}
	for h, v := range c.Prices {
		s.Prices[h] = v
	}
	for h, v := range c.Obs {
		s.Obs[h] = v
	}
	for h, v := range c.Fcs {
		s.Fcs[h] = v
	}
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
		Prices:    map[int64]map[int64][]version{},
		Obs:       map[int64]map[string][]valuesAt{},
		Fcs:       map[int64]map[string][]valuesAt{},
		dirtyDays: map[int64]bool{},
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
	i := sort.Search(len(vs), func(i int) bool { return vs[i].At > asOf })
	if i == 0 {
		return 0, false
	}
	return vs[i-1].V, true
}

// latestValues returns the last values known at asOf.
func latestValues(vs []valuesAt, asOf int64) (valuesAt, bool) {
	i := sort.Search(len(vs), func(i int) bool { return vs[i].At > asOf })
	if i == 0 {
		return valuesAt{}, false
	}
	return vs[i-1], true
}

// price returns the hour's mean price as known at asOf and the number of
// sub-periods it averages.
func (s *regionState) price(hour, asOf int64) (float64, int, bool) {
	subs := s.Prices[hour]
	var sum float64
	n := 0
	for _, vs := range subs {
		if v, ok := latestVersion(vs, asOf); ok {
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
func (s *regionState) prune(cutoff int64, settled func(hour int64) (issue int64, ok bool)) (changed bool) {
	for h := range s.Prices {
		if h < cutoff {
			delete(s.Prices, h)
			s.touch(h)
			changed = true
		}
	}
	for h := range s.Obs {
		if h < cutoff {
			delete(s.Obs, h)
			s.touch(h)
			changed = true
		}
	}
	for h, locs := range s.Fcs {
		if h < cutoff {
			delete(s.Fcs, h)
			s.touch(h)
			changed = true
			continue
		}
		iss, ok := settled(h)
		if !ok {
			continue
		}
		for loc, vs := range locs {
			i := sort.Search(len(vs), func(i int) bool { return vs[i].At > iss })
			if i > 1 {
				locs[loc] = slices.Clone(vs[i-1:])
				s.touch(h)
				changed = true
			}
		}
	}
	return changed
}
