package lake

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// Table names: the first key segment of each table, and the Athena table
// names in docs/athena.md.
const (
	TablePrices          = "prices"
	TableWeatherObserved = "weather_observed"
	TableWeatherForecast = "weather_forecast"
	TableFeatures        = "features"
	TableFeaturesDaily   = "features_daily"
	TableForecasts       = "forecasts"
)

// TableVersion is the schema version of every table, written into each
// file's key-value metadata as "wattcast.table_version". Within a version
// only optional columns are added (docs/lake.md); anything else is a new
// table version under a new name.
const TableVersion = "1"

// Tables returns every table name.
func Tables() []string {
	return []string{TablePrices, TableWeatherObserved, TableWeatherForecast, TableFeatures, TableFeaturesDaily, TableForecasts}
}

// Lineage says where a row came from: the Kafka topic, partition and offset
// of its record.
type Lineage struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Partition is one hive partition of a table: a directory of Parquet files.
type Partition struct {
	Table  string
	Region string
	Date   string // UTC date of the event time, YYYY-MM-DD
}

// Dir returns the partition's key prefix, with a trailing slash:
// "<table>/region=<Region>/date=<Date>/".
func (p Partition) Dir() string {
	return p.Table + "/region=" + p.Region + "/date=" + p.Date + "/"
}

// DateOf returns the UTC date of t as the date partition value.
func DateOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// ParseKey splits a data file's key into its partition and file name. It
// fails for keys that are not <table>/region=R/date=D/<name>.parquet.
func ParseKey(key string) (Partition, string, error) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 || !strings.HasSuffix(parts[3], ".parquet") {
		return Partition{}, "", fmt.Errorf("lake: key %q is not <table>/region=R/date=YYYY-MM-DD/<file>.parquet", key)
	}
	region, ok1 := strings.CutPrefix(parts[1], "region=")
	date, ok2 := strings.CutPrefix(parts[2], "date=")
	if !ok1 || !ok2 || region == "" {
		return Partition{}, "", fmt.Errorf("lake: key %q is not <table>/region=R/date=YYYY-MM-DD/<file>.parquet", key)
	}
	if _, err := time.Parse(time.DateOnly, date); err != nil {
		return Partition{}, "", fmt.Errorf("lake: key %q has date partition %q, want YYYY-MM-DD", key, date)
	}
	return Partition{Table: parts[0], Region: region, Date: date}, parts[3], nil
}

// FileName is the name of the file holding the rows of one batch of
// consecutive Kafka offsets [first, last] of one topic partition, in every
// hive partition the batch touches. It depends only on the offsets, so a
// retried batch overwrites its own files. Offsets are zero-padded to ten
// digits, as Kafka Connect's S3 sink does, so names sort by offset.
func FileName(topic string, partition int32, first, last int64) string {
	return fmt.Sprintf("%s+p%d+%010d-%010d.parquet", topic, partition, first, last)
}

// PriceRow is one row of the prices table: a schemas.Price with lineage.
// Region is the partition column; it is not stored in the file.
type PriceRow struct {
	Region         string    `parquet:"-"`
	Market         string    `parquet:"market,dict"`
	Source         string    `parquet:"source,dict"`
	Tariff         string    `parquet:"tariff,optional,dict"`
	StartTime      time.Time `parquet:"start_time,timestamp(microsecond)"`
	EndTime        time.Time `parquet:"end_time,timestamp(microsecond)"`
	Value          float64   `parquet:"value"`
	ValueExVAT     *float64  `parquet:"value_ex_vat,optional"`
	Unit           string    `parquet:"unit,dict"`
	Currency       string    `parquet:"currency,dict"`
	VATIncluded    bool      `parquet:"vat_included"`
	PublishedAt    time.Time `parquet:"published_at,timestamp(microsecond)"`
	KafkaTopic     string    `parquet:"kafka_topic,dict"`
	KafkaPartition int32     `parquet:"kafka_partition"`
	KafkaOffset    int64     `parquet:"kafka_offset"`
}

