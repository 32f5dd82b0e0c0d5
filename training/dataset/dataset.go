// Package dataset turns a plain CSV of prices and exogenous columns into
// the final feature rows the models train and backtest on, through the same
// code the streaming pipeline runs: streams/csvimport reads the CSV with a
// declared column mapping (each exogenous column known-ahead or observed,
// with when it became known), and processors/features computes the rows as
// the processor would from those records. So a backtest on a CSV sees
// exactly what the live pipeline would have seen, no more.
package dataset

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/csvimport"
)

// Options says how to read a CSV.
type Options struct {
	// Mapping describes the columns (csvimport; see docs/import.md).
	Mapping csvimport.Mapping
	// Region describes the market (time zone, holidays, issue time) when
	// the mapping's region is not one of features.DefaultRegions.
	Region *features.Region
	// From and To, when set, keep only periods starting in [From, To).
	From, To time.Time
	// Strict stops at the first bad CSV row, returning its
	// *csvimport.RowError; by default bad rows are skipped and counted in
	// Info (and when no price is left, Read returns a *NoPricesError
	// naming the first).
	Strict bool
	// TimeHint and PriceHint say, in a *NoPricesError, how the time and
	// the price columns are set, e.g. "--time-column and --time-format"
	// for a command; default: the mapping's keys.
	TimeHint, PriceHint string
}

// NoPricesError is returned when no price was read from the CSV: every row
// was rejected, skipped or had an empty price cell. It carries the first
// rejected row, which usually says what is wrong with the mapping (a time
// format that does not match, a price column that holds no numbers).
type NoPricesError struct {
	// File names the CSV.
	File string
	// Rows counts the data rows whose time was read; Rejected the bad
	// rows; Skipped those dropped on purpose and Missing those without a
	// price.
	Rows, Rejected, Skipped, Missing int
	// First is the first rejected row, or nil.
	First *csvimport.RowError
	// TimeColumn and PriceColumn are the mapping's columns; TimeHint and
	// PriceHint say where they are set (Options).
	TimeColumn, PriceColumn string
	TimeHint, PriceHint     string
}

func (e *NoPricesError) Error() string {
	var b strings.Builder
	var counts []string
	if e.Rejected > 0 {
		counts = append(counts, fmt.Sprintf("%d rows rejected", e.Rejected))
	}
	if e.Skipped > 0 {
		counts = append(counts, fmt.Sprintf("%d skipped", e.Skipped))
	}
	if e.Missing > 0 {
		counts = append(counts, fmt.Sprintf("%d without a price", e.Missing))
	}
	if len(counts) == 0 {
		counts = append(counts, "it has no data rows")
	}
	fmt.Fprintf(&b, "dataset: no prices in %s: %s", e.File, strings.Join(counts, ", "))
	if f := e.First; f != nil {
		fmt.Fprintf(&b, "; the first rejected row is line %d", f.Line)
		if f.Column != "" {
			fmt.Fprintf(&b, ", column %q value %q", f.Column, f.Value)
		}
		fmt.Fprintf(&b, ": %v", f.Err)
		if f.Column == e.TimeColumn {
			fmt.Fprintf(&b, "; check %s", e.TimeHint)
		} else if f.Column == e.PriceColumn {
			fmt.Fprintf(&b, "; check %s", e.PriceHint)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "; check %s", e.PriceHint)
	return b.String()
}

// Unwrap returns the first rejected row.
func (e *NoPricesError) Unwrap() error {
	if e.First == nil {
		return nil
	}
	return e.First
}

// Info reports what was read.
type Info struct {
	CSVRows      int
	Prices       int
	Observations int
	Forecasts    int
	// Rejected counts CSV rows that could not be read, and RejectedInputs
	// records the feature engine refused (late or invalid).
	Rejected       int
	RejectedInputs int
	FirstRejected  string
	// Rows is the number of final feature rows.
	Rows int
}

// Load reads a CSV (gzip-compressed when its name ends in .gz) and returns
// its final feature rows, sorted by hour.
func Load(path string, opts Options) ([]schemas.FeatureRow, Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Info{}, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, Info{}, fmt.Errorf("dataset: %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	return Read(r, path, opts)
}

// Read is Load on an open reader; name labels errors.
func Read(r io.Reader, name string, opts Options) ([]schemas.FeatureRow, Info, error) {
	res, err := csvimport.Parse(r, opts.Mapping, csvimport.Options{File: name, Lenient: !opts.Strict, From: opts.From, To: opts.To})
	if err != nil {
		return nil, Info{}, fmt.Errorf("dataset: %w", err)
	}
	info := Info{CSVRows: res.Rows, Prices: len(res.Prices), Observations: len(res.Observations),
		Forecasts: len(res.Forecasts), Rejected: len(res.Rejected)}
	if len(res.Rejected) > 0 {
		info.FirstRejected = res.Rejected[0].Error()
	}
	if len(res.Prices) == 0 {
		e := &NoPricesError{File: name, Rows: res.Rows, Rejected: len(res.Rejected), Missing: res.MissingPrices,
			TimeColumn: opts.Mapping.Time.Column, PriceColumn: opts.Mapping.Price.Column, TimeHint: opts.TimeHint, PriceHint: opts.PriceHint}
		if e.TimeHint == "" {
			e.TimeHint = "the mapping's time column and its format (time.column, time.format, time.zone)"
		}
		if e.PriceHint == "" {
			e.PriceHint = "the mapping's price column (price.column)"
		}
		for _, n := range res.Skipped {
			e.Skipped += n
		}
		if len(res.Rejected) > 0 {
			e.First = res.Rejected[0]
		}
		return nil, info, e
	}
	cfg := features.Config{}
	if opts.Region != nil {
		cfg.Regions = map[string]features.Region{opts.Mapping.Region: *opts.Region}
	} else if _, ok := features.DefaultRegions()[opts.Mapping.Region]; !ok {
		return nil, info, fmt.Errorf("dataset: region %q is not one wattcast knows (features.DefaultRegions), so it has no default time zone: "+
			"describe it in Options.Region (wattcast backtest: --zone, --country, --issue-time)", opts.Mapping.Region)
	}
	out, err := features.Batch(cfg, res.Prices, res.Observations, res.Forecasts)
	if err != nil {
		return nil, info, fmt.Errorf("dataset: features: %w", err)
	}
	info.RejectedInputs = len(out.Rejected)
	if info.FirstRejected == "" && len(out.Rejected) > 0 {
		info.FirstRejected = out.Rejected[0].Error()
	}
	rows := out.Final
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Hour.Before(rows[j].Hour) })
	info.Rows = len(rows)
	return rows, info, nil
}
