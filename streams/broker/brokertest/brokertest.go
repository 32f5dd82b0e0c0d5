// Package brokertest starts the embedded broker for tests of the stages
// that talk to Kafka.
package brokertest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/streams/broker"
	"github.com/wattcast/wattcast/streams/kafka"
)

// Start starts an in-memory embedded broker, closed when the test ends,
// and returns the client configuration that reaches it.
func Start(t testing.TB, opts ...broker.Opt) kafka.Config {
	t.Helper()
	b, err := broker.Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return kafka.Config{Brokers: b.Addrs()}
}

// Client returns a client of kc, closed when the test ends.
func Client(t testing.TB, kc kafka.Config, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kc.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
