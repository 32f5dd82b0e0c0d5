// Package kafka builds franz-go clients from wattcast's configuration and
// gives every component the same record encoding, topic creation and dead
// letters.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/plugin/kslog"
)

// Config is what a component needs to reach a Kafka cluster.
type Config struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// ClientID names the client in broker logs and quotas; defaults to
	// "wattcast".
	ClientID string
	// TLS enables TLS with the system roots (MSK requires it).
	TLS bool
	// SASL authenticates the client; nil for none. See the sasl package of
	// franz-go, or AWS MSK IAM (cmd/wattcast wires it from --kafka-sasl).
	SASL sasl.Mechanism
	// Logger receives franz-go's warnings and errors; nil for none.
	Logger *slog.Logger
}

// ErrNoBrokers is returned by Opts when no seed brokers are configured.
var ErrNoBrokers = errors.New("kafka: no brokers configured: set --brokers or WATTCAST_KAFKA_BROKERS (host:port, comma separated)")

// Opts returns the franz-go options shared by every wattcast client. Callers
// append their own (a consumer group, a transactional id, ...).
func (c Config) Opts() ([]kgo.Opt, error) {
	if len(c.Brokers) == 0 {
		return nil, ErrNoBrokers
	}
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			return nil, fmt.Errorf("kafka: broker %q has no port; want host:port", b)
		}
	}
	id := c.ClientID
	if id == "" {
		id = "wattcast"
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(id),
		// A broker restart must not fail a produce: retry for as long as a
		// restart takes rather than the 10s-ish default budget.
		kgo.RecordDeliveryTimeout(2 * time.Minute),
		kgo.RetryTimeout(2 * time.Minute),
	}
	if c.TLS {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	if c.SASL != nil {
		opts = append(opts, kgo.SASL(c.SASL))
	}
	if c.Logger != nil {
		opts = append(opts, kgo.WithLogger(levelFilter{kslog.New(c.Logger.With("component", "franz-go"))}))
	}
	return opts, nil
}

// NewClient returns a client with Opts plus extra. It does not dial: use
// Ping to check that the brokers answer.
func (c Config) NewClient(extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.Opts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: new client: %w", err)
	}
	return cl, nil
}

// Ping checks that a broker answers within ctx, with an error that says what
// to check when none does.
func Ping(ctx context.Context, cl *kgo.Client, brokers []string) error {
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: no broker answered at %s (is it running, and is the address right?): %w",
			strings.Join(brokers, ","), err)
	}
	return nil
}

// levelFilter keeps franz-go's own logs at warn and above: its info logs
// describe every rebalance and connection, which is noise for an operator.
type levelFilter struct{ kgo.Logger }

func (l levelFilter) Level() kgo.LogLevel { return kgo.LogLevelWarn }