// NewPriceRow converts a price and its lineage into a row.
func NewPriceRow(p *schemas.Price, l Lineage) PriceRow {
	return PriceRow{
		Region: p.Region, Market: p.Market, Source: p.Source, Tariff: p.Tariff,
		StartTime: p.Start.UTC(), EndTime: p.End.UTC(), Value: p.Value, ValueExVAT: cloneF(p.ValueExVAT),
		Unit: p.Unit, Currency: p.Currency, VATIncluded: p.VATIncluded, PublishedAt: p.PublishedAt.UTC(),
		KafkaTopic: l.Topic, KafkaPartition: l.Partition, KafkaOffset: l.Offset,
	}
}

// Price converts the row back into the value it was made from.
func (r PriceRow) Price() schemas.Price {
	return schemas.Price{
		Region: r.Region, Market: r.Market, Source: r.Source, Tariff: r.Tariff,
		Start: r.StartTime.UTC(), End: r.EndTime.UTC(), Value: r.Value, ValueExVAT: cloneF(r.ValueExVAT),
		Unit: r.Unit, Currency: r.Currency, VATIncluded: r.VATIncluded, PublishedAt: r.PublishedAt.UTC(),
	}
}

// Partition returns the row's hive partition: its region and the UTC date
// of the delivery period's start.
func (r PriceRow) Partition() Partition {
	return Partition{TablePrices, r.Region, DateOf(r.StartTime)}
}

// Lineage returns where the row came from.
func (r PriceRow) Lineage() Lineage { return Lineage{r.KafkaTopic, r.KafkaPartition, r.KafkaOffset} }

func (PriceRow) table() string              { return TablePrices }
func (r *PriceRow) setRegion(region string) { r.Region = region }
func (r *PriceRow) eventTime() time.Time    { return r.StartTime }

// WeatherObservedRow is one row of the weather_observed table.
type WeatherObservedRow struct {
	Region         string             `parquet:"-"`
	Location       string             `parquet:"location,dict"`
	Latitude       *float64           `parquet:"latitude,optional"`
	Longitude      *float64           `parquet:"longitude,optional"`
	Source         string             `parquet:"source,dict"`
	Hour           time.Time          `parquet:"hour,timestamp(microsecond)"`
	AvailableAt    time.Time          `parquet:"available_at,timestamp(microsecond)"`
	Variables      map[string]float64 `parquet:"variables,optional"`
	KafkaTopic     string             `parquet:"kafka_topic,dict"`
	KafkaPartition int32              `parquet:"kafka_partition"`
	KafkaOffset    int64              `parquet:"kafka_offset"`
}

// NewWeatherObservedRow converts an observation and its lineage into a row.
func NewWeatherObservedRow(w *schemas.WeatherObservation, l Lineage) WeatherObservedRow {
	return WeatherObservedRow{
		Region: w.Region, Location: w.Location, Latitude: cloneF(w.Latitude), Longitude: cloneF(w.Longitude),
		Source: w.Source, Hour: w.Time.UTC(), AvailableAt: w.AvailableAt.UTC(), Variables: cloneMap(w.Values),
		KafkaTopic: l.Topic, KafkaPartition: l.Partition, KafkaOffset: l.Offset,
	}
}

// Observation converts the row back into the value it was made from.
func (r WeatherObservedRow) Observation() schemas.WeatherObservation {
	return schemas.WeatherObservation{
		Region: r.Region, Location: r.Location, Latitude: cloneF(r.Latitude), Longitude: cloneF(r.Longitude),
		Source: r.Source, Time: r.Hour.UTC(), Values: cloneMap(r.Variables), AvailableAt: r.AvailableAt.UTC(),
	}
}

// Partition returns the row's hive partition: region and the UTC date of
// the observed hour.
func (r WeatherObservedRow) Partition() Partition {
	return Partition{TableWeatherObserved, r.Region, DateOf(r.Hour)}
}

