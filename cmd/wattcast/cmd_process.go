package main

import (
	"context"
	"flag"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wattcast/wattcast/processors"
	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/processors/lakesink"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
)

func processCommand() *command {
	return &command{
		name:    "process",
		summary: "turn the price and weather topics into feature rows (features topic) and the Parquet lake",
		usage:   "wattcast process [flags]",
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			lateness := fs.Duration("allowed-lateness", time.Hour, "how far behind the event-time clock an input may arrive and still be used; later inputs are dead-lettered")
			regions := fs.String("regions", "", "JSON file of extra regions: {\"REGION\": {\"zone\": \"Europe/Helsinki\", \"country\": \"FI\", \"issue_time\": \"10:00\"}}")
			noLake := fs.Bool("no-lake", false, "run only the feature processor, not the lake sink")
			noFeatures := fs.Bool("no-features", false, "run only the lake sink, not the feature processor")
			maxRows := fs.Int("lake-max-rows", lakesink.DefaultMaxRows, "rows per lake batch before a file is cut")
			maxBytes := fs.Int64("lake-max-bytes", lakesink.DefaultMaxBytes, "bytes of Kafka record keys and values per lake batch before a file is cut")
			roll := fs.Duration("lake-roll-interval", lakesink.DefaultRollInterval, "roll-time span (UTC-aligned) of a lake batch before its files are cut")
			idle := fs.Duration("lake-idle-flush", lakesink.DefaultIdleFlush, "cut a lake batch that received nothing for this long: short lands live data soon (a file per hour of final rows), longer than an hour leaves the cut to --lake-roll-interval (fewer, later files; docs/lake.md)")
			instance := fs.String("instance-id", "", "unique id of this instance for its transactional producer (default: the host name); set it when running several on one host")
			untilEnd := fs.Bool("until-caught-up", false, "exit once the input present at start is processed (for batch runs and tests)")
			group := fs.String("group", "", "the feature processor's consumer group (default wattcast-processor, or derived from a non-default --topic-prefix)")
			lakeGroup := fs.String("lake-group", "", "the lake sink's consumer group (default wattcast-lakesink, or derived from a non-default --topic-prefix)")
			return func(rc *runContext) error {
				rc.service = !*untilEnd
				kc, err := g.kafkaConfig(rc, rc.log, "wattcast-process")
				if err != nil {
					return err
				}
				extra, err := regionConfig(*regions)
				if err != nil {
					return err
				}
				topics := g.topics()
				if err := ensureTopics(rc, kc, processors.Topics(topics, int32(g.partitions))); err != nil {
					return err
				}
				// Build both halves before starting either: an error after
				// the first goroutine started would leave it running.
				var runs []func(context.Context) error
				procGroup, sinkGroup, lakeURL := orDefault(*group, topics.Group(processors.DefaultGroup)), orDefault(*lakeGroup, topics.Group(lakesink.DefaultGroup)), ""
				if !*noFeatures {
					p, err := processors.New(processors.Config{
						Kafka: kc, Topics: topics, Producer: kafka.Producer(version, "processor"), Logger: rc.log,
						Features:  features.Config{Regions: extra, AllowedLateness: *lateness},
						StopAtEnd: *untilEnd, InstanceID: *instance, Group: procGroup,
					})
					if err != nil {
						return err
					}
					runs = append(runs, p.Run)
				}
				if !*noLake {
					b, err := g.openLake(rc)
					if err != nil {
						return err
					}
					lakeURL = b.URL("")
					s, err := lakesink.New(lakesink.Config{Kafka: kc, Topics: topics, Store: b, Logger: rc.log,
						Group:   sinkGroup,
						MaxRows: *maxRows, MaxBytes: *maxBytes, RollInterval: *roll, IdleFlush: *idle, StopAtEnd: *untilEnd})
					if err != nil {
						return err
					}
					runs = append(runs, s.Run)
				}
				rc.log.Info("processing", "features", !*noFeatures, "group", procGroup, "allowed_lateness", *lateness,
					"lake", lakeURL, "lake_group", sinkGroup, "topic_prefix", topics.Prefix)
				eg, ctx := errgroup.WithContext(rc)
				for _, run := range runs {
					eg.Go(func() error { return run(ctx) })
				}
				return eg.Wait()
			}
		},
	}
}

// ensureTopics creates the topics a stage needs that do not exist yet.
func ensureTopics(ctx context.Context, kc kafka.Config, specs []schemas.TopicSpec) error {
	cl, err := kc.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := kafka.Ping(ctx, cl, kc.Brokers); err != nil {
		return err
	}
	return kafka.EnsureTopics(ctx, cl, specs, -1)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
