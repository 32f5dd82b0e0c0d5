package lakesink_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/lakesink"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
)

// MaxBytes cuts a partition's records into batches by the key and value
// bytes read (transaction markers and skipped records included), together
// with MaxRows: a batch closes at the first record where its records reach
// MaxRows or their bytes reach MaxBytes. So every batch but a partition's
// last reaches one of the bounds, none exceeds MaxBytes by more than its
// last record, and the batches tile the partition: every record is in
// exactly one batch, and in the lake once. The data is two days from Friday
// 2024-03-01, one transaction per region and day on the features topic (so
// markers fall inside partitions), and RollInterval is a week (UTC weeks
// from Monday: Go truncates from the zero time, a Monday), so the roll time
// never closes a batch; nor does IdleFlush, an hour.
func TestSinkCutsBatchesByMaxBytes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		maxRows  int
		maxBytes int64
		// byBytes: some batch must close on MaxBytes with fewer than
		// MaxRows records; byRows: some on MaxRows below MaxBytes.
		byBytes, byRows bool
		// smallest sets MaxBytes to the smallest record's size (a
		// transaction marker's 10 bytes): every record then closes its
		// batch alone, which holds only if a batch closes on reaching
		// MaxBytes, not on passing it, and markers count.
		smallest bool
	}{
		{name: "bytes bind", maxRows: 10_000, maxBytes: 3_000, byBytes: true},
		{name: "every record alone", maxRows: 10_000, smallest: true, byBytes: true},
		{name: "rows bind, bytes far", maxRows: 7, maxBytes: 1 << 30, byRows: true},
		{name: "both bind", maxRows: 9, maxBytes: 2_000, byBytes: true, byRows: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.produce(t2024, 2, "FI", "SE3", "GB-A")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			read := e.readAsSink(ctx)
			if c.smallest {
				c.maxBytes = math.MaxInt64
				for _, recs := range read {
					for _, r := range recs {
						c.maxBytes = min(c.maxBytes, r.size)
					}
				}
			}
			cfg := e.config(e.lake)
			cfg.MaxRows, cfg.MaxBytes = c.maxRows, c.maxBytes
			cfg.IdleFlush = time.Hour
			cfg.RollInterval = 7 * 24 * time.Hour
			st := runSink(t, cfg, 60*time.Second)
			e.checkLake(ctx, e.lake)
			batches := e.journaled(ctx, e.lake)
			var byBytes, byRows, total int
			for k, recs := range read {
				bs := batches[k]
				if len(bs) == 0 {
					t.Fatalf("%s[%d]: %d records and no batch", k.topic, k.partition, len(recs))
				}
				i := 0 // the next record, which the next batch must start at
				for bi, b := range bs {
					if i == len(recs) || recs[i].offset != b.first {
						t.Fatalf("%s[%d] batch %d starts at %d; want the next record after the previous batch, %v",
							k.topic, k.partition, bi, b.first, recs[min(i, len(recs)-1)])
					}
					var sum, last int64
					n := 0
					for ; i < len(recs) && recs[i].offset <= b.last; i++ {
						sum += recs[i].size
						last = recs[i].size
						n++
					}
					total += n
					where := fmt.Sprintf("%s[%d] batch %d [%d, %d]: %d records, %d bytes (last %d)",
						k.topic, k.partition, bi, b.first, b.last, n, sum, last)
					if sum-last >= c.maxBytes || n-1 >= c.maxRows {
						t.Errorf("%s: it reached MaxRows %d or MaxBytes %d before its last record", where, c.maxRows, c.maxBytes)
					}
					reached := sum >= c.maxBytes || n >= c.maxRows
					if bi < len(bs)-1 && !reached {
						t.Errorf("%s: closed below MaxRows %d and MaxBytes %d, and not last", where, c.maxRows, c.maxBytes)
					}
					switch {
					case sum >= c.maxBytes && n < c.maxRows:
						byBytes++
					case n >= c.maxRows && sum < c.maxBytes:
						byRows++
					}
				}
				if i != len(recs) {
					t.Errorf("%s[%d]: batches end at %d; records go on to %d", k.topic, k.partition, bs[len(bs)-1].last, recs[len(recs)-1].offset)
				}
			}
			if len(batches) != len(read) {
				t.Errorf("batches journaled in %d partitions, records read from %d", len(batches), len(read))
			}
			if c.byBytes && byBytes == 0 || c.byRows && byRows == 0 || !c.byBytes && byBytes > 0 {
				t.Errorf("%d batches closed on MaxBytes alone and %d on MaxRows alone; want byBytes %v, byRows %v",
					byBytes, byRows, c.byBytes, c.byRows)
			}
			if c.smallest && st.Batches != int64(total) {
				t.Errorf("%d batches stored for %d records with MaxBytes %d, the smallest record's size; want one each", st.Batches, total, c.maxBytes)
			}
			t.Logf("MaxBytes %d: %d records in %d partitions, %d batches closed on MaxBytes, %d on MaxRows",
				c.maxBytes, total, len(read), byBytes, byRows)
		})
	}
}