// Lineage returns where the row came from.
func (r WeatherObservedRow) Lineage() Lineage {
	return Lineage{r.KafkaTopic, r.KafkaPartition, r.KafkaOffset}
}

func (WeatherObservedRow) table() string              { return TableWeatherObserved }
func (r *WeatherObservedRow) setRegion(region string) { r.Region = region }
func (r *WeatherObservedRow) eventTime() time.Time    { return r.Hour }

// WeatherForecastRow is one row of the weather_forecast table.
type WeatherForecastRow struct {
	Region         string             `parquet:"-"`
	Location       string             `parquet:"location,dict"`
	Latitude       *float64           `parquet:"latitude,optional"`
	Longitude      *float64           `parquet:"longitude,optional"`
	Source         string             `parquet:"source,dict"`
	Model          string             `parquet:"model,optional,dict"`
	IssuedAt       time.Time          `parquet:"issued_at,timestamp(microsecond)"`
	Hour           time.Time          `parquet:"hour,timestamp(microsecond)"`
	LeadHours      int32              `parquet:"lead_hours"`
	Variables      map[string]float64 `parquet:"variables,optional"`
	KafkaTopic     string             `parquet:"kafka_topic,dict"`
	KafkaPartition int32              `parquet:"kafka_partition"`
	KafkaOffset    int64              `parquet:"kafka_offset"`
}

// NewWeatherForecastRow converts a weather forecast and its lineage into a row.
func NewWeatherForecastRow(w *schemas.WeatherForecast, l Lineage) WeatherForecastRow {
	return WeatherForecastRow{
		Region: w.Region, Location: w.Location, Latitude: cloneF(w.Latitude), Longitude: cloneF(w.Longitude),
		Source: w.Source, Model: w.Model, IssuedAt: w.IssuedAt.UTC(), Hour: w.Time.UTC(),
		LeadHours: int32(w.LeadHours), Variables: cloneMap(w.Values),
		KafkaTopic: l.Topic, KafkaPartition: l.Partition, KafkaOffset: l.Offset,
	}
}

// Forecast converts the row back into the value it was made from.
func (r WeatherForecastRow) Forecast() schemas.WeatherForecast {
	return schemas.WeatherForecast{
		Region: r.Region, Location: r.Location, Latitude: cloneF(r.Latitude), Longitude: cloneF(r.Longitude),
		Source: r.Source, Model: r.Model, IssuedAt: r.IssuedAt.UTC(), Time: r.Hour.UTC(),
		LeadHours: int(r.LeadHours), Values: cloneMap(r.Variables),
	}
}

// Partition returns the row's hive partition: region and the UTC date of
// the forecast hour.
func (r WeatherForecastRow) Partition() Partition {
	return Partition{TableWeatherForecast, r.Region, DateOf(r.Hour)}
}

// Lineage returns where the row came from.
func (r WeatherForecastRow) Lineage() Lineage {
	return Lineage{r.KafkaTopic, r.KafkaPartition, r.KafkaOffset}
}

func (WeatherForecastRow) table() string              { return TableWeatherForecast }
func (r *WeatherForecastRow) setRegion(region string) { r.Region = region }
func (r *WeatherForecastRow) eventTime() time.Time    { return r.Hour }

