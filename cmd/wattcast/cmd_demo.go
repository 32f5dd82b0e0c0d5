package main

import (
	"flag"
	"time"
)

func demoCommand() *command {
	return &command{
		name:    "demo",
		summary: "run the whole pipeline on the shipped history: broker, producers, processors, lake, training, scoring",
		usage:   "wattcast demo [--work-dir .wattcast/demo] [--brokers host:port]",
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			dir := fs.String("work-dir", ".wattcast/demo", "directory for the demo's broker data, lake and registry (cleaned at start)")
			holdout := fs.Int("holdout-weeks", 4, "weeks at the end of each region's history held out for scoring")
			seed := fs.Uint64("seed", 1, "random seed of the model fits")
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
					partitions: g.partitions, seed: *seed, preset: *models, out: rc.out, log: log, lakeOpts: g.lakeOptions()}
				if g.lakeURL != defaultLakeURL {
					o.lakeURL = g.lakeURL
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
