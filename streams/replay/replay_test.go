package replay

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
)

func TestLoadAll(t *testing.T) {
	t.Parallel()
	ts := schemas.NewTopicSet("")
	d, err := Load(ts, Options{})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]map[string]int{}
	for i, it := range d.Items {
		if i > 0 && it.KnownAt.Before(d.Items[i-1].KnownAt) {
			t.Fatalf("item %d known at %s before item %d at %s", i, it.KnownAt, i-1, d.Items[i-1].KnownAt)
		}
		if per[it.Dataset] == nil {
			per[it.Dataset] = map[string]int{}
		}
		per[it.Dataset][it.Topic]++
		switch v := it.Value.(type) {
		case *schemas.Price:
			if !v.PublishedAt.Before(v.Start) {
				t.Fatalf("price for %s published at %s", v.Start, v.PublishedAt)
			}
		case *schemas.WeatherObservation:
			if v.AvailableAt.Before(v.Time.Add(time.Hour)) {
				t.Fatalf("observation for %s available at %s", v.Time, v.AvailableAt)
			}
		}
	}
	// FI: 14,662 priced hours, each with station and grid observations and
	// an import-capacity forecast; Agile A: 61,532 half-hours.
	want := map[string]map[string]int{
		NordPoolFI:    {ts.Prices: 14662, ts.WeatherObserved: 2 * 14662, ts.WeatherForecast: 14662},
		OctopusAgileA: {ts.Prices: 61532},
	}
	for ds, topics := range want {
		for topic, n := range topics {
			if per[ds][topic] != n {
				t.Errorf("%s %s: %d items, want %d", ds, topic, per[ds][topic], n)
			}
		}
	}
	if d.SkippedRows != 94 || len(d.Rejected[NordPoolFI])+len(d.Rejected[OctopusAgileA]) != 0 {
		t.Errorf("skipped %d rejected %v", d.SkippedRows, d.Rejected)
	}
}

func startBroker(t testing.TB) (kafka.Config, schemas.TopicSet) {
	t.Helper()
	kcfg := brokertest.Start(t)
	cl, err := kcfg.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ts := schemas.NewTopicSet("")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cl, ts.Specs(3, 0), -1); err != nil {
		t.Fatal(err)
	}
	return kcfg, ts
}

// A slice spanning the end of the Agile data and the start of the FI data:
// everything Load says is published, once, keyed by region, and within each
// partition in known-at order.
func TestRunSlice(t *testing.T) {
	t.Parallel()
	kcfg, ts := startBroker(t)
	cl, err := kcfg.NewClient(ClientOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	opts := Options{
		From: time.Date(2021, 8, 16, 0, 0, 0, 0, time.UTC),
		To:   time.Date(2023, 1, 8, 0, 0, 0, 0, time.UTC),
	}
	var calls, lastDone, lastTotal int
	opts.Progress = func(done, total int) { calls++; lastDone, lastTotal = done, total }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	st, err := Run(ctx, cl, ts, opts)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(ts, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != len(d.Items) || st.DeadLetters != 0 || calls < 2 || lastDone != lastTotal || lastTotal != st.Records {
		t.Fatalf("stats %+v, items %d, progress calls %d last %d/%d", st, len(d.Items), calls, lastDone, lastTotal)
	}
	// Agile: 16..22 Aug 2021 whole (7 x 48) and 23 Aug up to its last
	// period, 21:30Z (44); FI: 7 days x 24 h x (price, 2 observations,
	// 1 forecast).
	if st.PerDataset[OctopusAgileA] != 7*48+44 {
		t.Errorf("Agile records %d, want %d", st.PerDataset[OctopusAgileA], 7*48+44)
	}
	if st.PerDataset[NordPoolFI] != 7*24*4 {
		t.Errorf("FI records %d, want %d", st.PerDataset[NordPoolFI], 7*24*4)
	}

	// Read everything back.
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, ts.Prices, ts.WeatherObserved, ts.WeatherForecast)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	if want != int64(st.Records) {
		t.Fatalf("topics hold %d records, want %d", want, st.Records)
	}
	rd, err := kcfg.NewClient(kgo.ConsumeTopics(ts.Prices, ts.WeatherObserved, ts.WeatherForecast))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rd.Close)
	partOf := map[string]map[string]int32{} // region -> topic -> partition
	lastKnown := map[string]time.Time{}     // topic/partition -> known-at
	var got int64
	for got < want {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d", got, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			region := string(r.Key)
			if partOf[region] == nil {
				partOf[region] = map[string]int32{}
			}
			partOf[region][r.Topic] = r.Partition
			var known time.Time
			switch r.Topic {
			case ts.Prices:
				var v schemas.Price
				mustDecode(t, r.Value, &v)
				known = v.PublishedAt
			case ts.WeatherObserved:
				var v schemas.WeatherObservation
				mustDecode(t, r.Value, &v)
				known = v.AvailableAt
			case ts.WeatherForecast:
				var v schemas.WeatherForecast
				mustDecode(t, r.Value, &v)
				known = v.IssuedAt
			}
			k := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
			if known.Before(lastKnown[k]) {
				t.Errorf("%s: known-at %s after %s", k, known, lastKnown[k])
			}
			lastKnown[k] = known
		})
	}
	fi := partOf["FI"]
	if fi[ts.Prices] != fi[ts.WeatherObserved] || fi[ts.Prices] != fi[ts.WeatherForecast] {
		t.Errorf("FI partitions differ across topics: %v (region keys must co-partition)", fi)
	}
}

func mustDecode(t *testing.T, b []byte, v schemas.Value) {
	t.Helper()
	if err := schemas.Decode(b, v); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkReplay replays all shipped history into an embedded broker and
// reports records/s, against the parse-and-sort baseline (Load) measured in
// the same process.
func BenchmarkReplay(b *testing.B) {
	ts := schemas.NewTopicSet("")
	start := time.Now()
	d, err := Load(ts, Options{})
	if err != nil {
		b.Fatal(err)
	}
	loadTime := time.Since(start)
	n := len(d.Items)
	for b.Loop() {
		b.StopTimer()
		kcfg, ts := startBroker(b)
		cl, err := kcfg.NewClient(ClientOpts()...)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		st, err := Run(context.Background(), cl, ts, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cl.Close()
		b.ReportMetric(float64(st.Records)/st.Elapsed.Seconds(), "records/s")
		b.ReportMetric(st.Elapsed.Seconds()/loadTime.Seconds(), "produce/load-ratio")
		b.StartTimer()
	}
	b.Logf("%d records; load (parse + sort) %s", n, loadTime)
}