// FeaturesRow is one row of the features table: a final schemas.FeatureRow
// (the lake keeps final rows only, so Price is always set and there is no
// final column).
type FeaturesRow struct {
	Region              string             `parquet:"-"`
	Market              string             `parquet:"market,dict"`
	Unit                string             `parquet:"unit,dict"`
	Hour                time.Time          `parquet:"hour,timestamp(microsecond)"`
	LocalDate           string             `parquet:"local_date,dict"`
	IssueTime           time.Time          `parquet:"issue_time,timestamp(microsecond)"`
	LeadHours           int32              `parquet:"lead_hours"`
	Price               float64            `parquet:"price"`
	PriceCount          int32              `parquet:"price_count"`
	PriceLag24h         *float64           `parquet:"price_lag_24h,optional"`
	PriceLag48h         *float64           `parquet:"price_lag_48h,optional"`
	PriceLag168h        *float64           `parquet:"price_lag_168h,optional"`
	LastPrice           *float64           `parquet:"last_price,optional"`
	LastPriceHour       *time.Time         `parquet:"last_price_hour,optional,timestamp(microsecond)"`
	Mean24h             *float64           `parquet:"mean_24h,optional"`
	Std24h              *float64           `parquet:"std_24h,optional"`
	Min24h              *float64           `parquet:"min_24h,optional"`
	Max24h              *float64           `parquet:"max_24h,optional"`
	Mean168h            *float64           `parquet:"mean_168h,optional"`
	Std168h             *float64           `parquet:"std_168h,optional"`
	Min168h             *float64           `parquet:"min_168h,optional"`
	Max168h             *float64           `parquet:"max_168h,optional"`
	LocalHour           int32              `parquet:"local_hour"`
	Weekday             int32              `parquet:"weekday"`
	Month               int32              `parquet:"month"`
	DayOfYear           int32              `parquet:"day_of_year"`
	Weekend             bool               `parquet:"weekend"`
	Holiday             bool               `parquet:"holiday"`
	DST                 bool               `parquet:"dst"`
	KnownAhead          map[string]float64 `parquet:"known_ahead,optional"`
	KnownAheadIssuedAt  *time.Time         `parquet:"known_ahead_issued_at,optional,timestamp(microsecond)"`
	KnownAheadLeadHours *int32             `parquet:"known_ahead_lead_hours,optional"`
	LastObserved        map[string]float64 `parquet:"last_observed,optional"`
	ForecastError       map[string]float64 `parquet:"forecast_error,optional"`
	Observed            map[string]float64 `parquet:"observed,optional"`
	KafkaTopic          string             `parquet:"kafka_topic,dict"`
	KafkaPartition      int32              `parquet:"kafka_partition"`
	KafkaOffset         int64              `parquet:"kafka_offset"`
}

// ErrNotFinal is returned by NewFeaturesRow for a row that is not final:
// the lake keeps only rows whose actual price is known.
var ErrNotFinal = errors.New("lake: feature row is not final; the lake keeps final rows only")

// NewFeaturesRow converts a final feature row and its lineage into a row.
// It returns ErrNotFinal for a row that is not final or has no price.
func NewFeaturesRow(f *schemas.FeatureRow, l Lineage) (FeaturesRow, error) {
	if !f.Final || f.Price == nil {
		return FeaturesRow{}, ErrNotFinal
	}
	r := FeaturesRow{
		Region: f.Region, Market: f.Market, Unit: f.Unit, Hour: f.Hour.UTC(), LocalDate: f.LocalDate,
		IssueTime: f.IssueTime.UTC(), LeadHours: int32(f.LeadHours), Price: *f.Price, PriceCount: int32(f.PriceCount),
		PriceLag24h: cloneF(f.PriceLag24h), PriceLag48h: cloneF(f.PriceLag48h), PriceLag168h: cloneF(f.PriceLag168h),
		LastPrice: cloneF(f.LastPrice), LastPriceHour: cloneT(f.LastPriceHour),
		Mean24h: cloneF(f.Mean24h), Std24h: cloneF(f.Std24h), Min24h: cloneF(f.Min24h), Max24h: cloneF(f.Max24h),
		Mean168h: cloneF(f.Mean168h), Std168h: cloneF(f.Std168h), Min168h: cloneF(f.Min168h), Max168h: cloneF(f.Max168h),
		LocalHour: int32(f.LocalHour), Weekday: int32(f.Weekday), Month: int32(f.Month), DayOfYear: int32(f.DayOfYear),
		Weekend: f.Weekend, Holiday: f.Holiday, DST: f.DST,
		KnownAhead: cloneMap(f.KnownAhead), KnownAheadIssuedAt: cloneT(f.KnownAheadIssuedAt),
		LastObserved: cloneMap(f.LastObserved), ForecastError: cloneMap(f.ForecastError), Observed: cloneMap(f.Observed),
		KafkaTopic: l.Topic, KafkaPartition: l.Partition, KafkaOffset: l.Offset,
	}
	if f.KnownAheadLeadHours != nil {
		v := int32(*f.KnownAheadLeadHours)
		r.KnownAheadLeadHours = &v
	}
	return r, nil
}

