package lakesink_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/lakesink"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
)

// env is one embedded broker with wattcast's topics and a lake.
type env struct {
	t       testing.TB
	brokers []string
	topics  schemas.TopicSet
	lake    *lake.Bucket
	// want counts, per table, the rows every (topic, partition, offset)
	// must produce in the lake: forecasts produce one row per point.
	want map[string]map[lake.Lineage]int
	// prices keeps the produced values, to compare what comes back.
	prices map[lake.Lineage]schemas.Price
	// invalid and notFinal count the records the sink must skip.
	invalid, notFinal int
}

func newEnv(t testing.TB) *env {
	t.Helper()
	brokers := brokertest.Start(t).Brokers
	return newEnvOn(t, brokers)
}

func newEnvOn(t testing.TB, brokers []string) *env {
	t.Helper()
	e := &env{
		t: t, brokers: brokers, topics: schemas.NewTopicSet("test."),
		want:   make(map[string]map[lake.Lineage]int),
		prices: make(map[lake.Lineage]schemas.Price),
	}
	for _, tb := range lake.Tables() {
		e.want[tb] = make(map[lake.Lineage]int)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cl, e.topics.Specs(3, 0), 1); err != nil {
		t.Fatal(err)
	}
	bk, err := lake.Open(ctx, "file://"+t.TempDir(), lake.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	e.lake = bk
	return e
}

func (e *env) kafkaConfig() kafka.Config { return kafka.Config{Brokers: e.brokers} }

func (e *env) config(store lakesink.Store) lakesink.Config {
	return lakesink.Config{
		Kafka:        e.kafkaConfig(),
		Group:        "lakesink-test",
		Topics:       e.topics,
		Store:        store,
		MaxRows:      40,
		RollInterval: 24 * time.Hour,
		IdleFlush:    time.Second,
		RetryMin:     10 * time.Millisecond,
		RetryMax:     100 * time.Millisecond,
		Logger:       testLogger(e.t),
		StopAtEnd:    true,
		// Members notice a rebalance at their next heartbeat, and a
		// fetch waits up to FetchMaxWait for data; the defaults (3s,
		// 5s) would make every rebalance in these tests take seconds.
		ClientOpts: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond), kgo.FetchMaxWait(200 * time.Millisecond)},
	}
}

// testLogger logs warnings and errors through t, so a failing test shows
// what the sink complained about. WATTCAST_TEST_LOG=debug shows everything.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("WATTCAST_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var t2024 = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

func f64(v float64) *float64 { return &v }

