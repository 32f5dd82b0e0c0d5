package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"golang.org/x/sync/errgroup"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/api"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/serving/monitor"
	"github.com/wattcast/wattcast/serving/promotion"
	"github.com/wattcast/wattcast/serving/retrain"
	"github.com/wattcast/wattcast/serving/scorer"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/runner"
	"github.com/wattcast/wattcast/training"
	"github.com/wattcast/wattcast/training/registry"
)

// scoreOptions are the flags of `wattcast score`.
type scoreOptions struct {
	group, mode, forecastFrom, listen, regions, instance string
	splitShare                                           float64
	refresh, shadowArchived                              time.Duration
	intervalLevel                                        float64
	promote                                              promotion.Config
	noPromotion, noRetrainWorker, untilCaughtUp          bool
	retrainSchedule, retrainPreset                       string
	retrainHoldout                                       int
	seed                                                 uint64
}

func scoreCommand() *command {
	return &command{
		name:    "score",
		summary: "forecast from the champion and challengers, score them, promote, retrain, and serve HTTP (forecasts, accuracy, /metrics)",
		usage:   "wattcast score [--mode shadow|split] [--http :8080] [flags]",
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			o := &scoreOptions{}
			fs.StringVar(&o.group, "group", "", "consumer group of the scorer (default wattcast-scorer, or derived from a non-default --topic-prefix); "+
				"the promotion decider uses <group>-promoter and <group>-promoter-decide, the retrain worker <group>-retrainer")
			fs.StringVar(&o.mode, "mode", scorer.ModeShadow, "A/B mode: shadow (the champion is official everywhere) or split (a stable share of regions gets the first challenger's forecast as official)")
			fs.Float64Var(&o.splitShare, "split-share", 0.1, "share of regions routed to the challenger in split mode, 0..1")
			fs.StringVar(&o.forecastFrom, "forecast-from", "", "skip forecasts issued before this date, YYYY-MM-DD (their rows still build history; default: forecast everything)")
			fs.StringVar(&o.listen, "http", ":8080", "HTTP listen address of the API, the page and /metrics; empty for none")
			fs.StringVar(&o.regions, "regions", "", "JSON file of extra regions: {\"REGION\": {\"zone\": \"Europe/Helsinki\", \"country\": \"FI\", \"issue_time\": \"10:00\"}}")
			fs.StringVar(&o.instance, "instance-id", "", "unique id of this instance for its transactional producers (default: the host name); set it when running several on one host")
			fs.DurationVar(&o.refresh, "catalog-refresh", time.Minute, "how often the registry is read again (model events trigger a read at once too)")
			fs.DurationVar(&o.shadowArchived, "shadow-archived", 14*24*time.Hour, "keep a just-archived champion forecasting in the shadows this long, so a degrading successor can be compared with it (0: off; always off in split mode)")
			fs.Float64Var(&o.intervalLevel, "interval-level", 0.9, "level of the conformal prediction intervals drawn from the model cards' calibration residuals")
			fs.Float64Var(&o.promote.Alpha, "promote-alpha", 0.05, "level of the one-sided Diebold-Mariano test a challenger must pass to be promoted")
			fs.IntVar(&o.promote.MinDays, "promote-min-days", 14, "paired days of errors before a challenger is first tested")
			fs.IntVar(&o.promote.EvalEvery, "promote-every-days", 7, "new paired days between two tests of a challenger")
			fs.IntVar(&o.promote.Window, "promote-window-days", 28, "latest paired days a test uses")
			fs.IntVar(&o.promote.MaxDenials, "promote-max-denials", 4, "archive a challenger after this many denied promotions (negative: never)")
			fs.IntVar(&o.promote.ProbationDays, "probation-days", 28, "days a new champion is watched for degradation")
			fs.Float64Var(&o.promote.RollbackMargin, "rollback-margin", 0.10, "roll a new champion back when its rMAE exceeds the previous champion's by this fraction")
			fs.Float64Var(&o.promote.RetrainRMAE, "retrain-rmae", 0, "request a retraining when the champion's rMAE over the last --degrade-days passes this (0: off)")
			fs.IntVar(&o.promote.DegradeDays, "degrade-days", 7, "days of the champion's rolling rMAE checked against --retrain-rmae")
			fs.IntVar(&o.promote.RetrainCooldownDays, "retrain-cooldown-days", 7, "days between two degradation-triggered retraining requests")
			fs.StringVar(&o.retrainSchedule, "retrain-schedule", "", "cron expression of scheduled retraining, e.g. \"0 3 * * 1\" or \"CRON_TZ=Europe/Helsinki 0 3 * * *\" (empty: none)")
			fs.StringVar(&o.retrainPreset, "retrain-preset", training.PresetFull, "model set a retraining trains: demo, demo-gru or full")
			fs.IntVar(&o.retrainHoldout, "retrain-holdout-days", 28, "backtest days of a retraining")
			fs.Uint64Var(&o.seed, "seed", 1, "random seed of retraining fits")
			fs.BoolVar(&o.noPromotion, "no-promotion", false, "do not run the promotion decider in this instance")
			fs.BoolVar(&o.noRetrainWorker, "no-retrain-worker", false, "do not train in this instance (another instance's worker acts on retrain requests)")
			fs.BoolVar(&o.untilCaughtUp, "until-caught-up", false, "score the features present at start, decide on them, and exit (batch runs and tests; no HTTP)")
			return func(rc *runContext) error { return runScore(rc, g, o) }
		},
	}
}

