package kafkalocal_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	wkafka "github.com/wattcast/wattcast/streams/kafka"
)

// brokers returns the brokers of WATTCAST_KAFKA_BROKERS, or skips the test:
// these tests need a real broker (make kafka-up, or any other).
func brokers(t *testing.T) []string {
	t.Helper()
	v := os.Getenv("WATTCAST_KAFKA_BROKERS")
	if v == "" {
		t.Skip("WATTCAST_KAFKA_BROKERS is not set: run make kafka-up and export what it prints")
	}
	return strings.Split(v, ",")
}

// unique names a topic, group or transactional id so that runs against a
// shared broker never see each other's data.
func unique(what string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("wattcast-kafkalocal-%s-%d-%s", what, time.Now().UnixNano(), hex.EncodeToString(b))
}

func newClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers(t)...)}, opts...)...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// createTopics creates topics with 3 partitions and deletes them when the
// test ends. The broker has auto-creation off, as MSK does.
func createTopics(t *testing.T, ctx context.Context, topics ...string) {
	t.Helper()
	adm := kadm.NewClient(newClient(t))
	resp, err := adm.CreateTopics(ctx, 3, 1, nil, topics...)
	if err != nil {
		t.Fatalf("create topics %v: %v", topics, err)
	}
	for _, r := range resp {
		if r.Err != nil {
			t.Fatalf("create topic %s: %v", r.Topic, r.Err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, topics...)
	})
}