// produce writes days of hourly data for regions starting at from: prices,
// observations, forecasts issued daily (48 h ahead), ready and final
// feature rows (transactionally, one transaction per region-day, with one
// aborted transaction), one model forecast per region-day, and a few
// malformed or invalid records.
func (e *env) produce(from time.Time, days int, regions ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	type tracked struct {
		table string
		rows  int
		price *schemas.Price
	}
	meta := map[*kgo.Record]tracked{}
	add := func(topic, key string, v schemas.Value, table string, rows int) {
		r, err := kafka.NewRecord(topic, key, v, "test")
		if err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, r)
		tr := tracked{table: table, rows: rows}
		if p, ok := v.(*schemas.Price); ok {
			tr.price = p
		}
		meta[r] = tr
	}
	for d := range days {
		day := from.Add(time.Duration(d) * 24 * time.Hour)
		for _, reg := range regions {
			// Published the day before, at noon: day-ahead prices.
			for h := range 24 {
				start := day.Add(time.Duration(h) * time.Hour)
				add(e.topics.Prices, reg, &schemas.Price{Region: reg, Market: "test-dayahead", Source: "test",
					Start: start, End: start.Add(time.Hour), Value: float64(d*100 + h), Unit: "EUR/MWh",
					Currency: "EUR", PublishedAt: day.Add(-12 * time.Hour)}, lake.TablePrices, 1)
			}
			for h := range 24 {
				hour := day.Add(time.Duration(h) * time.Hour)
				add(e.topics.WeatherObserved, reg, &schemas.WeatherObservation{Region: reg, Location: "x", Source: "test",
					Time: hour, AvailableAt: hour.Add(time.Hour), Values: map[string]float64{"temperature_2m": float64(h)}},
					lake.TableWeatherObserved, 1)
			}
			issued := day.Add(6 * time.Hour)
			for h := range 48 {
				hour := day.Add(time.Duration(h) * time.Hour)
				add(e.topics.WeatherForecast, reg, &schemas.WeatherForecast{Region: reg, Location: "x", Source: "test",
					IssuedAt: issued, Time: hour, LeadHours: schemas.LeadHours(issued, hour),
					Values: map[string]float64{"temperature_2m": float64(h)}}, lake.TableWeatherForecast, 1)
			}
			fc := &schemas.Forecast{ForecastID: fmt.Sprintf("%s/m/1/%s", reg, day.Format(time.DateOnly)), Region: reg,
				Market: "test-dayahead", Unit: "EUR/MWh", ModelID: "m", ModelVersion: "1", ModelKind: "naive",
				Role: schemas.RoleChampion, Official: true, IssueTime: day.Add(-14 * time.Hour),
				LocalDate: day.Format(time.DateOnly), CreatedAt: day.Add(-14 * time.Hour)}
			for h := range 24 {
				hour := day.Add(time.Duration(h) * time.Hour)
				fc.Points = append(fc.Points, schemas.ForecastPoint{Hour: hour, LeadHours: 14 + h, Value: float64(h),
					Quantiles: []schemas.Quantile{{Q: 0.1, Value: float64(h) - 1}, {Q: 0.9, Value: float64(h) + 1}}})
			}
			add(e.topics.Forecasts, reg, fc, lake.TableForecasts, 24)
		}
	}
	// Bad records: the sink skips and counts them, never blocks on them.
	for _, reg := range regions {
		recs = append(recs, &kgo.Record{Topic: e.topics.Prices, Key: []byte(reg), Value: []byte("{not json")})
		recs = append(recs, &kgo.Record{Topic: e.topics.WeatherObserved, Key: []byte(reg),
			Value: []byte(`{"region":"` + reg + `","location":"x","source":"t","time":"2024-03-01T00:30:00Z","available_at":"2024-03-01T02:00:00Z","values":{"a":1}}`)})
		// A well-formed price whose headers say schema version 2: a v1
		// reader must not store it as v1.
		v2, err := kafka.NewRecord(e.topics.Prices, reg, &schemas.Price{Region: reg, Market: "test-dayahead", Source: "test",
			Start: from, End: from.Add(time.Hour), Value: 1, Unit: "EUR/MWh", Currency: "EUR", PublishedAt: from.Add(-time.Hour)}, "test")
		if err != nil {
			e.t.Fatal(err)
		}
		for i, h := range v2.Headers {
			if h.Key == schemas.HeaderSchemaVersion {
				v2.Headers[i].Value = []byte("2")
			}
		}
		recs = append(recs, v2)
		e.invalid += 3
	}
	for _, res := range cl.ProduceSync(ctx, recs...) {
		if res.Err != nil {
			e.t.Fatal(res.Err)
		}
		if tr, ok := meta[res.Record]; ok {
			l := lake.Lineage{Topic: res.Record.Topic, Partition: res.Record.Partition, Offset: res.Record.Offset}
			e.want[tr.table][l] += tr.rows
			if tr.price != nil {
				e.prices[l] = *tr.price
			}
		}
	}
	e.produceFeatures(ctx, from, days, regions)
}

