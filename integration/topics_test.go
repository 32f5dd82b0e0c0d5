package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/wattcast/wattcast/processors"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
)

// TestTopicsUsableRightAfterCreation guards what every stage does first on
// a new topic set (`wattcast process`, `wattcast demo --brokers`):
// kafka.EnsureTopics creates the missing topics and checks them. A real
// broker answers CreateTopics before its metadata serves the new topics, so
// a check made at once finds them missing (UNKNOWN_TOPIC_OR_PARTITION) and
// the stage fails to start (seen with Kafka 4.3.1 on every first run of
// `wattcast process` and `wattcast demo --brokers` until EnsureTopics
// waited for the new topics' leaders). The embedded kfake broker applies
// metadata at once, so only a real broker shows it.
func TestTopicsUsableRightAfterCreation(t *testing.T) {
	s := servers(t)
	cl, err := s.kafkaConfig().NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range 3 {
		topics := schemas.NewTopicSet(fmt.Sprintf("%s.", s.name(fmt.Sprintf("ensure%d", i))))
		specs := processors.Topics(topics, partitions)
		names := make([]string, len(specs))
		for j, sp := range specs {
			names[j] = sp.Name
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _ = kadm.NewClient(cl).DeleteTopics(ctx, names...)
		})
		if err := kafka.EnsureTopics(ctx, cl, specs, -1); err != nil {
			t.Errorf("attempt %d: kafka.EnsureTopics on a new topic set: %v", i+1, err)
		}
	}
}
