data "aws_region" "current" {}

################################################################################
# Network: the environment's own VPC
################################################################################

module "network" {
  source = "../network"

  name                 = var.name
  cidr                 = var.vpc_cidr
  azs                  = var.azs
  enable_nat_gateway   = var.enable_nat_gateway
  flow_log_kms_key_arn = module.observability.kms_key_arn
  # The smoke task queries Athena from the private subnets.
  interface_endpoints = ["ecr.api", "ecr.dkr", "logs", "sts", "athena"]

  tags = var.tags
}

################################################################################
# Observability: log groups first (the tasks and the brokers write to them)
################################################################################

module "observability" {
  source = "../observability"

  name               = var.name
  services           = keys(local.services)
  log_retention_days = var.log_retention_days
  alarm_emails       = var.alarm_emails
  msk_cluster_name   = var.name
  consumer_lag = {
    processor-prices = { group = local.groups.processor, topic = local.t.prices, max_lag = var.max_consumer_lag }
    lake-features    = { group = local.groups.lake_sink, topic = local.t.features, max_lag = var.max_consumer_lag }
    scorer-features  = { group = local.groups.scorer, topic = local.t.features, max_lag = var.max_consumer_lag }
  }
  freshness = {
    prices  = { service = "producer-octopus", max_silence_hours = var.max_source_silence_hours.prices }
    weather = { service = "producer-weather", max_silence_hours = var.max_source_silence_hours.weather }
  }

  tags = var.tags
}

################################################################################
# Data: lake bucket and MSK cluster (both protected by prevent_destroy)
################################################################################

module "lake" {
  source = "../lake"

  bucket_name = var.lake_bucket_name

  tags = var.tags
}

module "msk" {
  source = "../msk"

  name                      = var.name
  mode                      = var.msk_mode
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.private_subnet_ids
  client_security_group_ids = module.services.security_group_ids
  kafka_version             = var.msk_provisioned.kafka_version
  broker_instance_type      = var.msk_provisioned.broker_instance_type
  broker_count              = var.msk_provisioned.broker_count
  broker_volume_size        = var.msk_provisioned.broker_volume_size
  log_group_name            = module.observability.msk_log_group_name

  tags = var.tags
}

################################################################################
# Catalog: Glue tables over the lake, Athena workgroup
################################################################################

module "catalog" {
  source = "../catalog"

  name               = var.name
  lake_bucket        = module.lake.bucket_id
  lake_prefix        = module.lake.prefixes.lake
  regions            = var.regions
  region_projection  = var.region_projection
  date_range_start   = var.date_range_start
  athena_results_url = module.lake.athena_results_url
  kms_key_arn        = module.lake.kms_key_arn

  tags = var.tags
}

################################################################################
# Image repository
################################################################################

module "ecr" {
  source = "../ecr"

  name                = var.name
  push_principal_arns = var.ci_role_arns

  tags = var.tags
}

################################################################################
# IAM: one task role and one execution role per service
################################################################################

module "iam" {
  source = "../iam"

  name = var.name
  services = {
    for k, s in local.services : k => {
      kafka  = s.kafka
      s3     = s.s3
      athena = try(s.athena, false)
    }
  }
  msk_cluster_arn         = module.msk.cluster_arn
  msk_iam_resource_prefix = module.msk.iam_resource_prefix
  lake_bucket_arn         = module.lake.bucket_arn
  lake_kms_key_arn        = module.lake.kms_key_arn
  athena_results_prefix   = module.lake.prefixes.athena_results
  athena_workgroup_arn    = module.catalog.workgroup_arn
  glue_database_name      = module.catalog.database_name
  ecr_repository_arn      = module.ecr.repository_arn
  log_group_arns          = module.observability.log_group_arns
  scheduled_services      = [for k, s in local.services : k if try(s.schedule, null) != null]
  ecs_cluster_name        = var.name

  tags = var.tags
}

################################################################################
# Services: ECS Fargate services and the scheduled trainer
################################################################################

module "services" {
  source = "../services"

  name  = var.name
  image = "${module.ecr.repository_url}:${var.image_tag}"
  services = {
    for k, s in local.services : k => {
      command           = s.command
      cpu               = s.cpu
      memory            = s.memory
      desired_count     = try(s.desired_count, 1)
      schedule          = try(s.schedule, null)
      schedule_timezone = try(s.schedule_timezone, "UTC")
      on_demand         = try(s.on_demand, false)
      internet          = s.internet
      environment       = try(s.environment, {})
    }
  }
  environment = {
    WATTCAST_KAFKA_BROKERS    = module.msk.bootstrap_brokers
    WATTCAST_KAFKA_TLS        = "true"
    WATTCAST_KAFKA_SASL       = "aws-msk-iam"
    WATTCAST_TOPIC_PREFIX     = var.topic_prefix
    WATTCAST_PARTITIONS       = tostring(var.partitions)
    WATTCAST_LAKE             = module.lake.lake_url
    WATTCAST_REGISTRY         = module.lake.registry_url
    WATTCAST_AWS_REGION       = data.aws_region.current.region
    AWS_REGION                = data.aws_region.current.region
    WATTCAST_LOG_FORMAT       = "json"
    WATTCAST_ATHENA_WORKGROUP = module.catalog.workgroup_name
    WATTCAST_ATHENA_DATABASE  = module.catalog.database_name
  }

  vpc_id                      = module.network.vpc_id
  subnet_ids                  = module.network.private_subnet_ids
  msk_security_group_id       = module.msk.security_group_id
  endpoints_security_group_id = module.network.endpoints_security_group_id
  s3_prefix_list_id           = module.network.s3_prefix_list_id
  task_role_arns              = module.iam.task_role_arns
  execution_role_arns         = module.iam.execution_role_arns
  scheduler_role_arn          = module.iam.scheduler_role_arn
  log_group_names             = module.observability.log_group_names

  tags = var.tags
}
