// Package lake owns wattcast's data lake: an object store (a local directory
// or an S3 bucket) holding Parquet tables laid out for Athena, Spark and
// DuckDB.
//
// # Vocabulary
//
// A [Bucket] is a place objects are stored, named by a URL: file:///abs/dir,
// file://relative/dir or s3://bucket/prefix. Keys are slash-separated paths
// below that URL. Writes are whole-object and atomic: a reader sees an old
// object, a new one, or none, never a part.
//
// A table is a key prefix holding Parquet files with one schema: [TablePrices],
// [TableWeatherObserved], [TableWeatherForecast], [TableFeatures],
// [TableFeaturesDaily] and [TableForecasts]. Each table is hive-partitioned
// by region and by the UTC date of the row's event time (for the daily
// windows of TableFeaturesDaily, their local delivery date):
//
//	<table>/region=<R>/date=<YYYY-MM-DD>/<topic>+p<partition>+<first>-<last>.parquet
//
// The partition columns live only in the path, as Spark's partitionBy and
// Athena expect; the row types carry Region (and readers fill it in) but do
// not write it. Every row also carries lineage: the Kafka topic, partition
// and offset it came from.
//
// File names are a function of the Kafka offsets they hold, never of the
// clock, so writing the same records again overwrites the same objects
// instead of adding new ones. That is what lets the lake sink
// (processors/lakesink) retry freely and still store every record exactly
// once. docs/lake.md gives every column, its Parquet and Athena type, and the
// schema evolution policy.
//
// Nothing here talks to Kafka: the package depends only on the schemas, the
// AWS SDK and parquet-go, so the trainer reads the lake without pulling in a
// Kafka client.
package lake
