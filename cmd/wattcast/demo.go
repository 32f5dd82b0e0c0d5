package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors"
	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/processors/lakesink"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/monitor"
	"github.com/wattcast/wattcast/serving/scorer"
	"github.com/wattcast/wattcast/streams/broker"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/replay"
	"github.com/wattcast/wattcast/training/registry"
)

// demoOptions configure runDemo. The zero value of each field is the
// default of `wattcast demo`.
type demoOptions struct {
	workDir string   // default .wattcast/demo
	brokers []string // external brokers; embedded when empty
	// kafka holds the external brokers' TLS and SASL settings (Brokers,
	// ClientID and Logger are the demo's).
	kafka    kafka.Config
	lakeURL  string // default file://<workDir>/lake
	registry string // default file://<workDir>/registry
	lakeOpts []lake.Option
	datasets []string                 // default all shipped data sets
	windows  map[string]replay.Window // optional slices of the data (tests)
	holdout  time.Duration
	// backtestDays is the trainer's own backtest period, the last days
	// before the held-out weeks; default 28.
	backtestDays int
	partitions   int
	prefix       string
	seed         uint64
	preset       string // training preset; default training.PresetDemo
	out          io.Writer
	log          *slog.Logger
}

// demoResult is what the demo did, for its summary and its tests.
type demoResult struct {
	topics      schemas.TopicSet
	brokers     []string
	records     map[string]int64 // per topic, at the end
	replayed    replay.Stats
	processor   processorCounts
	lake        map[string]lake.TableStats
	lakeURL     string
	registryURL string
	models      []trainedModel
	scorer      scorer.Stats
	accuracy    []scorer.Accuracy
	// windows is what each model's cheapest demoWindowHours were worth on
	// the held-out days, from the error topics.
	windows      []monitor.WindowValue
	forecastFrom map[string]time.Time
	// lastDays holds each region's latest daily window, from the daily
	// features topic.
	lastDays     []schemas.DailyFeatures
	backtestDays int
	elapsed      time.Duration
}

type processorCounts struct {
	in          int64
	rows        int64
	deadLetters map[string]int64
}

