package s3local_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// client returns an S3 client for WATTCAST_S3_ENDPOINT, path-style, or skips
// the test. Credentials come from the SDK's default chain (AWS_ACCESS_KEY_ID
// and AWS_SECRET_ACCESS_KEY, as scripts/s3/s3-local.sh env prints them).
func client(t *testing.T) *s3.Client {
	t.Helper()
	endpoint := os.Getenv("WATTCAST_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("WATTCAST_S3_ENDPOINT is not set: run make s3-up and export what scripts/s3/s3-local.sh env prints")
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		t.Fatal("WATTCAST_S3_ENDPOINT is set but AWS_ACCESS_KEY_ID is not: export what scripts/s3/s3-local.sh env prints")
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	ctx := testContext(t)
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
		// In the client's options, not config.WithHTTPClient: with
		// AWS_CA_BUNDLE set (as on these machines) LoadDefaultConfig fails
		// on an HTTP client it cannot add the bundle to.
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	})
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newBucket creates a bucket of the test's own and deletes it, with
// everything in it, when the test ends.
func newBucket(t *testing.T, cl *s3.Client) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "wattcast-s3local-" + hex.EncodeToString(b)
	if _, err := cl.CreateBucket(testContext(t), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, k := range listKeys(t, ctx, cl, name, "") {
			_, _ = cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &name, Key: aws.String(k)})
		}
		if _, err := cl.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &name}); err != nil {
			t.Errorf("delete bucket %s: %v", name, err)
		}
	})
	return name
}

func listKeys(t *testing.T, ctx context.Context, cl *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list s3://%s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

func put(ctx context.Context, cl *s3.Client, bucket, key string, body []byte, mod func(*s3.PutObjectInput)) (*s3.PutObjectOutput, error) {
	in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)}
	if mod != nil {
		mod(in)
	}
	return cl.PutObject(ctx, in)
}

func get(t *testing.T, ctx context.Context, cl *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read s3://%s/%s: %v", bucket, key, err)
	}
	return b
}

// isPreconditionFailed reports whether err is S3's answer to a condition
// that did not hold: HTTP 412, code PreconditionFailed.
func isPreconditionFailed(err error) bool {
	var re *awshttp.ResponseError
	var ae smithy.APIError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed &&
		errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed"
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// TestPreparedBucketExists checks that s3-local.sh made the bucket that the
// lake and the registry use (WATTCAST_S3_BUCKET, wattcast-lake by default).
func TestPreparedBucketExists(t *testing.T) {
	t.Parallel()
	cl := client(t)
	bucket := os.Getenv("WATTCAST_S3_BUCKET")
	if bucket == "" {
		t.Skip("WATTCAST_S3_BUCKET is not set")
	}
	if _, err := cl.HeadBucket(testContext(t), &s3.HeadBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("bucket %s: %v", bucket, err)
	}
}

func TestPutGetListRoundTrip(t *testing.T) {
	t.Parallel()
	cl := client(t)
	ctx := testContext(t)
	bucket := newBucket(t, cl)
	tests := []struct {
		name string
		key  string
		body []byte
	}{
		{"hive-partitioned parquet key", "lake/prices/region=FI/date=2024-01-01/prices-p0-o0-o99.parquet", randomBytes(64 << 10)},
		{"a second partition", "lake/prices/region=GB-A/date=2024-01-01/prices-p1-o0-o47.parquet", randomBytes(3 << 20)},
		{"model card JSON", "registry/linear/v1/card.json", []byte(`{"model_id":"linear","version":"v1"}`)},
		{"empty object", "registry/linear/v1/_SUCCESS", []byte{}},
	}
	for _, tt := range tests {
		if _, err := put(ctx, cl, bucket, tt.key, tt.body, nil); err != nil {
			t.Fatalf("%s: put: %v", tt.name, err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := get(t, ctx, cl, bucket, tt.key); !bytes.Equal(got, tt.body) {
				t.Fatalf("read back %d bytes, want the %d written", len(got), len(tt.body))
			}
			head, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &tt.key})
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			if got := aws.ToInt64(head.ContentLength); got != int64(len(tt.body)) {
				t.Errorf("content length %d, want %d", got, len(tt.body))
			}
		})
	}
	if got, want := listKeys(t, ctx, cl, bucket, "lake/prices/"), []string{tests[0].key, tests[1].key}; !slices.Equal(got, want) {
		t.Errorf("list lake/prices/ = %v, want %v", got, want)
	}
	// Athena and Spark list a table's partitions with a delimiter.
	out, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String("lake/prices/"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatalf("list with delimiter: %v", err)
	}
	var prefixes []string
	for _, p := range out.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(p.Prefix))
	}
	if want := []string{"lake/prices/region=FI/", "lake/prices/region=GB-A/"}; !slices.Equal(prefixes, want) {
		t.Errorf("common prefixes %v, want %v", prefixes, want)
	}
}

