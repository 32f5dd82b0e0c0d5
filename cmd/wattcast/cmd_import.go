package main

import (
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wattcast/wattcast/streams/csvimport"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/source"
	bars "github.com/wattcast/wattcast/training/progress"
)

func importCommand() *command {
	return &command{
		name:    "import",
		summary: "publish a CSV of day-ahead prices and exogenous series (bring your own history)",
		usage:   "wattcast import --data FILE.csv (--preset NAME | --mapping FILE.json) [flags]",
		uses:    sharedKafka,
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			var (
				dataPath  = fs.String("data", "", "the CSV file to import (.csv or .csv.gz); required")
				mapping   = fs.String("mapping", "", "a JSON column mapping, see docs/import.md")
				preset    = fs.String("preset", "", "a built-in mapping: "+strings.Join(csvimport.Presets(), ", "))
				region    = fs.String("region", "", "override the mapping's region id, e.g. GB-C")
				market    = fs.String("market", "", "override the mapping's market name")
				published = fs.String("published", "", `override the price publication rule, e.g. "D-1 12:45 Europe/Brussels"`)
				timeZone  = fs.String("time-zone", "", "override the zone of local timestamps: IANA name or +HH:MM")
				from      = fs.String("from", "", "import only periods starting at or after this date (YYYY-MM-DD or RFC 3339, UTC)")
				to        = fs.String("to", "", "import only periods starting before this date")
				dryRun    = fs.Bool("dry-run", false, "parse and report; publish nothing")
				txID      = fs.String("transactional-id", "", "Kafka transactional id (default wattcast-import-<mapping>-<region>)")
			)
			return func(rc *runContext) error {
				if *dataPath == "" {
					return errors.New("import: --data is required: the CSV file to import")
				}
				if (*mapping == "") == (*preset == "") {
					return fmt.Errorf("import: give exactly one of --mapping FILE.json or --preset NAME (presets: %s)", strings.Join(csvimport.Presets(), ", "))
				}
				var m csvimport.Mapping
				var err error
				mapName := "preset " + *preset
				if *preset != "" {
					m, err = csvimport.Preset(*preset)
				} else {
					// Not validated yet: the flags below may complete it.
					mapName = *mapping
					m, err = csvimport.ReadMapping(*mapping)
				}
				if err != nil {
					return err
				}
				if *region != "" {
					m.Region = *region
				}
				if *market != "" {
					m.Market = *market
				}
				if *timeZone != "" {
					if _, err := csvimport.LoadZone(*timeZone); err != nil {
						return fmt.Errorf("import: --time-zone: %v", err)
					}
					m.Time.Zone = *timeZone
				}
				if *published != "" {
					if m.Published, err = csvimport.ParseRule(*published); err != nil {
						return fmt.Errorf("import: --published: %w", err)
					}
				}
				if m.Time.Zone == "" && m.Time.NeedsZone() {
					return fmt.Errorf("import: the times in %s (format %q) have no UTC offset: give --time-zone (an IANA zone such as Europe/Brussels, or +01:00) or set time.zone in the mapping", mapName, m.Time.Format)
				}
				if err := m.Validate(); err != nil {
					return fmt.Errorf("import: mapping %s: %w", mapName, err)
				}
				opts := csvimport.Options{File: *dataPath, Lenient: true}
				if opts.From, err = parseDate(*from); err != nil {
					return fmt.Errorf("import: --from: %w", err)
				}
				if opts.To, err = parseDate(*to); err != nil {
					return fmt.Errorf("import: --to: %w", err)
				}
				if !opts.From.IsZero() && !opts.To.IsZero() && !opts.From.Before(opts.To) {
					return fmt.Errorf("import: --from %s is not before --to %s: the range is empty", *from, *to)
				}
				res, err := parseData(*dataPath, m, opts)
				if err != nil {
					return err
				}
				skipped := 0
				for _, n := range res.Skipped {
					skipped += n
				}
				fmt.Fprintf(rc.out, "read %s: %d rows: %d prices, %d observations, %d forecasts; %d rows rejected, %d skipped, %d without a price\n",
					*dataPath, res.Rows, len(res.Prices), len(res.Observations), len(res.Forecasts), len(res.Rejected), skipped, res.MissingPrices)
				for i, re := range res.Rejected {
					if i == 10 {
						fmt.Fprintf(rc.out, "  ... and %d more (all go to the dead-letter topic)\n", len(res.Rejected)-10)
						break
					}
					fmt.Fprintf(rc.out, "  %v\n", re)
				}
				if *dryRun {
					return nil
				}
				kcfg, err := g.kafkaConfig(rc, rc.log, "wattcast-import")
				if err != nil {
					return err
				}
				topics := g.topics()
				if err := ensureSourceTopics(rc, kcfg, g); err != nil {
					return err
				}
				id := *txID
				if id == "" {
					id = "wattcast-import-" + m.Name + "-" + m.Region
				}
				pub, err := source.NewPublisher(rc, kcfg, source.PublisherOptions{Topics: topics,
					Producer: kafka.Producer(version, "import"), TransactionalID: id, Stage: "import", Logger: rc.log})
				if err != nil {
					return err
				}
				defer pub.Close()
				start := time.Now()
				// A bar on a terminal, a line every few seconds in a log.
				var bar *bars.Bar
				st, err := source.Import(rc, pub, res, source.ImportOptions{File: *dataPath, Region: m.Region,
					Progress: func(done, total int) {
						if bar == nil {
							bar = bars.New(rc.out, "import "+m.Region, total)
						}
						bar.Set(done, "")
					}})
				bar.Done()
				if err != nil {
					return err
				}
				fmt.Fprintf(rc.out, "published %d prices, %d observations, %d forecasts, %d dead letters; %d already published (skipped, not counted above) in %s\n",
					st.Prices, st.Observations, st.Forecasts, st.DeadLetters, st.Duplicates, time.Since(start).Round(time.Millisecond))
				return nil
			}
		},
	}
}

// parseData reads a CSV, or a gzip-compressed one (.gz).
func parseData(path string, m csvimport.Mapping, opts csvimport.Options) (*csvimport.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("import: %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	return csvimport.Parse(r, m, opts)
}

// parseDate reads YYYY-MM-DD (UTC midnight) or RFC 3339; "" is the zero time.
func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want YYYY-MM-DD or RFC 3339 (2024-01-01T00:00:00Z)", s)
	}
	return t.UTC(), nil
}

// ensureSourceTopics creates the data topics and the producer checkpoint
// topic if they do not exist.
func ensureSourceTopics(ctx context.Context, kcfg kafka.Config, g *globals) error {
	cl, err := kcfg.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	topics := g.topics()
	if err := kafka.Ping(ctx, cl, kcfg.Brokers); err != nil {
		return err
	}
	return kafka.EnsureTopics(ctx, cl, append(topics.Specs(int32(g.partitions), 0), source.CheckpointSpec(topics)), -1)
}
