// Package source is the plumbing every wattcast producer shares: a
// transactional publisher that never publishes a record twice, an HTTP
// client with retries, backoff, jitter, timeouts and rate limits, and the
// live and backfill loops.
//
// # Series and coverage
//
// A Series is one stream of records a producer writes: the prices of one
// (region, market, source), or the weather of one (region, location,
// source). Its key time is what orders it: a price's period start, an
// observation's hour, a forecast's issue time. The Coverage of a series is
// the set of key-time intervals already published, kept as merged
// [from, to) intervals. A forecast is identified by its issue time and its
// hour, since a run can be published in parts (a CSV that ends mid-run and
// grows later): a forecast series also keeps the hours whose forecasts are
// all published (what an import marks) and, per issue time of a run
// published in part, the hours published so far.
//
// # Publishing exactly once
//
// The Publisher writes the records of a fetch and the series' new coverage
// (a checkpoint record in a compacted topic) in one Kafka transaction, the
// design of Kafka Connect's exactly-once source connectors (KIP-618): either
// both are visible or neither is. On start it reads the checkpoints back
// (read_committed) and drops every record already covered. So a re-run, an overlapping backfill or a crash between fetch and
// publish publishes no duplicate, and a crashed backfill resumes at the
// first uncovered interval. Consumers of the data topics must read with
// read_committed isolation (wattcast's processors do) so that they never see
// a transaction that was aborted.
//
// # Live and backfill
//
// A Task fetches one series over a key-time window. Runner.Live polls each
// task on its own schedule from the end of its coverage, so after an outage
// the next successful poll fetches the whole missed range: no gap. Fetch
// and publish failures are logged, counted and retried; they never stop the
// loop. Runner.Backfill walks the uncovered parts of a range in chunks,
// each published with its checkpoint.
package source
