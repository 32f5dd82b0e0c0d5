package monitor

import (
	"cmp"
	"maps"
	"slices"
	"sync"

	"github.com/wattcast/wattcast/schemas"
)

// Forecasts keeps, from the forecasts topic, the latest official forecast
// of each region and the latest forecast of each model version in it, and
// counts the forecasts per model. Safe for concurrent use.
type Forecasts struct {
	mu sync.RWMutex
	// recent holds each region's latest official forecasts by issue time,
	// at most maxRecentOfficial; the last is the latest.
	recent  map[string][]*schemas.Forecast
	byModel map[string]map[ModelKey]*schemas.Forecast
	counts  map[forecastCountKey]int64
}

// maxRecentOfficial is how many official forecasts of a region
// RecentOfficial keeps: today's and tomorrow's, which together hold every
// hour not yet ended once tomorrow's is issued, and a spare for a day
// forecast twice (a new champion's first forecast).
const maxRecentOfficial = 3

type forecastCountKey struct {
	region string
	ModelKey
	role     string
	official bool
}

// NewForecasts returns an empty store.
func NewForecasts() *Forecasts {
	return &Forecasts{recent: map[string][]*schemas.Forecast{}, byModel: map[string]map[ModelKey]*schemas.Forecast{},
		counts: map[forecastCountKey]int64{}}
}

// Add records a forecast. The latest is the one with the latest issue time;
// a re-read of an older forecast changes nothing but the count, which is why
// the counter is only reset with the store.
func (s *Forecasts) Add(f *schemas.Forecast) {
	k := ModelKey{f.ModelID, f.ModelVersion}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[forecastCountKey{f.Region, k, f.Role, f.Official}]++
	if f.Official {
		s.recent[f.Region] = addRecent(s.recent[f.Region], f)
	}
	m := s.byModel[f.Region]
	if m == nil {
		m = map[ModelKey]*schemas.Forecast{}
		s.byModel[f.Region] = m
	}
	if cur := m[k]; cur == nil || !f.IssueTime.Before(cur.IssueTime) {
		m[k] = f
	}
}

// Latest returns the latest official forecast of region. The returned value
// must not be modified.
func (s *Forecasts) Latest(region string) (*schemas.Forecast, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.recent[region]
	if len(r) == 0 {
		return nil, false
	}
	return r[len(r)-1], true
}

// RecentOfficial returns the region's latest official forecasts, oldest
// issue first (at most maxRecentOfficial): where two cover the same hour,
// the later one is the official forecast of that hour now. The values must
// not be modified.
func (s *Forecasts) RecentOfficial(region string) []*schemas.Forecast {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.recent[region])
}

// addRecent inserts f into recent (sorted by issue time; a forecast read
// again is not added twice) and drops the oldest beyond maxRecentOfficial.
func addRecent(recent []*schemas.Forecast, f *schemas.Forecast) []*schemas.Forecast {
	if slices.ContainsFunc(recent, func(g *schemas.Forecast) bool { return g.ForecastID == f.ForecastID }) {
		return recent
	}
	// After every forecast issued at or before f: of two issued at the same
	// time, the one read later is the newer.
	i, _ := slices.BinarySearchFunc(recent, f, func(g, f *schemas.Forecast) int {
		if g.IssueTime.After(f.IssueTime) {
			return 1
		}
		return -1
	})
	recent = slices.Insert(recent, i, f)
	if len(recent) > maxRecentOfficial {
		recent = slices.Delete(recent, 0, len(recent)-maxRecentOfficial)
	}
	return recent
}

// LatestByModel returns the latest forecast of every model version of
// region, sorted by model. The values must not be modified.
func (s *Forecasts) LatestByModel(region string) []*schemas.Forecast {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*schemas.Forecast, 0, len(s.byModel[region]))
	for _, f := range s.byModel[region] {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *schemas.Forecast) int {
		return cmp.Or(cmp.Compare(a.ModelID, b.ModelID), cmp.Compare(a.ModelVersion, b.ModelVersion))
	})
	return out
}

// Regions lists the regions with an official forecast, sorted.
func (s *Forecasts) Regions() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.recent))
}

// ForecastCount is the number of forecasts seen for a model version in a
// region, role and officialness.
type ForecastCount struct {
	Region, ModelID, Version, Role string
	Official                       bool
	N                              int64
}

// Counts returns the forecast counts.
func (s *Forecasts) Counts() []ForecastCount {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]ForecastCount, 0, len(s.counts))
	for k, n := range s.counts {
		out = append(out, ForecastCount{k.region, k.ModelID, k.Version, k.role, k.official, n})
	}
	return out
}
