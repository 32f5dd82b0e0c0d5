// Package broker runs an embedded Kafka-protocol broker in-process, on
// 127.0.0.1, for the demo, local development and tests. It wraps franz-go's
// kfake, which implements the Kafka wire protocol including consumer groups,
// transactions and read_committed, so every wattcast client talks to it
// exactly as it talks to Apache Kafka or Amazon MSK.
//
// It is used only when no brokers are configured. It is not a production
// broker: one node, no replication, and durability only as good as the data
// directory (see WithDataDir).
package broker

import (
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a running embedded broker.
type Broker struct {
	c     *kfake.Cluster
	addrs []string
}

type config struct {
	port       int
	dataDir    string
	partitions int
	logger     *slog.Logger
}

// Opt configures Start.
type Opt func(*config)

// WithPort listens on port, overriding the default of a free port chosen by
// the kernel.
func WithPort(port int) Opt { return func(c *config) { c.port = port } }

// WithDataDir keeps the broker's logs, offsets and transaction state in dir,
// so that a restarted broker (Start again with the same dir) serves the same
// data. Without it, everything is in memory and gone at Close.
func WithDataDir(dir string) Opt { return func(c *config) { c.dataDir = dir } }

// WithDefaultPartitions sets the partition count of auto-created topics,
// overriding the default 3. wattcast creates its topics explicitly; this
// only matters for topics created by other clients.
func WithDefaultPartitions(n int) Opt { return func(c *config) { c.partitions = n } }

// WithLogger logs the broker's warnings and errors to l.
func WithLogger(l *slog.Logger) Opt { return func(c *config) { c.logger = l } }

// Start starts a one-node broker on 127.0.0.1 and returns once it accepts
// connections.
func Start(opts ...Opt) (*Broker, error) {
	cfg := config{partitions: 3}
	for _, o := range opts {
		o(&cfg)
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(cfg.partitions),
		kfake.AllowAutoTopicCreation(),
		kfake.ClusterID("wattcast-embedded"),
	}
	if cfg.port > 0 {
		kopts = append(kopts, kfake.Ports(cfg.port))
	}
	if cfg.dataDir != "" {
		kopts = append(kopts, kfake.DataDir(cfg.dataDir))
	}
	if cfg.logger != nil {
		kopts = append(kopts, kfake.WithLogger(slogAdapter{cfg.logger}))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("broker: start embedded broker (port %d, data dir %q): %w", cfg.port, cfg.dataDir, err)
	}
	return &Broker{c: c, addrs: c.ListenAddrs()}, nil
}

// Addrs returns the broker's host:port addresses, for kafka.Config.Brokers.
func (b *Broker) Addrs() []string { return b.addrs }

// Close stops the broker, flushing its data directory if it has one. It
// waits for connections to close.
func (b *Broker) Close() { b.c.Close() }

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		a.l.Error(fmt.Sprintf(msg, args...), "component", "embedded-broker")
	case kfake.LogLevelWarn:
		a.l.Warn(fmt.Sprintf(msg, args...), "component", "embedded-broker")
	}
}
