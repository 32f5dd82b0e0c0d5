package runner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
)

// counter is a task that numbers the records of each key: its output for
// the n-th record of key k is "k n <input value>", and its state (the count
// per key) goes to the changelog. A run that lost or doubled state, or
// emitted a partition's records out of order, shows in the numbers.
type counter struct {
	out    string
	counts map[string]int
	dirty  map[string]bool
	busy   *atomic.Int32 // tasks inside Process at this moment, across partitions
	peak   *atomic.Int32
}

func (c *counter) Restore(key string, value []byte) error {
	n, err := strconv.Atoi(string(value))
	if err != nil {
		return err
	}
	c.counts[key] = n
	return nil
}

func (c *counter) Process(_ context.Context, recs []*kgo.Record, _ Lag, out *Output) error {
	n := c.busy.Add(1)
	defer c.busy.Add(-1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	for _, r := range recs {
		k := string(r.Key)
		c.counts[k]++
		c.dirty[k] = true
		out.Emit(&kgo.Record{Topic: c.out, Key: r.Key, Value: fmt.Appendf(nil, "%s %d %s", k, c.counts[k], r.Value)})
	}
	if len(recs) > 0 {
		time.Sleep(2 * time.Millisecond) // long enough for tasks to overlap
	}
	return nil
}

func (c *counter) Changes() ([]KV, error) {
	var kvs []KV
	for k := range c.dirty {
		kvs = append(kvs, KV{Key: k, Value: []byte(strconv.Itoa(c.counts[k]))})
	}
	clear(c.dirty)
	return kvs, nil
}

// Tasks run concurrently must still give each key its records in order,
// once, and a restarted runner must continue from the changelog: the
// numbering goes on where the first run stopped.
func TestConcurrentTasksKeepOrderAndStateAcrossRestarts(t *testing.T) {
	t.Parallel()
	kc := brokertest.Start(t)
	cl := brokertest.Client(t, kc)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const in, out, changelog, dlq = "r.in", "r.out", "r.changelog", "r.dlq"
	createTopics(t, ctx, cl, 6, changelog, in, out, changelog, dlq)
	const keys, perKey = 12, 40
	produce := func(round int) {
		if err := cl.ProduceSync(ctx, keyedRecords(in, round, keys, perKey)...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var busy, peak atomic.Int32
	run := func() Stats {
		r, err := New(Config{Kafka: kc, Group: "g", Inputs: []string{in}, Changelog: changelog, DeadLetters: dlq,
			Stage: "test", MaxPollRecords: 60, Concurrency: 4, StopAtEnd: true,
			NewTask: func(int32) (Task, error) {
				return &counter{out: out, counts: map[string]int{}, dirty: map[string]bool{}, busy: &busy, peak: &peak}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return r.Stats()
	}
	produce(0)
	run()
	produce(1)
	second := run()
	if second.Restores == 0 || second.RestoredRecords == 0 {
		t.Fatalf("the second run restored nothing (%+v): the test does not exercise a restart", second)
	}
	if peak.Load() < 2 {
		t.Logf("tasks never overlapped (peak %d): the ordering check ran serially", peak.Load())
	}

	rc, err := kc.NewClient(kgo.ConsumeTopics(out), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	next := map[string]int{}
	for seen := 0; seen < 2*keys*perKey; {
		fs := rc.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d outputs", seen, 2*keys*perKey)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			f := strings.Fields(string(r.Value))
			k, n := f[0], next[f[0]]
			want := fmt.Sprintf("r%d.%d", n/perKey, n%perKey)
			if f[1] != strconv.Itoa(n+1) || f[2] != want {
				t.Fatalf("key %s: output %q, want number %d for input %s (lost, doubled or out of order)", k, r.Value, n+1, want)
			}
			next[k] = n + 1
		})
	}
}

// Two instances in one group, both told to stop at the end: each owns some
// partitions, and neither may wait for ever for the partitions the other
// owns. Both return once every partition is committed up to the end, and
// every input gives exactly one output.
func TestTwoInstancesStopAtEndTogether(t *testing.T) {
	t.Parallel()
	kc := brokertest.Start(t)
	cl := brokertest.Client(t, kc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const in, out, changelog, dlq = "r2.in", "r2.out", "r2.changelog", "r2.dlq"
	createTopics(t, ctx, cl, 4, changelog, in, out, changelog, dlq)
	const keys, perKey = 16, 30
	if err := cl.ProduceSync(ctx, keyedRecords(in, 0, keys, perKey)...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var busy, peak atomic.Int32
	done := make(chan error, 2)
	var stats [2]func() Stats
	for i := range 2 {
		r, err := New(Config{Kafka: kc, Group: "g2", Inputs: []string{in}, Changelog: changelog, DeadLetters: dlq,
			Stage: "test", MaxPollRecords: 10, StopAtEnd: true, TransactionalID: fmt.Sprintf("g2-%d", i),
			NewTask: func(int32) (Task, error) {
				// Slow enough that both members join before the inputs are consumed.
				return &slowCounter{counter{out: out, counts: map[string]int{}, dirty: map[string]bool{}, busy: &busy, peak: &peak}}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		stats[i] = r.Stats
		go func() { done <- r.Run(ctx) }()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the instances did not both stop: %+v, %+v", stats[0](), stats[1]())
	}
	for i, st := range stats {
		if st().RecordsIn[in] == 0 {
			t.Fatalf("instance %d processed nothing (%+v): the test does not exercise two owners", i, st())
		}
	}
	rc, err := kc.NewClient(kgo.ConsumeTopics(out), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	seen := map[string]bool{}
	for len(seen) < keys*perKey {
		fs := rc.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d outputs", len(seen), keys*perKey)
		}
		fs.EachRecord(func(r *kgo.Record) {
			v := string(r.Value)
			if seen[v] {
				t.Fatalf("output %q twice", v)
			}
			seen[v] = true
		})
	}
}

// slowCounter is a counter that takes a while per batch.
type slowCounter struct{ counter }

func (c *slowCounter) Process(ctx context.Context, recs []*kgo.Record, lag Lag, out *Output) error {
	time.Sleep(20 * time.Millisecond)
	return c.counter.Process(ctx, recs, lag, out)
}

// A configuration the broker refuses for good fails Run with the broker's
// error and what to change, instead of a warning repeated for ever.
func TestRunFailsOnAConfigurationTheBrokerRefuses(t *testing.T) {
	t.Parallel()
	kc := brokertest.Start(t)
	cl := brokertest.Client(t, kc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const in, changelog, dlq = "r3.in", "r3.changelog", "r3.dlq"
	createTopics(t, ctx, cl, 1, changelog, in, changelog, dlq)
	r, err := New(Config{Kafka: kc, Group: "g3", Inputs: []string{in}, Changelog: changelog, DeadLetters: dlq, Stage: "test",
		SessionTimeout: time.Second, // below the broker's group.min.session.timeout.ms
		NewTask: func(int32) (Task, error) {
			return &counter{out: in, counts: map[string]int{}, dirty: map[string]bool{}, busy: new(atomic.Int32), peak: new(atomic.Int32)}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("Run kept retrying a session timeout the broker refuses")
	}
	if !errors.Is(err, kerr.InvalidSessionTimeout) || !strings.Contains(err.Error(), "group.min.session.timeout.ms") {
		t.Fatalf("Run: %v, want INVALID_SESSION_TIMEOUT with what to change", err)
	}
}

// createTopics creates the named topics with partitions each; changelog is
// compacted.
func createTopics(t *testing.T, ctx context.Context, cl *kgo.Client, partitions int32, changelog string, names ...string) {
	t.Helper()
	var specs []schemas.TopicSpec
	for _, n := range names {
		specs = append(specs, schemas.TopicSpec{Name: n, Partitions: partitions, Retention: -1, Compacted: n == changelog})
	}
	if err := kafka.EnsureTopics(ctx, cl, specs, 1); err != nil {
		t.Fatal(err)
	}
}

// keyedRecords returns perKey records for each of keys keys, round-robin
// over the keys, valued "r<round>.<i>".
func keyedRecords(topic string, round, keys, perKey int) []*kgo.Record {
	var recs []*kgo.Record
	for i := range perKey {
		for k := range keys {
			recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "r%d.%d", round, i)})
		}
	}
	return recs
}