// FeatureRow converts the row back into the (final) value it was made from.
func (r FeaturesRow) FeatureRow() schemas.FeatureRow {
	price := r.Price
	f := schemas.FeatureRow{
		Region: r.Region, Market: r.Market, Unit: r.Unit, Hour: r.Hour.UTC(), LocalDate: r.LocalDate,
		IssueTime: r.IssueTime.UTC(), LeadHours: int(r.LeadHours), Final: true, Price: &price, PriceCount: int(r.PriceCount),
		PriceLag24h: cloneF(r.PriceLag24h), PriceLag48h: cloneF(r.PriceLag48h), PriceLag168h: cloneF(r.PriceLag168h),
		LastPrice: cloneF(r.LastPrice), LastPriceHour: cloneT(r.LastPriceHour),
		Mean24h: cloneF(r.Mean24h), Std24h: cloneF(r.Std24h), Min24h: cloneF(r.Min24h), Max24h: cloneF(r.Max24h),
		Mean168h: cloneF(r.Mean168h), Std168h: cloneF(r.Std168h), Min168h: cloneF(r.Min168h), Max168h: cloneF(r.Max168h),
		LocalHour: int(r.LocalHour), Weekday: int(r.Weekday), Month: int(r.Month), DayOfYear: int(r.DayOfYear),
		Weekend: r.Weekend, Holiday: r.Holiday, DST: r.DST,
		KnownAhead: cloneMap(r.KnownAhead), KnownAheadIssuedAt: cloneT(r.KnownAheadIssuedAt),
		LastObserved: cloneMap(r.LastObserved), ForecastError: cloneMap(r.ForecastError), Observed: cloneMap(r.Observed),
	}
	if r.KnownAheadLeadHours != nil {
		v := int(*r.KnownAheadLeadHours)
		f.KnownAheadLeadHours = &v
	}
	return f
}

// Partition returns the row's hive partition: region and the UTC date of
// the delivery hour.
func (r FeaturesRow) Partition() Partition { return Partition{TableFeatures, r.Region, DateOf(r.Hour)} }

// Lineage returns where the row came from.
func (r FeaturesRow) Lineage() Lineage { return Lineage{r.KafkaTopic, r.KafkaPartition, r.KafkaOffset} }

func (FeaturesRow) table() string              { return TableFeatures }
func (r *FeaturesRow) setRegion(region string) { r.Region = region }
func (r *FeaturesRow) eventTime() time.Time    { return r.Hour }

