package lake

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
)

// Bucket is an object store opened from a URL. It is safe for concurrent use.
type Bucket struct {
	be  backend
	url string // normalised URL of the root, without a trailing slash
}

// backend is one storage implementation. Keys are already validated.
type backend interface {
	put(ctx context.Context, key string, data []byte) error
	putIfAbsent(ctx context.Context, key string, data []byte) (bool, error)
	get(ctx context.Context, key string) ([]byte, error)
	// list returns the keys under prefix after the key after (all if
	// after is ""), sorted.
	list(ctx context.Context, prefix, after string) ([]string, error)
	del(ctx context.Context, key string) error
}

type options struct {
	endpoint    string
	pathStyle   bool
	region      string
	accessKey   string
	secretKey   string
	httpClient  HTTPClient
	maxAttempts int
	pageSize    int
	noSync      bool
	mustExist   bool
}

// HTTPClient sends the S3 requests; *http.Client satisfies it.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// Option configures Open.
type Option func(*options)

// WithEndpoint sends S3 requests to url (for example http://127.0.0.1:7070
// for versitygw or MinIO) instead of AWS. The AWS_ENDPOINT_URL_S3
// environment variable does the same without code.
func WithEndpoint(url string) Option { return func(o *options) { o.endpoint = url } }

// WithPathStyle addresses buckets as endpoint/bucket/key instead of the
// default bucket.endpoint/key, which most S3-compatible servers need.
func WithPathStyle() Option { return func(o *options) { o.pathStyle = true } }

// WithRegion sets the AWS region, overriding AWS_REGION and the shared
// config. Without any, us-east-1 is used (S3-compatible servers ignore it).
func WithRegion(region string) Option { return func(o *options) { o.region = region } }

// WithStaticCredentials signs requests with this key pair instead of the
// AWS SDK's default credential chain (environment, shared files, IAM role).
func WithStaticCredentials(accessKeyID, secretAccessKey string) Option {
	return func(o *options) { o.accessKey, o.secretKey = accessKeyID, secretAccessKey }
}

// WithHTTPClient sends S3 requests through c. It is set on the S3 client's
// own options rather than the shared AWS config, because the config refuses
// a custom client when AWS_CA_BUNDLE is set.
func WithHTTPClient(c HTTPClient) Option { return func(o *options) { o.httpClient = c } }

// WithMaxAttempts sets how many times the AWS SDK tries one request,
// overriding its default of 3. Callers that retry themselves (the lake sink
// retries until the store answers) may lower it.
func WithMaxAttempts(n int) Option { return func(o *options) { o.maxAttempts = n } }

// WithListPageSize sets how many keys one S3 list request asks for,
// overriding the S3 maximum of 1000. List always returns every key; this only
// changes how many requests it takes.
func WithListPageSize(n int) Option { return func(o *options) { o.pageSize = n } }

// WithoutSync skips fsync in the file backend. Writes stay atomic (a reader
// never sees a partial object) but may be lost on a power cut, so only tests
// and throwaway demo lakes should use it.
func WithoutSync() Option { return func(o *options) { o.noSync = true } }

// MustExist makes Open fail, instead of creating it, when a file store's
// directory does not exist: for commands that only read a store, so that a
// mistyped path is an error rather than an empty store (and a new empty
// directory). The error wraps fs.ErrNotExist. S3 stores are not checked:
// Open does not contact S3.
func MustExist() Option { return func(o *options) { o.mustExist = true } }

// Open opens the store named by rawURL: file:///abs/dir, file://relative/dir
// (relative to the working directory) or s3://bucket/prefix. A URL without
// a scheme is a local directory path, as if file:// came before it
// (.wattcast/lake, /srv/lake). A file store's directory is created if
// missing, unless MustExist is given. Open does not contact S3; the first
// request does.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Bucket, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.pageSize < 0 || o.pageSize > 1000 {
		return nil, fmt.Errorf("lake: list page size %d is outside 1..1000 (the S3 maximum)", o.pageSize)
	}
	u, err := url.Parse(rawURL)
	switch {
	case err == nil && u.Scheme == "", err != nil && !strings.Contains(rawURL, ":"):
		// A bare path, taken as written: "%" is no URL escape in it.
		u, err = &url.URL{}, nil
	case err != nil:
		return nil, fmt.Errorf("lake: parse lake URL %q: %w; want file:///dir or s3://bucket/prefix", rawURL, err)
	}
	switch u.Scheme {
	case "", "file":
		dir := u.Host + u.Path // file://relative/dir has Host "relative"
		if u.Scheme == "" {
			dir = rawURL
		}
		if dir == "" {
			return nil, fmt.Errorf("lake: lake URL %q has no directory; want file:///abs/dir or file://relative/dir", rawURL)
		}
		be, err := newFileBackend(filepath.FromSlash(dir), !o.noSync, !o.mustExist)
		if err != nil {
			return nil, err
		}
		return &Bucket{be: be, url: "file://" + filepath.ToSlash(be.root)}, nil
	case "s3":
		if u.Host == "" {
			return nil, fmt.Errorf("lake: lake URL %q has no bucket; want s3://bucket/prefix", rawURL)
		}
		prefix := strings.Trim(u.Path, "/")
		if prefix != "" {
			if err := validKey(prefix); err != nil {
				return nil, fmt.Errorf("lake: lake URL %q: prefix %w", rawURL, err)
			}
		}
		be, err := newS3Backend(ctx, u.Host, prefix, o)
		if err != nil {
			return nil, err
		}
		root := "s3://" + u.Host
		if prefix != "" {
			root += "/" + prefix
		}
		return &Bucket{be: be, url: root}, nil
	default:
		return nil, fmt.Errorf("lake: lake URL %q has scheme %q; want file://DIR, a directory path, or s3://BUCKET/PREFIX", rawURL, u.Scheme)
	}
}

