// Package replay publishes the history shipped with wattcast (package data)
// into the price and weather topics faster than real time, for the demo and
// tests.
//
// Every record of the chosen data sets is parsed with the csvimport
// presets, so replayed values are exactly what `wattcast import` would
// publish, and all records are merged in known-at order (a price's
// published_at, an observation's available_at, a forecast's issued_at): the
// processors downstream see the arrival order they would have seen live, only
// faster. Records are produced with franz-go's idempotent producer,
// asynchronously, in batches.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/data"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/csvimport"
	"github.com/wattcast/wattcast/streams/kafka"
)

// Data set names for Options.Datasets.
const (
	// NordPoolFI is Finland's Nord Pool day-ahead price with station
	// weather and grid series, 2023-01-01 .. 2024-09-06, region "FI".
	NordPoolFI = "nordpool-fi"
	// OctopusAgileA is Octopus Agile region A, half-hourly, 2018-02-19 ..
	// 2021-08-23, region "GB-A".
	OctopusAgileA = "octopus-agile-a"
)

type dataset struct {
	file   string
	preset string
}

var datasets = map[string]dataset{
	NordPoolFI:    {data.NordPoolFI, csvimport.PresetNordPoolFI},
	OctopusAgileA: {data.OctopusAgileA, csvimport.PresetOctopusAgile},
}

// Datasets lists the data set names.
func Datasets() []string { return []string{NordPoolFI, OctopusAgileA} }

// Options configure Run and Load.
type Options struct {
	// Datasets to replay; nil means all of Datasets().
	Datasets []string
	// From and To, when set, keep only records whose event time (period
	// start, weather hour) is in [From, To): tests replay a few weeks.
	From, To time.Time
	// Windows overrides From and To per data set name, for slices of data
	// sets that cover different years.
	Windows map[string]Window
	// Producer is the wattcast-producer header (default
	// "wattcast/dev replay").
	Producer string
	// Progress, if set, is called from Run's goroutine with the number of
	// records acknowledged by the broker and the total, about every 1% and
	// once at the end. It must be fast.
	Progress func(done, total int)
}

// Window is a slice [From, To) of event time.
type Window struct{ From, To time.Time }

// Stats describe a replay.
type Stats struct {
	// Records is the number of records produced, PerTopic by topic.
	Records  int
	PerTopic map[string]int
	// PerDataset counts records by data set name.
	PerDataset map[string]int
	// SkippedRows counts rows dropped on purpose (e.g. rows without a price).
	SkippedRows int
	// DeadLetters counts rows or values that were rejected and sent to the
	// dead-letter topic (zero for the shipped data).
	DeadLetters int
	// FirstKnownAt and LastKnownAt bound the known-at times replayed.
	FirstKnownAt, LastKnownAt time.Time
	// Elapsed is the wall time of the produce phase.
	Elapsed time.Duration
}

// Item is one value to publish, with its times.
type Item struct {
	Dataset string
	Topic   string
	Key     string
	Value   schemas.Value
	// KnownAt orders the replay; EventTime breaks ties.
	KnownAt, EventTime time.Time
}

// Data is what Load read.
type Data struct {
	// Items in replay order.
	Items []Item
	// Rejected rows, by data set, with why (published as dead letters by Run).
	Rejected    map[string][]*csvimport.RowError
	SkippedRows int
}

