package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wattcast/wattcast/streams/csvimport"
	"github.com/wattcast/wattcast/training/backtest"
	"github.com/wattcast/wattcast/training/dataset"
	"github.com/wattcast/wattcast/training/models"
)

func backtestCommand() *command {
	return &command{
		name:    "backtest",
		summary: "backtest the models on a CSV of prices and exogenous columns (your own market)",
		usage:   "wattcast backtest --data FILE.csv --test-start DATE --test-end DATE [--preset NAME | --mapping FILE.json | --price-column COL ...] [flags]",
		uses:    sharedNone,
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			var (
				dataPath   = fs.String("data", "", "the CSV file (.csv or .csv.gz); required")
				testStart  = fs.String("test-start", "", "first local delivery day of the test period, YYYY-MM-DD; required")
				testEnd    = fs.String("test-end", "", "last local delivery day of the test period, YYYY-MM-DD; required")
				mapping    = fs.String("mapping", "", "a JSON column mapping (docs/import.md)")
				preset     = fs.String("preset", "", "a built-in mapping: "+strings.Join(csvimport.Presets(), ", "))
				timeCol    = fs.String("time-column", "", "without --mapping/--preset: the column with each hour's start")
				timeFormat = fs.String("time-format", "rfc3339", `its format: rfc3339, unix, unixms, or a Go layout such as "2006-01-02 15:04"`)
				timeZone   = fs.String("time-zone", "", "zone of timestamps without an offset: IANA name or +HH:MM")
				priceCol   = fs.String("price-column", "", "without --mapping/--preset: the price column")
				unit       = fs.String("unit", "EUR/MWh", "price unit: EUR/MWh, c/kWh, p/kWh or GBP/MWh")
				currency   = fs.String("currency", "EUR", "price currency")
				known      listFlag
				observed   listFlag
				issued     = fs.String("known-ahead-issued", "", `when known-ahead columns for day D were issued (default "D-1 09:00 <zone>")`)
				published  = fs.String("published", "", `when day D's prices were published (default "D-1 12:00 <zone>")`)
				region     = fs.String("region", "", "region id, e.g. FI, DK1, GB-A: a known one needs no --zone (default: the mapping's, or MARKET)")
				zone       = fs.String("zone", "", "the market's IANA time zone; required for regions wattcast does not know, default the known region's")
				country    = fs.String("country", "", "ISO country code for public holidays (default the known region's)")
				issueTime  = fs.String("issue-time", "10:00", "local time on D-1 at which the forecast for D is issued (default the known region's)")
				kinds      = listFlag{models.KindNaiveWeekly, models.KindNaiveStandard, models.KindLEAR, models.KindGRU, models.KindEnsemble}
				learWin    listFlag
				recal      = fs.Int("recalibrate-every", 7, "refit every model every N days (epftoolbox: 1)")
				recalGRU   = fs.Int("recalibrate-gru", 91, "refit the GRU every N days (warm start)")
				seed       = fs.Uint64("seed", 1, "random seed of every fit")
				hourly     = fs.Bool("hourly", false, "also print MAE and rMAE per hour of day")
				window     = fs.Int("window-hours", 3, "the load whose decision value is reported (capNh): each day, the model's cheapest N hours in a row priced at the actual prices")
				jsonOut    = fs.String("json", "", "write the full result (metrics per hour, intervals, timings) to this JSON file")
			)
			fs.Var(&known, "known-ahead", "without --mapping/--preset: comma-separated forecast columns (usable for the hour they forecast)")
			fs.Var(&observed, "observed", "without --mapping/--preset: comma-separated measured columns (usable once their hour has passed)")
			fs.Var(&kinds, "models", "models to backtest: "+strings.Join(models.Kinds(), ", "))
			fs.Var(&learWin, "lear-windows", "LEAR's calibration windows in days, comma separated (default 56,84,1092,1456, epftoolbox's; a window longer than the history uses all of it)")
			strict := fs.Bool("strict", false, "stop at the first bad CSV row instead of skipping it (skipped rows are counted and the first is shown)")
			return func(rc *runContext) error {
				if *dataPath == "" || *testStart == "" || *testEnd == "" {
					return errors.New("backtest: --data, --test-start and --test-end are required")
				}
				set := map[string]bool{}
				fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
				// Everything the flags alone decide is checked before the
				// CSV is read.
				if err := checkBacktestFlags(*testStart, *testEnd, kinds, *window, *recal, *recalGRU); err != nil {
					return err
				}
				lear, err := learParams(learWin)
				if err != nil {
					return err
				}
				if *timeZone != "" {
					if _, err := csvimport.LoadZone(*timeZone); err != nil {
						return fmt.Errorf("backtest: --time-zone: %v", err)
					}
				}
				if *jsonOut != "" {
					if st, err := os.Stat(filepath.Dir(*jsonOut)); err != nil || !st.IsDir() {
						return fmt.Errorf("backtest: --json %s: its directory %s does not exist", *jsonOut, filepath.Dir(*jsonOut))
					}
				}
				var (
					m      csvimport.Mapping
					source string // where the mapping comes from, for messages
				)
				switch {
				case *preset != "" && *mapping != "":
					return errors.New("backtest: give --preset or --mapping, not both")
				case *preset != "":
					source = "preset " + *preset
					m, err = csvimport.Preset(*preset)
				case *mapping != "":
					source = *mapping
					m, err = csvimport.ReadMapping(*mapping)
				case *timeCol == "" || *priceCol == "":
					return errors.New("backtest: give --preset, --mapping, or --time-column and --price-column (see docs/backtest.md)")
				}
				if err != nil {
					return fmt.Errorf("backtest: %w", err)
				}
				regionID := *region
				if regionID == "" {
					regionID = m.Region
				}
				if regionID == "" {
					regionID = "MARKET"
				}
				reg, err := backtestRegion(regionID, *zone, *country, *issueTime, set, source)
				if err != nil {
					return err
				}
				if source == "" {
					m, err = plainMapping(*timeCol, *timeFormat, *timeZone, *priceCol, *unit, *currency, regionID, reg.Zone, *issued, *published, known, observed)
					if err != nil {
						return fmt.Errorf("backtest: %w", err)
					}
				} else {
					m.Region = regionID
					if *timeZone != "" {
						m.Time.Zone = *timeZone
					}
					if m.Time.Zone == "" && m.Time.NeedsZone() {
						return fmt.Errorf("backtest: the times in %s (format %q) have no UTC offset: give --time-zone (an IANA zone such as Europe/Brussels, or +01:00) or set time.zone in the mapping", source, m.Time.Format)
					}
					if err := m.Validate(); err != nil {
						return fmt.Errorf("backtest: mapping %s: %w", source, err)
					}
				}
				var specs []models.Spec
				for _, k := range kinds {
					s := models.Spec{Kind: k}
					if k == models.KindLEAR {
						s.LEAR = lear
					}
					specs = append(specs, s)
				}
				t0 := time.Now()
				fmt.Fprintf(rc.out, "reading %s and computing features ...\n", *dataPath)
				th, ph := loadHints(m, source)
				rows, info, err := dataset.Load(*dataPath, dataset.Options{Mapping: m, Region: reg, Strict: *strict, TimeHint: th, PriceHint: ph})
				if err != nil {
					return explainLoadError(err, *strict)
				}
				fmt.Fprintf(rc.out, "%d CSV rows -> %d prices, %d observed and %d known-ahead values -> %d feature rows (%d rows rejected) in %s\n",
					info.CSVRows, info.Prices, info.Observations, info.Forecasts, info.Rows, info.Rejected+info.RejectedInputs, time.Since(t0).Round(time.Millisecond))
				if info.FirstRejected != "" {
					fmt.Fprintf(rc.out, "  first rejected: %s\n", info.FirstRejected)
				}
				res, err := backtest.Run(rc, rows, specs, backtest.Config{
					TestStart: *testStart, TestEnd: *testEnd, RecalibrateEvery: *recal,
					RecalibrateKind: map[string]int{models.KindGRU: *recalGRU}, WarmStart: true,
					Seed: *seed, WindowHours: *window, Progress: rc.out, Log: rc.log,
				})
				if err != nil {
					return err
				}
				if err := backtest.WriteTable(rc.stdout, res); err != nil {
					return err
				}
				for _, pair := range [][2]string{{models.KindNaiveStandard, models.KindGRU}, {models.KindLEAR, "ensemble(gru+lear)"}} {
					if d, err := res.DM(pair[0], pair[1]); err == nil {
						fmt.Fprintf(rc.stdout, "Diebold-Mariano %s vs %s: DM %.2f, p %.4f (p < 0.05: the second is more accurate)\n", pair[0], pair[1], d.Stat, d.PValue)
					}
				}
				if *hourly {
					fmt.Fprintln(rc.stdout)
					if err := backtest.WriteHourly(rc.stdout, res); err != nil {
						return err
					}
				}
				if *jsonOut != "" {
					b, err := json.MarshalIndent(res, "", "  ")
					if err != nil {
						return fmt.Errorf("backtest: %w", err)
					}
					if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
						return fmt.Errorf("backtest: %w", err)
					}
				}
				return nil
			}
		},
	}
}

