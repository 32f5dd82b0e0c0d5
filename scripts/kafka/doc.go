// Package kafkalocal holds the checks of scripts/kafka/kafka-local.sh, the
// real Apache Kafka broker that wattcast's integration tests and local
// development use. It has no non-test code: its tests talk to whatever broker
// WATTCAST_KAFKA_BROKERS names (the local one, a container, or a cluster) and
// prove that the features wattcast relies on work there: keyed produce with
// headers, consumer groups that commit and resume, transactions with
// read_committed, transactional consume-transform-produce, and wattcast's own
// topic creation. Without WATTCAST_KAFKA_BROKERS they are skipped.
package kafkalocal
