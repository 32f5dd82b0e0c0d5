package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// fakeS3 serves an in-process S3 API (gofakes3) with one bucket. The
// client under test is the real aws-sdk-go-v2 S3 client, path-style, as
// against versitygw or MinIO.
func fakeS3(t *testing.T, bucket string) *httptest.Server {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(srv.Close)
	return srv
}

func s3Opts(endpoint string, extra ...Option) []Option {
	return append([]Option{WithEndpoint(endpoint), WithPathStyle(), WithRegion("us-east-1"),
		WithStaticCredentials("test-key", "test-secret"), WithMaxAttempts(1)}, extra...)
}

type backendCase struct {
	name string
	open func(t *testing.T, opts ...Option) *Bucket
}

func backends() []backendCase {
	return []backendCase{
		{"file", func(t *testing.T, opts ...Option) *Bucket {
			b, err := Open(context.Background(), "file://"+t.TempDir(), append(opts, WithoutSync())...)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
		{"s3", func(t *testing.T, opts ...Option) *Bucket {
			srv := fakeS3(t, "lake")
			b, err := Open(context.Background(), "s3://lake/some/prefix", s3Opts(srv.URL, opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
	}
}

func TestBucketPutGetListDelete(t *testing.T) {
	t.Parallel()
	for _, bc := range backends() {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := bc.open(t, WithListPageSize(3))
			keys := []string{
				"prices/region=FI/date=2024-01-02/a.parquet",
				"prices/region=FI/date=2024-01-01/b.parquet",
				"prices/region=GB-A/date=2024-01-01/c.parquet",
				"pricesX/other",
				"features/region=FI/date=2024-01-01/d.parquet",
				"top",
				"prices/region=FI/date=2024-01-01/a.parquet",
			}
			for i, k := range keys {
				if err := b.Put(ctx, k, []byte(fmt.Sprint("v", i))); err != nil {
					t.Fatal(err)
				}
			}
			// Overwrite: the latest write wins.
			if err := b.Put(ctx, "top", []byte("new")); err != nil {
				t.Fatal(err)
			}
			if got, err := b.Get(ctx, "top"); err != nil || string(got) != "new" {
				t.Fatalf("Get(top) = %q, %v; want the overwritten value", got, err)
			}
			// Expected listings are spelled out, not derived, so that a
			// wrong prefix rule in both the code and the test cannot agree.
			fi1a, fi1b, fi2a := keys[6], keys[1], keys[0]
			for _, c := range []struct {
				prefix string
				want   []string
			}{
				{"", []string{keys[4], fi1a, fi1b, fi2a, keys[2], keys[3], "top"}},
				{"prices/", []string{fi1a, fi1b, fi2a, keys[2]}},
				{"prices", []string{fi1a, fi1b, fi2a, keys[2], keys[3]}},
				{"prices/region=FI/", []string{fi1a, fi1b, fi2a}},
				{"prices/region=FI/date=2024-01-01/", []string{fi1a, fi1b}},
				{"prices/region=F", []string{fi1a, fi1b, fi2a}},
				{"nothing/", nil},
			} {
				got, err := b.List(ctx, c.prefix)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("List(%q) = %q, want %q", c.prefix, got, c.want)
				}
			}
			for _, c := range []struct {
				prefix, after string
				want          []string
			}{
				{"prices/", "", []string{fi1a, fi1b, fi2a, keys[2]}},
				{"prices/", fi1b, []string{fi2a, keys[2]}},
				{"prices/", "prices/region=FI/date=2024-01-01/a", []string{fi1a, fi1b, fi2a, keys[2]}},
				{"prices/", keys[2], nil},
				{"prices/region=FI/", "prices/region=G", nil},
				{"", keys[3], []string{"top"}},
				{"prices/region=FI/", "a", []string{fi1a, fi1b, fi2a}},
			} {
				got, err := b.ListAfter(ctx, c.prefix, c.after)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("ListAfter(%q, %q) = %q, want %q", c.prefix, c.after, got, c.want)
				}
			}
			if _, err := b.Get(ctx, "prices/missing"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Get of a missing key: %v, want an error wrapping fs.ErrNotExist", err)
			}
			if err := b.Delete(ctx, "top"); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Get(ctx, "top"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Get after Delete: %v, want fs.ErrNotExist", err)
			}
			if err := b.Delete(ctx, "top"); err != nil {
				t.Errorf("deleting a missing key: %v, want nil", err)
			}
			for _, bad := range []string{"", "/abs", "a//b", "a/../b", "./a", "a/", "a\\b", "a/.wattcast-tmp-1"} {
				if err := b.Put(ctx, bad, nil); err == nil {
					t.Errorf("Put(%q) accepted a bad key", bad)
				}
			}
			if !strings.HasSuffix(b.URL("x/y"), "/x/y") {
				t.Errorf("URL(x/y) = %s", b.URL("x/y"))
			}
		})
	}
}

// Of many writers racing to create one key, exactly one wins, and the
// object holds the winner's bytes: the lake sink's batch journals rely on
// this to let the first writer decide a batch's bounds.
func TestBucketPutIfAbsentHasOneWinner(t *testing.T) {
	t.Parallel()
	for _, bc := range backends() {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := bc.open(t)
			const writers = 12
			var wins atomic.Int32
			winner := make(chan string, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					data := fmt.Sprint("writer-", i)
					created, err := b.PutIfAbsent(ctx, "_journal/x.json", []byte(data))
					if err != nil {
						t.Error(err)
						return
					}
					if created {
						wins.Add(1)
						winner <- data
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d writers created the key, want exactly 1", wins.Load())
			}
			got, err := b.Get(ctx, "_journal/x.json")
			if err != nil {
				t.Fatal(err)
			}
			if w := <-winner; string(got) != w {
				t.Fatalf("object holds %q, the winner wrote %q", got, w)
			}
			created, err := b.PutIfAbsent(ctx, "_journal/x.json", []byte("late"))
			if err != nil || created {
				t.Fatalf("PutIfAbsent on an existing key = %v, %v; want false, nil", created, err)
			}
		})
	}
}

// List pages through S3's 1000-key pages itself.
func TestS3ListPaginatesPast1000Keys(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes 1001 objects")
	}
	srv := fakeS3(t, "lake")
	ctx := context.Background()
	b, err := Open(ctx, "s3://lake", s3Opts(srv.URL)...)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1001
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("t/k%04d", i))
	}
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, k := range want {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := b.Put(ctx, k, []byte("x")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := b.List(ctx, "t/")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %d keys (first %v), want %d", len(got), got[:min(3, len(got))], n)
	}
}

