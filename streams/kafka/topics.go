package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
)

// EnsureTopics creates every topic in specs that does not exist yet, with
// its partitions, retention and cleanup policy. Existing topics are left as
// they are (their partition count is checked: co-partitioned inputs must
// agree). replication is the replication factor; -1 uses the broker default.
func EnsureTopics(ctx context.Context, cl *kgo.Client, specs []schemas.TopicSpec, replication int16) error {
	adm := kadm.NewClient(cl)
	for _, s := range specs {
		cfg := map[string]*string{}
		ret := "-1"
		if s.Retention > 0 {
			ret = strconv.FormatInt(s.Retention.Milliseconds(), 10)
		}
		cfg["retention.ms"] = &ret
		if s.Compacted {
			c := "compact"
			cfg["cleanup.policy"] = &c
		}
		resp, err := adm.CreateTopic(ctx, s.Partitions, replication, cfg, s.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", s.Name, err)
		}
	}
	details, err := waitForTopics(ctx, adm, names(specs))
	if err != nil {
		return err
	}
	return checkTopics(specs, details)
}

// checkTopics checks that every topic of specs is in details, the metadata
// after creation, and that region-keyed topics have their partition count.
func checkTopics(specs []schemas.TopicSpec, details kadm.TopicDetails) error {
	for _, s := range specs {
		d, ok := details[s.Name]
		if !ok {
			return fmt.Errorf("kafka: topic %s is missing from the cluster's metadata %s after it was created; check that the brokers are healthy and that this client may describe the topic, then run again", s.Name, topicWait)
		}
		if d.Err != nil {
			return fmt.Errorf("kafka: topic %s is not available after creation: %w; check the brokers and this client's permissions on the topic, then run again", s.Name, d.Err)
		}
		if got := int32(len(d.Partitions)); s.Partitions > 0 && got != s.Partitions && s.Schema != "" && s.Key == "region" {
			return fmt.Errorf("kafka: topic %s has %d partitions, want %d: region-keyed topics must have the same partition count so that a region's prices, weather and features share a partition number", s.Name, got, s.Partitions)
		}
	}
	return nil
}

func names(specs []schemas.TopicSpec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out
}

// topicWait bounds how long EnsureTopics waits for new topics to appear in
// the metadata.
const topicWait = 30 * time.Second

// waitForTopics polls the metadata until every topic has partitions with
// leaders: a real broker answers CreateTopics before its metadata knows the
// new topics. At the deadline it returns what it has, and the caller names
// what is missing.
func waitForTopics(ctx context.Context, adm *kadm.Client, topics []string) (kadm.TopicDetails, error) {
	deadline := time.Now().Add(topicWait)
	for {
		details, err := adm.ListTopics(ctx, topics...)
		if err != nil {
			return nil, fmt.Errorf("kafka: describe topics: %w", err)
		}
		if ready(details, topics) || time.Now().After(deadline) {
			return details, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("kafka: waiting for new topics: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ready(details kadm.TopicDetails, topics []string) bool {
	for _, t := range topics {
		d, ok := details[t]
		if !ok || d.Err != nil || len(d.Partitions) == 0 {
			return false
		}
		for _, p := range d.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false
			}
		}
	}
	return true
}