func (o *demoOptions) defaults() error {
	if o.workDir == "" {
		o.workDir = filepath.Join(".wattcast", "demo")
	}
	abs, err := filepath.Abs(o.workDir)
	if err != nil {
		return err
	}
	o.workDir = abs
	if o.lakeURL == "" {
		o.lakeURL = "file://" + filepath.Join(o.workDir, "lake")
	}
	if o.registry == "" {
		o.registry = "file://" + filepath.Join(o.workDir, "registry")
	}
	if o.holdout == 0 {
		o.holdout = 4 * 7 * 24 * time.Hour
	}
	if o.partitions == 0 {
		o.partitions = 3
	}
	if o.backtestDays == 0 {
		o.backtestDays = 28
	}
	if o.prefix == "" {
		o.prefix = schemas.DefaultTopicPrefix
		if len(o.brokers) > 0 {
			// Never mix with what a shared cluster already holds.
			o.prefix = fmt.Sprintf("wattcast.demo-%d.", time.Now().Unix())
		}
	}
	if o.out == nil {
		o.out = io.Discard
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// runDemo runs the whole pipeline once: broker, replay, processor, lake,
// training, scoring. It starts from a clean work directory, so it can be run
// any number of times in a row.
func runDemo(ctx context.Context, o demoOptions) (*demoResult, error) {
	start := time.Now()
	if err := o.defaults(); err != nil {
		return nil, err
	}
	pr := newProgress(o.out)
	res := &demoResult{topics: schemas.NewTopicSet(o.prefix), lakeURL: o.lakeURL, registryURL: o.registry, backtestDays: o.backtestDays}

	// A clean slate: the demo's own broker data, lake and registry.
	for _, d := range []string{"broker", "lake", "registry"} {
		if err := os.RemoveAll(filepath.Join(o.workDir, d)); err != nil {
			return nil, fmt.Errorf("demo: clean %s: %w", d, err)
		}
	}

	brokers := o.brokers
	if len(brokers) == 0 {
		pr.step("starting an embedded Kafka-protocol broker")
		b, err := broker.Start(broker.WithDataDir(filepath.Join(o.workDir, "broker")), broker.WithLogger(o.log))
		if err != nil {
			return nil, err
		}
		defer b.Close()
		brokers = b.Addrs()
		pr.done("listening on %s, data in %s", brokers[0], filepath.Join(o.workDir, "broker"))
	}
	res.brokers = brokers
	kc := o.kafka
	kc.Brokers, kc.ClientID, kc.Logger = brokers, "wattcast-demo", o.log
	topics := res.topics
	specs := append(processors.Topics(topics, int32(o.partitions)), scorer.Topics(topics, int32(o.partitions))...)
	if err := ensureTopics(ctx, kc, dedupe(specs)); err != nil {
		return nil, err
	}

	// 1. Replay the shipped history through the producers' topics.
	pr.step("replaying the shipped history into %sprices and %sweather.*", topics.Prefix, topics.Prefix)
	cl, err := kc.NewClient(replay.ClientOpts()...)
	if err != nil {
		return nil, err
	}
	rs, err := replay.Run(ctx, cl, topics, replay.Options{
		Datasets: o.datasets, Windows: o.windows, Producer: kafka.Producer(version, "replay"),
		Progress: func(done, total int) { pr.update(done, total, "records published") },
	})
	cl.Close()
	if err != nil {
		return nil, err
	}
	res.replayed = rs
	pr.done("%d records from %s, known-at %s .. %s", rs.Records, strings.Join(sortedKeys(rs.PerDataset), " and "),
		rs.FirstKnownAt.Format(time.DateOnly), rs.LastKnownAt.Format(time.DateOnly))

	// 2. Features: event-time windows, exactly once.
	pr.step("computing hourly features (processor group %s)", topics.Group(processors.DefaultGroup))
	p, err := processors.New(processors.Config{Kafka: kc, Topics: topics, Producer: kafka.Producer(version, "processor"),
		Group: topics.Group(processors.DefaultGroup), Logger: o.log, StopAtEnd: true})
	if err != nil {
		return nil, err
	}
	if err := watch(ctx, p.Run, func() {
		s := p.Stats()
		pr.update(int(sum(s.RecordsIn)), rs.Records, fmt.Sprintf("inputs, %d feature rows", s.RecordsOut[topics.Features]))
	}); err != nil {
		return nil, fmt.Errorf("demo: processor: %w", err)
	}
	ps := p.Stats()
	res.processor = processorCounts{in: sum(ps.RecordsIn), rows: ps.RecordsOut[topics.Features], deadLetters: ps.DeadLetters}
	pr.done("%d inputs -> %d feature rows (ready and final), %d dead letters", res.processor.in, res.processor.rows, sum(ps.DeadLetters))

	// 3. The lake.
	pr.step("writing the Parquet lake %s", o.lakeURL)
	lopts := o.lakeOpts
	if strings.HasPrefix(o.lakeURL, "file://") {
		// The demo's lake is throwaway: skip the fsync per file.
		lopts = append(lopts, lake.WithoutSync())
	}
	lb, err := lake.Open(ctx, o.lakeURL, lopts...)
	if err != nil {
		return nil, err
	}
	sink, err := lakesink.New(lakesink.Config{Kafka: kc, Topics: topics, Store: lb, Logger: o.log, StopAtEnd: true,
		Group: topics.Group(lakesink.DefaultGroup)})
	if err != nil {
		return nil, err
	}
	if err := watch(ctx, sink.Run, func() {
		s := sink.Stats()
		pr.update(int(s.RecordsIn), 0, fmt.Sprintf("records in, %d files", s.Files))
	}); err != nil {
		return nil, fmt.Errorf("demo: lake sink: %w", err)
	}
	if res.lake, err = lake.Stats(ctx, lb); err != nil {
		return nil, err
	}
	pr.done("%s", lakeLine(res.lake))

	// 4. Train from the lake, hold out the last weeks, register.
	pr.step("training models from the lake, holding out the last %d weeks", int(o.holdout.Hours()/24/7))
	tr, err := demoTrain(ctx, o, lb, pr)
	if err != nil {
		return nil, fmt.Errorf("demo: train: %w", err)
	}
	res.models, res.forecastFrom = tr.models, tr.forecastFrom
	if err := publishRegistered(ctx, kc, topics, tr.models); err != nil {
		return nil, err
	}
	pr.done("%d models registered in %s", len(tr.models), o.registry)

	// 5. Score: forecasts for the held-out weeks, errors as actuals arrive.
	pr.step("scoring the held-out weeks (scorer group %s)", topics.Group(scorer.DefaultGroup))
	sc, err := scorer.New(scorer.Config{Kafka: kc, Topics: topics, Catalog: tr.catalog, ForecastFromByRegion: tr.forecastFrom,
		Group:        topics.Group(scorer.DefaultGroup),
		ForecastFrom: farFuture, Producer: kafka.Producer(version, "scorer"), Logger: o.log, StopAtEnd: true})
	if err != nil {
		return nil, err
	}
	if err := watch(ctx, sc.Run, func() {
		s := sc.Stats()
		pr.update(int(sum(sc.RunnerStats().RecordsIn)), int(res.processor.rows), fmt.Sprintf("feature rows, %d forecasts, %d errors", s.Forecasts, s.Errors))
	}); err != nil {
		return nil, fmt.Errorf("demo: scorer: %w", err)
	}
	res.scorer, res.accuracy = sc.Stats(), sc.Accuracy()
	pr.done("%d forecasts, %d forecast errors", res.scorer.Forecasts, res.scorer.Errors)

	// 6. The forecasts into the lake too: the sink resumes where it stopped.
	pr.step("adding the forecasts to the lake")
	sink2, err := lakesink.New(lakesink.Config{Kafka: kc, Topics: topics, Store: lb, Logger: o.log, StopAtEnd: true,
		Group: topics.Group(lakesink.DefaultGroup)})
	if err != nil {
		return nil, err
	}
	if err := sink2.Run(ctx); err != nil {
		return nil, fmt.Errorf("demo: lake sink: %w", err)
	}
	if res.lake, err = lake.Stats(ctx, lb); err != nil {
		return nil, err
	}
	pr.done("forecasts %d rows in %d files", res.lake["forecasts"].Rows, res.lake["forecasts"].Files)

	var days collected[schemas.DailyFeatures, *schemas.DailyFeatures]
	var errs collected[schemas.ForecastError, *schemas.ForecastError]
	if res.records, err = topicCounts(ctx, kc, topics, map[string]func(*kgo.Record){topics.FeaturesDaily: days.add,
		topics.ErrorsChampion: errs.add, topics.ErrorsChallenger: errs.add}); err != nil {
		return nil, err
	}
	if err := cmp.Or(days.err, errs.err); err != nil {
		return nil, err
	}
	res.lastDays = lastDays(days.list)
	res.windows = monitor.WindowValues(errs.list, demoWindowHours)
	res.elapsed = time.Since(start)
	return res, nil
}

// farFuture disables forecasting for regions not named in a per-region map.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// watch runs fn, calling tick twice a second until it returns.
func watch(ctx context.Context, fn func(context.Context) error, tick func()) error {
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			tick()
			if err == nil && ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		case <-t.C:
			tick()
		}
	}
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func dedupe(specs []schemas.TopicSpec) []schemas.TopicSpec {
	seen := map[string]bool{}
	var out []schemas.TopicSpec
	for _, s := range specs {
		if !seen[s.Name] {
			seen[s.Name] = true
			out = append(out, s)
		}
	}
	return out
}

func lakeLine(st map[string]lake.TableStats) string {
	var parts []string
	for _, t := range sortedKeys(st) {
		parts = append(parts, fmt.Sprintf("%s %d rows in %d files", t, st[t].Rows, st[t].Files))
	}
	return strings.Join(parts, ", ")
}

// topicCounts counts the records on every public topic (end minus start
// offset, less the transaction markers of transactional topics, counted by
// reading them), handing the records of the topics in visit to their
// function on the way.
func topicCounts(ctx context.Context, kc kafka.Config, t schemas.TopicSet, visit map[string]func(*kgo.Record)) (map[string]int64, error) {
	out := map[string]int64{}
	for _, s := range t.Specs(0, 0) {
		var n int64
		fn := visit[s.Name]
		err := kafka.Scan(ctx, kc, s.Name, func(r *kgo.Record) {
			n++
			if fn != nil {
				fn(r)
			}
		})
		if err != nil {
			return nil, err
		}
		out[s.Name] = n
	}
	return out, nil
}

// collected decodes the records of the topics it is shown.
type collected[T any, PT interface {
	*T
	schemas.Value
}] struct {
	list []T
	err  error // the first record that did not decode
}

func (c *collected[T, PT]) add(r *kgo.Record) {
	var v T
	if err := schemas.Decode(r.Value, PT(&v)); err != nil {
		c.err = cmp.Or(c.err, fmt.Errorf("demo: %s offset %d: %w", r.Topic, r.Offset, err))
		return
	}
	c.list = append(c.list, v)
}

// lastDays returns each region's latest daily window, by region.
func lastDays(days []schemas.DailyFeatures) []schemas.DailyFeatures {
	byRegion := map[string]schemas.DailyFeatures{}
	for _, d := range days {
		if d.End.After(byRegion[d.Region].End) {
			byRegion[d.Region] = d
		}
	}
	out := make([]schemas.DailyFeatures, 0, len(byRegion))
	for _, r := range sortedKeys(byRegion) {
		out = append(out, byRegion[r])
	}
	return out
}

// demoWindowHours is the window the summary values forecasts by: a home
// battery's charge, say.
const demoWindowHours = 3

// countRecords counts the records a read_committed consumer sees on topic.
func countRecords(ctx context.Context, kc kafka.Config, topic string) (int64, error) {
	var n int64
	err := kafka.Scan(ctx, kc, topic, func(*kgo.Record) { n++ })
	return n, err
}

// printSummary writes the demo's closing report.
func printSummary(w io.Writer, r *demoResult) {
	fmt.Fprintf(w, "\nwattcast demo finished in %.1fs\n\n", r.elapsed.Seconds())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "topic\trecords\t")
	for _, t := range sortedKeys(r.records) {
		fmt.Fprintf(tw, "%s\t%d\t\n", t, r.records[t])
	}
	tw.Flush()

	fmt.Fprintf(w, "\nlake %s\n", r.lakeURL)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\tfiles\trows\t")
	for _, t := range sortedKeys(r.lake) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", t, r.lake[t].Files, r.lake[t].Rows)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nmodels (registry %s), backtested on the last %d days before the held-out weeks\n", r.registryURL, r.backtestDays)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tversion\tregions\tstage\tbacktest MAE\tbacktest rMAE\t")
	for _, m := range r.models {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3f\t%.3f\t\n", m.id, m.version, strings.Join(m.regions, ","), m.stage, m.mae, m.rmae)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nlive scoring of the held-out weeks (forecasts topic, error topics)\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "region\tfrom\tmodel\trole\thours\tMAE\trMAE\t")
	for _, a := range r.accuracy {
		from := r.forecastFrom[a.Region].Format(time.DateOnly)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.3f\t%.3f\t\n", a.Region, from, a.ModelID, a.Role, a.N, a.MAE(), a.RMAE())
	}
	tw.Flush()
	fmt.Fprintf(w, "\nthe cheapest %d hours of each held-out day, as each forecast saw them: what they cost at the actual prices\n", demoWindowHours)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "region\tmodel\trole\tdays\tday mean\tbest window\tmodel's window\tsaving captured\tweekly naive's\t")
	for _, v := range r.windows {
		naive := "-"
		if v.Naive.Days == v.Days {
			naive = fmt.Sprintf("%.0f%%", 100*v.Naive.Capture())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.3f\t%.3f\t%.3f\t%.0f%%\t%s\t\n", v.Region, v.ModelID, v.Role, v.Days, v.DayMean, v.Best, v.Model,
			100*v.Capture(), naive)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nthe last delivery day of each region (its daily window: features.daily topic, features_daily table; local times)\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "region\tday\thours\tmean\tcheapest\t\tdearest\t\tpeak - off-peak\tunit\t")
	regions := features.DefaultRegions()
	for _, d := range r.lastDays {
		at := func(t time.Time) string { return localClock(regions[d.Region].Zone, t) }
		premium := "-"
		if d.PeakMean != nil && d.OffPeakMean != nil {
			premium = fmt.Sprintf("%.3f", *d.PeakMean-*d.OffPeakMean)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.3f\t%s\t%.3f\t%s\t%.3f\t%s\t%s\t\n", d.Region, d.LocalDate, d.PriceHours, d.Hours,
			d.PriceMean, at(d.MinHour), d.PriceMin, at(d.MaxHour), d.PriceMax, premium, d.Unit)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nrMAE is MAE over the weekly naive forecast's MAE (the price 168 h earlier) on the same hours: below 1 beats it.\n")
	fmt.Fprintf(w, "Saving captured is (day mean - model's window) / (day mean - best window): 100%% is the cheapest window every day, 0%% a random one.\n")
	fmt.Fprintf(w, "Broker %s (embedded unless --brokers was set); topics prefixed %q.\n", strings.Join(r.brokers, ","), r.topics.Prefix)
	printExplore(w, r, selfCommand())
}

