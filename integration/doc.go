// Package integration holds wattcast's integration suite: Go tests that run
// the real binary (bin/wattcast) against a real Apache Kafka broker and a
// real S3 API (scripts/kafka, scripts/s3), and check what users and
// operators rely on: the whole pipeline end to end, exactly once into the
// lake and the features topic under crashes, a broker restart, an object
// store outage and a rebalance, and that third-party readers (kcat, pyarrow)
// see what docs/topics.md and docs/lake.md promise.
//
// The tests run only when WATTCAST_KAFKA_BROKERS and WATTCAST_S3_ENDPOINT
// point at the servers; they are skipped otherwise, and fail when CI=true.
// Run them with `make integration`; see the README section "Integration
// tests" for the environment and what each test proves.
//
// The package has no code besides its tests.
package integration
