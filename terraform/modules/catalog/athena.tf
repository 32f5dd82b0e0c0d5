################################################################################
# Athena workgroup: engine v3, results encrypted with the lake key
################################################################################

resource "aws_athena_workgroup" "this" {
  count = var.create ? 1 : 0

  name          = var.name
  description   = "wattcast analysts and services: SQL over the lake"
  state         = "ENABLED"
  force_destroy = false

  configuration {
    # Every query in the workgroup uses these settings, whatever the
    # client asks: results always land encrypted in the lake bucket.
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = var.athena_results_url

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }

  tags = var.tags
}

################################################################################
# Named queries: the first questions a user asks (docs/athena.md has more)
################################################################################

locals {
  named_queries = {
    "latest-official-forecast" = {
      description = "Tomorrow's official forecast per region and hour: the newest issue of the official model."
      query       = <<-SQL
        SELECT region, hour, value, model_id, model_version, role, issue_time
        FROM forecasts
        WHERE "date" >= cast(current_date AS varchar)
          AND official
          AND issue_time = (SELECT max(issue_time) FROM forecasts f2
                            WHERE f2.region = forecasts.region AND f2."date" >= cast(current_date - interval '1' day AS varchar))
        ORDER BY region, hour
      SQL
    }
    "forecast-accuracy-30d" = {
      description = "MAE and rMAE (over the weekly naive forecast) per model and region over the last 30 days: forecasts joined with the actual prices."
      query       = <<-SQL
        WITH scored AS (
          SELECT f.region, f.model_id, f.role, abs(f.value - a.price) AS abs_error,
                 abs(a.price_lag_168h - a.price) AS naive_abs_error
          FROM forecasts f
          JOIN features a ON a.region = f.region AND a.hour = f.hour AND a."date" = f."date"
          WHERE f."date" >= cast(current_date - interval '30' day AS varchar)
            AND a."date" >= cast(current_date - interval '30' day AS varchar)
        )
        SELECT region, model_id, role, count(*) AS hours,
               avg(abs_error) AS mae,
               avg(abs_error) / nullif(avg(naive_abs_error), 0) AS rmae
        FROM scored
        GROUP BY region, model_id, role
        ORDER BY region, rmae
      SQL
    }
    "cheapest-3h-value-30d" = {
      description = "What following each model's cheapest three hours a day was worth over the last 30 days, at the actual prices: capture 1 is the best window every day (docs/athena.md, cheapest_3h_value)."
      query       = <<-SQL
        WITH hours AS (
          SELECT f.region, f.model_id, f.model_version, f.role, f.forecast_id, f.hour,
                 f.value AS forecast, x.price AS actual
          FROM forecasts f
          JOIN features x ON x.region = f.region AND x."date" = f."date" AND x.hour = f.hour
          WHERE f."date" >= cast(current_date - interval '30' day AS varchar)
            AND x."date" >= cast(current_date - interval '30' day AS varchar)
        ),
        windows AS (
          SELECT forecast_id, region, model_id, model_version, role,
                 avg(forecast) OVER (PARTITION BY forecast_id ORDER BY hour ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING) AS forecast_3h,
                 avg(actual) OVER (PARTITION BY forecast_id ORDER BY hour ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING) AS actual_3h,
                 date_diff('hour', hour,
                           max(hour) OVER (PARTITION BY forecast_id ORDER BY hour ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING)) AS span,
                 avg(actual) OVER (PARTITION BY forecast_id) AS day_mean
          FROM hours
        ),
        days AS (
          SELECT forecast_id, region, model_id, model_version, role,
                 max(day_mean) AS day_mean, min(actual_3h) AS best_window, min_by(actual_3h, forecast_3h) AS model_window
          FROM windows
          WHERE span = 2
          GROUP BY forecast_id, region, model_id, model_version, role
        )
        SELECT region, model_id, role, count(*) AS days,
               avg(day_mean) AS day_mean, avg(best_window) AS best_window, avg(model_window) AS model_window,
               (avg(day_mean) - avg(model_window)) / nullif(avg(day_mean) - avg(best_window), 0) AS capture
        FROM days
        GROUP BY region, model_id, role
        ORDER BY region, capture DESC
      SQL
    }
    "daily-price-profile" = {
      description = "Mean price by local hour of day per region over the last 7 days."
      query       = <<-SQL
        SELECT region, local_hour, avg(price) AS mean_price, min(price) AS min_price, max(price) AS max_price
        FROM features
        WHERE "date" >= cast(current_date - interval '7' day AS varchar)
        GROUP BY region, local_hour
        ORDER BY region, local_hour
      SQL
    }
    "daily-windows-30d" = {
      description = "The last 30 delivery days per region from the daily windows: base price, cheapest and dearest hour, peak premium, and the hours priced."
      query       = <<-SQL
        SELECT region, "date", price_mean, price_min, min_hour, price_max, max_hour,
               peak_mean - off_peak_mean AS peak_premium, price_hours, hours
        FROM features_daily
        WHERE "date" >= cast(current_date - interval '30' day AS varchar)
        ORDER BY region, "date"
      SQL
    }
    # A local delivery day spans two UTC `date` partitions: the partition
    # filter reaches one day further back than the local days counted, so
    # the first day counted is whole, and today's (and tomorrow's day-ahead)
    # unfinished local days are left out. current_date is UTC: for markets
    # at or east of UTC (all of wattcast's), every local day before it is over.
    "late-or-missing-hours" = {
      description = "Complete local delivery days of the last 14 (14 days ago to yesterday) with fewer than 23 hours in the features table: each has a gap (a DST day has 23 or 25)."
      query       = <<-SQL
        SELECT region, local_date, count(*) AS hours
        FROM features
        WHERE "date" >= cast(current_date - interval '15' day AS varchar)
          AND local_date >= cast(current_date - interval '14' day AS varchar)
          AND local_date < cast(current_date AS varchar)
        GROUP BY region, local_date
        HAVING count(*) < 23
        ORDER BY region, local_date
      SQL
    }
  }
}

resource "aws_athena_named_query" "this" {
  for_each = var.create ? local.named_queries : {}

  name        = each.key
  description = each.value.description
  workgroup   = aws_athena_workgroup.this[0].id
  database    = aws_glue_catalog_database.this[0].name
  query       = each.value.query
}
