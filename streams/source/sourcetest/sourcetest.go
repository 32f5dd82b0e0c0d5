// Package sourcetest sets up what the tests of a source publish through:
// an embedded broker with wattcast's topics and the checkpoint topic, and a
// source.Publisher on it.
package sourcetest

import (
	"context"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/source"
)

// Publisher starts a broker with the topics of opts.Topics (default the
// unprefixed set) and the checkpoint topic, and a publisher with opts
// (Producer defaults to "wattcast/test"), closed when t ends.
func Publisher(t testing.TB, opts source.PublisherOptions) (kafka.Config, schemas.TopicSet, *source.Publisher) {
	t.Helper()
	if opts.Topics.Prices == "" {
		opts.Topics = schemas.NewTopicSet("")
	}
	if opts.Producer == "" {
		opts.Producer = "wattcast/test"
	}
	kcfg := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, brokertest.Client(t, kcfg), append(opts.Topics.Specs(3, 0), source.CheckpointSpec(opts.Topics)), -1); err != nil {
		t.Fatal(err)
	}
	pub, err := source.NewPublisher(ctx, kcfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	return kcfg, opts.Topics, pub
}
