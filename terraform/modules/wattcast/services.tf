################################################################################
# The services, their commands and exactly what each may touch
################################################################################
#
# Topic names follow schemas.NewTopicSet(prefix); internal topics are
# "<prefix><component>.<suffix>" (TopicSet.Internal: the producers'
# "source.checkpoints", the processor's and scorer's "changelog"). Consumer
# groups are TopicSet.Group(DefaultGroup) of each component
# (processors.DefaultGroup, lakesink.DefaultGroup, scorer.DefaultGroup): the
# constant itself for the default prefix "wattcast.", and
# "<constant>.<prefix without its trailing dot>" for any other. The scorer's
# promoter and retrain worker use "<scorer group>-promoter",
# "<scorer group>-promoter-decide" and "<scorer group>-retrainer".
# Transactional ids are "<group>-<instance>" and, for producers,
# "wattcast-produce-<source>-<hash>" (docs/aws.md lists the contract); the
# IAM policies allow exactly those names. Every stage calls kafka.EnsureTopics with the whole public topic set
# at start-up, so every stage may create (never read or write) any of them.

locals {
  p = var.topic_prefix
  topics = {
    prices            = "${local.p}prices"
    weather_observed  = "${local.p}weather.observed"
    weather_forecast  = "${local.p}weather.forecast"
    features          = "${local.p}features"
    features_daily    = "${local.p}features.daily"
    forecasts         = "${local.p}forecasts"
    errors_champion   = "${local.p}errors.champion"
    errors_challenger = "${local.p}errors.challenger"
    model_events      = "${local.p}model-events"
    dead_letters      = "${local.p}dead-letters"
  }
  all_topics = values(local.topics)

  # schemas.TopicSet.Group(base): base for the default prefix (or none),
  # base + "." + the prefix without its trailing dot for any other, so that
  # two topic sets on one cluster never share a group.
  group_suffix = contains(["", "wattcast."], var.topic_prefix) ? "" : ".${trimsuffix(var.topic_prefix, ".")}"
  groups = {
    # Not a group: the producers' transactional id prefix (no group).
    producer  = "wattcast-produce-"
    processor = "wattcast-processor${local.group_suffix}"
    lake_sink = "wattcast-lakesink${local.group_suffix}"
    # Also the prefix of <scorer>-promoter, <scorer>-promoter-decide and
    # <scorer>-retrainer, which run in the scorer's task.
    scorer = "wattcast-scorer${local.group_suffix}"
    # The smoke test's groups are wattcast-smoke-<run>-*, whatever the prefix.
    smoke = "wattcast-smoke"
  }

  # The regions the scheduled trainer trains (`wattcast train --regions`):
  # var.regions without the smoke test's region SMOKE, whose few days of
  # rows in the lake cannot be backtested. Empty (var.regions empty, e.g.
  # with the injected region projection): no --regions flag, and the
  # trainer trains every region in the lake.
  trainer_regions = [for r in var.regions : r if r != "SMOKE"]
  lake_prefix     = module.lake.prefixes.lake
  registry_prefix = module.lake.prefixes.registry
  t               = local.topics

  # One object per service: attribute sets differ, which an object allows;
  # the modules' typed variables fill the optional attributes.
  default_services = {
    # Octopus Agile prices, live (next-day prices appear in the afternoon).
    producer-octopus = {
      command  = ["produce", "--source", "octopus", "--regions", join(",", var.octopus_regions)]
      internet = true
      cpu      = 256
      memory   = 512
      kafka = {
        write_topics           = [local.t.prices, local.t.dead_letters]
        create_topics          = local.all_topics
        topic_prefixes         = ["${local.p}source."]
        transactional_prefixes = ["${local.groups.producer}octopus-"]
      }
      s3 = {}
    }
    # Open-Meteo observed and forecast weather, live.
    producer-weather = {
      command  = ["produce", "--source", "openmeteo", "--locations", join(",", var.weather_locations)]
      internet = true
      cpu      = 256
      memory   = 512
      kafka = {
        write_topics           = [local.t.weather_observed, local.t.weather_forecast, local.t.dead_letters]
        create_topics          = local.all_topics
        topic_prefixes         = ["${local.p}source."]
        transactional_prefixes = ["${local.groups.producer}openmeteo-"]
      }
      s3 = {}
    }
    # Windowed features (state in a changelog topic, exactly once) and the
    # lake sink (Parquet to S3).
    processor = {
      command  = ["process"]
      internet = false
      cpu      = 1024
      memory   = 2048
      kafka = {
        read_topics            = [local.t.prices, local.t.weather_observed, local.t.weather_forecast, local.t.features, local.t.features_daily, local.t.forecasts]
        write_topics           = [local.t.features, local.t.features_daily, local.t.dead_letters]
        create_topics          = local.all_topics
        topic_prefixes         = ["${local.p}processor.", "${local.p}lakesink."]
        group_prefixes         = [local.groups.processor, local.groups.lake_sink]
        transactional_prefixes = [local.groups.processor, local.groups.lake_sink]
      }
      s3 = { write_prefixes = [local.lake_prefix] }
    }
    # Champion and challenger forecasts, errors, monitoring, promotion.
    scorer = {
      command  = ["score"]
      internet = false
      cpu      = 512
      memory   = 1024
      kafka = {
        # The monitor reads the forecasts and error topics; the promoter
        # (in the same task) keeps its state in <prefix>promoter.* topics.
        read_topics    = [local.t.features, local.t.forecasts, local.t.model_events, local.t.errors_champion, local.t.errors_challenger]
        write_topics   = [local.t.forecasts, local.t.errors_champion, local.t.errors_challenger, local.t.model_events, local.t.dead_letters]
        create_topics  = local.all_topics
        topic_prefixes = ["${local.p}scorer.", "${local.p}promoter."]
        # <scorer>, <scorer>-promoter, <scorer>-promoter-decide and
        # <scorer>-retrainer, and their transactional ids.
        group_prefixes         = [local.groups.scorer]
        transactional_prefixes = [local.groups.scorer]
      }
      s3 = {
        read_prefixes  = [local.lake_prefix]
        write_prefixes = [local.registry_prefix]
        # The retrain scheduler releases its claim of a tick
        # (serving/retrain claimKey: <registry>/serving/retrain/ticks/*)
        # when it could not write the tick's request.
        delete_prefixes = ["${local.registry_prefix}/serving/retrain/ticks"]
      }
    }
    # Batch training from the lake into the registry, on a schedule. Once a
    # champion exists, each run registers its versions as challengers: the
    # scorer's promotion decider promotes one only if a Diebold-Mariano test
    # says it beats the champion, and archives it otherwise.
    trainer = {
      command = concat(
        ["train", "--stage", "challenger"],
        length(local.trainer_regions) > 0 ? ["--regions", join(",", local.trainer_regions)] : [],
      )
      internet          = false
      cpu               = 2048
      memory            = 8192
      schedule          = var.trainer_schedule
      schedule_timezone = var.trainer_schedule_timezone
      # `wattcast train` reads the lake and writes the registry; it never
      # opens Kafka (the scorer's catalog finds the new versions at its next
      # registry read, --catalog-refresh), so no topic is granted.
      kafka = {}
      s3    = { read_prefixes = [local.lake_prefix], write_prefixes = [local.registry_prefix] }
    }
    # CI's live smoke test, run inside the VPC: on topics and groups of its
    # own (<prefix>smoke-<run>.*, wattcast-smoke-<run>-*), publish prices for
    # region SMOKE, run the processor, scorer and lake sink on them, see a
    # forecast on the topic and the rows in Athena (cmd/wattcast/cmd_smoke.go).
    smoke = {
      command   = ["smoke"]
      internet  = false
      on_demand = true
      cpu       = 512
      memory    = 1024
      athena    = true
      kafka = {
        topic_prefixes         = ["${local.p}smoke-"]
        group_prefixes         = [local.groups.smoke]
        transactional_prefixes = [local.groups.smoke]
      }
      s3 = { read_prefixes = [local.lake_prefix], write_prefixes = [local.lake_prefix] }
    }
  }

  # A for expression (not a conditional) drops the smoke task: its result
  # may hold objects of different shapes.
  services = {
    for k, s in local.default_services : k => merge(s, {
      for attr, v in try(var.service_overrides[k], {}) : attr => v if v != null
    }) if k != "smoke" || var.enable_smoke_task
  }
}

# Without var.regions the trainer is started without --regions and trains
# every region in the lake that has the history to backtest (a region with
# too little, e.g. one just added to var.regions, is skipped, not fatal):
# SMOKE is skipped while it has a few days, but smoke runs on other dates
# could make it long enough to train and stage. A check warns at plan time.
check "trainer_skips_smoke_region" {
  assert {
    condition     = !var.enable_smoke_task || length(local.trainer_regions) > 0
    error_message = "enable_smoke_task writes region SMOKE into the lake: give var.regions (the regions to train) so that the scheduled trainer is started with --regions and never trains SMOKE."
  }
}
