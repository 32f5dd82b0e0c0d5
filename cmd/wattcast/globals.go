package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
)

// globals are the settings every subcommand shares.
type globals struct {
	brokers     listFlag
	topicPrefix string
	partitions  int
	lakeURL     string
	registryURL string
	s3Endpoint  string
	s3PathStyle bool
	awsRegion   string
	kafkaTLS    bool
	kafkaSASL   string
	logLevel    string
	logFormat   string
}

// sharedFlags says which of the shared flags a subcommand takes besides
// the logging flags, so that its --help lists only flags that do
// something.
type sharedFlags uint8

const (
	sharedAll   sharedFlags = iota // Kafka and store flags (the zero value)
	sharedKafka                    // Kafka flags only
	sharedStore                    // store flags only (lake, registry, S3, AWS region)
	sharedNone                     // logging flags only
	sharedAWS                      // --aws-region only (Athena)
)

// registerFor registers the shared flags of uses, and the logging flags.
func (g *globals) registerFor(fs *flag.FlagSet, uses sharedFlags) {
	if uses == sharedAll || uses == sharedKafka {
		fs.Var(&g.brokers, "brokers", "Kafka seed brokers, host:port, comma separated")
		fs.StringVar(&g.topicPrefix, "topic-prefix", schemas.DefaultTopicPrefix, "prefix of every topic name")
		fs.IntVar(&g.partitions, "partitions", 3, "partitions of the region-keyed topics, when wattcast creates them")
		fs.BoolVar(&g.kafkaTLS, "kafka-tls", false, "connect to Kafka with TLS (MSK)")
		fs.StringVar(&g.kafkaSASL, "kafka-sasl", "", "Kafka SASL mechanism: \"\" (none) or aws-msk-iam")
	}
	if uses == sharedAll || uses == sharedStore {
		fs.StringVar(&g.lakeURL, "lake", defaultLakeURL, "the Parquet lake: file://DIR or s3://BUCKET/PREFIX")
		fs.StringVar(&g.registryURL, "registry", "", "the model registry: file://DIR or s3://BUCKET/PREFIX (default: <lake>/../registry)")
		fs.StringVar(&g.s3Endpoint, "s3-endpoint", "", "S3 endpoint URL for an S3-compatible server, e.g. http://127.0.0.1:7070 (default: AWS)")
		fs.BoolVar(&g.s3PathStyle, "s3-path-style", false, "address S3 buckets path-style (needed by most S3-compatible servers)")
	}
	if uses != sharedNone {
		// S3, Athena and MSK IAM auth all sign for a region.
		fs.StringVar(&g.awsRegion, "aws-region", "", "AWS region (default: the SDK's default chain, AWS_REGION)")
	}
	// Every subcommand logs.
	fs.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
}

func (g *globals) topics() schemas.TopicSet { return schemas.NewTopicSet(g.topicPrefix) }

// kafkaConfig returns the Kafka client configuration, failing with a hint
// when no broker is configured. With --kafka-sasl aws-msk-iam it loads AWS
// credentials from the SDK's default chain (refreshed per connection).
func (g *globals) kafkaConfig(ctx context.Context, log *slog.Logger, clientID string) (kafka.Config, error) {
	if len(g.brokers) == 0 {
		return kafka.Config{}, fmt.Errorf("%w, or start a local one with `wattcast broker`", kafka.ErrNoBrokers)
	}
	cfg := kafka.Config{Brokers: g.brokers, ClientID: clientID, TLS: g.kafkaTLS, Logger: log}
	switch g.kafkaSASL {
	case "":
	case kafka.SASLAWSMSKIAM:
		if !g.kafkaTLS {
			return kafka.Config{}, errors.New("--kafka-sasl aws-msk-iam needs --kafka-tls: MSK takes IAM auth only over TLS (port 9098)")
		}
		mech, err := kafka.MSKIAM(ctx, g.awsRegion, kafka.MSKUserAgent(kafka.Producer(version, clientID)))
		if err != nil {
			return kafka.Config{}, err
		}
		cfg.SASL = mech
	default:
		return kafka.Config{}, fmt.Errorf("--kafka-sasl %q: want \"\" (none) or %s", g.kafkaSASL, kafka.SASLAWSMSKIAM)
	}
	return cfg, nil
}

// defaultLakeURL is the lake of the stage commands when --lake is not set.
const defaultLakeURL = "file://.wattcast/lake"