// URL returns the URL of key, e.g. s3://bucket/prefix/prices/... or
// file:///abs/dir/prices/..., for summaries and lineage. URL("") is the
// store's root.
func (b *Bucket) URL(key string) string {
	if key == "" {
		return b.url
	}
	return b.url + "/" + key
}

// Put stores data under key, replacing any object there. Readers see the old
// object or the new one, never a partial write.
func (b *Bucket) Put(ctx context.Context, key string, data []byte) error {
	if err := validKey(key); err != nil {
		return fmt.Errorf("lake: put %s: %w", b.URL(key), err)
	}
	if err := b.be.put(ctx, key, data); err != nil {
		return fmt.Errorf("lake: put %s: %w", b.URL(key), err)
	}
	return nil
}

// PutIfAbsent stores data under key only if no object is there, atomically:
// of several concurrent callers exactly one gets created=true. On S3 it is a
// conditional write (If-None-Match: *), which AWS S3 supports since 2024; an
// S3-compatible server that ignores the header makes every call look like a
// creation.
func (b *Bucket) PutIfAbsent(ctx context.Context, key string, data []byte) (created bool, err error) {
	if err := validKey(key); err != nil {
		return false, fmt.Errorf("lake: put-if-absent %s: %w", b.URL(key), err)
	}
	created, err = b.be.putIfAbsent(ctx, key, data)
	if err != nil {
		return false, fmt.Errorf("lake: put-if-absent %s: %w", b.URL(key), err)
	}
	return created, nil
}

// Get returns the object under key. A missing key returns an error wrapping
// fs.ErrNotExist.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	if err := validKey(key); err != nil {
		return nil, fmt.Errorf("lake: get %s: %w", b.URL(key), err)
	}
	data, err := b.be.get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("lake: get %s: %w", b.URL(key), err)
	}
	return data, nil
}

// List returns every key that starts with prefix, sorted. prefix is a plain
// string prefix ("prices/region=FI/" or "prices/reg"); "" lists everything.
// Paging through S3's list results happens inside.
func (b *Bucket) List(ctx context.Context, prefix string) ([]string, error) {
	return b.ListAfter(ctx, prefix, "")
}

// ListAfter is List without the keys up to and including after ("" for
// none): on S3 the listing starts there (StartAfter), so a reader that only
// wants the newest keys of a long prefix does not page through all of it.
func (b *Bucket) ListAfter(ctx context.Context, prefix, after string) ([]string, error) {
	if strings.HasPrefix(prefix, "/") || strings.Contains(prefix, "..") {
		return nil, fmt.Errorf("lake: list %s: prefix %q must be relative and must not contain \"..\"", b.url, prefix)
	}
	keys, err := b.be.list(ctx, prefix, after)
	if err != nil {
		if after != "" {
			return nil, fmt.Errorf("lake: list %s after %s: %w", b.URL(prefix), after, err)
		}
		return nil, fmt.Errorf("lake: list %s: %w", b.URL(prefix), err)
	}
	return keys, nil
}

// Delete removes key. Deleting a missing key is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := validKey(key); err != nil {
		return fmt.Errorf("lake: delete %s: %w", b.URL(key), err)
	}
	if err := b.be.del(ctx, key); err != nil {
		return fmt.Errorf("lake: delete %s: %w", b.URL(key), err)
	}
	return nil
}

// errBadKey is wrapped by every key validation error.
var errBadKey = errors.New("invalid key")

// validKey accepts slash-separated relative keys without empty, "." or ".."
// segments, so that a key maps to exactly one file below a file store's
// root and to the same object name on S3.
func validKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", errBadKey)
	}
	if strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("%w %q: contains a backslash or NUL", errBadKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "", ".", "..":
			return fmt.Errorf("%w %q: want relative slash-separated segments without \"\", \".\" or \"..\"", errBadKey, key)
		}
		if strings.HasPrefix(seg, tmpPrefix) {
			return fmt.Errorf("%w %q: segments starting with %q are reserved for temporary files", errBadKey, key, tmpPrefix)
		}
	}
	return nil
}
