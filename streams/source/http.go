package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// HTTPClient GETs JSON APIs politely: a rate limit, a timeout per attempt,
// retries of transient failures (network errors, 429, 5xx) with exponential
// backoff and full jitter, and the server's Retry-After on 429 and 503. The
// zero value is usable; set fields before first use and not after. It is
// safe for concurrent use.
type HTTPClient struct {
	// Client does the requests; nil uses a client with Timeout per attempt.
	Client *http.Client
	// Timeout bounds one attempt, overriding the default 30s.
	Timeout time.Duration
	// Limiter spaces requests (e.g. rate.NewLimiter(rate.Every(time.Second), 1));
	// nil for no limit.
	Limiter *rate.Limiter
	// MaxAttempts is the number of tries per request, overriding the
	// default 5.
	MaxAttempts int
	// BaseDelay and MaxDelay bound the backoff, overriding 1s and 1m.
	BaseDelay, MaxDelay time.Duration
	// MaxRetryAfter caps a server's Retry-After, overriding 10m: a longer
	// wait is returned as an error for the caller's own schedule to handle.
	MaxRetryAfter time.Duration
	// UserAgent is sent with every request.
	UserAgent string
	// Logger receives a line per retry; nil for none.
	Logger *slog.Logger
	// Sleep waits d or until ctx is done; nil uses a timer. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Response is a successful (2xx) response, read whole.
type Response struct {
	URL    string
	Status int
	Header http.Header
	Body   []byte
	// Date is the server's Date header, or the local time it arrived.
	Date time.Time
	// Attempts is how many tries it took.
	Attempts int
}

// StatusError is a non-2xx response that was not retried, or the last one.
type StatusError struct {
	URL    string
	Status int
	// Body holds the start of the response body, for the message.
	Body string
	// RetryAfter is the server's Retry-After, if it sent one.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("source: GET %s: HTTP %d", e.URL, e.Status)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		msg += " (rate limited: lower the request rate)"
	case e.Status >= 500:
		msg += " (the API is failing; it will be retried on the next poll)"
	case e.Status == http.StatusNotFound || e.Status == http.StatusBadRequest:
		msg += " (check the product, region, location or date range in the request)"
	}
	return msg
}

// IsRetryable reports whether err is worth retrying later: a network error,
// a timeout, a 429 or a 5xx. Context cancellation is not.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status == http.StatusTooManyRequests || se.Status >= 500
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// *url.Error is itself a net.Error, so look inside: the network's
		// failures (refused, reset, DNS, a connection closed mid-response,
		// a timeout) pass; the request's own (an unsupported scheme, an
		// untrusted certificate) fail the same way every time.
		var ne net.Error
		return ue.Timeout() || errors.As(ue.Err, &ne) || errors.Is(ue.Err, io.EOF) || errors.Is(ue.Err, io.ErrUnexpectedEOF) ||
			errors.Is(ue.Err, context.DeadlineExceeded)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF)
}

func (h *HTTPClient) attempts() int {
	if h.MaxAttempts > 0 {
		return h.MaxAttempts
	}
	return 5
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func (h *HTTPClient) sleep(ctx context.Context, d time.Duration) error {
	if h.Sleep != nil {
		return h.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

// Sleep waits d or until ctx is done, returning ctx's error then.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Backoff returns the delay before retry number attempt (1 for the first
// retry): full jitter over base*2^(attempt-1), capped at max. A base or max
// that is not positive means no delay: it returns 0.
func Backoff(attempt int, base, max time.Duration) time.Duration {
	if base <= 0 || max <= 0 {
		return 0
	}
	d := base
	for i := 1; i < attempt && d < max; i++ {
		if d > max/2 {
			d = max // doubling would pass max (or overflow)
			break
		}
		d *= 2
	}
	if d > max {
		d = max
	}
	// Full jitter (AWS architecture blog, "Exponential Backoff and
	// Jitter"): spreads the retries of many clients after one outage.
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// Get fetches url, retrying transient failures. It returns a *StatusError
// for a non-2xx answer.
func (h *HTTPClient) Get(ctx context.Context, rawURL string) (*Response, error) {
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: orDur(h.Timeout, 30*time.Second)}
	}
	base, maxD := orDur(h.BaseDelay, time.Second), orDur(h.MaxDelay, time.Minute)
	var last error
	for attempt := 1; attempt <= h.attempts(); attempt++ {
		if h.Limiter != nil {
			if err := h.Limiter.Wait(ctx); err != nil {
				return nil, fmt.Errorf("source: GET %s: %w", rawURL, err)
			}
		}
		resp, err := h.once(ctx, client, rawURL)
		if err == nil {
			resp.Attempts = attempt
			return resp, nil
		}
		last = err
		if ctx.Err() != nil {
			return nil, fmt.Errorf("source: GET %s: %w", rawURL, ctx.Err())
		}
		if !IsRetryable(err) || attempt == h.attempts() {
			break
		}
		wait := Backoff(attempt, base, maxD)
		var se *StatusError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			if se.RetryAfter > orDur(h.MaxRetryAfter, 10*time.Minute) {
				break // longer than we wait in-line: let the caller's schedule retry
			}
			// Honour the server's wait, plus a little jitter so that many
			// clients told the same second do not all come back in it.
			wait = se.RetryAfter + time.Duration(rand.Int64N(int64(base)/4+1))
		}
		if h.Logger != nil {
			h.Logger.Warn("source: retrying", "url", rawURL, "attempt", attempt, "wait", wait, "err", err)
		}
		if err := h.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("source: GET %s: %w", rawURL, err)
		}
	}
	return nil, last
}

func (h *HTTPClient) once(ctx context.Context, client *http.Client, rawURL string) (*Response, error) {
	actx, cancel := context.WithTimeout(ctx, orDur(h.Timeout, 30*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("source: GET %s: %w", rawURL, err)
	}
	req.Header.Set("Accept", "application/json")
	if h.UserAgent != "" {
		req.Header.Set("User-Agent", h.UserAgent)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("source: GET %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	// 64 MiB is far above any page we ask for; it stops a broken server
	// from exhausting memory.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("source: GET %s: read body: %w", rawURL, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet := strings.TrimSpace(string(body))
		if len(snippet) > 200 {
			snippet = snippet[:200] + "..."
		}
		return nil, &StatusError{URL: rawURL, Status: resp.StatusCode, Body: snippet,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	date := time.Now().UTC()
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		date = d.UTC()
	}
	return &Response{URL: rawURL, Status: resp.StatusCode, Header: resp.Header, Body: body, Date: date}, nil
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date (RFC 9110
// section 10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
