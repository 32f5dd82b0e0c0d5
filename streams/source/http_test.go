package source

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sleeps records the waits instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func TestHTTPClientRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		statuses []int // answer per attempt; 200 ends
		header   http.Header
		wantErr  int // 0 for success, else the final status
		attempts int
		minWait  time.Duration // the first wait is at least this
	}{
		{"429 with Retry-After is honoured", []int{429, 200}, http.Header{"Retry-After": {"7"}}, 0, 2, 7 * time.Second},
		{"503 then success", []int{503, 503, 200}, nil, 0, 3, 0},
		{"404 is not retried", []int{404, 200}, nil, 404, 1, 0},
		{"persistent 500 gives up after MaxAttempts", []int{500, 500, 500, 500}, nil, 500, 3, 0},
		{"a Retry-After beyond the cap is left to the caller", []int{429, 200}, http.Header{"Retry-After": {"3600"}}, 429, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				st := tc.statuses[min(i, len(tc.statuses)-1)]
				for k, v := range tc.header {
					w.Header()[k] = v
				}
				w.WriteHeader(st)
				w.Write([]byte(`{"detail":"x"}`))
			}))
			t.Cleanup(srv.Close)
			var sl sleeps
			h := &HTTPClient{MaxAttempts: 3, Sleep: sl.sleep, MaxRetryAfter: time.Minute}
			resp, err := h.Get(context.Background(), srv.URL)
			if tc.wantErr == 0 {
				if err != nil || resp.Attempts != tc.attempts || string(resp.Body) != `{"detail":"x"}` {
					t.Fatalf("resp %+v err %v, want success after %d attempts", resp, err, tc.attempts)
				}
			} else {
				var se *StatusError
				if !errors.As(err, &se) || se.Status != tc.wantErr {
					t.Fatalf("err %v, want HTTP %d", err, tc.wantErr)
				}
			}
			if got := int(n.Load()); got != tc.attempts {
				t.Errorf("%d requests, want %d", got, tc.attempts)
			}
			if tc.minWait > 0 && (len(sl.d) == 0 || sl.d[0] < tc.minWait) {
				t.Errorf("waits %v, want the first >= %s", sl.d, tc.minWait)
			}
		})
	}
}

func TestHTTPClientTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select { // hang past the client's timeout
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	var sl sleeps
	h := &HTTPClient{Timeout: 300 * time.Millisecond, Sleep: sl.sleep}
	resp, err := h.Get(context.Background(), srv.URL)
	if err != nil || resp.Attempts != 2 {
		t.Fatalf("resp %+v err %v, want success on the second attempt", resp, err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"120":                           2 * time.Minute,
		"Mon, 01 Jan 2024 12:00:30 GMT": 30 * time.Second,
		"soon":                          0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	for attempt := 1; attempt < 12; attempt++ {
		for range 50 {
			d := Backoff(attempt, time.Second, 20*time.Second)
			ceil := min(time.Second<<(attempt-1), 20*time.Second)
			if d <= 0 || d > ceil {
				t.Fatalf("Backoff(%d) = %s, want in (0, %s]", attempt, d, ceil)
			}
		}
	}
}

// Backoff never panics: a base or cap that is not positive means no delay,
// and doubling stops at the cap instead of overflowing.
func TestBackoffEdgeCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		attempt   int
		base, max time.Duration
		lo, hi    time.Duration // the delay is in [lo, hi]
	}{
		{name: "zero base", attempt: 1, base: 0, max: time.Minute},
		{name: "negative base", attempt: 3, base: -time.Second, max: time.Minute},
		{name: "zero cap", attempt: 1, base: time.Second, max: 0},
		{name: "negative cap", attempt: 2, base: time.Second, max: -time.Second},
		{name: "both zero", attempt: 5},
		{name: "cap below base", attempt: 1, base: time.Minute, max: time.Second, lo: 1, hi: time.Second},
		{name: "attempt zero", attempt: 0, base: time.Second, max: time.Minute, lo: 1, hi: time.Second},
		{name: "many attempts, no cap to speak of", attempt: 100, base: time.Second, max: math.MaxInt64, lo: 1, hi: math.MaxInt64},
		{name: "many attempts", attempt: 1000, base: time.Millisecond, max: time.Hour, lo: 1, hi: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for range 20 {
				if d := Backoff(tt.attempt, tt.base, tt.max); d < tt.lo || d > tt.hi {
					t.Fatalf("Backoff(%d, %s, %s) = %s, want in [%s, %s]", tt.attempt, tt.base, tt.max, d, tt.lo, tt.hi)
				}
			}
		})
	}
}

// IsRetryable on the errors a real client returns: the network's failures
// are retried, the request's own are not (retrying them only delays the
// error a user must fix).
func TestIsRetryable(t *testing.T) {
	t.Parallel()
	get := func(cl *http.Client, u string) error {
		resp, err := cl.Get(u)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	refused := closed.URL
	closed.Close()
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close() // no response at all
		}
	}))
	t.Cleanup(hangup.Close)
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	canceled, _ := http.NewRequestWithContext(ctx, http.MethodGet, tlsSrv.URL, nil)
	_, canceledErr := tlsSrv.Client().Do(canceled)

	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", get(http.DefaultClient, refused), true},
		{"connection closed without a response", get(http.DefaultClient, hangup.URL), true},
		{"unsupported scheme", get(http.DefaultClient, "gopher2://example.com/x"), false},
		{"untrusted certificate", get(http.DefaultClient, tlsSrv.URL), false},
		{"canceled", canceledErr, false},
		{"429", &StatusError{Status: http.StatusTooManyRequests}, true},
		{"503", &StatusError{Status: http.StatusServiceUnavailable}, true},
		{"404", &StatusError{Status: http.StatusNotFound}, false},
		{"wrapped deadline", fmt.Errorf("fetch: %w", context.DeadlineExceeded), true},
		{"nil", nil, false},
	} {
		if c.name != "nil" && c.err == nil {
			t.Fatalf("%s: the request succeeded; the test needs its error", c.name)
		}
		if got := IsRetryable(c.err); got != c.want {
			t.Errorf("%s: IsRetryable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
