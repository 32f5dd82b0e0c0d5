// Package lakesink copies Kafka topics into the Parquet lake, storing every
// record exactly once.
//
// # Vocabulary
//
// The sink is one consumer group (read_committed) over the raw price,
// observed-weather and forecast-weather topics, the features topic (final
// rows only) and the forecasts topic. For each topic partition it cuts the
// stream into batches of consecutive offsets. A batch is stored as one
// Parquet file per hive partition it touches (lake.Partition), every file
// named by the topic, partition and the batch's offset range
// (lake.FileName), and the group's offset is committed to the batch's end
// only once every file is stored.
//
// A batch closes when it holds MaxRows records or MaxBytes bytes of record
// keys and values (as read, so skipped records and transaction markers
// count), or when a record's roll time (a price's published_at, a weather
// forecast's issued_at, a model forecast's issue_time, the hour of an
// observation or a final feature row) reaches the next UTC-aligned
// RollInterval boundary. Those rules depend only on the records. Two more
// rules do not: a batch idle for IdleFlush is closed so that live data
// reaches the lake, and StopAtEnd closes the last batch at the end offset
// seen at start. So that a batch re-read after a crash still gets the same
// bounds, its bounds are first written to a journal object,
// _lakesink/batches/<topic>/p<N>/<first>.json, with a conditional create
// (lake.Bucket.PutIfAbsent): whoever writes it first decides, and every
// later attempt (a retry, a restarted sink, a new owner after a rebalance, a
// zombie) adopts those bounds. Same bounds, same file names, same rows: a
// retry overwrites instead of doubling.
//
// Store failures are retried with exponential backoff and jitter for as long
// as they last (non-retryable ones for Config.GiveUpAfter); offsets never
// move past data that is not stored. docs/lake.md gives the full argument.
package lakesink