// A file store never shows a partial object: writes go to a temporary file
// that List skips and that Athena and Spark ignore (leading dot), then are
// renamed into place.
func TestFileStoreHidesTemporaryFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	b, err := Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "t/a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// A crash mid-write leaves a temporary file behind.
	if err := os.WriteFile(filepath.Join(dir, "t", tmpPrefix+"123"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := b.List(ctx, "")
	if err != nil || !slices.Equal(got, []string{"t/a"}) {
		t.Fatalf("List = %v, %v; want only t/a", got, err)
	}
	st, err := os.Stat(filepath.Join(dir, "t", "a"))
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("stored file mode %v, %v; want 0644 so other local tools can read it", st.Mode(), err)
	}
}

func TestOpenURLs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	abs := t.TempDir()
	rel, err := filepath.Rel(wd, abs)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		url, wantURL, wantErr string
	}{
		{url: "file://" + abs, wantURL: "file://" + abs},
		{url: "file://" + rel, wantURL: "file://" + abs},
		{url: "s3://bucket/a/b/", wantURL: "s3://bucket/a/b"},
		{url: "s3://bucket", wantURL: "s3://bucket"},
		{url: "s3:///nobucket", wantErr: "no bucket"},
		{url: "gs://bucket", wantErr: "scheme"},
		{url: "file://", wantErr: "no directory"},
		{url: "s3://bucket/a/../b", wantErr: "prefix"},
	} {
		b, err := Open(ctx, c.url, WithRegion("us-east-1"))
		switch {
		case c.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Open(%q) error %v, want one mentioning %q", c.url, err, c.wantErr)
			}
		case err != nil:
			t.Errorf("Open(%q): %v", c.url, err)
		case b.URL("") != c.wantURL:
			t.Errorf("Open(%q).URL(\"\") = %q, want %q", c.url, b.URL(""), c.wantURL)
		}
	}
}

