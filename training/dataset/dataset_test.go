package dataset

import (
	"strings"
	"testing"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/streams/csvimport"
)

// The shipped Finland slice becomes one final row per priced hour, and no
// row carries a forecast issued after its issue time.
func TestLoadShippedSlice(t *testing.T) {
	t.Parallel()
	m, err := csvimport.Preset("entsoe-FI")
	if err != nil {
		t.Fatal(err)
	}
	rows, info, err := Load("../testdata/entsoe_FI_2021H1.csv.gz", Options{Mapping: m,
		Region: &features.Region{Zone: "Europe/Helsinki", Country: "FI", IssueTime: "10:00"}})
	if err != nil {
		t.Fatal(err)
	}
	if info.CSVRows != 4344 || info.Rows != info.Prices || info.Rejected != 0 {
		t.Fatalf("info %+v: want 4344 CSV rows, one feature row per price, nothing rejected", info)
	}
	for i, r := range rows {
		if !r.Final || r.Price == nil {
			t.Fatalf("row %d is not final", i)
		}
		if i > 0 && !rows[i-1].Hour.Before(r.Hour) {
			t.Fatalf("rows not sorted by hour at %d", i)
		}
		if r.KnownAheadIssuedAt != nil && r.KnownAheadIssuedAt.After(r.IssueTime) {
			t.Fatalf("row %s uses a forecast issued %s, after its issue time %s", r.Hour, r.KnownAheadIssuedAt, r.IssueTime)
		}
	}
}

func TestLoadNeedsAZoneForUnknownRegions(t *testing.T) {
	t.Parallel()
	m, _ := csvimport.Preset("entsoe-FI")
	m.Region = "ATLANTIS"
	_, _, err := Load("../testdata/entsoe_FI_2021H1.csv.gz", Options{Mapping: m})
	if err == nil || !strings.Contains(err.Error(), "time zone") {
		t.Fatalf("err = %v; want a request for the region's time zone", err)
	}
}
