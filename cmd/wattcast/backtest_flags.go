package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wattcast/wattcast/processors/calendar"
	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/streams/csvimport"
	"github.com/wattcast/wattcast/training/models"
)

// checkBacktestFlags checks what the backtest's flags alone decide, so that
// a typo is reported before the CSV is read and the features computed.
func checkBacktestFlags(testStart, testEnd string, kinds []string, window, recal, recalGRU int) error {
	start, err := time.Parse(time.DateOnly, testStart)
	if err != nil {
		return fmt.Errorf("backtest: --test-start %q: want a local date YYYY-MM-DD, e.g. 2021-08-01", testStart)
	}
	end, err := time.Parse(time.DateOnly, testEnd)
	if err != nil {
		return fmt.Errorf("backtest: --test-end %q: want a local date YYYY-MM-DD, e.g. 2021-08-07", testEnd)
	}
	if end.Before(start) {
		return fmt.Errorf("backtest: --test-end %s is before --test-start %s: the test period is empty (both days are included)", testEnd, testStart)
	}
	if len(kinds) == 0 {
		return fmt.Errorf("backtest: --models is empty: give one or more of %s, comma separated", strings.Join(models.Kinds(), ", "))
	}
	seen := map[string]bool{}
	for _, k := range kinds {
		if !slices.Contains(models.Kinds(), k) {
			return fmt.Errorf("backtest: --models: unknown model %q: want one or more of %s, comma separated", k, strings.Join(models.Kinds(), ", "))
		}
		if seen[k] {
			return fmt.Errorf("backtest: --models lists %q twice", k)
		}
		seen[k] = true
	}
	if window < 1 || window > 24 {
		return fmt.Errorf("backtest: --window-hours %d: want 1 to 24", window)
	}
	if recal < 1 {
		return fmt.Errorf("backtest: --recalibrate-every %d: want a number of days, at least 1", recal)
	}
	if recalGRU < 1 {
		return fmt.Errorf("backtest: --recalibrate-gru %d: want a number of days, at least 1", recalGRU)
	}
	return nil
}

// knownRegions lists the ids of features.DefaultRegions for messages, the
// Octopus regions as a range.
func knownRegions() string {
	var ids []string
	gb := false
	for id := range features.DefaultRegions() {
		if strings.HasPrefix(id, "GB-") {
			gb = true
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if gb {
		ids = append(ids, "GB-A..GB-P")
	}
	return strings.Join(ids, ", ")
}

// backtestRegion describes the market of region id: a region wattcast
// knows (features.DefaultRegions) needs no flag, and --zone, --country and
// --issue-time (when given) override its description; any other region
// needs --zone. set holds the flags given; source names the mapping the
// region came from ("" for flags).
func backtestRegion(id, zone, country, issueTime string, set map[string]bool, source string) (*features.Region, error) {
	def, known := features.DefaultRegions()[id]
	if !known && zone == "" {
		from := ""
		switch {
		case set["region"]:
		case source != "":
			from = fmt.Sprintf(" (the \"region\" of %s)", source)
		default:
			from = " (the default without --region)"
		}
		return nil, fmt.Errorf("backtest: region %q%s is not one wattcast knows (%s): give --zone (its IANA time zone, e.g. Europe/Helsinki), "+
			"--country (ISO code for public holidays; optional) and --issue-time (the local time on D-1 at which the forecast for D is issued; default 10:00), "+
			"or --region with a known id", id, from, knownRegions())
	}
	r := def
	if !known {
		r = features.Region{}
	}
	if zone != "" {
		if _, err := time.LoadLocation(zone); err != nil || zone == "Local" {
			return nil, fmt.Errorf("backtest: --zone %q is not an IANA time zone name, e.g. Europe/Helsinki", zone)
		}
		r.Zone = zone
	}
	if set["country"] || !known {
		r.Country = country
	}
	if set["issue-time"] || !known {
		r.IssueTime = issueTime
	}
	if _, err := calendar.New(r.Zone, r.Country); err != nil {
		return nil, fmt.Errorf("backtest: --country: %w", err)
	}
	var h, m int
	if _, err := fmt.Sscanf(strings.TrimSpace(r.IssueTime), "%d:%d", &h, &m); err != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return nil, fmt.Errorf("backtest: --issue-time %q: want HH:MM, the local time on D-1 at which the forecast for D is issued, e.g. 10:00", r.IssueTime)
	}
	return &r, nil
}

// loadHints says, for a dataset.NoPricesError, where the time and price
// columns are set: flags, a mapping file, or a preset.
func loadHints(m csvimport.Mapping, source string) (timeHint, priceHint string) {
	switch {
	case source == "":
		return fmt.Sprintf("--time-column (%q) and --time-format (%q: rfc3339, unix, unixms, or a Go layout such as \"2006-01-02 15:04\"), and --time-zone for times without an offset", m.Time.Column, m.Time.Format),
			fmt.Sprintf("--price-column (%q)", m.Price.Column)
	case strings.HasPrefix(source, "preset "):
		return fmt.Sprintf("that --data is a file %s reads (its times are %q in column %q; see docs/import.md)", source, m.Time.Format, m.Time.Column),
			fmt.Sprintf("that --data is a file %s reads (its prices are in column %q)", source, m.Price.Column)
	}
	return fmt.Sprintf("time.column (%q), time.format (%q) and time.zone in %s, or --time-zone", m.Time.Column, m.Time.Format, source),
		fmt.Sprintf("price.column (%q) in %s", m.Price.Column, source)
}

// explainLoadError names the flag to change when --strict stopped at a bad
// row.
func explainLoadError(err error, strict bool) error {
	var re *csvimport.RowError
	if strict && errors.As(err, &re) {
		return fmt.Errorf("backtest: --strict stopped at the first bad row (without --strict bad rows are skipped and counted): %w", err)
	}
	return fmt.Errorf("backtest: %w", err)
}
