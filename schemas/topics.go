package schemas

import (
	"strings"
	"time"
)

// Schema names: the value of the [HeaderSchema] header and the base name of
// the JSON Schema file under v1/.
const (
	SchemaPrice              = "price"
	SchemaWeatherObservation = "weather-observation"
	SchemaWeatherForecast    = "weather-forecast"
	SchemaFeatureRow         = "feature-row"
	SchemaDailyFeatures      = "daily-features"
	SchemaForecast           = "forecast"
	SchemaForecastError      = "forecast-error"
	SchemaModelEvent         = "model-event"
	SchemaDeadLetter         = "dead-letter"
)

// SchemaVersion is the version of every schema in this package. A change
// that old readers cannot read gets a new version and new topics.
const SchemaVersion = "1"

// Record headers set on every value wattcast writes.
const (
	// HeaderSchema names the value's schema, e.g. "price".
	HeaderSchema = "wattcast-schema"
	// HeaderSchemaVersion is the schema version, "1".
	HeaderSchemaVersion = "wattcast-schema-version"
	// HeaderProducer names the writer: "wattcast/<version> <component>".
	HeaderProducer = "wattcast-producer"
	// HeaderContentType is "application/json".
	HeaderContentType = "content-type"
)

// DefaultTopicPrefix starts every topic name unless configured otherwise.
const DefaultTopicPrefix = "wattcast."

// TopicSpec describes one topic: what it carries and how it is created.
type TopicSpec struct {
	Name        string
	Schema      string
	Key         string // what the record key holds
	Partitions  int32
	Retention   time.Duration // -1: kept forever
	Compacted   bool
	Description string
}

// TopicSet holds the names of all topics, derived from one prefix so that
// several environments can share a cluster.
type TopicSet struct {
	Prefix           string
	Prices           string
	WeatherObserved  string
	WeatherForecast  string
	Features         string
	FeaturesDaily    string
	Forecasts        string
	ErrorsChampion   string
	ErrorsChallenger string
	ModelEvents      string
	DeadLetters      string
}

// Group names a stage's consumer group for this topic set: base (the
// stage's default group) for the default prefix, and base.<prefix> for any
// other, so that two topic sets on one cluster never share a group and a
// test or a second environment never takes over another's partitions.
func (t TopicSet) Group(base string) string {
	if t.Prefix == "" || t.Prefix == DefaultTopicPrefix {
		return base
	}
	return base + "." + strings.TrimSuffix(t.Prefix, ".")
}

// NewTopicSet names every topic with prefix (DefaultTopicPrefix if empty).
func NewTopicSet(prefix string) TopicSet {
	if prefix == "" {
		prefix = DefaultTopicPrefix
	}
	return TopicSet{
		Prefix:           prefix,
		Prices:           prefix + "prices",
		WeatherObserved:  prefix + "weather.observed",
		WeatherForecast:  prefix + "weather.forecast",
		Features:         prefix + "features",
		FeaturesDaily:    prefix + "features.daily",
		Forecasts:        prefix + "forecasts",
		ErrorsChampion:   prefix + "errors.champion",
		ErrorsChallenger: prefix + "errors.challenger",
		ModelEvents:      prefix + "model-events",
		DeadLetters:      prefix + "dead-letters",
	}
}

// Internal names a topic owned by one component, such as a state changelog:
// "<prefix><component>.<suffix>".
func (s TopicSet) Internal(component, suffix string) string {
	return s.Prefix + component + "." + suffix
}

// errorRetention is the retention of the forecasts and error topics: five
// weeks, so that an instance that restarts rebuilds the monitor's 30-day
// accuracy windows (serving/monitor) in full from them.
const errorRetention = 5 * 7 * 24 * time.Hour

// Specs lists every public topic with its schema, key, partition count and
// retention. partitions is used for the keyed data topics; retention for the
// input and feature streams (the lake keeps history; the topics need only
// enough to rebuild state and to survive an outage).
func (s TopicSet) Specs(partitions int32, retention time.Duration) []TopicSpec {
	if partitions <= 0 {
		partitions = 3
	}
	week := 7 * 24 * time.Hour
	if retention == 0 {
		retention = week
	}
	return []TopicSpec{
		{s.Prices, SchemaPrice, "region", partitions, retention, false,
			"energy prices per delivery period, as published"},
		{s.WeatherObserved, SchemaWeatherObservation, "region", partitions, retention, false,
			"observed weather and observed exogenous series, hourly"},
		{s.WeatherForecast, SchemaWeatherForecast, "region", partitions, retention, false,
			"weather forecasts and known-ahead exogenous series, with issue time"},
		{s.Features, SchemaFeatureRow, "region", partitions, retention, false,
			"hourly feature rows: once when their inputs are known, again when final"},
		{s.FeaturesDaily, SchemaDailyFeatures, "region", partitions, retention, false,
			"daily windows: each delivery day's price and observed-weather statistics, once the day has passed"},
		{s.Forecasts, SchemaForecast, "region", partitions, errorRetention, false,
			"day-ahead forecasts from the champion and every challenger"},
		{s.ErrorsChampion, SchemaForecastError, "region", partitions, errorRetention, false,
			"champion forecast errors per target hour"},
		{s.ErrorsChallenger, SchemaForecastError, "region", partitions, errorRetention, false,
			"challenger forecast errors per target hour"},
		{s.ModelEvents, SchemaModelEvent, "model id", 1, -1, false,
			"model registry events and promotion decisions, with evidence"},
		{s.DeadLetters, SchemaDeadLetter, "original key", 1, 4 * week, false,
			"records a stage could not use, with the reason"},
	}
}
