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
	"errors"
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
	res, err := csvimport.Parse(r, opts.Mapping, csvimport.Options{File: name, Lenient: true, From: opts.From, To: opts.To})
	if err != nil {
		return nil, Info{}, fmt.Errorf("dataset: %w", err)
	}
	info := Info{CSVRows: res.Rows, Prices: len(res.Prices), Observations: len(res.Observations),
		Forecasts: len(res.Forecasts), Rejected: len(res.Rejected)}
	if len(res.Rejected) > 0 {
		info.FirstRejected = res.Rejected[0].Error()
	}
	if len(res.Prices) == 0 {
		return nil, info, errors.New("dataset: the CSV has no prices; check the mapping's price column")
	}
	cfg := features.Config{}
	if opts.Region != nil {
		cfg.Regions = map[string]features.Region{opts.Mapping.Region: *opts.Region}
	} else if _, ok := features.DefaultRegions()[opts.Mapping.Region]; !ok {
		return nil, info, fmt.Errorf("dataset: region %q has no default time zone; give its zone, country and issue time", opts.Mapping.Region)
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
