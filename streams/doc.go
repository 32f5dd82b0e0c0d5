// Package streams holds wattcast's sources and its Kafka plumbing.
//
// Subpackages:
//
//   - kafka: client configuration (brokers, TLS, SASL and MSK IAM), topic
//     creation, record encoding with wattcast's headers, dead letters.
//   - broker: an embedded Kafka-protocol broker (franz-go's kfake) for the
//     demo and tests, used only when no brokers are configured.
//   - runner: the exactly-once consume-transform-produce loop that the
//     processors and the scorer run on, with state kept in a changelog.
//
// Sources (price and weather producers, CSV import and replay) live in
// their own subpackages and publish through kafka.
package streams
