// Package s3local holds the checks of scripts/s3/s3-local.sh, the real S3 API
// (versitygw) that wattcast's integration tests and local development use.
// It has no non-test code: its tests talk through aws-sdk-go-v2, path-style,
// to whatever server WATTCAST_S3_ENDPOINT names, and prove what the lake and
// the model registry rely on: objects read back byte for byte, hive-style
// keys listed by prefix, overwrites, and conditional writes. Without
// WATTCAST_S3_ENDPOINT they are skipped.
package s3local
