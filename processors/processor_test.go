package processors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/processors/features/featurestest"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
)

type inputs = featurestest.Inputs

func history(regions []string, from time.Time, days int) inputs {
	return featurestest.History(regions, from, days)
}

func startBroker(t *testing.T, topics schemas.TopicSet) kafka.Config {
	t.Helper()
	kc := brokertest.Start(t)
	cl, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cl, Topics(topics, 3), 1); err != nil {
		t.Fatal(err)
	}
	return kc
}

// publish writes the inputs in known-at order, as the replay does, plus the
// extra raw records.
func publish(t *testing.T, kc kafka.Config, topics schemas.TopicSet, in inputs, extra ...*kgo.Record) {
	t.Helper()
	type item struct {
		at  time.Time
		rec *kgo.Record
	}
	var items []item
	add := func(at time.Time, topic, key string, v schemas.Value) {
		r, err := kafka.NewRecord(topic, key, v, "test")
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, item{at, r})
	}
	in.Each(topics, add)
	sort.SliceStable(items, func(i, j int) bool { return items[i].at.Before(items[j].at) })
	cl, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, 0, len(items)+len(extra))
	for _, it := range items {
		recs = append(recs, it.rec)
	}
	recs = append(recs, extra...)
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readAll reads a topic to its end, read_committed.
func readAll(t *testing.T, kc kafka.Config, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs, err := kafka.ReadAll(ctx, kc, topic)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

type rowKey struct {
	region string
	hour   time.Time
	final  bool
}

func decodeRows(t *testing.T, recs []*kgo.Record) map[rowKey]schemas.FeatureRow {
	t.Helper()
	out := map[rowKey]schemas.FeatureRow{}
	for _, r := range recs {
		var row schemas.FeatureRow
		if err := schemas.Decode(r.Value, &row); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != row.Region {
			t.Fatalf("feature row for %s keyed %q", row.Region, r.Key)
		}
		k := rowKey{row.Region, row.Hour, row.Final}
		if _, dup := out[k]; dup {
			t.Fatalf("feature row %v emitted twice", k)
		}
		out[k] = row
	}
	return out
}

// batch runs the batch engine over the inputs and returns its result and
// the last input's known-at time (the observations come last), where a
// stream that stopped there has its clock.
func batch(t *testing.T, in inputs) (features.BatchResult, time.Time) {
	t.Helper()
	res, err := features.Batch(features.Config{}, in.Prices, in.Obs, in.Fcs)
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for _, o := range in.Obs {
		if o.AvailableAt.After(last) {
			last = o.AvailableAt
		}
	}
	return res, last
}

// expected returns the rows the batch engine computes for the same inputs,
// limited to those a stream that stopped at the last input must have sent.
func expected(t *testing.T, in inputs) map[rowKey]schemas.FeatureRow {
	t.Helper()
	res, last := batch(t, in)
	out := map[rowKey]schemas.FeatureRow{}
	for _, r := range append(res.Ready, res.Final...) {
		asOf := r.IssueTime
		if r.Final {
			asOf = r.Hour.Add(time.Hour)
		}
		if asOf.Add(time.Hour).Before(last) { // default lateness 1h
			out[rowKey{r.Region, r.Hour, r.Final}] = r
		}
	}
	return out
}

// checkDaily checks the daily features topic against the batch engine's
// daily windows for the same inputs: each window once, keyed by region,
// equal to the batch's, and every one a stream that stopped at the last
// input must have sent.
func checkDaily(t *testing.T, kc kafka.Config, topics schemas.TopicSet, in inputs) {
	t.Helper()
	res, last := batch(t, in)
	type dayKey struct{ region, date string }
	want := map[dayKey]schemas.DailyFeatures{}
	for _, d := range res.Daily {
		if d.End.Add(time.Hour).Before(last) { // default lateness 1h
			want[dayKey{d.Region, d.LocalDate}] = d
		}
	}
	got := map[dayKey]schemas.DailyFeatures{}
	for _, r := range readAll(t, kc, topics.FeaturesDaily) {
		var d schemas.DailyFeatures
		if err := schemas.Decode(r.Value, &d); err != nil {
			t.Fatal(err)
		}
		k := dayKey{d.Region, d.LocalDate}
		if string(r.Key) != d.Region {
			t.Fatalf("daily features of %s keyed %q", d.Region, r.Key)
		}
		if _, dup := got[k]; dup {
			t.Fatalf("daily features %v sent twice", k)
		}
		got[k] = d
	}
	if len(want) < 10 || len(got) != len(want) {
		t.Fatalf("%d daily windows on the topic, %d from the batch engine", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !reflect.DeepEqual(g, w) {
			t.Fatalf("daily window %v differs:\n got %+v\nwant %+v", k, g, w)
		}
	}
}

func runProcessor(t *testing.T, ctx context.Context, kc kafka.Config, topics schemas.TopicSet, stopAtEnd bool, maxPoll int) *Processor {
	t.Helper()
	p, err := New(Config{Kafka: kc, Topics: topics, Producer: "test", StopAtEnd: stopAtEnd, MaxPollRecords: maxPoll})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return p
}

// The streaming processor must emit exactly the rows the batch engine
// computes from the same inputs, each once, and dead-letter bad records
// with their reason while carrying on.
func TestProcessorMatchesBatchAndDeadLettersBadInput(t *testing.T) {
	t.Parallel()
	topics := schemas.NewTopicSet("t1.")
	kc := startBroker(t, topics)
	in := history([]string{"FI", "DK1", "SE3"}, time.Date(2023, 5, 1, 0, 0, 0, 0, time.UTC), 12)
	bad := []*kgo.Record{
		{Topic: topics.Prices, Key: []byte("FI"), Value: []byte(`{"region": "FI", "value": `)},
		{Topic: topics.Prices, Key: []byte("FI"), Value: []byte(`{"region":"FI","market":"m","source":"t","start":"2023-05-20T00:00:00Z","end":"2023-05-20T01:00:00Z","value":1e9,"unit":"EUR/MWh","currency":"EUR","vat_included":false,"published_at":"2023-05-12T11:45:00Z"}`)},
	}
	// Records whose headers say they are not a v1 price: a schema version
	// this reader does not know, and another schema on the prices topic.
	// Well-formed, so only the headers can keep them out of the features.
	v2 := `{"region":"FI","market":"m","source":"t","start":"2023-05-20T00:00:00Z","end":"2023-05-20T01:00:00Z","value":42,"unit":"EUR/MWh","currency":"EUR","vat_included":false,"published_at":"2023-05-12T11:45:00Z"}`
	for _, hs := range [][]kgo.RecordHeader{
		{{Key: schemas.HeaderSchema, Value: []byte(schemas.SchemaPrice)}, {Key: schemas.HeaderSchemaVersion, Value: []byte("2")}},
		{{Key: schemas.HeaderSchema, Value: []byte(schemas.SchemaWeatherObservation)}, {Key: schemas.HeaderSchemaVersion, Value: []byte("1")}},
	} {
		bad = append(bad, &kgo.Record{Topic: topics.Prices, Key: []byte("FI"), Value: []byte(v2), Headers: hs})
	}
	publish(t, kc, topics, in, bad...)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var logs bytes.Buffer // written under the JSON handler's lock
	p, err := New(Config{Kafka: kc, Topics: topics, Producer: "test", StopAtEnd: true,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}

	got := decodeRows(t, readAll(t, kc, topics.Features))
	want := expected(t, in)
	if len(got) != len(want) {
		missing := map[string]int{}
		for k := range want {
			if _, ok := got[k]; !ok {
				missing[fmt.Sprintf("%s final=%v %s", k.region, k.final, k.hour.Format("01-02"))]++
			}
		}
		t.Fatalf("processor emitted %d rows, batch engine %d; missing %v", len(got), len(want), missing)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !reflect.DeepEqual(g, w) {
			t.Fatalf("row %v differs:\n got %+v\nwant %+v", k, g, w)
		}
	}
	checkDaily(t, kc, topics, in)
	dl := readAll(t, kc, topics.DeadLetters)
	reasons := map[string]int{}
	for _, r := range dl {
		var d schemas.DeadLetter
		if err := schemas.Decode(r.Value, &d); err != nil {
			t.Fatal(err)
		}
		reasons[d.Reason]++
	}
	if reasons[schemas.ReasonMalformed] != 1 || reasons[schemas.ReasonOutOfRange] != 1 || reasons[schemas.ReasonUnknown] != 2 || len(dl) != 4 {
		t.Fatalf("dead letters by reason %v, want one malformed, one out_of_range and two unknown_schema", reasons)
	}
	if s := p.Stats(); s.DeadLetters[schemas.ReasonMalformed] != 1 {
		t.Fatalf("stats count dead letters %v", s.DeadLetters)
	}
	// The CloudWatch alarm on dead letters sums the "count" of these log
	// lines (terraform/modules/observability/alarms.tf).
	logged := map[string]int{}
	for line := range bytes.Lines(logs.Bytes()) {
		var l struct {
			Msg, Reason, Topic string
			Count              int
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if l.Msg == kafka.MsgDeadLetters && l.Topic == topics.DeadLetters {
			logged[l.Reason] += l.Count
		}
	}
	if !maps.Equal(logged, reasons) {
		t.Errorf("dead letters logged by reason %v, want those published %v", logged, reasons)
	}
}

// A processor stopped at arbitrary points and restarted must end with the
// same rows, each exactly once: its state comes back from the changelog and
// its input resumes at the committed offsets.
func TestProcessorRestartsExactlyOnce(t *testing.T) {
	t.Parallel()
	topics := schemas.NewTopicSet("t2.")
	kc := startBroker(t, topics)
	in := history([]string{"FI", "DK1"}, time.Date(2023, 10, 20, 0, 0, 0, 0, time.UTC), 14)
	publish(t, kc, topics, in)

	stops := 0
	for i := 0; i < 4; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		p, err := New(Config{Kafka: kc, Topics: topics, Producer: "test", MaxPollRecords: 100})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		// Stop after a few transactions (about 25 are needed in all), at a
		// different point each time.
		deadline := time.Now().Add(20 * time.Second)
		for p.Stats().Transactions < int64(1+i%2) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		stops++
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	last := runProcessor(t, ctx, kc, topics, true, 100)
	if s := last.Stats(); s.RestoredRecords == 0 {
		t.Fatalf("the last run restored no state (%+v): the test did not exercise a restart", s)
	}

	got := decodeRows(t, readAll(t, kc, topics.Features))
	want := expected(t, in)
	if len(got) != len(want) {
		t.Fatalf("after %d stops: %d rows, want %d", stops, len(got), len(want))
	}
	for k, w := range want {
		if g := got[k]; !reflect.DeepEqual(g, w) {
			t.Fatalf("row %v differs after restarts", k)
		}
	}
	checkDaily(t, kc, topics, in)
}

// Inputs need not arrive interleaved: here every price comes first, then
// every observation, then every forecast, as after an outage of the weather
// producers. The processor must hold the clock for the slow inputs, pause
// the fast one instead of piling up its state, and still emit exactly the
// rows of the batch engine.
func TestProcessorHandlesAnInputFarAhead(t *testing.T) {
	t.Parallel()
	topics := schemas.NewTopicSet("t3.")
	kc := startBroker(t, topics)
	in := history([]string{"FI"}, time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC), 120)
	cl, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	add := func(topic, key string, v schemas.Value) {
		r, err := kafka.NewRecord(topic, key, v, "test")
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	for i := range in.Prices {
		add(topics.Prices, in.Prices[i].Region, &in.Prices[i])
	}
	for i := range in.Obs {
		add(topics.WeatherObserved, in.Obs[i].Region, &in.Obs[i])
	}
	for i := range in.Fcs {
		add(topics.WeatherForecast, in.Fcs[i].Region, &in.Fcs[i])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p := runProcessor(t, ctx, kc, topics, true, 1000)
	if s := p.Stats(); sum(s.RecordsIn) != int64(len(recs)) || s.Aborts != 0 || len(s.DeadLetters) != 0 {
		t.Fatalf("stats %+v: want all %d inputs, no aborts, no dead letters", s, len(recs))
	}
	got := decodeRows(t, readAll(t, kc, topics.Features))
	want := expected(t, in)
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for k, w := range want {
		if g := got[k]; !reflect.DeepEqual(g, w) {
			t.Fatalf("row %v differs", k)
		}
	}
}

// A record known at a time far past the wall clock (a producer's clock
// gone wrong, a typo in a year) is dead-lettered as out_of_range. Taken
// in, it would move the partition's clock there once the inputs caught up,
// and every record after it would be dead-lettered as late, across
// restarts (the clock is in the changelog).
func TestProcessorRejectsARecordFromTheFarFuture(t *testing.T) {
	t.Parallel()
	topics := schemas.NewTopicSet("t4.")
	kc := startBroker(t, topics)
	in := history([]string{"FI"}, time.Date(2023, 5, 1, 0, 0, 0, 0, time.UTC), 12)
	cut := time.Date(2023, 5, 9, 0, 0, 0, 0, time.UTC)
	future, err := kafka.NewRecord(topics.WeatherForecast, "FI", &schemas.WeatherForecast{Region: "FI", Location: "Helsinki",
		Source: "test", IssuedAt: time.Date(2199, 1, 1, 0, 0, 0, 0, time.UTC), Time: time.Date(2199, 1, 1, 6, 0, 0, 0, time.UTC),
		LeadHours: 6, Values: map[string]float64{"temperature_2m": 3}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	// The inputs known before the cut and the future record; a run to the
	// end (the inputs catch up); then the rest and a second run.
	var before, after []*kgo.Record
	in.Each(topics, func(at time.Time, topic, key string, v schemas.Value) {
		r, err := kafka.NewRecord(topic, key, v, "test")
		if err != nil {
			t.Fatal(err)
		}
		if at.Before(cut) {
			before = append(before, r)
		} else {
			after = append(after, r)
		}
	})
	cl, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, recs := range [][]*kgo.Record{append([]*kgo.Record{future}, before...), after} {
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		runProcessor(t, ctx, kc, topics, true, 1000)
	}

	reasons := map[string]int{}
	for _, r := range readAll(t, kc, topics.DeadLetters) {
		var d schemas.DeadLetter
		if err := schemas.Decode(r.Value, &d); err != nil {
			t.Fatal(err)
		}
		reasons[d.Reason]++
	}
	if reasons[schemas.ReasonOutOfRange] != 1 || len(reasons) != 1 {
		t.Fatalf("dead letters by reason %v, want the future record alone as out_of_range", reasons)
	}
	got := decodeRows(t, readAll(t, kc, topics.Features))
	want := expected(t, in)
	if len(got) != len(want) {
		t.Fatalf("%d feature rows, want %d", len(got), len(want))
	}
}
