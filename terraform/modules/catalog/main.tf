locals {
  database = replace(var.name, "-", "_")
}

################################################################################
# Glue database and tables, with partition projection
################################################################################

resource "aws_glue_catalog_database" "this" {
  count = var.create ? 1 : 0

  name        = local.database
  description = "wattcast lake tables (Parquet on s3://${var.lake_bucket}/${var.lake_prefix}/)"

  tags = var.tags
}

resource "aws_glue_catalog_table" "this" {
  for_each = var.create ? local.tables : {}

  name          = each.key
  database_name = aws_glue_catalog_database.this[0].name
  description   = each.value.description
  table_type    = "EXTERNAL_TABLE"

  # Partition projection: Athena computes the partitions from these
  # properties, so new region/date directories need no crawler or
  # MSCK REPAIR, and queries skip the Glue partition lookup.
  parameters = merge({
    "EXTERNAL"                      = "TRUE"
    "classification"                = "parquet"
    "projection.enabled"            = "true"
    "projection.date.type"          = "date"
    "projection.date.format"        = "yyyy-MM-dd"
    "projection.date.range"         = "${var.date_range_start},${each.value.date_range_end}"
    "projection.date.interval"      = "1"
    "projection.date.interval.unit" = "DAYS"
    "storage.location.template"     = "s3://${var.lake_bucket}/${var.lake_prefix}/${each.key}/region=$${region}/date=$${date}/"
    "wattcast.table_version"        = "1"
  }, local.region_projection)

  # Both partition values are strings in the object keys. `date` is
  # YYYY-MM-DD, so string comparison orders it: WHERE "date" >= '2024-01-01'.
  partition_keys {
    name    = "region"
    type    = "string"
    comment = "region id, as in the record key"
  }
  partition_keys {
    name    = "date"
    type    = "string"
    comment = "UTC date of the row's event time, YYYY-MM-DD"
  }

  storage_descriptor {
    location      = "s3://${var.lake_bucket}/${var.lake_prefix}/${each.key}/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      parameters = {
        "serialization.format" = "1"
      }
    }

    dynamic "columns" {
      for_each = each.value.columns
      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = columns.value.comment
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.region_projection == "injected" || length(var.regions) > 0
      error_message = "The enum region projection needs at least one region in var.regions (or use region_projection = \"injected\")."
    }
  }
}
