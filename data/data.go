// Package data ships the real history that `wattcast demo` replays, embedded
// in the binary so that the demo runs from any directory on a fresh clone.
//
// The files are gzip-compressed copies of public data sets; data/README.md
// gives their source and licence. Open returns a file decompressed.
package data

import (
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Names of the embedded data sets, as passed to Open.
const (
	// NordPoolFI is the Finland Nord Pool day-ahead price (c/kWh incl. VAT)
	// with hourly weather-station observations and grid series, 2023-01-01
	// .. 2024-09-06, timestamps in UTC.
	NordPoolFI = "nordpool_fi_price_weather_2023-2024.csv"
	// OctopusAgileA is the Octopus Energy Agile unit rate for GB region A
	// (Eastern England), half-hourly, p/kWh incl. VAT, 2018-02-19 ..
	// 2021-08-23. It has no header.
	OctopusAgileA = "octopus_agile_A_2018-2021.csv"
)

//go:embed *.csv.gz
var files embed.FS

// Names lists the embedded data sets.
func Names() []string {
	ents, _ := files.ReadDir(".")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".gz"))
	}
	sort.Strings(out)
	return out
}

// Open returns the decompressed content of the embedded data set name (one
// of Names). The caller closes it.
func Open(name string) (io.ReadCloser, error) {
	f, err := files.Open(name + ".gz")
	if err != nil {
		return nil, fmt.Errorf("data: no embedded data set %q (have %s)", name, strings.Join(Names(), ", "))
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data: %s: %w", name, err)
	}
	return &readCloser{zr, f}, nil
}

type readCloser struct {
	*gzip.Reader
	f io.Closer
}

func (r *readCloser) Close() error {
	err := r.Reader.Close()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	return err
}