// consumeN reads until n records arrived or ctx ends, failing on fetch errors.
func consumeN(t *testing.T, ctx context.Context, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("got %d of %d records before the deadline", len(out), n)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("fetch: %v", errs[0].Err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// assertNoMore checks that nothing beyond what was already read arrives
// within wait: the proof that a read_committed consumer skips aborted data
// and a resumed group does not re-read.
func assertNoMore(t *testing.T, cl *kgo.Client, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	fs := cl.PollFetches(ctx)
	if n := len(fs.Records()); n > 0 {
		t.Fatalf("got %d unexpected records, first %q", n, fs.Records()[0].Value)
	}
}

func TestProduceConsumeKeysAndHeaders(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 60*time.Second)
	topic := unique("keys")
	createTopics(t, ctx, topic)

	prod := newClient(t, kgo.DefaultProduceTopic(topic))
	regions := []string{"FI", "GB-A", "SE3", "DK1", "NO2"}
	var sent []*kgo.Record
	for i := range 50 {
		sent = append(sent, &kgo.Record{
			Key:   []byte(regions[i%len(regions)]),
			Value: []byte(fmt.Sprintf(`{"i":%d}`, i)),
			Headers: []kgo.RecordHeader{
				{Key: schemas.HeaderSchema, Value: []byte(schemas.SchemaPrice)},
				{Key: schemas.HeaderSchemaVersion, Value: []byte(schemas.SchemaVersion)},
			},
		})
	}
	if err := prod.ProduceSync(ctx, sent...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	cons := newClient(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := consumeN(t, ctx, cons, len(sent))
	if len(got) != len(sent) {
		t.Fatalf("consumed %d records, want %d", len(got), len(sent))
	}
	// One key, one partition: the property co-partitioning relies on.
	partOf := map[string]int32{}
	seen := map[string]bool{}
	for _, r := range got {
		if p, ok := partOf[string(r.Key)]; ok && p != r.Partition {
			t.Errorf("key %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		partOf[string(r.Key)] = r.Partition
		if seen[string(r.Value)] {
			t.Errorf("value %s consumed twice", r.Value)
		}
		seen[string(r.Value)] = true
		if h := wkafka.Header(r, schemas.HeaderSchema); h != schemas.SchemaPrice {
			t.Errorf("record %s: header %s = %q, want %q", r.Value, schemas.HeaderSchema, h, schemas.SchemaPrice)
		}
	}
}

func TestConsumerGroupCommitsAndResumes(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 90*time.Second)
	topic, group := unique("group"), unique("group")
	createTopics(t, ctx, topic)
	prod := newClient(t, kgo.DefaultProduceTopic(topic))
	produce := func(from, to int) {
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Key: []byte(strconv.Itoa(i % 7)), Value: []byte(strconv.Itoa(i))})
		}
		if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	member := func() *kgo.Client {
		return newClient(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	}

	produce(0, 20)
	first := member()
	if got := consumeN(t, ctx, first, 20); len(got) != 20 {
		t.Fatalf("first member read %d records, want 20", len(got))
	}
	if err := first.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	first.Close() // leaves the group

	adm := kadm.NewClient(newClient(t))
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	var committed int64
	offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != 20 {
		t.Fatalf("group committed offsets sum to %d, want 20", committed)
	}

	produce(20, 30)
	second := member()
	got := consumeN(t, ctx, second, 10)
	var vals []int
	for _, r := range got {
		v, _ := strconv.Atoi(string(r.Value))
		vals = append(vals, v)
	}
	slices.Sort(vals)
	if want := []int{20, 21, 22, 23, 24, 25, 26, 27, 28, 29}; !slices.Equal(vals, want) {
		t.Fatalf("second member read %v, want only the 10 new records %v", vals, want)
	}
	assertNoMore(t, second, 2*time.Second)
}

func TestTransactionsCommitAndAbort(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 90*time.Second)
	topic := unique("txn")
	createTopics(t, ctx, topic)

	txn := newClient(t, kgo.DefaultProduceTopic(topic), kgo.TransactionalID(unique("txn")))
	batch := func(prefix string, end kgo.TransactionEndTry) {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		for i := range 5 {
			r := &kgo.Record{Key: []byte(prefix), Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}
			if err := txn.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce in transaction: %v", err)
			}
		}
		if err := txn.EndTransaction(ctx, end); err != nil {
			t.Fatalf("end transaction (%v): %v", end, err)
		}
	}
	batch("committed", kgo.TryCommit)
	batch("aborted", kgo.TryAbort)
	batch("also-committed", kgo.TryCommit)

	tests := []struct {
		name  string
		level kgo.IsolationLevel
		want  int
	}{
		{"read_committed skips the aborted transaction", kgo.ReadCommitted(), 10},
		{"read_uncommitted sees every record", kgo.ReadUncommitted(), 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cons := newClient(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(tt.level),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			got := consumeN(t, ctx, cons, tt.want)
			assertNoMore(t, cons, 2*time.Second)
			for _, r := range got {
				if tt.level == kgo.ReadCommitted() && strings.HasPrefix(string(r.Value), "aborted") {
					t.Errorf("read_committed consumer saw %s", r.Value)
				}
			}
		})
	}
}

// TestGroupTransactSessionExactlyOnce runs the loop every wattcast stage uses
// (franz-go's GroupTransactSession: consume, produce and commit offsets in one
// transaction) and checks that each input became exactly one output. It needs
// the broker's transaction state log and offsets topic, both at replication
// factor 1 on a single node.
func TestGroupTransactSessionExactlyOnce(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 120*time.Second)
	in, out, group := unique("eos-in"), unique("eos-out"), unique("eos")
	createTopics(t, ctx, in, out)

	const n = 40
	prod := newClient(t, kgo.DefaultProduceTopic(in))
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Key: []byte(strconv.Itoa(i % 5)), Value: []byte(strconv.Itoa(i))})
	}
	if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce input: %v", err)
	}

	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(brokers(t)...),
		kgo.TransactionalID(unique("eos")),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DefaultProduceTopic(out),
	)
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	t.Cleanup(sess.Close)
	done := 0
	for done < n {
		fs := sess.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("transformed %d of %d before the deadline", done, n)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("fetch: %v", errs[0].Err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		for _, r := range fs.Records() {
			o := &kgo.Record{Key: r.Key, Value: append([]byte("out-"), r.Value...)}
			if err := sess.ProduceSync(ctx, o).FirstErr(); err != nil {
				t.Fatalf("produce output: %v", err)
			}
		}
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			t.Fatalf("end: %v", err)
		}
		if committed {
			done += fs.NumRecords()
		}
	}
	sess.Close()

	cons := newClient(t, kgo.ConsumeTopics(out), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := consumeN(t, ctx, cons, n)
	assertNoMore(t, cons, 2*time.Second)
	seen := map[string]int{}
	for _, r := range got {
		seen[string(r.Value)]++
	}
	for i := range n {
		if c := seen["out-"+strconv.Itoa(i)]; c != 1 {
			t.Errorf("output for input %d appears %d times, want 1", i, c)
		}
	}

	adm := kadm.NewClient(newClient(t))
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
	if sum != n {
		t.Errorf("transactionally committed offsets sum to %d, want %d", sum, n)
	}
}