// printExplore ends the summary with the commands that read what the demo
// made: its registry and lake are not the stage commands' defaults
// (.wattcast/lake), so each command names them.
func printExplore(w io.Writer, r *demoResult, self string) {
	fmt.Fprintf(w, "\nexplore what the demo made (run from this directory):\n")
	fmt.Fprintf(w, "  %s models list --registry %s\n", self, shortFileURL(r.registryURL))
	for _, m := range r.models {
		if m.stage == registry.StageChampion {
			fmt.Fprintf(w, "  %s models show %s@%s --registry %s\n", self, m.id, m.version, shortFileURL(r.registryURL))
			break
		}
	}
	if dir, ok := strings.CutPrefix(shortFileURL(r.lakeURL), "file://"); ok {
		fmt.Fprintf(w, "  python3 lake/lakesql.py --lake %s    # docs/athena.md's queries with DuckDB (pip install duckdb)\n", dir)
	}
}

// shortFileURL is a file:// URL below the working directory as a relative
// file://dir/... URL; any other URL as it is.
func shortFileURL(u string) string {
	dir, ok := strings.CutPrefix(u, "file://")
	wd, err := os.Getwd()
	if !ok || err != nil || !filepath.IsAbs(dir) {
		return u
	}
	rel, err := filepath.Rel(wd, filepath.FromSlash(dir))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return u
	}
	return "file://" + filepath.ToSlash(rel)
}

