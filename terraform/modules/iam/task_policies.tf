################################################################################
# Task role: Kafka (MSK IAM) down to topics, groups and transactional ids;
# S3 down to key prefixes; Athena when asked for
################################################################################

locals {
  topic_arn = var.msk_iam_resource_prefix.topic
  group_arn = var.msk_iam_resource_prefix.group
  txn_arn   = var.msk_iam_resource_prefix.transactional_id

  policies = {
    for name, s in local.services : name => {
      kafka_read   = distinct(concat([for t in s.kafka.read_topics : "${local.topic_arn}${t}"], [for p in s.kafka.topic_prefixes : "${local.topic_arn}${p}*"]))
      kafka_write  = distinct(concat([for t in s.kafka.write_topics : "${local.topic_arn}${t}"], [for p in s.kafka.topic_prefixes : "${local.topic_arn}${p}*"]))
      kafka_create = distinct(concat([for t in s.kafka.create_topics : "${local.topic_arn}${t}"], [for p in s.kafka.topic_prefixes : "${local.topic_arn}${p}*"]))
      groups       = [for p in s.kafka.group_prefixes : "${local.group_arn}${p}*"]
      txns         = [for p in s.kafka.transactional_prefixes : "${local.txn_arn}${p}*"]
      s3_read      = distinct(concat(s.s3.read_prefixes, s.s3.write_prefixes, s.athena ? [var.athena_results_prefix] : []))
      s3_write     = distinct(concat(s.s3.write_prefixes, s.athena ? [var.athena_results_prefix] : []))
      s3_delete    = distinct(s.s3.delete_prefixes)
      athena       = s.athena
    }
  }
}

#tfsec:ignore:aws-iam-no-policy-wildcards each wildcard ends a name prefix the service owns (topics, groups, transactional ids, S3 keys under its prefixes); no action or service is wildcarded
data "aws_iam_policy_document" "task" {
  for_each = local.policies

  # Every Kafka client connects and reads cluster metadata.
  statement {
    sid       = "KafkaConnect"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
    resources = [var.msk_cluster_arn]
  }

  dynamic "statement" {
    for_each = length(each.value.kafka_write) > 0 ? [1] : []
    content {
      sid = "KafkaIdempotentWrites"
      # franz-go producers are idempotent by default.
      actions   = ["kafka-cluster:WriteDataIdempotently"]
      resources = [var.msk_cluster_arn]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.kafka_read) > 0 ? [1] : []
    content {
      sid       = "KafkaReadTopics"
      actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
      resources = each.value.kafka_read
    }
  }

  dynamic "statement" {
    for_each = length(each.value.kafka_write) > 0 ? [1] : []
    content {
      sid       = "KafkaWriteTopics"
      actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
      resources = each.value.kafka_write
    }
  }

  dynamic "statement" {
    for_each = length(each.value.kafka_create) > 0 ? [1] : []
    content {
      sid = "KafkaCreateTopics"
      # EnsureTopics at start-up: create a missing topic with its config.
      actions   = ["kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic", "kafka-cluster:DescribeTopicDynamicConfiguration"]
      resources = each.value.kafka_create
    }
  }

  dynamic "statement" {
    for_each = length(each.value.groups) > 0 ? [1] : []
    content {
      sid       = "KafkaConsumerGroups"
      actions   = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
      resources = each.value.groups
    }
  }

  dynamic "statement" {
    for_each = length(each.value.txns) > 0 ? [1] : []
    content {
      sid       = "KafkaTransactions"
      actions   = ["kafka-cluster:AlterTransactionalId", "kafka-cluster:DescribeTransactionalId"]
      resources = each.value.txns
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_read) > 0 ? [1] : []
    content {
      sid       = "LakeList"
      actions   = ["s3:ListBucket"]
      resources = [local.bucket]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = flatten([for p in each.value.s3_read : [p, "${p}/*"]])
      }
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_read) > 0 ? [1] : []
    content {
      sid       = "LakeRead"
      actions   = ["s3:GetObject", "s3:GetBucketLocation"]
      resources = concat([local.bucket], [for p in each.value.s3_read : "${local.bucket}/${p}/*"])
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_write) > 0 ? [1] : []
    content {
      sid = "LakeWrite"
      # Writes overwrite deterministic keys (a retried batch replaces its own
      # files); old versions expire by lifecycle. Deletes only below the
      # delete prefixes (LakeDelete).
      actions   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
      resources = [for p in each.value.s3_write : "${local.bucket}/${p}/*"]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_delete) > 0 ? [1] : []
    content {
      sid = "LakeDelete"
      # Only what a service must remove, e.g. the scorer's retrain
      # scheduler releasing its claim of a tick (serving/retrain).
      actions   = ["s3:DeleteObject"]
      resources = [for p in each.value.s3_delete : "${local.bucket}/${p}/*"]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_read) > 0 ? [1] : []
    content {
      sid       = "LakeKey"
      actions   = length(each.value.s3_write) > 0 ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"]
      resources = [var.lake_kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.s3_via]
      }
    }
  }

  dynamic "statement" {
    for_each = each.value.athena && var.athena_workgroup_arn != null ? [1] : []
    content {
      sid = "AthenaQueries"
      actions = [
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:StopQueryExecution",
        "athena:GetWorkGroup",
      ]
      resources = [var.athena_workgroup_arn]
    }
  }

  dynamic "statement" {
    for_each = each.value.athena && var.glue_database_name != null ? [1] : []
    content {
      sid     = "GlueCatalogRead"
      actions = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"]
      resources = [
        "arn:${local.partition}:glue:${local.region}:${local.account}:catalog",
        "arn:${local.partition}:glue:${local.region}:${local.account}:database/${var.glue_database_name}",
        "arn:${local.partition}:glue:${local.region}:${local.account}:table/${var.glue_database_name}/*",
      ]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = local.policies

  name   = "wattcast-${each.key}"
  role   = aws_iam_role.task[each.key].id
  policy = data.aws_iam_policy_document.task[each.key].json
}
