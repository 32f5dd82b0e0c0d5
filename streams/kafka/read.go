package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadAll reads every committed record of topic, read_committed, up to the
// end offsets the topic had when ReadAll was called, and returns them in
// partition and offset order. It is for tools and tests: it holds
// everything in memory (Scan does not).
func ReadAll(ctx context.Context, cfg Config, topic string) ([]*kgo.Record, error) {
	byPart := map[int32][]*kgo.Record{}
	if err := Scan(ctx, cfg, topic, func(r *kgo.Record) { byPart[r.Partition] = append(byPart[r.Partition], r) }); err != nil {
		return nil, err
	}
	var out []*kgo.Record
	for p := int32(0); len(byPart) > 0; p++ {
		out = append(out, byPart[p]...)
		delete(byPart, p)
	}
	return out, nil
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// ReadableEnds returns, for each partition of topics with something to
// read, its last stable offset: where a read_committed reader that starts
// now is at the end. A partition whose records were all deleted
// (retention, DeleteRecords) has an end past its log start but nothing to
// fetch, so it is left out, as is a topic that does not exist yet.
func ReadableEnds(ctx context.Context, adm *kadm.Client, topics ...string) (map[TopicPartition]int64, error) {
	ends, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("end offsets: %w", err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && !errors.Is(o.Err, kerr.UnknownTopicOrPartition) && err == nil {
			err = fmt.Errorf("end offset of %s[%d]: %w", o.Topic, o.Partition, o.Err)
		}
	})
	if err != nil {
		return nil, err
	}
	// Listed after the ends, so that records deleted in between make a
	// partition look empty rather than leave an end that cannot be reached.
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("start offsets: %w", err)
	}
	want := map[TopicPartition]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			return
		}
		start := int64(0) // an unknown start is 0, as in source.loadCheckpoints
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Err == nil {
			start = s.Offset
		}
		if o.Offset > start {
			want[TopicPartition{o.Topic, o.Partition}] = o.Offset
		}
	})
	return want, nil
}

// Scan calls fn with every committed record of topic, read_committed, up to
// the end offsets the topic had when Scan was called, in offset order within
// each partition.
func Scan(ctx context.Context, cfg Config, topic string, fn func(*kgo.Record)) error {
	adm, err := cfg.NewClient()
	if err != nil {
		return err
	}
	ends, err := ReadableEnds(ctx, kadm.NewClient(adm), topic)
	adm.Close()
	if err != nil {
		return fmt.Errorf("kafka: %s: %w", topic, err)
	}
	want := map[int32]int64{}
	for tp, end := range ends {
		want[tp.Partition] = end
	}
	if len(want) == 0 {
		return nil
	}
	// Control records (transaction markers) are kept so that a partition
	// whose last offset is a marker is seen to be at its end.
	cl, err := cfg.NewClient(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("kafka: reading %s: %w", topic, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return fmt.Errorf("kafka: reading %s: %w", topic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := want[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				fn(r)
			}
			if r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	return nil
}
