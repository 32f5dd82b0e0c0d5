package monitor

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// Forecasts keeps, from the forecasts topic, the latest official forecast
// of each region and the latest forecast of each model version in it, and
// counts the forecasts per model. Safe for concurrent use.
type Forecasts struct {
	mu sync.RWMutex
	// recent holds each region's latest official forecast of each of its
	// maxRecentDates latest local dates, sorted by local date.
	recent  map[string][]*schemas.Forecast
	byModel map[string]map[ModelKey]*schemas.Forecast
	counts  map[forecastCountKey]int64
}

// maxRecentDates is how many local dates of a region RecentOfficial keeps
// a forecast of (the latest issued for each date): today's and tomorrow's,
// which together hold every hour not yet ended once tomorrow's is issued,
// and yesterday's. Keeping dates rather than the last few forecasts means
// that a day forecast several times (a promotion, then a rollback, each
// with its own forecast of tomorrow) cannot push today's out.
const maxRecentDates = 3

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

// Latest returns the latest official forecast of region: the latest issued
// for its latest local date. The returned value must not be modified.
func (s *Forecasts) Latest(region string) (*schemas.Forecast, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.recent[region]
	if len(r) == 0 {
		return nil, false
	}
	return r[len(r)-1], true
}

// RecentOfficial returns the region's latest official forecast of each of
// its latest local dates (at most maxRecentDates), oldest issue first:
// where two cover the same hour, the later one is the official forecast of
// that hour now. The values must not be modified.
func (s *Forecasts) RecentOfficial(region string) []*schemas.Forecast {
	s.mu.RLock()
	out := slices.Clone(s.recent[region])
	s.mu.RUnlock()
	slices.SortStableFunc(out, func(a, b *schemas.Forecast) int { return a.IssueTime.Compare(b.IssueTime) })
	return out
}

// dateOf is the local date a forecast is for, which RecentOfficial keeps
// one forecast of: its local_date, else the UTC date of its first hour,
// else (no hours) its own id, so that it replaces nothing.
func dateOf(f *schemas.Forecast) string {
	switch {
	case f.LocalDate != "":
		return f.LocalDate
	case len(f.Points) > 0:
		return f.Points[0].Hour.UTC().Format(time.DateOnly)
	}
	return f.ForecastID
}

// addRecent records f in recent (sorted by local date, one forecast per
// date): it replaces the forecast of its date issued at or before it (of
// two issued at the same time, the one read later is the newer; a forecast
// read again changes nothing), and the oldest dates beyond maxRecentDates
// are dropped.
func addRecent(recent []*schemas.Forecast, f *schemas.Forecast) []*schemas.Forecast {
	d := dateOf(f)
	i, found := slices.BinarySearchFunc(recent, d, func(g *schemas.Forecast, d string) int { return cmp.Compare(dateOf(g), d) })
	if found {
		if g := recent[i]; g.ForecastID != f.ForecastID && !f.IssueTime.Before(g.IssueTime) {
			recent[i] = f
		}
		return recent
	}
	recent = slices.Insert(recent, i, f)
	if len(recent) > maxRecentDates {
		recent = slices.Delete(recent, 0, len(recent)-maxRecentDates)
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
