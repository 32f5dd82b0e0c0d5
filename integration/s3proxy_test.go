package integration

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// s3Proxy is an HTTP reverse proxy in front of the S3 server that the test
// controls: the stage under test talks to it (--s3-endpoint), the test's
// own readers talk to the server directly. It can refuse writes, as S3 does
// when it throttles (503 SlowDown), and it lets a test act at the moment a
// given write arrives (to crash the writer between two of its writes).
//
// Why a proxy rather than stopping versitygw: S3 outages seen by clients
// are mostly throttling and 5xx answers while reads may still work, which
// only a proxy can play; stopping the server would also take the test's own
// readers away, and the durability watch must keep reading the lake during
// the outage.
type s3Proxy struct {
	URL string

	refusing atomic.Bool
	refused  atomic.Int64
	writes   atomic.Int64 // PUT/POST/DELETE requests forwarded
	inflight atomic.Int64 // writes forwarded and not yet answered

	mu   sync.Mutex
	hook func(r *http.Request) bool // true: answer 503, do not forward
}

func startS3Proxy(t *testing.T, target string) *s3Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &s3Proxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// Requests are signed (SigV4) for the Host the client used: pass
			// it on unchanged so that the server computes the same signature.
			r.Out.Host = r.In.Host
		},
		// A killed client's requests end with a canceled context: expected
		// here, not worth a log line.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		write := r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete
		if write {
			p.mu.Lock()
			hook := p.hook
			p.mu.Unlock()
			if p.refusing.Load() || (hook != nil && hook(r)) {
				p.refused.Add(1)
				slowDown(w)
				return
			}
			p.writes.Add(1)
			p.inflight.Add(1)
			defer p.inflight.Add(-1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// slowDown answers as S3 does when it throttles a bucket.
func slowDown(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>wattcast-itest</RequestId></Error>`))
}

// refuseWrites turns the outage on or off.
func (p *s3Proxy) refuseWrites(on bool) { p.refusing.Store(on) }

// onWrite sets (or clears, with nil) the write hook.
func (p *s3Proxy) onWrite(hook func(r *http.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hook = hook
}

// isParquet and isJournal classify a write by its key.
func isParquet(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, ".parquet") }
func isJournal(r *http.Request) bool { return strings.Contains(r.URL.Path, "/_lakesink/batches/") }