// IsRetryable separates what the sink should wait out (throttling, 5xx,
// refused connections, a full disk) from what needs an operator.
func TestIsRetryable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s3err := func(status int, code string) error {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>test</Message></Error>`, code)
		}))
		defer srv.Close()
		b, err := Open(ctx, "s3://lake", s3Opts(srv.URL)...)
		if err != nil {
			t.Fatal(err)
		}
		return b.Put(ctx, "k", []byte("x"))
	}
	refused := func() error {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now
		b, err := Open(ctx, "s3://lake", s3Opts("http://"+addr)...)
		if err != nil {
			t.Fatal(err)
		}
		return b.Put(ctx, "k", []byte("x"))
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	fileB, err := Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"S3 503 SlowDown", s3err(503, "SlowDown"), true},
		{"S3 500 InternalError", s3err(500, "InternalError"), true},
		{"S3 429", s3err(429, "TooManyRequests"), true},
		{"S3 409 ConditionalRequestConflict", s3err(409, "ConditionalRequestConflict"), true},
		{"S3 403 AccessDenied", s3err(403, "AccessDenied"), false},
		{"S3 404 NoSuchBucket", s3err(404, "NoSuchBucket"), false},
		{"connection refused", refused(), true},
		{"our context canceled", fileB.Put(canceled, "k", nil), false},
		{"disk full", &fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, true},
		{"permission denied", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, false},
		{"missing object", fmt.Errorf("lake: get: %w", fs.ErrNotExist), false},
		{"bad key", fileB.Put(ctx, "../x", nil), false},
		{"nil", nil, false},
	} {
		if c.err == nil && c.name != "nil" {
			t.Errorf("%s: the operation did not fail", c.name)
			continue
		}
		if got := IsRetryable(c.err); got != c.want {
			t.Errorf("%s: IsRetryable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// A store that fails for a while surfaces retryable errors and then works:
// what the sink's retry loop depends on. The proxy stands in for an S3
// server that is restarting (503s) in front of a working one.
func TestFailingS3SurfacesRetryableErrorsThenRecovers(t *testing.T) {
	t.Parallel()
	real := fakeS3(t, "lake")
	target, _ := url.Parse(real.URL)
	var failing atomic.Bool
	failing.Store(true)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<Error><Code>ServiceUnavailable</Code><Message>restarting</Message></Error>`)
			return
		}
		r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
		r.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	ctx := context.Background()
	b, err := Open(ctx, "s3://lake", s3Opts(proxy.URL)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []func() error{
		func() error { return b.Put(ctx, "k", []byte("x")) },
		func() error { _, err := b.PutIfAbsent(ctx, "k", []byte("x")); return err },
		func() error { _, err := b.Get(ctx, "k"); return err },
		func() error { _, err := b.List(ctx, ""); return err },
	} {
		if err := op(); err == nil || !IsRetryable(err) {
			t.Fatalf("while failing: %v, want a retryable error", err)
		}
	}
	failing.Store(false)
	if err := b.Put(ctx, "k", []byte("x")); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if got, err := b.Get(ctx, "k"); err != nil || string(got) != "x" {
		t.Fatalf("after recovery Get = %q, %v", got, err)
	}
}