func runScore(rc *runContext, g *globals, o *scoreOptions) error {
	rc.service = !o.untilCaughtUp
	if o.refresh <= 0 {
		return fmt.Errorf("score: --catalog-refresh %s: want a positive duration, e.g. 1m", o.refresh)
	}
	if !(o.intervalLevel > 0 && o.intervalLevel < 1) {
		return fmt.Errorf("score: --interval-level %g: want a level between 0 and 1, e.g. 0.9 for 90%% intervals", o.intervalLevel)
	}
	kc, err := g.kafkaConfig(rc, rc.log, "wattcast-score")
	if err != nil {
		return err
	}
	extra, err := regionConfig(o.regions)
	if err != nil {
		return err
	}
	var from time.Time
	if o.forecastFrom != "" {
		if from, err = parseDate(o.forecastFrom); err != nil {
			return fmt.Errorf("--forecast-from: %w", err)
		}
	}
	if o.retrainPreset != "" {
		if _, err := training.Preset(o.retrainPreset); err != nil {
			return fmt.Errorf("--retrain-preset: %w", err)
		}
	}
	var sched retrain.Schedule
	if o.retrainSchedule != "" {
		if sched, err = retrain.ParseSchedule(o.retrainSchedule); err != nil {
			return fmt.Errorf("--retrain-schedule: %w", err)
		}
	}
	topics := g.topics()
	// Two topic sets on one cluster must not share the scorer's groups.
	o.group = orDefault(o.group, topics.Group(scorer.DefaultGroup))
	parts := int32(g.partitions)
	if err := ensureTopics(rc, kc, append(scorer.Topics(topics, parts), promotion.Topics(topics, parts)...)); err != nil {
		return err
	}
	rb, loc, err := g.openRegistry(rc)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	actor := "scorer/" + host
	if o.instance != "" {
		actor = "scorer/" + o.instance
	}
	reg := registry.New(rb)
	tr := catalog.NewTraining(reg, actor)

	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mm, err := monitor.NewModelMetrics(promReg)
	if err != nil {
		return err
	}
	shadow := o.shadowArchived
	if o.mode == scorer.ModeSplit {
		// The first challenger may be made official in split mode; a
		// shadowed former champion must never be.
		shadow = 0
	}
	cat := catalog.New(tr, catalog.Options{Refresh: o.refresh, ShadowArchived: shadow, IntervalLevel: o.intervalLevel,
		Wrap: mm.Wrap, Logger: rc.log})
	// A batch run tries once (its caller reruns it); the service rides out
	// a short outage of the registry's store.
	backoff := catalogStartBackoff()
	if o.untilCaughtUp {
		backoff = nil
	}
	if err := firstRefresh(rc, cat.Refresh, backoff, rc.log); err != nil {
		return fmt.Errorf("score: the scorer does not start until every deployed model of the registry %s loads: %w", loc, err)
	}
	if !slices.ContainsFunc(cat.Versions(), func(v catalog.Version) bool { return v.Stage == catalog.StageChampion }) {
		rc.log.Warn("the model registry has no champion: the scorer counts region days without a model until one is promoted",
			"registry", loc)
	}
	producer := kafka.Producer(version, "scorer")
	sc, err := scorer.New(scorer.Config{Kafka: kc, Topics: topics, Catalog: cat, Regions: extra, ForecastFrom: from,
		Mode: o.mode, SplitShare: o.splitShare, Group: o.group, Producer: producer, Logger: rc.log, StopAtEnd: o.untilCaughtUp})
	if err != nil {
		return err
	}
	mon, err := monitor.New(monitor.Config{Kafka: kc, Topics: topics, Logger: rc.log})
	if err != nil {
		return err
	}
	promReg.MustRegister(monitor.NewCollector(mon), catalog.NewCollector(cat),
		monitor.NewStageCollector("scorer", sc.RunnerStats, sc.Stats))
	groups := []string{o.group}

	eg, ctx := errgroup.WithContext(rc)
	var dec *promotion.Decider
	if !o.noPromotion {
		pc := o.promote
		pc.Kafka, pc.Topics, pc.Registry, pc.Producer, pc.Actor, pc.Logger = kc, topics, tr, kafka.Producer(version, "promoter"), actor, rc.log
		pc.Group, pc.InstanceID, pc.StopAtEnd = o.group+"-promoter", o.instance, o.untilCaughtUp
		pc.Regions = extra // the zones of --regions, for the hours of each local day
		pc.OnEvent = func(schemas.ModelEvent) { cat.Notify() }
		if dec, err = promotion.New(pc); err != nil {
			return err
		}
		promReg.MustRegister(monitor.NewStageCollector("promoter", func() runner.Stats { c, _ := dec.RunnerStats(); return c }, nil),
			monitor.NewStageCollector("promoter-decide", func() runner.Stats { _, d := dec.RunnerStats(); return d }, nil))
		groups = append(groups, pc.Group, pc.Group+"-decide")
	}

	if o.untilCaughtUp {
		// Batch: score what is there, then decide on the errors written.
		if err := sc.Run(ctx); err != nil {
			return err
		}
		st := sc.Stats()
		fmt.Fprintf(rc.out, "scored: %d forecasts, %d forecast errors, %d model failures, %d region days without a model, %d without a champion\n",
			st.Forecasts, st.Errors, st.ModelErrors, st.NoModel, st.NoOfficial)
		if dec != nil {
			if err := dec.Run(ctx); err != nil {
				return err
			}
			for _, e := range dec.Events() {
				fmt.Fprintf(rc.out, "model event: %s %s@%s: %s\n", e.Type, e.ModelID, e.ModelVersion, e.Reason)
			}
		}
		return nil
	}

	// Open and build everything that can fail before the first goroutine
	// starts: returning an error after eg.Go would leave them running on
	// resources closed underneath them.
	lagClient, err := kc.NewClient()
	if err != nil {
		return err
	}
	defer lagClient.Close()
	promReg.MustRegister(monitor.NewLagCollector(kadm.NewClient(lagClient), groups, monitor.WithLagLogger(rc.log)))
	var worker *retrain.Worker
	if !o.noRetrainWorker {
		lk, err := g.openLake(rc)
		if err != nil {
			return err
		}
		worker = &retrain.Worker{Kafka: kc, Topics: topics, Group: o.group + "-retrainer", Trainer: lakeTrainer(lk, reg, o, rc),
			Registry: tr, Store: rb, Producer: kafka.Producer(version, "retrain"), Actor: actor, Logger: rc.log}
	}
	var scheduler *retrain.Scheduler
	if sched != nil {
		scheduler = &retrain.Scheduler{Schedule: sched, Expr: o.retrainSchedule, Store: rb, Kafka: kc, Topics: topics, Registry: tr,
			Producer: kafka.Producer(version, "retrain"), Actor: actor, Logger: rc.log}
	}
	var srv *http.Server
	if o.listen != "" {
		h := api.New(api.Config{Forecasts: mon.Forecasts(), Accuracy: mon.Accuracy(), Models: cat,
			Metrics: promhttp.HandlerFor(promReg, promhttp.HandlerOpts{Registry: promReg}), Logger: rc.log,
			Ready: readiness(cat.Refreshed, mon.CaughtUp)})
		srv = newHTTPServer(o.listen, h)
	}

	eg.Go(func() error { return sc.Run(ctx) })
	eg.Go(func() error { return mon.Run(ctx) })
	eg.Go(func() error { return cat.Run(ctx) })
	eg.Go(func() error { return catalog.Watch(ctx, kc, topics.ModelEvents, cat) })
	if dec != nil {
		eg.Go(func() error { return dec.Run(ctx) })
	}
	if scheduler != nil {
		eg.Go(func() error { return scheduler.Run(ctx) })
	}
	if worker != nil {
		eg.Go(func() error { return worker.Run(ctx) })
	}
	if srv != nil {
		eg.Go(func() error {
			rc.log.Info("serving HTTP", "listen", o.listen)
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
			return nil
		})
		eg.Go(func() error {
			<-ctx.Done()
			shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return srv.Shutdown(shut)
		})
	}
	rc.log.Info("scoring", "mode", o.mode, "group", o.group, "registry", loc, "promotion", dec != nil,
		"retrain_schedule", o.retrainSchedule, "retrain_worker", !o.noRetrainWorker)
	return eg.Wait()
}