// produceFeatures writes ready and final rows per hour and the day's daily
// window, one transaction per region and day, as the feature processor
// does; the second transaction is aborted and must not reach the lake.
func (e *env) produceFeatures(ctx context.Context, from time.Time, days int, regions []string) {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.TransactionalID("test-features-"+e.t.Name()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	txn := 0
	for d := range days {
		day := from.Add(time.Duration(d) * 24 * time.Hour)
		for _, reg := range regions {
			if err := cl.BeginTransaction(); err != nil {
				e.t.Fatal(err)
			}
			var recs []*kgo.Record
			finals := map[*kgo.Record]bool{}
			for h := range 24 {
				hour := day.Add(time.Duration(h) * time.Hour)
				base := schemas.FeatureRow{Region: reg, Market: "test-dayahead", Unit: "EUR/MWh", Hour: hour,
					LocalDate: day.Format(time.DateOnly), IssueTime: day.Add(-14 * time.Hour), LeadHours: 14 + h,
					PriceLag24h: f64(1), LocalHour: h, Weekday: 5, Month: 3, DayOfYear: 61,
					KnownAhead: map[string]float64{"temperature_2m": 1}}
				ready := base
				final := base
				final.Final, final.Price, final.PriceCount = true, f64(float64(h)), 1
				final.Observed = map[string]float64{"temperature_2m": 2}
				for _, v := range []*schemas.FeatureRow{&ready, &final} {
					r, err := kafka.NewRecord(e.topics.Features, reg, v, "test")
					if err != nil {
						e.t.Fatal(err)
					}
					recs = append(recs, r)
					finals[r] = v.Final
				}
			}
			// The day's window, in the transaction of its last final row.
			daily := &schemas.DailyFeatures{Region: reg, Market: "test-dayahead", Unit: "EUR/MWh",
				LocalDate: day.Format(time.DateOnly), Start: day, End: day.Add(24 * time.Hour), Hours: 24, PriceHours: 24,
				PriceMean: 11.5, PriceStd: 6.9, PriceMin: 0, PriceMax: 23, MinHour: day, MaxHour: day.Add(23 * time.Hour),
				Weekday: 5, Month: 3}
			dr, err := kafka.NewRecord(e.topics.FeaturesDaily, reg, daily, "test")
			if err != nil {
				e.t.Fatal(err)
			}
			recs = append(recs, dr)
			res := cl.ProduceSync(ctx, recs...)
			if err := res.FirstErr(); err != nil {
				e.t.Fatal(err)
			}
			commit := kgo.TryCommit
			if txn == 1 {
				commit = kgo.TryAbort
			}
			if err := cl.EndTransaction(ctx, commit); err != nil {
				e.t.Fatal(err)
			}
			if commit == kgo.TryCommit {
				for _, r := range res {
					if r.Record == dr {
						e.want[lake.TableFeaturesDaily][lake.Lineage{Topic: r.Record.Topic, Partition: r.Record.Partition, Offset: r.Record.Offset}]++
						continue
					}
					if finals[r.Record] {
						e.want[lake.TableFeatures][lake.Lineage{Topic: r.Record.Topic, Partition: r.Record.Partition, Offset: r.Record.Offset}]++
					} else {
						e.notFinal++
					}
				}
			}
			txn++
		}
	}
}

// checkLake asserts that the lake holds exactly the rows e.want expects:
// every record exactly once, none missing, none doubled, nothing else. It
// reads only the lineage columns; checkPrices compares values too.
func (e *env) checkLake(ctx context.Context, store lake.Reader) {
	e.t.Helper()
	e.checkRows(ctx, store)
	e.checkManifest(ctx, store)
}

// checkRows asserts that every table holds every record produced for it
// exactly once.
func (e *env) checkRows(ctx context.Context, store lake.Reader) {
	e.t.Helper()
	for _, table := range lake.Tables() {
		want := e.want[table]
		if len(want) == 0 {
			e.t.Fatalf("test bug: nothing produced for table %s", table)
		}
		ls, _, err := lake.ReadLineage(ctx, store, table, lake.Filter{})
		e.must(err)
		got := make(map[lake.Lineage]int, len(ls))
		for _, l := range ls {
			got[l]++
		}
		var problems []string
		for l, n := range want {
			if got[l] != n {
				problems = append(problems, fmt.Sprintf("%s[%d]@%d: %d rows, want %d", l.Topic, l.Partition, l.Offset, got[l], n))
			}
		}
		for l, n := range got {
			if _, ok := want[l]; !ok {
				problems = append(problems, fmt.Sprintf("%s[%d]@%d: %d unexpected rows", l.Topic, l.Partition, l.Offset, n))
			}
		}
		if len(problems) > 0 {
			sort.Strings(problems)
			if len(problems) > 10 {
				problems = append(problems[:10], fmt.Sprintf("... and %d more", len(problems)-10))
			}
			e.t.Fatalf("table %s does not hold every record exactly once:\n%s", table, strings.Join(problems, "\n"))
		}
	}
}

// checkPrices asserts that prices read back with the values produced.
func (e *env) checkPrices(ctx context.Context, store lake.Reader) {
	e.t.Helper()
	prices, _, err := lake.ReadRows[lake.PriceRow](ctx, store, lake.Filter{})
	e.must(err)
	if len(prices) != len(e.prices) {
		e.t.Fatalf("read %d prices, want %d", len(prices), len(e.prices))
	}
	for _, r := range prices {
		want := e.prices[r.Lineage()]
		if got := r.Price(); got.Region != want.Region || !got.Start.Equal(want.Start) || got.Value != want.Value ||
			!got.PublishedAt.Equal(want.PublishedAt) || got.Market != want.Market {
			e.t.Fatalf("price at %+v reads back as %+v, want %+v", r.Lineage(), got, want)
		}
	}
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// committedAll returns the group's committed offsets and the topics' end
// offsets (last stable offsets), per partition with data.
func (e *env) offsets(ctx context.Context, group string) (committed, ends map[string]map[int32]int64) {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	e.must(err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics := []string{e.topics.Prices, e.topics.WeatherObserved, e.topics.WeatherForecast, e.topics.Features, e.topics.FeaturesDaily, e.topics.Forecasts}
	lso, err := adm.ListCommittedOffsets(ctx, topics...)
	e.must(err)
	committed, ends = map[string]map[int32]int64{}, map[string]map[int32]int64{}
	lso.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			if ends[o.Topic] == nil {
				ends[o.Topic] = map[int32]int64{}
			}
			ends[o.Topic][o.Partition] = o.Offset
		}
	})
	fo, err := adm.FetchOffsets(ctx, group)
	e.must(err)
	fo.Each(func(o kadm.OffsetResponse) {
		if committed[o.Topic] == nil {
			committed[o.Topic] = map[int32]int64{}
		}
		committed[o.Topic][o.Partition] = o.At
	})
	return committed, ends
}

