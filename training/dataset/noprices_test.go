package dataset

import (
	"errors"
	"strings"
	"testing"

	"github.com/wattcast/wattcast/streams/csvimport"
)

func plainMapping(format string) csvimport.Mapping {
	return csvimport.Mapping{Time: csvimport.TimeColumn{Column: "t", Format: format, Zone: "+01:00"}, Period: csvimport.Duration(3600e9),
		Price: csvimport.PriceColumn{Column: "p", Unit: "EUR/MWh", Currency: "EUR"}, Region: "FI", Market: "m",
		Published: csvimport.MustRule("D-1 12:45 Europe/Brussels")}
}

// When no price is read, the error counts the rejected rows and names the
// first, with a hint of what to check; Strict stops at the first bad row.
func TestNoPricesNamesTheFirstRejectedRow(t *testing.T) {
	t.Parallel()
	const csv = "t,p\n2021-01-01 00:00,10\n2021-01-01 01:00,11\n"
	tests := []struct {
		name     string
		csv      string
		format   string
		opts     Options
		rejected int
		want     []string
	}{
		{"time format", csv, "rfc3339", Options{}, 2,
			[]string{"no prices in x.csv: 2 rows rejected", "line 2", `column "t" value "2021-01-01 00:00"`, `does not match format "rfc3339"`, "time.format"}},
		{"time format, command hint", csv, "rfc3339", Options{TimeHint: "--time-format"}, 2,
			[]string{"2 rows rejected", "line 2", "check --time-format"}},
		{"price", "t,p\n2021-01-01 00:00,high\n", "2006-01-02 15:04", Options{PriceHint: "--price-column"}, 1,
			[]string{"1 rows rejected", `column "p" value "high": not a number`, "check --price-column"}},
		{"empty", "t,p\n", "2006-01-02 15:04", Options{}, 0, []string{"no data rows", "price.column"}},
		{"no price cells", "t,p\n2021-01-01 00:00,\n", "2006-01-02 15:04", Options{}, 0, []string{"1 without a price"}},
	}
	for _, tc := range tests {
		opts := tc.opts
		opts.Mapping = plainMapping(tc.format)
		_, _, err := Read(strings.NewReader(tc.csv), "x.csv", opts)
		var np *NoPricesError
		if !errors.As(err, &np) || np.Rejected != tc.rejected {
			t.Errorf("%s: err %v, want a *NoPricesError with %d rejected", tc.name, err, tc.rejected)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.name, err, w)
			}
		}
		var re *csvimport.RowError
		if (tc.rejected > 0) != errors.As(err, &re) {
			t.Errorf("%s: unwraps to a row error %v", tc.name, re)
		}
	}
	opts := Options{Mapping: plainMapping("rfc3339"), Strict: true}
	_, _, err := Read(strings.NewReader(csv), "x.csv", opts)
	var re *csvimport.RowError
	if !errors.As(err, &re) || re.Line != 2 {
		t.Errorf("strict: err %v, want the row error of line 2", err)
	}
}

func TestUnknownRegionNamesTheFlags(t *testing.T) {
	t.Parallel()
	m := plainMapping("2006-01-02 15:04")
	m.Region = "ZZ"
	_, _, err := Read(strings.NewReader("t,p\n2021-01-01 00:00,10\n"), "x.csv", Options{Mapping: m})
	for _, w := range []string{`"ZZ"`, "time zone", "--zone", "--country", "--issue-time"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("err %v does not say %q", err, w)
		}
	}
}
