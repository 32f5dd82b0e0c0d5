package monitor

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// RecentOfficial keeps a region's last official forecasts by issue time,
// whatever order the topic's partitions deliver them in: a forecast read
// again is kept once, shadow forecasts and other regions never, and only
// the newest maxRecentOfficial stay.
func TestRecentOfficial(t *testing.T) {
	t.Parallel()
	day := time.Date(2024, 5, 6, 10, 0, 0, 0, time.UTC)
	fc := func(d int, official bool, region string) *schemas.Forecast {
		issue := day.AddDate(0, 0, d)
		return &schemas.Forecast{ForecastID: fmt.Sprintf("%s/lear/1/%s/%t", region, issue.Format(time.RFC3339), official), Region: region,
			ModelID: "lear", ModelVersion: "1", IssueTime: issue, Official: official}
	}
	tests := []struct {
		name string
		add  []*schemas.Forecast
		want []int // issue days of FI's recent official forecasts, oldest first
	}{
		{"in order", []*schemas.Forecast{fc(0, true, "FI"), fc(1, true, "FI")}, []int{0, 1}},
		{"out of order", []*schemas.Forecast{fc(2, true, "FI"), fc(0, true, "FI"), fc(1, true, "FI")}, []int{0, 1, 2}},
		{"read again", []*schemas.Forecast{fc(0, true, "FI"), fc(1, true, "FI"), fc(0, true, "FI")}, []int{0, 1}},
		{"the newest three", []*schemas.Forecast{fc(0, true, "FI"), fc(1, true, "FI"), fc(2, true, "FI"), fc(3, true, "FI"), fc(4, true, "FI")}, []int{2, 3, 4}},
		{"an old one late", []*schemas.Forecast{fc(2, true, "FI"), fc(3, true, "FI"), fc(4, true, "FI"), fc(0, true, "FI")}, []int{2, 3, 4}},
		{"official only, this region only", []*schemas.Forecast{fc(0, true, "FI"), fc(1, false, "FI"), fc(2, true, "SE3")}, []int{0}},
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
				got = append(got, int(f.IssueTime.Sub(day)/(24*time.Hour)))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("recent official issue days %v, want %v", got, tt.want)
			}
			if latest, ok := s.Latest("FI"); ok != (len(tt.want) > 0) || ok && !latest.IssueTime.Equal(day.AddDate(0, 0, tt.want[len(tt.want)-1])) {
				t.Errorf("Latest disagrees with RecentOfficial: %v", latest)
			}
		})
	}
}