// selfCommand is how to run this binary again: as it was run when that
// was by a path (bin/wattcast), else wattcast, found on PATH.
func selfCommand() string {
	if a := os.Args[0]; strings.ContainsRune(a, filepath.Separator) && !strings.HasSuffix(a, ".test") {
		return a
	}
	return "wattcast"
}

// publishRegistered records each registered model, and its bootstrap stage,
// on the model-events topic.
func publishRegistered(ctx context.Context, kc kafka.Config, topics schemas.TopicSet, ms []trainedModel) error {
	cl, err := kc.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	now := time.Now().UTC()
	var recs []*kgo.Record
	for _, m := range ms {
		ev := &schemas.ModelEvent{EventID: fmt.Sprintf("registered/%s@%s", m.id, m.version), Time: now,
			Type: schemas.EventRegistered, ModelID: m.id, ModelVersion: m.version, ModelKind: m.kind, ToStage: m.stage,
			Reason:   fmt.Sprintf("trained by the demo on %s; backtest rMAE %.3f", strings.Join(m.regions, ","), m.rmae),
			Evidence: map[string]float64{"backtest_mae": m.mae, "backtest_rmae": m.rmae}, Actor: "wattcast demo"}
		r, err := kafka.NewRecord(topics.ModelEvents, m.id, ev, kafka.Producer(version, "demo"))
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

// localClock is t as HH:MM in zone (a market's, from features'
// default regions), or in UTC with a Z when zone is unknown.
func localClock(zone string, t time.Time) string {
	if loc, err := time.LoadLocation(zone); zone != "" && err == nil {
		return t.In(loc).Format("15:04")
	}
	return t.UTC().Format("15:04Z")
}
