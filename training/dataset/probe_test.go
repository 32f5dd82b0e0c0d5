package dataset

import (
	"testing"
	"time"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/streams/csvimport"
)

func TestProbe(t *testing.T) {
	m, _ := csvimport.Preset("entsoe-FI")
	t0 := time.Now()
	rows, info, err := Load("/work/shared/data/entsoe/FI.csv", Options{Mapping: m, Region: &features.Region{Zone: "Europe/Helsinki", Country: "FI", IssueTime: "10:00"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v %+v", time.Since(t0), info)
	r := rows[len(rows)-30]
	t.Logf("%+v", r)
	lp := r.LastPriceHour
	t.Logf("last price hour %v", lp)
}