// plainMapping builds a column mapping from flags for a plain hourly CSV of
// region, whose market's time zone is zone.
func plainMapping(timeCol, timeFormat, timeZone, priceCol, unit, currency, region, zone, issued, published string, known, observed []string) (csvimport.Mapping, error) {
	if timeCol == "" || priceCol == "" {
		return csvimport.Mapping{}, errors.New("give --preset, --mapping, or --time-column and --price-column (see docs/backtest.md)")
	}
	if issued == "" {
		issued = "D-1 09:00 " + zone
	}
	if published == "" {
		published = "D-1 12:00 " + zone
	}
	pub, err := csvimport.ParseRule(published)
	if err != nil {
		return csvimport.Mapping{}, fmt.Errorf("--published: %w", err)
	}
	if timeZone == "" && (csvimport.TimeColumn{Format: timeFormat}).NeedsZone() {
		return csvimport.Mapping{}, fmt.Errorf("--time-format %q has no UTC offset: give --time-zone, the zone of the times in --time-column (an IANA zone such as Europe/Brussels, or +01:00)", timeFormat)
	}
	m := csvimport.Mapping{
		Name: "backtest", Time: csvimport.TimeColumn{Column: timeCol, Format: timeFormat, Zone: timeZone},
		Period: csvimport.Duration(time.Hour), Price: csvimport.PriceColumn{Column: priceCol, Unit: unit, Currency: currency},
		Region: region, Market: "csv", Published: pub, SkipRowsWithoutPrice: true,
	}
	if len(known) > 0 {
		rule, err := csvimport.ParseRule(issued)
		if err != nil {
			return csvimport.Mapping{}, fmt.Errorf("--known-ahead-issued: %w", err)
		}
		for _, c := range known {
			m.Exogenous = append(m.Exogenous, csvimport.Exogenous{Column: c, Kind: csvimport.KnownAhead, Issued: rule})
		}
	}
	for _, c := range observed {
		m.Exogenous = append(m.Exogenous, csvimport.Exogenous{Column: c, Kind: csvimport.Observed})
	}
	return m, m.Validate()
}

// learParams turns --lear-windows into LEAR's parameters: nil (the
// defaults) when it is empty.
func learParams(windows []string) (*models.LEARParams, error) {
	if len(windows) == 0 {
		return nil, nil
	}
	p := &models.LEARParams{}
	for _, w := range windows {
		d, err := strconv.Atoi(w)
		if err != nil || d < 8 {
			return nil, fmt.Errorf("backtest: --lear-windows %q: want whole numbers of days, each at least 8, e.g. 56,84,364,728", strings.Join(windows, ","))
		}
		p.Windows = append(p.Windows, d)
	}
	return p, nil
}