// TestEnsureTopicsOnRealBroker creates wattcast's topic set with the code the
// stages use and checks what the broker made of it: partition counts and the
// retention each spec asks for.
func TestEnsureTopicsOnRealBroker(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 90*time.Second)
	prefix := unique("ensure") + "."
	specs := schemas.NewTopicSet(prefix).Specs(3, 0)
	cl, err := wkafka.Config{Brokers: brokers(t)}.NewClient()
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(cl.Close)
	if err := wkafka.EnsureTopics(ctx, cl, specs, 1); err != nil {
		t.Fatalf("ensure topics: %v", err)
	}
	adm := kadm.NewClient(cl)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, names...)
	})
	// A second call finds every topic and must not fail.
	if err := wkafka.EnsureTopics(ctx, cl, specs, 1); err != nil {
		t.Fatalf("ensure topics again: %v", err)
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		t.Fatalf("describe configs: %v", err)
	}
	for _, s := range specs {
		if got := int32(len(details[s.Name].Partitions)); got != s.Partitions {
			t.Errorf("%s: %d partitions, want %d", s.Name, got, s.Partitions)
		}
		want := "-1"
		if s.Retention > 0 {
			want = strconv.FormatInt(s.Retention.Milliseconds(), 10)
		}
		rc, err := cfgs.On(s.Name, nil)
		if err != nil {
			t.Fatalf("%s: configs: %v", s.Name, err)
		}
		got := ""
		for _, c := range rc.Configs {
			if c.Key == "retention.ms" && c.Value != nil {
				got = *c.Value
			}
		}
		if got != want {
			t.Errorf("%s: retention.ms = %q, want %q", s.Name, got, want)
		}
	}
}

// TestBrokerRestartMidStream stops the local broker with kafka-local.sh while
// a producer is sending, gracefully and by SIGKILL, starts it again, and
// checks that every record is there exactly once (idempotent producer, data
// kept on disk, wattcast's retry budget outlasting the outage). It restarts
// the broker, so it runs only when asked: WATTCAST_KAFKA_LOCAL_RESTART=1, with
// no other test using the broker, and the KAFKA_* environment the broker was
// started with.
func TestBrokerRestartMidStream(t *testing.T) {
	if os.Getenv("WATTCAST_KAFKA_LOCAL_RESTART") != "1" {
		t.Skip("restarts the broker: set WATTCAST_KAFKA_LOCAL_RESTART=1 (and nothing else using it)")
	}
	tests := []struct {
		name  string
		steps [][]string // kafka-local.sh commands
	}{
		{"graceful restart", [][]string{{"restart"}}},
		{"crash and start", [][]string{{"kill"}, {"start"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t, 5*time.Minute)
			topic := unique("restart")
			createTopics(t, ctx, topic)
			opts, err := wkafka.Config{Brokers: brokers(t)}.Opts()
			if err != nil {
				t.Fatal(err)
			}
			prod := newClient(t, append(opts, kgo.DefaultProduceTopic(topic))...)

			const n = 3000
			errc := make(chan error, 1)
			go func() {
				var mu sync.Mutex
				var failed error
				for i := range n {
					r := &kgo.Record{Key: []byte(strconv.Itoa(i % 11)), Value: []byte(strconv.Itoa(i))}
					prod.Produce(ctx, r, func(_ *kgo.Record, err error) {
						mu.Lock()
						defer mu.Unlock()
						if err != nil && failed == nil {
							failed = err
						}
					})
					time.Sleep(2 * time.Millisecond) // spread the stream over the outage
				}
				ferr := prod.Flush(ctx)
				mu.Lock()
				defer mu.Unlock()
				errc <- errors.Join(ferr, failed)
			}()

			time.Sleep(time.Second)
			start := time.Now()
			for _, step := range tt.steps {
				// The test runs in scripts/kafka, beside the script.
				out, err := exec.CommandContext(ctx, "bash", append([]string{"kafka-local.sh"}, step...)...).CombinedOutput()
				if err != nil {
					t.Fatalf("kafka-local.sh %v: %v\n%s", step, err, out)
				}
				t.Logf("kafka-local.sh %v:\n%s", step, out)
			}
			t.Logf("broker down and up again in %s", time.Since(start).Round(100*time.Millisecond))
			if err := <-errc; err != nil {
				t.Fatalf("producing across the outage: %v", err)
			}

			cons := newClient(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			got := consumeN(t, ctx, cons, n)
			assertNoMore(t, cons, 3*time.Second)
			seen := make(map[string]bool, n)
			for _, r := range got {
				if seen[string(r.Value)] {
					t.Errorf("record %s stored twice", r.Value)
				}
				seen[string(r.Value)] = true
			}
			if len(seen) != n {
				t.Errorf("%d distinct records after the outage, want %d", len(seen), n)
			}
		})
	}
}