// New rejects negative limits with the setting, the value and the default,
// and takes 0 as the default.
func TestNewChecksBatchLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		set     func(*lakesink.Config)
		wantErr string
	}{
		{"defaults", func(*lakesink.Config) {}, ""},
		{"negative MaxRows", func(c *lakesink.Config) { c.MaxRows = -1 }, "MaxRows is -1; want a positive count, or 0 for the default 50000"},
		{"negative MaxBytes", func(c *lakesink.Config) { c.MaxBytes = -5 }, "MaxBytes is -5; want a positive byte count, or 0 for the default 67108864"},
		{"positive MaxBytes", func(c *lakesink.Config) { c.MaxBytes = 1 }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := lakesink.Config{Kafka: kafka.Config{Brokers: []string{"127.0.0.1:1"}}, Topics: schemas.NewTopicSet(""),
				Store: fakeNothing{}}
			c.set(&cfg)
			_, err := lakesink.New(cfg)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("New returned %v, want an error containing %q", err, c.wantErr)
			}
		})
	}
}

// fakeNothing is a Store that New only holds on to; these tests never
// run the sink, so it is never called.
type fakeNothing struct{}

func (fakeNothing) Put(context.Context, string, []byte) error { return errors.New("not used") }
func (fakeNothing) PutIfAbsent(context.Context, string, []byte) (bool, error) {
	return false, errors.New("not used")
}
func (fakeNothing) Get(context.Context, string) ([]byte, error) { return nil, errors.New("not used") }
func (fakeNothing) ListAfter(context.Context, string, string) ([]string, error) {
	return nil, errors.New("not used")
}

// topicPartition names one partition of one topic.
type topicPartition struct {
	topic     string
	partition int32
}

// sizedRecord is one record as the sink reads it: its offset and the bytes
// MaxBytes counts (key and value).
type sizedRecord struct {
	offset int64
	size   int64
}

// readAsSink reads every input topic as the sink does (read_committed,
// transaction markers kept) up to the end offsets, and returns each
// partition's records in offset order with their sizes.
func (e *env) readAsSink(ctx context.Context) map[topicPartition][]sizedRecord {
	e.t.Helper()
	topics := []string{e.topics.Prices, e.topics.WeatherObserved, e.topics.WeatherForecast, e.topics.Features,
		e.topics.FeaturesDaily, e.topics.Forecasts}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.FetchMaxWait(200*time.Millisecond), kgo.ConsumeTopics(topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	e.must(err)
	defer cl.Close()
	lso, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topics...)
	e.must(err)
	left := 0
	lso.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left++
		}
	})
	out := map[topicPartition][]sizedRecord{}
	for left > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("%d partitions not read up to their end offsets: %v", left, ctx.Err())
		}
		fetches.EachRecord(func(r *kgo.Record) {
			k := topicPartition{r.Topic, r.Partition}
			out[k] = append(out[k], sizedRecord{r.Offset, int64(len(r.Key) + len(r.Value))})
			if end, ok := lso.Lookup(r.Topic, r.Partition); ok && r.Offset == end.Offset-1 {
				left--
			}
		})
	}
	return out
}

// batchBounds is a batch's offset range and files, from its journal.
type batchBounds struct {
	first, last int64
	journal     string   // its key
	files       []string // the keys of the files it lists
}

// journaled returns every batch journaled in store, per partition in
// offset order.
func (e *env) journaled(ctx context.Context, store lake.Reader) map[topicPartition][]batchBounds {
	e.t.Helper()
	keys, err := store.List(ctx, lakesink.JournalPrefix)
	e.must(err)
	out := map[topicPartition][]batchBounds{}
	for _, k := range keys {
		data, err := store.Get(ctx, k)
		e.must(err)
		var j struct {
			Topic       string
			Partition   int32
			First, Last int64
			Files       []struct{ Key string }
		}
		e.must(json.Unmarshal(data, &j))
		b := batchBounds{first: j.First, last: j.Last, journal: k}
		for _, f := range j.Files {
			b.files = append(b.files, f.Key)
		}
		tp := topicPartition{j.Topic, j.Partition}
		out[tp] = append(out[tp], b)
	}
	for _, bs := range out {
		slices.SortFunc(bs, func(a, b batchBounds) int { return cmp.Compare(a.first, b.first) })
	}
	return out
}

// checkManifest asserts that the journals are a true manifest of the lake:
// the journals of a partition do not overlap, every file a journal lists
// is stored, and every stored file is listed by a journal.
func (e *env) checkManifest(ctx context.Context, store lake.Reader) {
	e.t.Helper()
	keys, err := store.List(ctx, "")
	e.must(err)
	stored := map[string]bool{} // key -> listed by a journal
	for _, k := range keys {
		if strings.HasSuffix(k, ".parquet") {
			stored[k] = false
		}
	}
	var problems []string
	for _, bs := range e.journaled(ctx, store) {
		for i, b := range bs {
			if i > 0 && b.first <= bs[i-1].last {
				problems = append(problems, fmt.Sprintf("journal %s [%d, %d] overlaps %s [%d, %d]",
					b.journal, b.first, b.last, bs[i-1].journal, bs[i-1].first, bs[i-1].last))
			}
			for _, f := range b.files {
				if _, ok := stored[f]; !ok {
					problems = append(problems, fmt.Sprintf("journal %s lists %s, which is not stored", b.journal, f))
				}
				stored[f] = true
			}
		}
	}
	for k, listed := range stored {
		if !listed {
			problems = append(problems, fmt.Sprintf("%s is listed by no journal", k))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		e.t.Fatalf("the journals are not a manifest of the lake:\n%s", strings.Join(problems, "\n"))
	}
}
