package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/replay"
)

func demoCommand() *command {
	return &command{
		name:    "demo",
		summary: "run the whole pipeline on the shipped history: broker, producers, processors, lake, training, scoring",
		usage:   "wattcast demo [--work-dir .wattcast/demo] [--brokers host:port]",
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			dir := fs.String("work-dir", ".wattcast/demo", "directory for the demo's broker data, lake and registry (cleaned at start)")
			holdout := fs.Int("holdout-weeks", 4, "weeks at the end of each region's history held out for scoring")
			backtest := fs.Int("backtest-days", 28, "days before the held-out weeks on which the trainer backtests each model")
			seed := fs.Uint64("seed", 1, "random seed of the model fits")
			var windows windowsFlag
			fs.Var(&windows, "replay-window", "replay only a slice of a data set: DATASET=FROM..TO (dates, TO exclusive), comma separated, e.g. nordpool-fi=2024-03-04..2024-05-13")
			models := fs.String("models", "demo", "model set to train: demo (weekly naive and LEAR, fastest), demo-gru (adds a small GRU), full")
			return func(rc *runContext) error {
				// The stages' own logs would drown the demo's progress:
				// show their warnings only, unless debug logs were asked for.
				log := rc.log
				if g.logLevel != "debug" {
					var err error
					if log, err = newLogger(rc.out, "warn", g.logFormat); err != nil {
						return err
					}
				}
				o := demoOptions{workDir: *dir, brokers: g.brokers, holdout: time.Duration(*holdout) * 7 * 24 * time.Hour,
					partitions: g.partitions, seed: *seed, preset: *models, windows: windows, backtestDays: *backtest, out: rc.out, log: log, lakeOpts: g.lakeOptions()}
				if g.lakeURL != defaultLakeURL {
					o.lakeURL = g.lakeURL
				}
				if g.topicPrefix != schemas.DefaultTopicPrefix {
					o.prefix = g.topicPrefix
				}
				if len(g.brokers) > 0 { // TLS and SASL (MSK IAM) for external brokers
					kc, err := g.kafkaConfig(rc, log, "wattcast-demo")
					if err != nil {
						return err
					}
					o.kafka = kc
				}
				o.registry = g.registryURL
				res, err := runDemo(rc, o)
				if err != nil {
					return err
				}
				printSummary(rc.out, res)
				return nil
			}
		},
	}
}

// windowsFlag parses DATASET=FROM..TO,... into replay windows.
type windowsFlag map[string]replay.Window

func (w *windowsFlag) String() string {
	var parts []string
	for k, v := range *w {
		parts = append(parts, k+"="+v.From.Format(time.DateOnly)+".."+v.To.Format(time.DateOnly))
	}
	return strings.Join(parts, ",")
}

func (w *windowsFlag) Set(s string) error {
	m := windowsFlag{}
	for _, part := range strings.Split(s, ",") {
		name, span, ok := strings.Cut(strings.TrimSpace(part), "=")
		from, to, ok2 := strings.Cut(span, "..")
		if !ok || !ok2 {
			return fmt.Errorf("%q: want DATASET=FROM..TO", part)
		}
		f, err := time.Parse(time.DateOnly, from)
		if err != nil {
			return fmt.Errorf("%q: %w", part, err)
		}
		t, err := time.Parse(time.DateOnly, to)
		if err != nil {
			return fmt.Errorf("%q: %w", part, err)
		}
		if !slices.Contains(replay.Datasets(), name) {
			return fmt.Errorf("%q: no data set %q (have %s)", part, name, strings.Join(replay.Datasets(), ", "))
		}
		m[name] = replay.Window{From: f, To: t}
	}
	*w = m
	return nil
}
