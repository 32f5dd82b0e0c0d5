################################################################################
# Consumer lag: MSK's own per-group, per-topic metric
################################################################################

resource "aws_cloudwatch_metric_alarm" "consumer_lag" {
  for_each = var.create ? var.consumer_lag : {}

  alarm_name        = "${var.name}-consumer-lag-${each.key}"
  alarm_description = "Consumer group ${each.value.group} is more than ${each.value.max_lag} records behind on ${each.value.topic} for ${each.value.minutes} minutes: the stage is down or too slow (runbook: docs/aws.md#consumer-lag)."
  namespace         = "AWS/Kafka"
  metric_name       = "MaxOffsetLag"
  dimensions = {
    "Cluster Name"   = var.msk_cluster_name
    "Consumer Group" = each.value.group
    "Topic"          = each.value.topic
  }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = each.value.minutes
  datapoints_to_alarm = each.value.minutes
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.max_lag
  # No data: the group has no committed offsets or MSK stopped reporting.
  # This alarm then stays quiet (as do the dead-letter and error alarms,
  # which treat missing data the same way); a pipeline that stopped
  # publishing is caught by the source freshness alarms below.
  treat_missing_data = "notBreaching"

  alarm_actions = [aws_sns_topic.alarms[0].arn]
  ok_actions    = [aws_sns_topic.alarms[0].arn]

  tags = var.tags
}

################################################################################
# Dead letters: counted from the services' JSON log lines
################################################################################

# Every stage logs, once the transaction holding them has committed, one
# JSON line per reason with the number of records dead-lettered for it
# (kafka.LogDeadLetters):
#   {"level":"WARN","msg":"dead letters","reason":"late","count":3,"topic":"...",...}
# The metric is the sum of the counts.
resource "aws_cloudwatch_log_metric_filter" "dead_letters" {
  for_each = local.services

  name           = "${var.name}-${each.key}-dead-letters"
  log_group_name = aws_cloudwatch_log_group.service[each.key].name
  pattern        = "{ $.msg = \"dead letters\" }"

  metric_transformation {
    name          = "DeadLetters"
    namespace     = local.namespace
    value         = "$.count"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  count = var.create ? 1 : 0

  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "More than ${var.dead_letter_threshold} records were dead-lettered in 15 minutes: read the dead-letter topic for the reasons (runbook: docs/aws.md#dead-letters)."
  namespace           = local.namespace
  metric_name         = "DeadLetters"
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.dead_letter_threshold
  treat_missing_data  = "notBreaching"

  alarm_actions = [aws_sns_topic.alarms[0].arn]
  ok_actions    = [aws_sns_topic.alarms[0].arn]

  tags = var.tags
}

################################################################################
# Forecast error: the champion's rMAE over the last day
################################################################################

# The scorer logs one JSON line per champion error it publishes:
#   {"msg":"forecast error","role":"champion","abs_error":3.2,"naive_abs_error":4.1,...}
resource "aws_cloudwatch_log_metric_filter" "champion_abs_error" {
  count = var.create && contains(var.services, var.scorer_service) ? 1 : 0

  name           = "${var.name}-champion-abs-error"
  log_group_name = aws_cloudwatch_log_group.service[var.scorer_service].name
  pattern        = "{ $.msg = \"forecast error\" && $.role = \"champion\" && $.naive_abs_error = * }"

  metric_transformation {
    name      = "ChampionAbsError"
    namespace = local.namespace
    value     = "$.abs_error"
  }
}

resource "aws_cloudwatch_log_metric_filter" "naive_abs_error" {
  count = var.create && contains(var.services, var.scorer_service) ? 1 : 0

  name           = "${var.name}-naive-abs-error"
  log_group_name = aws_cloudwatch_log_group.service[var.scorer_service].name
  pattern        = "{ $.msg = \"forecast error\" && $.role = \"champion\" && $.naive_abs_error = * }"

  metric_transformation {
    name      = "NaiveAbsError"
    namespace = local.namespace
    value     = "$.naive_abs_error"
  }
}

resource "aws_cloudwatch_metric_alarm" "champion_rmae" {
  count = var.create && contains(var.services, var.scorer_service) ? 1 : 0

  alarm_name          = "${var.name}-champion-rmae"
  alarm_description   = "The champion's rMAE over the last 24 hours is above ${var.max_champion_rmae}: it forecasts worse than the weekly naive forecast (runbook: docs/aws.md#forecast-error)."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.max_champion_rmae
  evaluation_periods  = 1
  # No errors in a day means no actual prices arrived: the lag and
  # dead-letter alarms say why; this one stays quiet.
  treat_missing_data = "notBreaching"

  metric_query {
    id          = "rmae"
    expression  = "m_err / m_naive"
    label       = "champion rMAE, last 24 h"
    return_data = true
  }

  metric_query {
    id = "m_err"
    metric {
      namespace   = local.namespace
      metric_name = "ChampionAbsError"
      period      = 86400
      stat        = "Sum"
    }
  }

  metric_query {
    id = "m_naive"
    metric {
      namespace   = local.namespace
      metric_name = "NaiveAbsError"
      period      = 86400
      stat        = "Sum"
    }
  }

  alarm_actions = [aws_sns_topic.alarms[0].arn]
  ok_actions    = [aws_sns_topic.alarms[0].arn]

  tags = var.tags

  depends_on = [aws_cloudwatch_log_metric_filter.champion_abs_error, aws_cloudwatch_log_metric_filter.naive_abs_error]
}

################################################################################
# Freshness: each producer must publish now and then
################################################################################

# A live producer logs one JSON line per poll that published something
# (streams/source/run.go), per series:
#   {"level":"INFO","msg":"source: published","series":"...","prices":48,...}
# and nothing while it is down, failing or has nothing new. The metric counts
# those lines; no line at all for max_silence_hours (missing data counts as
# breaching) means the source stopped feeding the pipeline, which neither
# the lag, the dead-letter nor the error alarm would say.
locals {
  freshness = var.create ? { for k, f in var.freshness : k => f if contains(var.services, f.service) } : {}
}

resource "aws_cloudwatch_log_metric_filter" "published" {
  for_each = local.freshness

  name           = "${var.name}-${each.value.service}-published"
  log_group_name = aws_cloudwatch_log_group.service[each.value.service].name
  pattern        = "{ $.msg = \"source: published\" }"

  metric_transformation {
    name      = "Published-${each.value.service}"
    namespace = local.namespace
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "freshness" {
  for_each = local.freshness

  alarm_name        = "${var.name}-freshness-${each.key}"
  alarm_description = "${each.value.service} has published nothing for ${each.value.max_silence_hours} hours: the source API, the producer or its Kafka access is down (runbook: docs/aws.md#source-freshness)."
  namespace         = local.namespace
  metric_name       = "Published-${each.value.service}"
  statistic         = "Sum"
  # Hourly sums, all of the last max_silence_hours below 1: no publish in
  # that window. Hours without a data point count as breaching.
  period              = 3600
  evaluation_periods  = each.value.max_silence_hours
  datapoints_to_alarm = each.value.max_silence_hours
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"

  alarm_actions = [aws_sns_topic.alarms[0].arn]
  ok_actions    = [aws_sns_topic.alarms[0].arn]

  tags = var.tags

  depends_on = [aws_cloudwatch_log_metric_filter.published]
}
