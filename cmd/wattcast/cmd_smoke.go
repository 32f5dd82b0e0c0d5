package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/lake/athena"
	"github.com/wattcast/wattcast/processors"
	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/processors/lakesink"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/scorer"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/training/models"
)

// smokeRegion is the region id of the live smoke test's synthetic prices,
// configured with UTC days in the smoke's own processor and scorer.
const smokeRegion = "SMOKE"

var smokeRegions = map[string]features.Region{smokeRegion: {Zone: "UTC", IssueTime: "10:00"}}

// runIDRE keeps the run id safe to put in SQL and record values.
var runIDRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

func smokeCommand() *command {
	return &command{
		name:    "smoke",
		summary: "live smoke test of a deployment: publish prices, see a forecast on the topic and the row in Athena",
		usage:   "wattcast smoke --run-id ID [--timeout 20m]",
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			runID := fs.String("run-id", "", "identifies this run: topics <prefix>smoke-<run-id>.*, source smoke:<run-id> (required)")
			timeout := fs.Duration("timeout", 20*time.Minute, "give up after this long")
			workgroup := fs.String("athena-workgroup", "primary", "Athena workgroup (Terraform: wattcast-<env>)")
			database := fs.String("athena-database", "", "Glue database of the lake tables (Terraform: wattcast_<env>)")
			return func(rc *runContext) error {
				if !runIDRE.MatchString(*runID) {
					return fmt.Errorf("smoke: --run-id %q: want 1-64 of A-Z a-z 0-9 _ . -", *runID)
				}
				kc, err := g.kafkaConfig(rc, rc.log, "wattcast-smoke")
				if err != nil {
					return err
				}
				lb, err := g.openLake(rc)
				if err != nil {
					return err
				}
				ath, err := athena.NewFromConfig(rc, g.awsRegion, athena.Options{Workgroup: *workgroup, Database: *database})
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(rc, *timeout)
				defer cancel()
				return runSmoke(ctx, smokeConfig{kafka: kc, prefix: g.topicPrefix, partitions: int32(g.partitions), runID: *runID,
					lake: lb, prices: athenaPrices{ath}, out: rc.out, log: rc.log})
			}
		},
	}
}

// pricesCounter counts the lake's price rows of a source in a region.
type pricesCounter interface {
	CountPrices(ctx context.Context, region, source string) (int, error)
}

type athenaPrices struct{ c *athena.Client }

func (a athenaPrices) CountPrices(ctx context.Context, region, source string) (int, error) {
	res, err := a.c.Query(ctx, fmt.Sprintf(`SELECT count(*) FROM prices WHERE region = '%s' AND source = '%s' AND "date" >= cast(current_date - interval '10' day AS varchar)`, region, source))
	if err != nil {
		return 0, err
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 || res.Rows[0][0] == nil {
		return 0, fmt.Errorf("smoke: unexpected Athena result %v", res.Rows)
	}
	return strconv.Atoi(*res.Rows[0][0])
}

type smokeConfig struct {
	kafka      kafka.Config
	prefix     string // the deployment's topic prefix
	partitions int32
	runID      string
	lake       *lake.Bucket
	prices     pricesCounter
	out        io.Writer
	log        *slog.Logger
	now        func() time.Time
}

// runSmoke checks a deployment's Kafka, object store and catalog end to end
// with the binary of the deployment, without touching its data: on topics of
// its own (<prefix>smoke-<run-id>.*, so that its history is not late for the
// deployment's event-time clocks) and consumer groups of its own
// (wattcast-smoke-<run-id>-*), it publishes nine days of hourly prices for
// region SMOKE ending tomorrow, each day published the day before as day-ahead
// prices are, runs the processor, the lake sink and the scorer on them until
// they are done, checks that a forecast for SMOKE is on its forecasts topic,
// and waits until the prices are visible in the lake through prices (Athena
// in a deployment).
func runSmoke(ctx context.Context, c smokeConfig) error {
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.partitions <= 0 {
		c.partitions = 3
	}
	topics := schemas.NewTopicSet(c.prefix + "smoke-" + c.runID + ".")
	group := "wattcast-smoke-" + c.runID
	source := "smoke:" + c.runID
	if err := ensureTopics(ctx, c.kafka, dedupe(append(processors.Topics(topics, c.partitions), scorer.Topics(topics, c.partitions)...))); err != nil {
		return err
	}
	cl, err := c.kafka.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	today := c.now().UTC().Truncate(24 * time.Hour)
	var recs []*kgo.Record
	for h := today.AddDate(0, 0, -8); h.Before(today.AddDate(0, 0, 2)); h = h.Add(time.Hour) {
		pub := h.Truncate(24*time.Hour).AddDate(0, 0, -1).Add(11*time.Hour + 45*time.Minute)
		p := &schemas.Price{Region: smokeRegion, Market: "smoke", Source: source, Start: h, End: h.Add(time.Hour),
			Value: 50 + float64(h.Hour()), Unit: "EUR/MWh", Currency: "EUR", PublishedAt: pub}
		r, err := kafka.NewRecord(topics.Prices, smokeRegion, p, kafka.Producer(version, "smoke"))
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("smoke: publish: %w", err)
	}
	fmt.Fprintf(c.out, "smoke: published %d prices for %s to %s (source %s)\n", len(recs), smokeRegion, topics.Prices, source)

	p, err := processors.New(processors.Config{Kafka: c.kafka, Topics: topics, Group: group + "-processor",
		Features: features.Config{Regions: smokeRegions}, Producer: kafka.Producer(version, "smoke"), Logger: c.log, StopAtEnd: true})
	if err != nil {
		return err
	}
	if err := p.Run(ctx); err != nil {
		return fmt.Errorf("smoke: processor: %w", err)
	}
	cat := mapCatalog{smokeRegion: {{ID: "smoke-naive-weekly", Version: "1", Kind: models.KindNaiveWeekly,
		Role: schemas.RoleChampion, Model: models.NaiveWeekly{}}}}
	sc, err := scorer.New(scorer.Config{Kafka: c.kafka, Topics: topics, Catalog: cat, Group: group + "-scorer", Regions: smokeRegions,
		Producer: kafka.Producer(version, "smoke"), Logger: c.log, StopAtEnd: true})
	if err != nil {
		return err
	}
	if err := sc.Run(ctx); err != nil {
		return fmt.Errorf("smoke: scorer: %w", err)
	}
	n, err := countRecords(ctx, c.kafka, topics.Forecasts)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("smoke: no forecast for %s on %s (scorer %+v)", smokeRegion, topics.Forecasts, sc.Stats())
	}
	fmt.Fprintf(c.out, "smoke: %d forecasts on %s\n", n, topics.Forecasts)

	sink, err := lakesink.New(lakesink.Config{Kafka: c.kafka, Topics: topics, Store: c.lake, Group: group + "-lakesink",
		Logger: c.log, StopAtEnd: true})
	if err != nil {
		return err
	}
	if err := sink.Run(ctx); err != nil {
		return fmt.Errorf("smoke: lake sink: %w", err)
	}
	for {
		got, err := c.prices.CountPrices(ctx, smokeRegion, source)
		if err == nil && got >= len(recs) {
			fmt.Fprintf(c.out, "smoke: %d price rows in the lake\n", got)
			return nil
		}
		c.log.Info("smoke: waiting for the prices in the lake", "rows", got, "want", len(recs), "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("smoke: the prices did not reach the lake (last count %d, err %v): %w", got, err, ctx.Err())
		case <-time.After(10 * time.Second):
		}
	}
}
