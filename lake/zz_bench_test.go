package lake

import (
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

func BenchmarkZZEncodeFeatures(b *testing.B) {
	h := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	v := 1.5
	var rows []FeaturesRow
	for i := 0; i < 24; i++ {
		fr, _ := NewFeaturesRow(&schemas.FeatureRow{Region: "FI", Market: "m", Unit: "u", Hour: h.Add(time.Duration(i) * time.Hour), IssueTime: h, Final: true, Price: &v, Observed: map[string]float64{"a": 1}}, Lineage{"f", 0, int64(i)})
		rows = append(rows, fr)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(rows); err != nil {
			b.Fatal(err)
		}
	}
}