// Load parses the chosen data sets and merges their values in known-at
// order. Tests use it to know what a replay publishes.
func Load(topics schemas.TopicSet, opts Options) (*Data, error) {
	names := opts.Datasets
	if len(names) == 0 {
		names = Datasets()
	}
	out := &Data{Rejected: map[string][]*csvimport.RowError{}}
	for _, name := range names {
		ds, ok := datasets[name]
		if !ok {
			return nil, fmt.Errorf("replay: no data set %q (have %s)", name, strings.Join(Datasets(), ", "))
		}
		m, err := csvimport.Preset(ds.preset)
		if err != nil {
			return nil, err
		}
		rc, err := data.Open(ds.file)
		if err != nil {
			return nil, err
		}
		from, to := opts.From, opts.To
		if w, ok := opts.Windows[name]; ok {
			from, to = w.From, w.To
		}
		res, err := csvimport.Parse(rc, m, csvimport.Options{File: ds.file, Lenient: true, From: from, To: to})
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("replay: %s: %w", name, err)
		}
		out.Rejected[name] = res.Rejected
		for _, n := range res.Skipped {
			out.SkippedRows += n
		}
		for i := range res.Prices {
			v := &res.Prices[i]
			out.Items = append(out.Items, Item{name, topics.Prices, v.Region, v, v.PublishedAt, v.Start})
		}
		for i := range res.Observations {
			v := &res.Observations[i]
			out.Items = append(out.Items, Item{name, topics.WeatherObserved, v.Region, v, v.AvailableAt, v.Time})
		}
		for i := range res.Forecasts {
			v := &res.Forecasts[i]
			out.Items = append(out.Items, Item{name, topics.WeatherForecast, v.Region, v, v.IssuedAt, v.Time})
		}
	}
	sort.SliceStable(out.Items, func(i, j int) bool {
		a, b := &out.Items[i], &out.Items[j]
		if !a.KnownAt.Equal(b.KnownAt) {
			return a.KnownAt.Before(b.KnownAt)
		}
		if !a.EventTime.Equal(b.EventTime) {
			return a.EventTime.Before(b.EventTime)
		}
		return a.Topic < b.Topic
	})
	return out, nil
}

// ClientOpts are the producer options Run is tuned for, to append to the
// caller's kafka.Config options: a short linger so that batches fill, a
// buffer large enough to keep every partition busy. Idempotent writes are
// franz-go's default and stay on.
func ClientOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.MaxBufferedRecords(64 << 10),
		kgo.ProducerBatchMaxBytes(1 << 20),
	}
}

// Run publishes the chosen history to topics through cl, as fast as the
// brokers take it, and returns when every record is acknowledged. The
// topics must exist (kafka.EnsureTopics). It is not idempotent across runs:
// replaying twice into the same topics publishes everything twice, so the
// demo replays into fresh topics.
func Run(ctx context.Context, cl *kgo.Client, topics schemas.TopicSet, opts Options) (Stats, error) {
	d, err := Load(topics, opts)
	if err != nil {
		return Stats{}, err
	}
	producer := opts.Producer
	if producer == "" {
		producer = kafka.Producer("dev", "replay")
	}
	st := Stats{PerTopic: map[string]int{}, PerDataset: map[string]int{}, SkippedRows: d.SkippedRows}
	var recs []*kgo.Record
	now := time.Now().UTC()
	for name, rej := range d.Rejected {
		for _, re := range rej {
			orig := &kgo.Record{Topic: "file:" + re.File, Partition: -1, Offset: int64(re.Line), Value: []byte(re.Raw)}
			recs = append(recs, kafka.NewDeadLetter(topics.DeadLetters, orig, re.Reason, re, "replay:"+name, producer, now))
			st.DeadLetters++
		}
	}
	for _, it := range d.Items {
		r, err := kafka.NewRecord(it.Topic, it.Key, it.Value, producer)
		if err != nil {
			raw, _ := json.Marshal(it.Value)
			orig := &kgo.Record{Topic: "file:" + it.Dataset, Partition: -1, Offset: -1, Key: []byte(it.Key), Value: raw}
			r = kafka.NewDeadLetter(topics.DeadLetters, orig, schemas.ReasonOf(err), err, "replay:"+it.Dataset, producer, now)
			st.DeadLetters++
		} else {
			st.PerDataset[it.Dataset]++
		}
		recs = append(recs, r)
	}
	if len(d.Items) > 0 {
		st.FirstKnownAt, st.LastKnownAt = d.Items[0].KnownAt, d.Items[len(d.Items)-1].KnownAt
	}

	start := time.Now()
	total := len(recs)
	var (
		mu    sync.Mutex
		acked int
		first error
	)
	step := max(total/100, 1)
	for i, r := range recs {
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			acked++
		})
		if opts.Progress != nil && i%step == 0 {
			mu.Lock()
			n := acked
			mu.Unlock()
			opts.Progress(n, total)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return st, fmt.Errorf("replay: flush: %w", err)
	}
	st.Elapsed = time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	if first != nil {
		return st, fmt.Errorf("replay: produce failed (is the broker up and are the topics created?): %w", first)
	}
	if acked != total {
		return st, errors.New("replay: not every record was acknowledged")
	}
	for _, r := range recs {
		st.PerTopic[r.Topic]++
	}
	st.Records = total
	if opts.Progress != nil {
		opts.Progress(acked, total)
	}
	return st, nil
}