// FeaturesDailyRow is one row of the features_daily table: the daily window
// of one region's delivery day (schemas.DailyFeatures).
type FeaturesDailyRow struct {
	Region         string             `parquet:"-"`
	Market         string             `parquet:"market,dict"`
	Unit           string             `parquet:"unit,dict"`
	LocalDate      string             `parquet:"local_date,dict"`
	Start          time.Time          `parquet:"start_time,timestamp(microsecond)"`
	End            time.Time          `parquet:"end_time,timestamp(microsecond)"`
	Hours          int32              `parquet:"hours"`
	PriceHours     int32              `parquet:"price_hours"`
	PriceMean      float64            `parquet:"price_mean"`
	PriceStd       float64            `parquet:"price_std"`
	PriceMin       float64            `parquet:"price_min"`
	PriceMax       float64            `parquet:"price_max"`
	MinHour        time.Time          `parquet:"min_hour,timestamp(microsecond)"`
	MaxHour        time.Time          `parquet:"max_hour,timestamp(microsecond)"`
	PeakMean       *float64           `parquet:"peak_mean,optional"`
	OffPeakMean    *float64           `parquet:"off_peak_mean,optional"`
	Weekday        int32              `parquet:"weekday"`
	Month          int32              `parquet:"month"`
	Weekend        bool               `parquet:"weekend"`
	Holiday        bool               `parquet:"holiday"`
	ObservedMean   map[string]float64 `parquet:"observed_mean,optional"`
	ObservedMin    map[string]float64 `parquet:"observed_min,optional"`
	ObservedMax    map[string]float64 `parquet:"observed_max,optional"`
	KafkaTopic     string             `parquet:"kafka_topic,dict"`
	KafkaPartition int32              `parquet:"kafka_partition"`
	KafkaOffset    int64              `parquet:"kafka_offset"`
}

// NewFeaturesDailyRow converts a daily window and its lineage into a row.
func NewFeaturesDailyRow(d *schemas.DailyFeatures, l Lineage) FeaturesDailyRow {
	return FeaturesDailyRow{
		Region: d.Region, Market: d.Market, Unit: d.Unit, LocalDate: d.LocalDate,
		Start: d.Start.UTC(), End: d.End.UTC(), Hours: int32(d.Hours), PriceHours: int32(d.PriceHours),
		PriceMean: d.PriceMean, PriceStd: d.PriceStd, PriceMin: d.PriceMin, PriceMax: d.PriceMax,
		MinHour: d.MinHour.UTC(), MaxHour: d.MaxHour.UTC(), PeakMean: cloneF(d.PeakMean), OffPeakMean: cloneF(d.OffPeakMean),
		Weekday: int32(d.Weekday), Month: int32(d.Month), Weekend: d.Weekend, Holiday: d.Holiday,
		ObservedMean: cloneMap(d.ObservedMean), ObservedMin: cloneMap(d.ObservedMin), ObservedMax: cloneMap(d.ObservedMax),
		KafkaTopic: l.Topic, KafkaPartition: l.Partition, KafkaOffset: l.Offset,
	}
}

// DailyFeatures converts the row back into the value it was made from.
func (r FeaturesDailyRow) DailyFeatures() schemas.DailyFeatures {
	return schemas.DailyFeatures{
		Region: r.Region, Market: r.Market, Unit: r.Unit, LocalDate: r.LocalDate,
		Start: r.Start.UTC(), End: r.End.UTC(), Hours: int(r.Hours), PriceHours: int(r.PriceHours),
		PriceMean: r.PriceMean, PriceStd: r.PriceStd, PriceMin: r.PriceMin, PriceMax: r.PriceMax,
		MinHour: r.MinHour.UTC(), MaxHour: r.MaxHour.UTC(), PeakMean: cloneF(r.PeakMean), OffPeakMean: cloneF(r.OffPeakMean),
		Weekday: int(r.Weekday), Month: int(r.Month), Weekend: r.Weekend, Holiday: r.Holiday,
		ObservedMean: cloneMap(r.ObservedMean), ObservedMin: cloneMap(r.ObservedMin), ObservedMax: cloneMap(r.ObservedMax),
	}
}

// Partition returns the row's hive partition: region and the local
// delivery date. Unlike the other tables' UTC dates, a daily window's date
// is its own day, so that date='2024-01-15' holds Helsinki's 15 January,
// which runs from 22:00 UTC on the 14th.
func (r FeaturesDailyRow) Partition() Partition {
	return Partition{TableFeaturesDaily, r.Region, r.LocalDate}
}

// Lineage returns where the row came from.
func (r FeaturesDailyRow) Lineage() Lineage {
	return Lineage{r.KafkaTopic, r.KafkaPartition, r.KafkaOffset}
}

