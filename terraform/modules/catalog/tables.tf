################################################################################
# Lake tables: columns as the lake writes them (lake/tables.go, docs/lake.md)
################################################################################
#
# Every table is Parquet under <lake>/<table>/region=<R>/date=<YYYY-MM-DD>/,
# with `region` and `date` (the UTC date of the row's event time; for
# features_daily the local delivery day) as partition columns that are not
# stored in the files. Timestamps are Parquet
# TIMESTAMP(MICROS, UTC) and read as Athena `timestamp`; weather variables
# are MAP<string,double>. The last three columns of each table are its
# lineage: the Kafka topic, partition and offset the row came from.
#
# A column added in lake/tables.go must be added here too (optional columns
# only, at the end: docs/lake.md's evolution policy).

locals {
  lineage_columns = [
    { name = "kafka_topic", type = "string", comment = "Kafka topic the row was read from" },
    { name = "kafka_partition", type = "int", comment = "Kafka partition of the record" },
    { name = "kafka_offset", type = "bigint", comment = "Kafka offset of the record" },
  ]

  tables = {
    prices = {
      description = "Energy prices per delivery period, as published (topic <prefix>prices)"
      # Last date= partition Athena projects: rows are partitioned by their
      # event time, which runs ahead of now (tomorrow's prices and forecasts;
      # weather forecasts up to 16 days).
      date_range_end = "NOW+2DAYS"
      columns = concat([
        { name = "market", type = "string", comment = "price series, e.g. nordpool-dayahead, octopus-agile" },
        { name = "source", type = "string", comment = "where the value came from" },
        { name = "tariff", type = "string", comment = "tariff or product code, when there is one" },
        { name = "start_time", type = "timestamp", comment = "delivery period start, UTC" },
        { name = "end_time", type = "timestamp", comment = "delivery period end (exclusive), UTC" },
        { name = "value", type = "double", comment = "price in unit, VAT included when vat_included" },
        { name = "value_ex_vat", type = "double", comment = "price without VAT, when the source gives both" },
        { name = "unit", type = "string", comment = "EUR/MWh, c/kWh, p/kWh or GBP/MWh" },
        { name = "currency", type = "string", comment = "currency code" },
        { name = "vat_included", type = "boolean", comment = "whether value includes VAT" },
        { name = "published_at", type = "timestamp", comment = "known-at time: when the price was published, UTC" },
      ], local.lineage_columns)
    }
    weather_observed = {
      description = "Observed weather and observed exogenous series, hourly (topic <prefix>weather.observed)"
      # Last date= partition Athena projects: rows are partitioned by their
      # event time, which runs ahead of now (tomorrow's prices and forecasts;
      # weather forecasts up to 16 days).
      date_range_end = "NOW+2DAYS"
      columns = concat([
        { name = "location", type = "string", comment = "named location within the region" },
        { name = "latitude", type = "double", comment = "degrees north" },
        { name = "longitude", type = "double", comment = "degrees east" },
        { name = "source", type = "string", comment = "where the values came from" },
        { name = "hour", type = "timestamp", comment = "start of the observed hour, UTC" },
        { name = "available_at", type = "timestamp", comment = "known-at time: when the observation could first be read, UTC" },
        { name = "variables", type = "map<string,double>", comment = "variable name to observed value" },
      ], local.lineage_columns)
    }
    weather_forecast = {
      description = "Weather forecasts and known-ahead exogenous series, with issue time (topic <prefix>weather.forecast)"
      # Last date= partition Athena projects: rows are partitioned by their
      # event time, which runs ahead of now (tomorrow's prices and forecasts;
      # weather forecasts up to 16 days).
      date_range_end = "NOW+16DAYS"
      columns = concat([
        { name = "location", type = "string", comment = "named location within the region" },
        { name = "latitude", type = "double", comment = "degrees north" },
        { name = "longitude", type = "double", comment = "degrees east" },
        { name = "source", type = "string", comment = "where the values came from" },
        { name = "model", type = "string", comment = "weather model, when known" },
        { name = "issued_at", type = "timestamp", comment = "known-at time: when the forecast was issued, UTC" },
        { name = "hour", type = "timestamp", comment = "start of the forecast hour, UTC" },
        { name = "lead_hours", type = "int", comment = "hour minus issued_at, whole hours" },
        { name = "variables", type = "map<string,double>", comment = "variable name to forecast value" },
      ], local.lineage_columns)
    }
    features = {
      description = "Final hourly feature rows per region: features as known at issue time, plus the actual price (topic <prefix>features)"
      # Last date= partition Athena projects: rows are partitioned by their
      # event time, which runs ahead of now (tomorrow's prices and forecasts;
      # weather forecasts up to 16 days).
      date_range_end = "NOW+2DAYS"
      columns = concat([
        { name = "market", type = "string", comment = "price series" },
        { name = "unit", type = "string", comment = "price unit" },
        { name = "hour", type = "timestamp", comment = "start of the delivery hour, UTC" },
        { name = "local_date", type = "string", comment = "delivery day in the market time zone, YYYY-MM-DD" },
        { name = "issue_time", type = "timestamp", comment = "when the day-ahead forecast for local_date is issued, UTC" },
        { name = "lead_hours", type = "int", comment = "hour minus issue_time, whole hours" },
        { name = "price", type = "double", comment = "the hour's mean price (the target)" },
        { name = "price_count", type = "int", comment = "how many sub-hourly prices price averages" },
        { name = "price_lag_24h", type = "double", comment = "price at the same hour 1 day earlier" },
        { name = "price_lag_48h", type = "double", comment = "price at the same hour 2 days earlier" },
        { name = "price_lag_168h", type = "double", comment = "price at the same hour 7 days earlier" },
        { name = "last_price", type = "double", comment = "latest hourly price known at issue_time" },
        { name = "last_price_hour", type = "timestamp", comment = "hour of last_price, UTC" },
        { name = "mean_24h", type = "double", comment = "mean price over the 24 h up to last_price_hour" },
        { name = "std_24h", type = "double", comment = "standard deviation over 24 h" },
        { name = "min_24h", type = "double", comment = "minimum over 24 h" },
        { name = "max_24h", type = "double", comment = "maximum over 24 h" },
        { name = "mean_168h", type = "double", comment = "mean price over the 168 h up to last_price_hour" },
        { name = "std_168h", type = "double", comment = "standard deviation over 168 h" },
        { name = "min_168h", type = "double", comment = "minimum over 168 h" },
        { name = "max_168h", type = "double", comment = "maximum over 168 h" },
        { name = "local_hour", type = "int", comment = "hour of day in the market time zone" },
        { name = "weekday", type = "int", comment = "ISO weekday, Monday 1 to Sunday 7" },
        { name = "month", type = "int", comment = "month, 1-12" },
        { name = "day_of_year", type = "int", comment = "day of year, 1-366" },
        { name = "weekend", type = "boolean", comment = "Saturday or Sunday" },
        { name = "holiday", type = "boolean", comment = "public holiday in the market's country" },
        { name = "dst", type = "boolean", comment = "daylight saving time in effect" },
        { name = "known_ahead", type = "map<string,double>", comment = "latest weather forecast and known-ahead values issued by issue_time" },
        { name = "known_ahead_issued_at", type = "timestamp", comment = "issue time of the forecast used for known_ahead, UTC" },
        { name = "known_ahead_lead_hours", type = "int", comment = "lead time of that forecast to hour" },
        { name = "last_observed", type = "map<string,double>", comment = "latest observed value of each variable known at issue_time" },
        { name = "forecast_error", type = "map<string,double>", comment = "mean (forecast - observed) over the 168 h up to issue_time" },
        { name = "observed", type = "map<string,double>", comment = "values observed during this hour" },
      ], local.lineage_columns)
    }
    features_daily = {
      description    = "Daily windows per region and delivery day: price statistics and observed weather (topic <prefix>features.daily); date is the local delivery day"
      date_range_end = "NOW+2DAYS"
      columns = concat([
        { name = "market", type = "string", comment = "price series" },
        { name = "unit", type = "string", comment = "price unit" },
        { name = "local_date", type = "string", comment = "delivery day in the market time zone, YYYY-MM-DD (the date partition)" },
        { name = "start_time", type = "timestamp", comment = "local midnight starting the day, UTC" },
        { name = "end_time", type = "timestamp", comment = "next local midnight (exclusive), UTC" },
        { name = "hours", type = "int", comment = "hours in the day: 23, 24 or 25" },
        { name = "price_hours", type = "int", comment = "hours of the day with a price" },
        { name = "price_mean", type = "double", comment = "mean hourly price: the base price" },
        { name = "price_std", type = "double", comment = "standard deviation of the hourly prices" },
        { name = "price_min", type = "double", comment = "cheapest hour's price" },
        { name = "price_max", type = "double", comment = "dearest hour's price" },
        { name = "min_hour", type = "timestamp", comment = "start of the cheapest hour, UTC" },
        { name = "max_hour", type = "timestamp", comment = "start of the dearest hour, UTC" },
        { name = "peak_mean", type = "double", comment = "mean price 08:00-20:00 local" },
        { name = "off_peak_mean", type = "double", comment = "mean price of the other hours" },
        { name = "weekday", type = "int", comment = "ISO weekday, Monday 1 to Sunday 7" },
        { name = "month", type = "int", comment = "month, 1-12" },
        { name = "weekend", type = "boolean", comment = "Saturday or Sunday" },
        { name = "holiday", type = "boolean", comment = "public holiday in the market's country" },
        { name = "observed_mean", type = "map<string,double>", comment = "per variable, mean observed value over the day" },
        { name = "observed_min", type = "map<string,double>", comment = "per variable, minimum observed value" },
        { name = "observed_max", type = "map<string,double>", comment = "per variable, maximum observed value" },
      ], local.lineage_columns)
    }
    forecasts = {
      description = "Day-ahead forecasts, one row per model, issue time and target hour (topic <prefix>forecasts)"
      # Last date= partition Athena projects: rows are partitioned by their
      # event time, which runs ahead of now (tomorrow's prices and forecasts;
      # weather forecasts up to 16 days).
      date_range_end = "NOW+2DAYS"
      columns = concat([
        { name = "forecast_id", type = "string", comment = "region/model/version/issue time" },
        { name = "market", type = "string", comment = "price series" },
        { name = "unit", type = "string", comment = "price unit" },
        { name = "model_id", type = "string", comment = "model id" },
        { name = "model_version", type = "string", comment = "model version" },
        { name = "model_kind", type = "string", comment = "model kind, e.g. gru, lear, naive-weekly" },
        { name = "role", type = "string", comment = "champion or challenger" },
        { name = "official", type = "boolean", comment = "the forecast users should act on" },
        { name = "issue_time", type = "timestamp", comment = "when the forecast was issued, UTC" },
        { name = "local_date", type = "string", comment = "delivery day in the market time zone, YYYY-MM-DD" },
        { name = "created_at", type = "timestamp", comment = "when the scorer made the forecast, UTC" },
        { name = "hour", type = "timestamp", comment = "target hour, UTC" },
        { name = "lead_hours", type = "int", comment = "hour minus issue_time, whole hours" },
        { name = "value", type = "double", comment = "point forecast" },
        { name = "quantiles", type = "array<struct<q:double,value:double>>", comment = "probabilistic forecast: quantile level and value" },
      ], local.lineage_columns)
    }
  }

  region_projection = var.region_projection == "enum" ? {
    "projection.region.type"   = "enum"
    "projection.region.values" = join(",", var.regions)
    } : {
    "projection.region.type" = "injected"
  }
}