// readiness answers /readyz: ready once the registry has been read and the
// monitor has read what the forecasts and error topics held at its start
// (until then the accuracy, the leaderboard and the series are partial).
func readiness(refreshed func() time.Time, caughtUp func() bool) func() error {
	return func() error {
		if refreshed().IsZero() {
			return errors.New("the model registry has not been read yet")
		}
		if !caughtUp() {
			return errors.New("the monitor is still reading the forecasts and error topics")
		}
		return nil
	}
}

// newHTTPServer is the API's server. WriteTimeout bounds a whole response:
// the largest (a 35-day series, the accuracy of every region) takes
// milliseconds, so a minute leaves room for a slow client without holding a
// stuck connection forever. IdleTimeout closes the kept-alive connections
// a poller (Home Assistant, every 15 minutes) leaves open.
func newHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second}
}

// catalogStartBackoff returns the waits after each failed first read of the
// registry before the service gives up (about half a minute in all).
func catalogStartBackoff() []time.Duration {
	return []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
}

// firstRefresh reads the registry until a read succeeds, waiting
// backoff[i] after the i-th failure, and returns the last error when
// backoff is exhausted or ctx is done. The scorer must not start before: on
// an empty or partial catalog it would forecast days without their champion
// (no official forecast) or skip them as days without a model, and it never
// forecasts a committed day again.
func firstRefresh(ctx context.Context, refresh func(context.Context) error, backoff []time.Duration, log *slog.Logger) error {
	for i := 0; ; i++ {
		err := refresh(ctx)
		if err == nil || i == len(backoff) || ctx.Err() != nil {
			return err
		}
		log.Warn("could not read the model registry; retrying", "attempt", i+1, "retry_in", backoff[i], "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff[i]):
		}
	}
}