// TestOverwriteReplaces protects the lake's retry rule: a batch written again
// after a crash overwrites the same objects, so the newest bytes win.
func TestOverwriteReplaces(t *testing.T) {
	t.Parallel()
	cl := client(t)
	ctx := testContext(t)
	bucket := newBucket(t, cl)
	key := "lake/features/region=FI/date=2024-01-02/features-p0-o100-o199.parquet"
	first, second := randomBytes(4096), randomBytes(2048)
	for _, b := range [][]byte{first, second} {
		if _, err := put(ctx, cl, bucket, key, b, nil); err != nil {
			t.Fatalf("put: %v", err)
		}
	}
	if got := get(t, ctx, cl, bucket, key); !bytes.Equal(got, second) {
		t.Fatalf("read back %d bytes that are not the second write", len(got))
	}
	if keys := listKeys(t, ctx, cl, bucket, "lake/"); len(keys) != 1 {
		t.Fatalf("after an overwrite the bucket holds %v, want one object", keys)
	}
}

// TestConditionalWrites checks S3's conditional PutObject on this server:
// If-None-Match "*" creates an object only if it does not exist (what a
// registry needs to make a version immutable, or a writer to claim a name),
// and If-Match replaces it only if its ETag is still the one read.
func TestConditionalWrites(t *testing.T) {
	t.Parallel()
	cl := client(t)
	ctx := testContext(t)
	bucket := newBucket(t, cl)

	t.Run("if-none-match creates once", func(t *testing.T) {
		key := "registry/gru/v7/card.json"
		first := []byte(`{"v":1}`)
		if _, err := put(ctx, cl, bucket, key, first, func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }); err != nil {
			t.Fatalf("first conditional create: %v", err)
		}
		_, err := put(ctx, cl, bucket, key, []byte(`{"v":2}`), func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
		if !isPreconditionFailed(err) {
			t.Fatalf("second conditional create: err = %v, want 412 PreconditionFailed", err)
		}
		if got := get(t, ctx, cl, bucket, key); !bytes.Equal(got, first) {
			t.Fatalf("object is %s after a refused create, want %s", got, first)
		}
	})

	t.Run("if-none-match races have one winner", func(t *testing.T) {
		const writers = 8
		key := "registry/champion.lock"
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				_, errs[i] = put(ctx, cl, bucket, key, []byte{byte('a' + i)}, func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
			})
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("writers %d and %d both created %s", won, i, key)
			case err == nil:
				won = i
			case !isPreconditionFailed(err):
				t.Fatalf("writer %d: %v, want success or 412 PreconditionFailed", i, err)
			}
		}
		if won < 0 {
			t.Fatal("no writer created the object")
		}
		if got := get(t, ctx, cl, bucket, key); !bytes.Equal(got, []byte{byte('a' + won)}) {
			t.Fatalf("object holds %q, want the winner's %q", got, byte('a'+won))
		}
	})

	t.Run("if-match replaces only the version read", func(t *testing.T) {
		key := "registry/stages.json"
		out, err := put(ctx, cl, bucket, key, []byte(`{"champion":"linear/v1"}`), nil)
		if err != nil {
			t.Fatalf("put: %v", err)
		}
		etag := aws.ToString(out.ETag)
		if _, err := put(ctx, cl, bucket, key, []byte(`{"champion":"gru/v2"}`), func(in *s3.PutObjectInput) { in.IfMatch = &etag }); err != nil {
			t.Fatalf("replace with the current ETag: %v", err)
		}
		_, err = put(ctx, cl, bucket, key, []byte(`{"champion":"stale"}`), func(in *s3.PutObjectInput) { in.IfMatch = &etag })
		if !isPreconditionFailed(err) {
			t.Fatalf("replace with a stale ETag: err = %v, want 412 PreconditionFailed", err)
		}
		if got := string(get(t, ctx, cl, bucket, key)); !strings.Contains(got, "gru/v2") {
			t.Fatalf("object is %s, want the second write", got)
		}
	})
}

// TestMissingObject checks the error a reader sees for a key that is not
// there, which the registry and the lake treat as "not found", not a failure.
func TestMissingObject(t *testing.T) {
	t.Parallel()
	cl := client(t)
	ctx := testContext(t)
	bucket := newBucket(t, cl)
	_, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("registry/none/card.json")})
	var nsk *types.NoSuchKey
	if !errors.As(err, &nsk) {
		t.Fatalf("get of a missing key: err = %v, want *types.NoSuchKey", err)
	}
}
