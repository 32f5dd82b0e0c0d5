// Package schemas is wattcast's data contract: the Go types of every topic
// value, their JSON Schemas (v1), the topic set with its keys, headers and
// retention, and the codec that turns values into Kafka records and back.
//
// # Vocabulary
//
// Every value carries two times. Its event time is the hour it describes: a
// price's delivery period, a weather value's valid hour. Its known-at time is
// when that value became available to the world: a price's publication, an
// observation's availability, a forecast's issue time. Windows are keyed by
// event time; features and forecasts may only use values whose known-at time
// is not after the issue time of the forecast they feed. Keeping both times on
// every record is what lets a stage prove it never looked ahead.
//
// Values are encoded as JSON (UTF-8, RFC 3339 timestamps in UTC) so that any
// Kafka client, kcat or a Kafka UI shows them as they are. Each record carries
// the headers named by [HeaderSchema], [HeaderSchemaVersion] and
// [HeaderProducer].
//
// Nothing in this package talks to Kafka or to storage: every later stage may
// import it, and it imports none of them.
package schemas