// lakeTrainer trains from the lake with the training engineer's Train,
// registering candidates (no bootstrap: the registry has a champion), and
// returns them for the worker to stage as challengers.
func lakeTrainer(lk *lake.Bucket, reg *registry.Registry, o *scoreOptions, rc *runContext) retrain.Trainer {
	return retrain.TrainerFunc(func(ctx context.Context, req schemas.ModelEvent) ([]catalog.Version, error) {
		specs, err := training.Preset(o.retrainPreset)
		if err != nil {
			return nil, err
		}
		reader := training.FeatureReaderFunc(func(ctx context.Context, regions []string, from, to time.Time) ([]schemas.FeatureRow, []string, error) {
			return lake.ReadFeatures(ctx, lk, lake.FeatureFilter{Regions: regions, From: from, To: to})
		})
		res, err := training.Train(ctx, training.Options{Reader: reader, Registry: reg, Specs: specs, HoldoutDays: o.retrainHoldout,
			Seed: o.seed, CodeVersion: version, NoBootstrap: true, Log: rc.log})
		if err != nil {
			return nil, err
		}
		var out []catalog.Version
		for _, m := range res.Models {
			v := catalog.Version{ID: m.Card.ID, Version: m.Card.Version, Kind: m.Card.Kind, Regions: m.Card.Regions}
			if bt := m.Card.Backtest; bt != nil {
				v.BacktestMAE, v.BacktestRMAE = bt.Overall.MAE, bt.Overall.RMAE
			}
			out = append(out, v)
		}
		return out, nil
	})
}
