package integration

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/replay"
)

// lateness is the processor's allowed lateness (wattcast process's default
// --allowed-lateness) that the expected rows are computed with.
const lateness = time.Hour

// rowKey identifies a feature row on the features topic: a region's hour,
// ready (final=false) or final.
type rowKey struct {
	region string
	hour   time.Time
	final  bool
}

func (k rowKey) String() string {
	kind := "ready"
	if k.final {
		kind = "final"
	}
	return fmt.Sprintf("%s %s %s", k.region, k.hour.Format(time.RFC3339), kind)
}

// expectedRows computes the feature rows the processor must emit for the
// published items: the engine run in batch over them (features.Batch),
// keeping the rows that are due at each partition's final clock. Once the
// processor has consumed everything, a partition's clock is the largest
// known-at time on it; a ready row is due once the clock passes its issue
// time + the lateness, a final row once it passes its hour + 1 h + the
// lateness (processors/features). cmd/wattcast/demo_test.go derives the
// lake's rows the same way.
// It also returns the daily windows due: a day's window is sent with the
// final row of its last hour, once the clock passes the day's end + the
// lateness.
func expectedRows(t *testing.T, topics schemas.TopicSet, items []replay.Item) (map[rowKey]schemas.FeatureRow, map[dayKey]schemas.DailyFeatures) {
	t.Helper()
	part := kgo.StickyKeyPartitioner(nil).ForTopic(topics.Prices)
	pOf := func(key string) int32 { return int32(part.Partition(&kgo.Record{Key: []byte(key)}, partitions)) }
	clock := map[int32]time.Time{}
	var prices []schemas.Price
	var obs []schemas.WeatherObservation
	var fcs []schemas.WeatherForecast
	for _, it := range items {
		p := pOf(it.Key)
		if it.KnownAt.After(clock[p]) {
			clock[p] = it.KnownAt
		}
		switch v := it.Value.(type) {
		case *schemas.Price:
			prices = append(prices, *v)
		case *schemas.WeatherObservation:
			obs = append(obs, *v)
		case *schemas.WeatherForecast:
			fcs = append(fcs, *v)
		}
	}
	res, err := features.Batch(features.Config{AllowedLateness: lateness}, prices, obs, fcs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) > 0 {
		t.Fatalf("the engine rejects %d published inputs in batch (first: %v); the fault tests need clean input", len(res.Rejected), res.Rejected[0])
	}
	want := map[rowKey]schemas.FeatureRow{}
	for _, r := range res.Ready {
		if r.IssueTime.Add(lateness).Before(clock[pOf(r.Region)]) {
			want[rowKey{r.Region, r.Hour, false}] = r
		}
	}
	for _, r := range res.Final {
		if r.Hour.Add(time.Hour + lateness).Before(clock[pOf(r.Region)]) {
			want[rowKey{r.Region, r.Hour, true}] = r
		}
	}
	daily := map[dayKey]schemas.DailyFeatures{}
	for _, d := range res.Daily {
		if d.End.Add(lateness).Before(clock[pOf(d.Region)]) {
			daily[dayKey{d.Region, d.LocalDate}] = d
		}
	}
	return want, daily
}

// dayKey identifies a daily window: a region's local delivery day.
type dayKey struct{ region, date string }

func (k dayKey) String() string { return k.region + " " + k.date }

// tally is one line of an exactly-once report: how many of something were
// expected and found, and how many were doubled, missing or unexpected.
type tally struct {
	what                                           string
	expected, found, duplicates, missing, unexpect int
	example                                        string // one of the problems, if any
}

func (ty tally) ok() bool {
	return ty.duplicates == 0 && ty.missing == 0 && ty.unexpect == 0 && ty.found == ty.expected
}

// count compares the occurrences of keys with the expected set.
func count[K comparable](what string, want map[K]bool, got map[K]int, show func(K) string) tally {
	ty := tally{what: what, expected: len(want)}
	for k, n := range got {
		ty.found += n
		if n > 1 {
			ty.duplicates += n - 1
			if ty.example == "" {
				ty.example = fmt.Sprintf("%s %d times", show(k), n)
			}
		}
		if !want[k] {
			ty.unexpect++
			if ty.example == "" {
				ty.example = "unexpected " + show(k)
			}
		}
	}
	for k := range want {
		if got[k] == 0 {
			ty.missing++
			if ty.example == "" {
				ty.example = "missing " + show(k)
			}
		}
	}
	return ty
}

// outcome is what a fault test found at the end, for its report.
type outcome struct {
	tallies    []tally
	durability *durabilityResult // nil when nothing watched the lake sink
	notes      []string
	// want holds the feature rows the input implies.
	want map[rowKey]schemas.FeatureRow
}