func (FeaturesDailyRow) table() string              { return TableFeaturesDaily }
func (r *FeaturesDailyRow) setRegion(region string) { r.Region = region }

// eventTime is the local date's midnight in UTC, so that a Filter's time
// range selects daily rows by their date, as it selects their partitions.
func (r *FeaturesDailyRow) eventTime() time.Time {
	d, err := time.Parse(time.DateOnly, r.LocalDate)
	if err != nil {
		return r.Start
	}
	return d
}

// QuantileRow is one quantile of a forecast point.
type QuantileRow struct {
	Q     float64 `parquet:"q"`
	Value float64 `parquet:"value"`
}

// ForecastRow is one row of the forecasts table: one target hour of a
// schemas.Forecast, with the forecast's fields repeated on every row.
type ForecastRow struct {
	Region         string        `parquet:"-"`
	ForecastID     string        `parquet:"forecast_id"`
	Market         string        `parquet:"market,dict"`
	Unit           string        `parquet:"unit,dict"`
	ModelID        string        `parquet:"model_id,dict"`
	ModelVersion   string        `parquet:"model_version,dict"`
	ModelKind      string        `parquet:"model_kind,optional,dict"`
	Role           string        `parquet:"role,dict"`
	Official       bool          `parquet:"official"`
	IssueTime      time.Time     `parquet:"issue_time,timestamp(microsecond)"`
	LocalDate      string        `parquet:"local_date,dict"`
	CreatedAt      time.Time     `parquet:"created_at,timestamp(microsecond)"`
	Hour           time.Time     `parquet:"hour,timestamp(microsecond)"`
	LeadHours      int32         `parquet:"lead_hours"`
	Value          float64       `parquet:"value"`
	Quantiles      []QuantileRow `parquet:"quantiles,optional,list"`
	KafkaTopic     string        `parquet:"kafka_topic,dict"`
	KafkaPartition int32         `parquet:"kafka_partition"`
	KafkaOffset    int64         `parquet:"kafka_offset"`
}

// NewForecastRows flattens a forecast into one row per target hour.
func NewForecastRows(f *schemas.Forecast, l Lineage) []ForecastRow {
	rows := make([]ForecastRow, 0, len(f.Points))
	for _, p := range f.Points {
		r := ForecastRow{
			Region: f.Region, ForecastID: f.ForecastID, Market: f.Market, Unit: f.Unit,
			ModelID: f.ModelID, ModelVersion: f.ModelVersion, ModelKind: f.ModelKind, Role: f.Role,
			Official: f.Official, IssueTime: f.IssueTime.UTC(), LocalDate: f.LocalDate, CreatedAt: f.CreatedAt.UTC(),
			Hour: p.Hour.UTC(), LeadHours: int32(p.LeadHours), Value: p.Value,
			KafkaTopic: l.Topic, KafkaPartition: l.Partition, KafkaOffset: l.Offset,
		}
		for _, q := range p.Quantiles {
			r.Quantiles = append(r.Quantiles, QuantileRow(q))
		}
		rows = append(rows, r)
	}
	return rows
}

// Partition returns the row's hive partition: region and the UTC date of
// the target hour.
func (r ForecastRow) Partition() Partition {
	return Partition{TableForecasts, r.Region, DateOf(r.Hour)}
}

// Lineage returns where the row came from.
func (r ForecastRow) Lineage() Lineage { return Lineage{r.KafkaTopic, r.KafkaPartition, r.KafkaOffset} }

func (ForecastRow) table() string              { return TableForecasts }
func (r *ForecastRow) setRegion(region string) { r.Region = region }
func (r *ForecastRow) eventTime() time.Time    { return r.Hour }

func cloneF(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneT(p *time.Time) *time.Time {
	if p == nil {
		return nil
	}
	v := p.UTC()
	return &v
}

func cloneMap(m map[string]float64) map[string]float64 {
	if m == nil {
		return nil
	}
	c := make(map[string]float64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
