package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/csvimport"
	"github.com/wattcast/wattcast/streams/kafka"
)

// testBroker starts an embedded broker with wattcast's topics and the
// checkpoint topic.
func testBroker(t *testing.T) (kafka.Config, schemas.TopicSet) {
	t.Helper()
	kcfg := brokertest.Start(t)
	ts := schemas.NewTopicSet("")
	cl, err := kcfg.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cl, append(ts.Specs(3, 0), CheckpointSpec(ts)), -1); err != nil {
		t.Fatal(err)
	}
	return kcfg, ts
}

// readTopic returns every committed record of topic.
func readTopic(t *testing.T, kcfg kafka.Config, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	acl, err := kcfg.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer acl.Close()
	ends, err := kadm.NewClient(acl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil
	}
	cl, err := kcfg.NewClient(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v (still waiting for %v)", topic, ctx.Err(), want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

func newPublisher(t *testing.T, kcfg kafka.Config, ts schemas.TopicSet, id string) *Publisher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := NewPublisher(ctx, kcfg, PublisherOptions{Topics: ts, Producer: "wattcast/test", TransactionalID: id, Stage: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func prices(region string, from, n int) []schemas.Price {
	var out []schemas.Price
	for i := from; i < from+n; i++ {
		s := at(i)
		out = append(out, schemas.Price{Region: region, Market: "m", Source: "test", Start: s, End: s.Add(time.Hour),
			Value: float64(i), Unit: "EUR/MWh", Currency: "EUR", PublishedAt: s.Add(-12 * time.Hour)})
	}
	return out
}

var priceSeries = Series{KindPrice, "test", "XX", "m"}

// The core promise: a re-run, an overlap, or a restarted publisher never
// publishes a key time twice.
func TestPublisherNoDuplicatesAcrossRerunsAndRestarts(t *testing.T) {
	t.Parallel()
	kcfg, ts := testBroker(t)
	ctx := context.Background()
	p := newPublisher(t, kcfg, ts, "test-1")

	st, err := p.Publish(ctx, priceSeries, at(0), Batch{Prices: prices("XX", 0, 24), Through: at(24)})
	if err != nil || st.Prices != 24 {
		t.Fatalf("first publish: %+v %v", st, err)
	}
	// The same fetch again (a re-run): nothing new.
	st, err = p.Publish(ctx, priceSeries, at(0), Batch{Prices: prices("XX", 0, 24), Through: at(24)})
	if err != nil || st.Prices != 0 || st.Duplicates != 24 {
		t.Fatalf("re-run: %+v %v", st, err)
	}
	p.Close()

	// A new publisher (a restart) reads the checkpoint back; an overlapping
	// fetch publishes only the 12 new hours.
	p2 := newPublisher(t, kcfg, ts, "test-1")
	if c := p2.Coverage(priceSeries); len(c) != 1 || !c.End().Equal(at(24)) {
		t.Fatalf("restored coverage %v, want [0h, 24h)", c)
	}
	st, err = p2.Publish(ctx, priceSeries, at(12), Batch{Prices: prices("XX", 12, 24), Through: at(36)})
	if err != nil || st.Prices != 12 || st.Duplicates != 12 {
		t.Fatalf("overlap: %+v %v", st, err)
	}
	recs := readTopic(t, kcfg, ts.Prices)
	seen := map[string]int{}
	for _, r := range recs {
		var p schemas.Price
		if err := schemas.Decode(r.Value, &p); err != nil {
			t.Fatal(err)
		}
		seen[p.Start.Format(time.RFC3339)]++
		if string(r.Key) != "XX" || kafka.Header(r, schemas.HeaderSchema) != schemas.SchemaPrice || kafka.Header(r, schemas.HeaderProducer) != "wattcast/test" {
			t.Errorf("record key %q headers %v", r.Key, r.Headers)
		}
	}
	if len(recs) != 36 || len(seen) != 36 {
		t.Errorf("%d records for %d distinct hours, want 36 and 36", len(recs), len(seen))
	}
}

// A restarted producer (B) must fence its predecessor (A) before it reads
// the checkpoints: A, still running during a rolling deploy, can then
// commit nothing B does not know about, and the same fetch published by
// both ends up in the topic once.
func TestPublisherFencesItsPredecessorBeforeReadingCheckpoints(t *testing.T) {
	t.Parallel()
	kcfg, ts := testBroker(t)
	ctx := context.Background()
	a := newPublisher(t, kcfg, ts, "rolling")
	b := newPublisher(t, kcfg, ts, "rolling") // starts while A runs
	if st, err := a.Publish(ctx, priceSeries, at(0), Batch{Prices: prices("XX", 0, 24), Through: at(24)}); err == nil {
		t.Fatalf("the old instance published %+v after the new one started; it should be fenced", st)
	}
	if st, err := b.Publish(ctx, priceSeries, at(0), Batch{Prices: prices("XX", 0, 24), Through: at(24)}); err != nil || st.Prices != 24 {
		t.Fatalf("the new instance: %+v %v", st, err)
	}
	if n := len(readTopic(t, kcfg, ts.Prices)); n != 24 {
		t.Errorf("%d records for 24 hours published by two instances of one producer, want 24", n)
	}
}

func TestPublisherDeadLetters(t *testing.T) {
	t.Parallel()
	kcfg, ts := testBroker(t)
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := NewPublisher(ctx, kcfg, PublisherOptions{Topics: ts, Producer: "wattcast/test", TransactionalID: "test-dlq", Stage: "test",
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ps := prices("XX", 0, 3)
	ps[1].Value = 1e9 // implausible: must not be published
	st, err := p.Publish(context.Background(), priceSeries, at(0), Batch{
		Prices: ps,
		Dead: []Dead{{Region: "XX", Origin: "http://api/x", Offset: 4, Value: []byte(`{"value_inc_vat": "abc"`),
			Reason: schemas.ReasonMalformed, Err: errors.New("unexpected end of JSON input")}},
		Through: at(3),
	})
	if err != nil || st.Prices != 2 || st.DeadLetters != 2 {
		t.Fatalf("%+v %v", st, err)
	}
	if n := len(readTopic(t, kcfg, ts.Prices)); n != 2 {
		t.Errorf("%d prices published, want 2", n)
	}
	dls := readTopic(t, kcfg, ts.DeadLetters)
	reasons := map[string]schemas.DeadLetter{}
	for _, r := range dls {
		var d schemas.DeadLetter
		if err := schemas.Decode(r.Value, &d); err != nil {
			t.Fatal(err)
		}
		reasons[d.Reason] = d
	}
	if d, ok := reasons[schemas.ReasonOutOfRange]; !ok || d.Stage != "test" || d.Key != "XX" {
		t.Errorf("no out_of_range dead letter for the implausible price: %v", reasons)
	}
	if d, ok := reasons[schemas.ReasonMalformed]; !ok || d.Topic != "http://api/x" || d.Offset != 4 || d.Value != `{"value_inc_vat": "abc"` {
		t.Errorf("malformed dead letter %+v", d)
	}
	// One log line per reason, with its count, once committed: what the
	// CloudWatch dead-letter alarm sums.
	logged := map[string]int{}
	for line := range bytes.Lines(logs.Bytes()) {
		var l struct {
			Msg, Reason string
			Count       int
		}
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if l.Msg == kafka.MsgDeadLetters {
			logged[l.Reason] += l.Count
		}
	}
	if want := map[string]int{schemas.ReasonOutOfRange: 1, schemas.ReasonMalformed: 1}; !maps.Equal(logged, want) {
		t.Errorf("dead letters logged by reason %v, want %v", logged, want)
	}
}

// Two producers with one transactional id: the older is fenced and must
// stop rather than publish alongside the newer.
func TestPublisherFenced(t *testing.T) {
	t.Parallel()
	kcfg, ts := testBroker(t)
	ctx := context.Background()
	old := newPublisher(t, kcfg, ts, "same-id")
	if _, err := old.Publish(ctx, priceSeries, at(0), Batch{Prices: prices("XX", 0, 1), Through: at(1)}); err != nil {
		t.Fatal(err)
	}
	newer := newPublisher(t, kcfg, ts, "same-id")
	if _, err := newer.Publish(ctx, priceSeries, at(1), Batch{Prices: prices("XX", 1, 1), Through: at(2)}); err != nil {
		t.Fatal(err)
	}
	_, err := old.Publish(ctx, priceSeries, at(2), Batch{Prices: prices("XX", 2, 1), Through: at(3)})
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("old producer: err %v, want ErrFenced", err)
	}
	if n := len(readTopic(t, kcfg, ts.Prices)); n != 2 {
		t.Errorf("%d prices, want 2 (the fenced producer's record must not be visible)", n)
	}
}

// fakeFetch serves hourly prices, failing on the calls listed in fail.
type fakeFetch struct {
	calls [][2]time.Time
	fail  map[int]bool
	until time.Time // data exists up to here
}

func (f *fakeFetch) fetch(_ context.Context, from, to time.Time) (Batch, error) {
	f.calls = append(f.calls, [2]time.Time{from, to})
	if f.fail[len(f.calls)] {
		return Batch{}, fmt.Errorf("api down (call %d)", len(f.calls))
	}
	if to.After(f.until) {
		to = f.until
	}
	var b Batch
	for t := from; t.Before(to); t = t.Add(time.Hour) {
		h := int(t.Sub(at(0)) / time.Hour)
		b.Prices = append(b.Prices, prices("XX", h, 1)...)
	}
	b.Through = to
	return b, nil
}

// After an outage the next successful live poll fetches from where the
// coverage ends, so the missed hours are published: no gap.
func TestLiveOutageLeavesNoGap(t *testing.T) {
	t.Parallel()
	kcfg, ts := testBroker(t)
	p := newPublisher(t, kcfg, ts, "test-live")
	now := at(10)
	f := &fakeFetch{fail: map[int]bool{2: true, 3: true}, until: at(1000)}
	task := Task{
		Series: priceSeries,
		Fetch:  f.fetch,
		LiveWindow: func(now, end time.Time) (time.Time, time.Time) {
			if end.IsZero() {
				end = now.Add(-10 * time.Hour)
			}
			return end, now
		},
		NextPoll: func(time.Time, time.Time) time.Duration { return time.Hour },
	}
	r := &Runner{Sink: p, Now: func() time.Time { return now }}
	ctx := context.Background()
	for i := 0; i < 4; i++ {
		_, err := r.PollOnce(ctx, task)
		if (i == 1 || i == 2) != (err != nil) {
			t.Fatalf("poll %d: err %v", i+1, err)
		}
		now = now.Add(time.Hour)
	}
	// Polls 2 and 3 failed; poll 4 must start where poll 1 ended.
	if got := f.calls[3][0]; !got.Equal(at(10)) {
		t.Errorf("poll after the outage fetched from %s, want %s", got, at(10))
	}
	recs := readTopic(t, kcfg, ts.Prices)
	if len(recs) != 13 {
		t.Errorf("%d prices, want 13 (hours 0..12, none missing, none doubled)", len(recs))
	}
}

// A backfill that dies half-way resumes at the first uncovered chunk and
// the topic ends up with every hour exactly once.
func TestBackfillResumes(t *testing.T) {
	t.Parallel()
	kcfg, ts := testBroker(t)
	p := newPublisher(t, kcfg, ts, "test-backfill")
	f := &fakeFetch{fail: map[int]bool{3: true}, until: at(1000)}
	task := Task{Series: priceSeries, Fetch: f.fetch, Chunk: 24 * time.Hour}
	r := &Runner{Sink: p, BackfillAttempts: 1}
	ctx := context.Background()
	if _, err := r.Backfill(ctx, []Task{task}, at(0), at(5*24)); err == nil {
		t.Fatal("backfill with a failing chunk succeeded")
	}
	p.Close()
	p2 := newPublisher(t, kcfg, ts, "test-backfill")
	r2 := &Runner{Sink: p2, BackfillAttempts: 1}
	f.calls = nil
	f.fail = nil
	st, err := r2.Backfill(ctx, []Task{task}, at(0), at(5*24))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 3 || !f.calls[0][0].Equal(at(48)) {
		t.Errorf("resumed calls %v, want 3 chunks from hour 48", f.calls)
	}
	if st.Prices != 72 || st.Duplicates != 0 {
		t.Errorf("resumed stats %+v, want 72 new prices", st)
	}
	// Running the same backfill again fetches nothing.
	f.calls = nil
	if _, err := r2.Backfill(ctx, []Task{task}, at(0), at(5*24)); err != nil || len(f.calls) != 0 {
		t.Errorf("repeat backfill made %d calls (err %v), want 0", len(f.calls), err)
	}
	recs := readTopic(t, kcfg, ts.Prices)
	if len(recs) != 120 {
		t.Errorf("%d prices, want 120", len(recs))
	}
	var ck checkpoint
	ckr := readTopic(t, kcfg, CheckpointTopic(ts))
	if err := json.Unmarshal(ckr[len(ckr)-1].Value, &ck); err != nil || len(ck.Covered) != 1 || !ck.Covered.End().Equal(at(120)) {
		t.Errorf("last checkpoint %+v (%v), want one interval ending at hour 120", ck, err)
	}
}

// Importing a file twice publishes it once; a bad row is dead-lettered
// with its reason and everything else is published.
func TestImportTwice(t *testing.T) {
	t.Parallel()
	kcfg, ts := testBroker(t)
	m, err := csvimport.Preset("entsoe-DK_1")
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.ReadFile("../csvimport/testdata/entsoe_DK_1_2015-10-24_26.csv")
	if err != nil {
		t.Fatal(err)
	}
	// Break one price cell.
	text := strings.Replace(string(in), "10/25/2015 5:00,22.03,", "10/25/2015 5:00,22..03,", 1)
	res, err := csvimport.Parse(strings.NewReader(text), m, csvimport.Options{File: "DK_1.csv", Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) != 1 {
		t.Fatalf("rejected %d", len(res.Rejected))
	}
	ctx := context.Background()
	p := newPublisher(t, kcfg, ts, "import-test")
	opts := ImportOptions{File: "DK_1.csv", Region: "DK1", ChunkSize: 50}
	st, err := Import(ctx, p, res, opts)
	if err != nil {
		t.Fatal(err)
	}
	wantRecords := len(res.Prices) + len(res.Observations) + len(res.Forecasts)
	if st.Records() != wantRecords || st.Prices != 71 || st.DeadLetters != 1 {
		t.Fatalf("first import %+v, want %d records, 71 prices, 1 dead letter", st, wantRecords)
	}
	p.Close()
	p2 := newPublisher(t, kcfg, ts, "import-test")
	st, err = Import(ctx, p2, res, opts)
	if err != nil || st.Records() != 0 || st.Duplicates != wantRecords {
		t.Fatalf("second import %+v %v, want nothing new", st, err)
	}
	if n := len(readTopic(t, kcfg, ts.Prices)); n != 71 {
		t.Errorf("%d prices in the topic, want 71", n)
	}
	dls := readTopic(t, kcfg, ts.DeadLetters)
	var d schemas.DeadLetter
	if len(dls) != 2 { // once per import: the row is rejected each time it is read
		t.Fatalf("%d dead letters, want 2", len(dls))
	}
	if err := schemas.Decode(dls[0].Value, &d); err != nil {
		t.Fatal(err)
	}
	if d.Reason != schemas.ReasonMalformed || d.Topic != "file:DK_1.csv" || d.Offset != 31 || !strings.Contains(d.Error, `column "Price_DA" value "22..03"`) {
		t.Errorf("dead letter %+v", d)
	}
	// Every series has one contiguous checkpoint interval: of key times,
	// or, for a forecast series, of hours (an import marks hours).
	for _, r := range readTopic(t, kcfg, CheckpointTopic(ts)) {
		var c checkpoint
		json.Unmarshal(r.Value, &c)
		cov := c.Covered
		if c.Series.Kind == KindForecast {
			cov = c.Hours
			if len(c.Covered) != 0 || len(c.Runs) != 0 {
				t.Errorf("series %s: issue times %v and partial runs %v, want hours only", r.Key, c.Covered, c.Runs)
			}
		}
		if len(cov) != 1 {
			t.Errorf("series %s covered by %d intervals, want 1", r.Key, len(cov))
		}
	}
}

// txErr tells a fenced producer from one the cluster does not authorise:
// both stop the loops, only the second names the permission to grant, and
// the Kafka error stays in the chain.
func TestTxErr(t *testing.T) {
	t.Parallel()
	const id = "wattcast-produce-test"
	p := &Publisher{opts: PublisherOptions{TransactionalID: id}}
	tests := []struct {
		name     string
		err      error
		is       []error
		isNot    []error
		msg      []string // substrings of the message
		notMsg   []string
		terminal bool
	}{
		{name: "fenced", err: kerr.ProducerFenced,
			is: []error{ErrFenced, kerr.ProducerFenced}, isNot: []error{ErrTransactionalIDUnauthorized},
			msg: []string{"took over", "end transaction"}, terminal: true},
		{name: "old epoch", err: fmt.Errorf("commit: %w", kerr.InvalidProducerEpoch),
			is: []error{ErrFenced, kerr.InvalidProducerEpoch}, isNot: []error{ErrTransactionalIDUnauthorized},
			msg: []string{"took over"}, terminal: true},
		{name: "not authorised", err: kerr.TransactionalIDAuthorizationFailed,
			is: []error{ErrTransactionalIDUnauthorized, kerr.TransactionalIDAuthorizationFailed}, isNot: []error{ErrFenced},
			msg:    []string{"end transaction", `"` + id + `"`, "WRITE and DESCRIBE on the TransactionalId", "kafka-cluster:WriteTransactionalState", "kafka-cluster:DescribeTransactionalState"},
			notMsg: []string{"took over"}, terminal: true},
		{name: "not authorised, wrapped", err: fmt.Errorf("produce: %w", kerr.TransactionalIDAuthorizationFailed),
			is:  []error{ErrTransactionalIDUnauthorized, kerr.TransactionalIDAuthorizationFailed},
			msg: []string{`"` + id + `"`, "kafka-cluster:WriteTransactionalState"}, notMsg: []string{"took over"}, terminal: true},
		{name: "transient", err: kerr.CoordinatorNotAvailable,
			is: []error{kerr.CoordinatorNotAvailable}, isNot: []error{ErrFenced, ErrTransactionalIDUnauthorized},
			msg: []string{"end transaction"}, notMsg: []string{"took over", "WriteTransactionalState"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := p.txErr("end transaction", tt.err)
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false, want true", err, target)
				}
			}
			for _, target := range tt.isNot {
				if errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = true, want false", err, target)
				}
			}
			for _, s := range tt.msg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q lacks %q", err, s)
				}
			}
			for _, s := range tt.notMsg {
				if strings.Contains(err.Error(), s) {
					t.Errorf("message %q contains %q", err, s)
				}
			}
			if Terminal(err) != tt.terminal {
				t.Errorf("Terminal(%v) = %v, want %v", err, !tt.terminal, tt.terminal)
			}
			if !tt.terminal {
				return
			}
			// The live loop stops on a terminal error instead of
			// retrying it until the deadline.
			r := &Runner{Sink: &memSink{fail: err}, Now: func() time.Time { return at(10) },
				Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
			task := Task{Series: priceSeries, Fetch: (&fakeFetch{until: at(1000)}).fetch,
				LiveWindow: func(now, end time.Time) (time.Time, time.Time) { return now.Add(-time.Hour), now },
				NextPoll:   func(time.Time, time.Time) time.Duration { return time.Minute }}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			t.Cleanup(cancel)
			if got := r.Live(ctx, []Task{task}); got != err {
				t.Errorf("Live returned %v, want %v", got, err)
			}
		})
	}
}