// report logs the outcome as a table and fails the test on any problem.
func (o *outcome) report(t *testing.T, title string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n  %-42s %9s %9s %10s %8s %10s\n", title, "", "expected", "found", "duplicates", "missing", "unexpected")
	for _, ty := range o.tallies {
		fmt.Fprintf(&b, "  %-42s %9d %9d %10d %8d %10d\n", ty.what, ty.expected, ty.found, ty.duplicates, ty.missing, ty.unexpect)
	}
	if d := o.durability; d != nil {
		fmt.Fprintf(&b, "  lake sink commits checked against stored batches: %d samples, %d record checks, %d violations\n", d.samples, d.checks, d.violations)
	}
	for _, n := range o.notes {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	t.Log(b.String())
	for _, ty := range o.tallies {
		if !ty.ok() {
			t.Errorf("%s: expected %d, found %d, %d duplicates, %d missing, %d unexpected (e.g. %s)",
				ty.what, ty.expected, ty.found, ty.duplicates, ty.missing, ty.unexpect, ty.example)
		}
	}
	if d := o.durability; d != nil && d.violations > 0 {
		t.Errorf("offsets committed before the data they cover was durable: %d cases; %s", d.violations, d.first)
	}
	if d := o.durability; d != nil && d.samples == 0 {
		t.Errorf("the durability watch took no sample with committed offsets: nothing was checked")
	}
}

// verifyExactlyOnce reads back everything a pipeline run produced and
// compares it with what the published items imply: the input topics hold
// each published record once; the features topic (read_committed) holds
// each due (region, hour, ready/final) row once; the lake holds each input
// record and each final feature row once, by lineage (topic, partition,
// offset), and the features table each (region, hour) once with the values
// the engine computes; the daily features topic each due (region, day)
// window once with the engine's values, and the lake each of them once;
// nothing was dead-lettered. With w, it also checks
// the lake sink's commits that w sampled.
func verifyExactlyOnce(t *testing.T, s *suiteEnv, topics schemas.TopicSet, lakeURL string, items []replay.Item, w *durabilityWatch) *outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o := &outcome{}
	records := map[tp][]int64{} // data record offsets per partition, for the durability check
	lineage := map[string]map[lake.Lineage]bool{}

	// Inputs: what the publisher acknowledged, each once.
	perTopic := map[string]int{}
	for _, it := range items {
		perTopic[it.Topic]++
	}
	tables := map[string]string{topics.Prices: lake.TablePrices, topics.WeatherObserved: lake.TableWeatherObserved,
		topics.WeatherForecast: lake.TableWeatherForecast}
	for _, topic := range inputTopics(topics) {
		recs, err := s.readTopic(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != perTopic[topic] {
			t.Fatalf("input topic %s holds %d records, the publisher published %d: the input itself is wrong, not the pipeline", topic, len(recs), perTopic[topic])
		}
		set := map[lake.Lineage]bool{}
		for _, r := range recs {
			set[lake.Lineage{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}] = true
			records[tp{r.Topic, r.Partition}] = append(records[tp{r.Topic, r.Partition}], r.Offset)
		}
		lineage[tables[topic]] = set
	}

	// The features topic, as a read_committed consumer sees it.
	want, wantDaily := expectedRows(t, topics, items)
	recs, err := s.readTopic(ctx, topics.Features)
	if err != nil {
		t.Fatal(err)
	}
	got := map[rowKey]int{}
	finals := map[lake.Lineage]bool{}
	var valueErr string
	for _, r := range recs {
		records[tp{r.Topic, r.Partition}] = append(records[tp{r.Topic, r.Partition}], r.Offset)
		var f schemas.FeatureRow
		if err := schemas.Decode(r.Value, &f); err != nil {
			t.Fatalf("features %s[%d]@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		k := rowKey{f.Region, f.Hour, f.Final}
		got[k]++
		if f.Final {
			finals[lake.Lineage{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}] = true
		}
		if w, ok := want[k]; ok && valueErr == "" {
			if msg := sameRow(f, w); msg != "" {
				valueErr = fmt.Sprintf("features topic row %s: %s", k, msg)
			}
		}
	}
	wantKeys := map[rowKey]bool{}
	nReady := 0
	for k := range want {
		wantKeys[k] = true
		if !k.final {
			nReady++
		}
	}
	o.tallies = append(o.tallies, count(fmt.Sprintf("features topic rows (%d ready)", nReady), wantKeys, got, rowKey.String))
	lineage[lake.TableFeatures] = finals

	// The daily windows, each once with the values the engine computes.
	recs, err = s.readTopic(ctx, topics.FeaturesDaily)
	if err != nil {
		t.Fatal(err)
	}
	gotDaily := map[dayKey]int{}
	dailyLineage := map[lake.Lineage]bool{}
	for _, r := range recs {
		records[tp{r.Topic, r.Partition}] = append(records[tp{r.Topic, r.Partition}], r.Offset)
		dailyLineage[lake.Lineage{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}] = true
		var d schemas.DailyFeatures
		if err := schemas.Decode(r.Value, &d); err != nil {
			t.Fatalf("daily features %s[%d]@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		k := dayKey{d.Region, d.LocalDate}
		gotDaily[k]++
		if w, ok := wantDaily[k]; ok && valueErr == "" && !reflect.DeepEqual(d, w) {
			valueErr = fmt.Sprintf("daily features %s: %+v, want %+v", k, d, w)
		}
	}
	wantDays := map[dayKey]bool{}
	for k := range wantDaily {
		wantDays[k] = true
	}
	o.tallies = append(o.tallies, count("daily features topic windows", wantDays, gotDaily, dayKey.String))
	lineage[lake.TableFeaturesDaily] = dailyLineage

	dl, err := s.readTopic(ctx, topics.DeadLetters)
	if err != nil {
		t.Fatal(err)
	}
	o.tallies = append(o.tallies, tally{what: "dead letters", found: len(dl), unexpect: len(dl)})

	// The lake, by lineage: each record once.
	store := s.openLake(t, lakeURL)
	for _, table := range []string{lake.TablePrices, lake.TableWeatherObserved, lake.TableWeatherForecast, lake.TableFeatures, lake.TableFeaturesDaily} {
		ls, _, err := lake.ReadLineage(ctx, store, table, lake.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		n := map[lake.Lineage]int{}
		for _, l := range ls {
			n[l]++
		}
		o.tallies = append(o.tallies, count("lake "+table+" rows (by lineage)", lineage[table], n, func(l lake.Lineage) string {
			return fmt.Sprintf("%s[%d]@%d", l.Topic, l.Partition, l.Offset)
		}))
	}

	// The lake's features table by (region, hour), with the values.
	rows, _, err := lake.ReadFeatures(ctx, store, lake.FeatureFilter{})
	if err != nil {
		t.Fatal(err)
	}
	wantFinal := map[rowKey]bool{}
	for k := range want {
		if k.final {
			wantFinal[k] = true
		}
	}
	lk := map[rowKey]int{}
	for _, r := range rows {
		k := rowKey{r.Region, r.Hour, true}
		lk[k]++
		if w, ok := want[k]; ok && valueErr == "" {
			if msg := sameRow(r, w); msg != "" {
				valueErr = fmt.Sprintf("lake features row %s: %s", k, msg)
			}
		}
	}
	o.tallies = append(o.tallies, count("lake features (region, hour)", wantFinal, lk, rowKey.String))

	// The batch journals are a manifest of the lake: every file they list
	// is stored, and every stored file is listed.
	m, err := checkManifest(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	o.tallies = append(o.tallies,
		tally{what: "lake journals listing a missing file", found: m.half, unexpect: m.half},
		tally{what: "lake files in no journal", found: m.unlisted, unexpect: m.unlisted})
	if valueErr != "" {
		t.Errorf("%s", valueErr)
	}

	for k := range records {
		sort.Slice(records[k], func(i, j int) bool { return records[k][i] < records[k][j] })
	}
	if w != nil {
		d := w.verify(records)
		o.durability = &d
	}
	o.want = want
	return o
}

// sameRow compares the fields of a feature row that its inputs determine
// (the target, its time keys and the price features).
func sameRow(got, want schemas.FeatureRow) string {
	eq := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	switch {
	case !got.IssueTime.Equal(want.IssueTime) || got.LocalDate != want.LocalDate || got.LeadHours != want.LeadHours:
		return fmt.Sprintf("issue %s/%s/%d, want %s/%s/%d", got.IssueTime, got.LocalDate, got.LeadHours, want.IssueTime, want.LocalDate, want.LeadHours)
	case !eq(got.Price, want.Price) || got.PriceCount != want.PriceCount:
		return fmt.Sprintf("price %v (%d), want %v (%d)", deref(got.Price), got.PriceCount, deref(want.Price), want.PriceCount)
	case !eq(got.PriceLag24h, want.PriceLag24h) || !eq(got.PriceLag168h, want.PriceLag168h) || !eq(got.Mean24h, want.Mean24h):
		return fmt.Sprintf("price features lag24 %v lag168 %v mean24 %v, want %v %v %v", deref(got.PriceLag24h), deref(got.PriceLag168h),
			deref(got.Mean24h), deref(want.PriceLag24h), deref(want.PriceLag168h), deref(want.Mean24h))
	}
	return ""
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