// runSink runs a sink to the end (StopAtEnd) and fails the test on error
// or after timeout.
func runSink(t testing.TB, cfg lakesink.Config, timeout time.Duration) lakesink.Stats {
	t.Helper()
	s, err := lakesink.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("sink: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("sink did not reach the end offsets within %s; stats %+v", timeout, s.Stats())
	}
	return s.Stats()
}

// faultStore wraps a store and injects faults into writes (Put and
// PutIfAbsent), counted from 1.
type faultStore struct {
	inner lakesink.Store

	mu     sync.Mutex
	writes int
	// onWrite decides what happens to write number n: return a non-nil
	// error to fail it (after applying it when apply is true).
	onWrite func(n int, key string) (apply bool, err error)
}

func (f *faultStore) decide(key string) (bool, error) {
	f.mu.Lock()
	f.writes++
	n := f.writes
	f.mu.Unlock()
	if f.onWrite == nil {
		return true, nil
	}
	return f.onWrite(n, key)
}

func (f *faultStore) Put(ctx context.Context, key string, data []byte) error {
	apply, ferr := f.decide(key)
	if apply {
		if err := f.inner.Put(ctx, key, data); err != nil {
			return err
		}
	}
	return ferr
}

func (f *faultStore) PutIfAbsent(ctx context.Context, key string, data []byte) (bool, error) {
	apply, ferr := f.decide(key)
	created := false
	if apply {
		var err error
		if created, err = f.inner.PutIfAbsent(ctx, key, data); err != nil {
			return false, err
		}
	}
	return created, ferr
}

func (f *faultStore) Get(ctx context.Context, key string) ([]byte, error) {
	return f.inner.Get(ctx, key)
}

func (f *faultStore) ListAfter(ctx context.Context, prefix, after string) ([]string, error) {
	return f.inner.ListAfter(ctx, prefix, after)
}

// errUnavailable is a retryable store failure, as lake.IsRetryable
// classifies a refused connection to S3.
var errUnavailable = fmt.Errorf("test store refuses writes: %w", syscall.ECONNREFUSED)
