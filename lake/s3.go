package lake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// s3Backend stores objects in an S3 bucket below prefix.
type s3Backend struct {
	cl       *s3.Client
	bucket   string
	prefix   string // "" or "dir/" (with the slash)
	pageSize int32
}

func newS3Backend(ctx context.Context, bucket, prefix string, o options) (*s3Backend, error) {
	var lo []func(*config.LoadOptions) error
	if o.region != "" {
		lo = append(lo, config.WithRegion(o.region))
	}
	if o.accessKey != "" || o.secretKey != "" {
		lo = append(lo, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.accessKey, o.secretKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("lake: load AWS configuration: %w (check AWS_* environment variables and ~/.aws/config)", err)
	}
	if cfg.Region == "" {
		// S3-compatible servers ignore the region but the SDK needs one
		// to sign requests.
		cfg.Region = "us-east-1"
	}
	cl := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.endpoint != "" {
			so.BaseEndpoint = aws.String(o.endpoint)
			// Servers other than AWS often lack the SDK's newer
			// default request checksums; S3 itself does not require
			// them for these operations.
			so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
		so.UsePathStyle = o.pathStyle
		if o.httpClient != nil {
			so.HTTPClient = o.httpClient
		}
		if o.maxAttempts > 0 {
			so.RetryMaxAttempts = o.maxAttempts
		}
	})
	if prefix != "" {
		prefix += "/"
	}
	page := int32(o.pageSize)
	if page == 0 {
		page = 1000
	}
	return &s3Backend{cl: cl, bucket: bucket, prefix: prefix, pageSize: page}, nil
}

func (s *s3Backend) put(ctx context.Context, key string, data []byte) error {
	_, err := s.cl.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.prefix + key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String(contentType(key)),
	})
	return err
}

func (s *s3Backend) putIfAbsent(ctx context.Context, key string, data []byte) (bool, error) {
	_, err := s.cl.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.prefix + key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String(contentType(key)),
		IfNoneMatch:   aws.String("*"),
	})
	if err == nil {
		return true, nil
	}
	if httpStatus(err) == http.StatusPreconditionFailed || apiCode(err) == "PreconditionFailed" {
		return false, nil
	}
	return false, err
}

func (s *s3Backend) get(ctx context.Context, key string) ([]byte, error) {
	out, err := s.cl.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) || httpStatus(err) == http.StatusNotFound {
			return nil, fmt.Errorf("no such object: %w (%w)", fs.ErrNotExist, err)
		}
		return nil, err
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return data, nil
}

func (s *s3Backend) list(ctx context.Context, prefix, after string) ([]string, error) {
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		Prefix:  aws.String(s.prefix + prefix),
		MaxKeys: aws.Int32(s.pageSize),
	}
	if after != "" {
		in.StartAfter = aws.String(s.prefix + after)
	}
	p := s3.NewListObjectsV2Paginator(s.cl, in)
	var keys []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			k := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if k == "" || strings.HasSuffix(k, "/") {
				continue // "directory" placeholder objects some tools create
			}
			keys = append(keys, k)
		}
	}
	// S3 lists in UTF-8 byte order already; sorting keeps the promise for
	// S3-compatible servers that do not, and dropping what is not after
	// after for those that ignore StartAfter.
	sort.Strings(keys)
	i, _ := slices.BinarySearch(keys, after)
	for i < len(keys) && keys[i] <= after {
		i++
	}
	return keys[i:], nil
}

func (s *s3Backend) del(ctx context.Context, key string) error {
	_, err := s.cl.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	return err
}

func contentType(key string) string {
	switch {
	case strings.HasSuffix(key, ".parquet"):
		return "application/vnd.apache.parquet"
	case strings.HasSuffix(key, ".json"):
		return "application/json"
	}
	return "application/octet-stream"
}

// httpStatus returns the HTTP status of an SDK error, or 0.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

// apiCode returns the S3 error code of an SDK error, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
