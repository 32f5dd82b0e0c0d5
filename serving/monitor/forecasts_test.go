package monitor

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// RecentOfficial keeps the latest official forecast of each of a region's
// last local dates, oldest issue first, whatever order the topic's
// partitions deliver them in: a forecast read again is kept once, shadow
// forecasts and other regions never, and only the newest maxRecentDates
// dates stay; forecasts of one date (a promotion and a rollback each
// forecasting tomorrow again) replace each other, not an older date's.
func TestRecentOfficial(t *testing.T) {
	t.Parallel()
	day := time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)
	// fch is issued d days after day, at hour h, for the next day; fc at
	// hour 0.
	fch := func(d, h int, official bool, region string) *schemas.Forecast {
		issue := day.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
		return &schemas.Forecast{ForecastID: fmt.Sprintf("%s/lear/1/%s/%t", region, issue.Format(time.RFC3339), official), Region: region,
			ModelID: "lear", ModelVersion: "1", IssueTime: issue, Official: official, LocalDate: day.AddDate(0, 0, d+1).Format(time.DateOnly)}
	}
	fc := func(d int, official bool, region string) *schemas.Forecast { return fch(d, 0, official, region) }
	tests := []struct {
		name string
		add  []*schemas.Forecast
		want []int // issue day*10 + issue hour of FI's recent official forecasts, oldest first
	}{
		{"in order", []*schemas.Forecast{fc(0, true, "FI"), fc(1, true, "FI")}, []int{0, 10}},
		{"out of order", []*schemas.Forecast{fc(2, true, "FI"), fc(0, true, "FI"), fc(1, true, "FI")}, []int{0, 10, 20}},
		{"read again", []*schemas.Forecast{fc(0, true, "FI"), fc(1, true, "FI"), fc(0, true, "FI")}, []int{0, 10}},
		{"the newest three", []*schemas.Forecast{fc(0, true, "FI"), fc(1, true, "FI"), fc(2, true, "FI"), fc(3, true, "FI"), fc(4, true, "FI")}, []int{20, 30, 40}},
		{"an old one late", []*schemas.Forecast{fc(2, true, "FI"), fc(3, true, "FI"), fc(4, true, "FI"), fc(0, true, "FI")}, []int{20, 30, 40}},
		{"official only, this region only", []*schemas.Forecast{fc(0, true, "FI"), fc(1, false, "FI"), fc(2, true, "SE3")}, []int{0}},
		// Tomorrow forecast three times (a promotion's champion, then a
		// rollback's): the latest of them, and today's stays.
		{"a day forecast three times", []*schemas.Forecast{fc(0, true, "FI"), fc(1, true, "FI"), fch(1, 2, true, "FI"), fch(1, 4, true, "FI")}, []int{0, 14}},
		{"an earlier forecast of a date read late", []*schemas.Forecast{fc(0, true, "FI"), fch(1, 4, true, "FI"), fc(1, true, "FI")}, []int{0, 14}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewForecasts()
			for _, f := range tt.add {
				s.Add(f)
			}
			var got []int
			for _, f := range s.RecentOfficial("FI") {
				d := f.IssueTime.Sub(day)
				got = append(got, 10*int(d/(24*time.Hour))+int(d%(24*time.Hour)/time.Hour))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("recent official issue days %v, want %v", got, tt.want)
			}
			if latest, ok := s.Latest("FI"); ok != (len(tt.want) > 0) || ok && latest != s.RecentOfficial("FI")[len(tt.want)-1] {
				t.Errorf("Latest disagrees with RecentOfficial: %v", latest)
			}
		})
	}
}
