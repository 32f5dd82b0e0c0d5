package catalog

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/streams/kafka"
)

// Watch refreshes c whenever a record arrives on the model-events topic
// (a promotion by any instance, a model registered by a retraining), until
// ctx is done. It reads from the end of the topic: the periodic refresh
// covers anything older.
func Watch(ctx context.Context, kc kafka.Config, topic string, c *Catalog) error {
	cl, err := kc.NewClient(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return fmt.Errorf("catalog: watch %s: %w", topic, err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if fs.NumRecords() > 0 {
			c.Notify()
		}
	}
}
