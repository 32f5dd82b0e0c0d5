package octopus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/source"
)

func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type realPage struct {
	Count    int               `json:"count"`
	Next     *string           `json:"next"`
	Previous *string           `json:"previous"`
	Results  []json.RawMessage `json:"results"`
}

func loadPage(t *testing.T, name string) realPage {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var p realPage
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeAPI serves the products endpoint from the constructed products list
// and standard-unit-rates from a per-test handler. It records requests.
type fakeAPI struct {
	t     *testing.T
	rates http.HandlerFunc
	mu    sync.Mutex
	reqs  []string
	srv   *httptest.Server
}

func newFakeAPI(t *testing.T, rates http.HandlerFunc) *fakeAPI {
	f := &fakeAPI{t: t, rates: rates}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r.URL.RequestURI())
	f.mu.Unlock()
	if r.URL.Path == "/v1/products/" {
		f.products(w, r)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/standard-unit-rates/") {
		f.rates(w, r)
		return
	}
	w.WriteHeader(404)
	fmt.Fprint(w, `{"detail":"Not found."}`)
}

// products filters the constructed list by available_at, three per page,
// with absolute `next` links to the real host (the client must rebase them).
func (f *fakeAPI) products(w http.ResponseWriter, r *http.Request) {
	var all realPage
	b, _ := os.ReadFile("testdata/products_constructed.json")
	json.Unmarshal(b, &all)
	at := time.Now()
	if s := r.URL.Query().Get("available_at"); s != "" {
		at, _ = time.Parse(time.RFC3339, s)
	}
	var open []json.RawMessage
	for _, raw := range all.Results {
		var p Product
		json.Unmarshal(raw, &p)
		if !p.AvailableFrom.After(at) && (p.AvailableTo == nil || p.AvailableTo.After(at)) {
			open = append(open, raw)
		}
	}
	pg, _ := strconv.Atoi(r.URL.Query().Get("page"))
	pg = max(pg, 1)
	lo, hi := (pg-1)*3, min(pg*3, len(open))
	out := realPage{Count: len(open), Results: open[min(lo, len(open)):hi]}
	if hi < len(open) {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(pg+1))
		n := "https://api.octopus.energy/v1/products/?" + q.Encode()
		out.Next = &n
	}
	json.NewEncoder(w).Encode(out)
}

func client(f *fakeAPI) *Client {
	return &Client{BaseURL: f.srv.URL, HTTP: &source.HTTPClient{Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}}
}

func TestAgileVersionsDiscovered(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t, nil)
	segs, err := client(f).AgileVersions(context.Background(), ts(t, "2022-01-01T00:00:00Z"), ts(t, "2025-01-01T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ code, from, to string }{
		{"AGILE-18-02-21", "2022-01-01T00:00:00Z", "2022-11-25T00:00:00Z"},
		{"AGILE-FLEX-22-11-25", "2022-11-25T00:00:00Z", "2023-12-11T12:00:00Z"},
		// 23-12-06 closes at 23:00Z, 24-04-03 opens an hour later: the old
		// version bridges the hour.
		{"AGILE-23-12-06", "2023-12-11T12:00:00Z", "2024-04-03T00:00:00Z"},
		{"AGILE-24-04-03", "2024-04-03T00:00:00Z", "2024-09-30T23:00:00Z"},
		{"AGILE-24-10-01", "2024-09-30T23:00:00Z", "2025-01-01T00:00:00Z"},
	}
	if len(segs) != len(want) {
		t.Fatalf("segments %+v", segs)
	}
	for i, w := range want {
		s := segs[i]
		if s.Product.Code != w.code || !s.From.Equal(ts(t, w.from)) || !s.To.Equal(ts(t, w.to)) {
			t.Errorf("segment %d = %s [%s, %s), want %s [%s, %s)", i, s.Product.Code, s.From.UTC(), s.To.UTC(), w.code, w.from, w.to)
		}
	}
	// The export and non-Agile products were listed and ignored, and the
	// product pages were walked through `next` on our own server.
	var paged bool
	for _, r := range f.requests() {
		if strings.Contains(r, "page=2") {
			paged = true
		}
	}
	if !paged {
		t.Error("no second products page was requested")
	}
	if _, err := client(f).AgileAt(context.Background(), ts(t, "2017-01-01T00:00:00Z")); err == nil {
		t.Error("an Agile product was found before Agile existed")
	}
}

// A range starting in the hour between AGILE-23-12-06's close (23:00Z) and
// AGILE-24-04-03's opening gets the closed version for the gap, as a range
// starting earlier does, so that backfill chunks agree.
func TestAgileVersionsGap(t *testing.T) {
	t.Parallel()
	type seg struct{ code, from, to string }
	for _, tc := range []struct {
		name     string
		from, to string
		want     []seg // nil: a *NoProductError
	}{
		{"before the gap", "2024-04-02T12:00:00Z", "2024-04-04T00:00:00Z", []seg{
			{"AGILE-23-12-06", "2024-04-02T12:00:00Z", "2024-04-03T00:00:00Z"},
			{"AGILE-24-04-03", "2024-04-03T00:00:00Z", "2024-04-04T00:00:00Z"}}},
		{"at the close", "2024-04-02T23:00:00Z", "2024-04-04T00:00:00Z", []seg{
			{"AGILE-23-12-06", "2024-04-02T23:00:00Z", "2024-04-03T00:00:00Z"},
			{"AGILE-24-04-03", "2024-04-03T00:00:00Z", "2024-04-04T00:00:00Z"}}},
		{"inside the gap", "2024-04-02T23:30:00Z", "2024-04-04T00:00:00Z", []seg{
			{"AGILE-23-12-06", "2024-04-02T23:30:00Z", "2024-04-03T00:00:00Z"},
			{"AGILE-24-04-03", "2024-04-03T00:00:00Z", "2024-04-04T00:00:00Z"}}},
		{"within the gap", "2024-04-02T23:30:00Z", "2024-04-02T23:45:00Z", []seg{
			{"AGILE-23-12-06", "2024-04-02T23:30:00Z", "2024-04-02T23:45:00Z"}}},
		{"before Agile", "2017-01-01T00:00:00Z", "2017-01-02T00:00:00Z", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t, nil)
			segs, err := client(f).AgileVersions(context.Background(), ts(t, tc.from), ts(t, tc.to))
			if tc.want == nil {
				var none *NoProductError
				if !errors.As(err, &none) {
					t.Fatalf("segments %+v, err %v; want a *NoProductError", segs, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(segs) != len(tc.want) {
				t.Fatalf("segments %+v, want %v", segs, tc.want)
			}
			for i, w := range tc.want {
				s := segs[i]
				if s.Product.Code != w.code || !s.From.Equal(ts(t, w.from)) || !s.To.Equal(ts(t, w.to)) {
					t.Errorf("segment %d = %s [%s, %s), want %s [%s, %s)", i, s.Product.Code, s.From.UTC(), s.To.UTC(), w.code, w.from, w.to)
				}
			}
		})
	}
}

// splitPages serves the real page 1 as two pages (built by splitting it:
// the first 50 results with a `next` link to the real host, then the other
// 50), newest first as recorded.
func splitPages(t *testing.T, mutate func(page int, body []byte) []byte) http.HandlerFunc {
	real := loadPage(t, "agile_M_AGILE-24-10-01_page1_ihd.json")
	return func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-M/") {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"detail":"Not found."}`)
			return
		}
		p := realPage{Count: len(real.Results)}
		page := 1
		if r.URL.Query().Get("page") == "2" {
			page = 2
			p.Results = real.Results[50:]
		} else {
			p.Results = real.Results[:50]
			n := "https://api.octopus.energy" + r.URL.Path + "?" + r.URL.RawQuery + "&page=2"
			p.Next = &n
		}
		b, _ := json.MarshalIndent(p, "", "  ")
		if mutate != nil {
			b = mutate(page, b)
		}
		w.Write(b)
	}
}

func liveProducer(f *fakeAPI, now time.Time) *Producer {
	return &Producer{Client: client(f), Live: true, Now: func() time.Time { return now }}
}

func TestFetchRealPageWithPagination(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t, splitPages(t, nil))
	p := liveProducer(f, ts(t, "2026-04-01T12:00:00Z"))
	from, to := ts(t, "2026-03-20T21:00:00Z"), ts(t, "2026-03-22T23:00:00Z")
	b, err := p.Fetch(context.Background(), "M", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Prices) != 100 || len(b.Dead) != 0 || !b.Through.Equal(to) || b.Incomplete != nil {
		t.Fatalf("prices %d dead %d through %s incomplete %v", len(b.Prices), len(b.Dead), b.Through, b.Incomplete)
	}
	for i, pr := range b.Prices {
		if pr.Region != "GB-M" || pr.Tariff != "AGILE-24-10-01" || pr.End.Sub(pr.Start) != 30*time.Minute {
			t.Fatalf("price %+v", pr)
		}
		if i > 0 && !pr.Start.Equal(b.Prices[i-1].End) {
			t.Fatalf("hole before %s", pr.Start)
		}
		if math.Abs(*pr.ValueExVAT*1.05-pr.Value) > 0.001 {
			t.Errorf("%s: inc %g exc %g", pr.Start, pr.Value, *pr.ValueExVAT)
		}
	}
	first := b.Prices[0]
	// 21:00Z on 20 March is in the Agile day of 20 March (it ends 23:00),
	// published 19 March 16:00 GMT.
	if !first.Start.Equal(from) || first.Value != 29.4 || *first.ValueExVAT != 28.0 || !first.PublishedAt.Equal(ts(t, "2026-03-19T16:00:00Z")) {
		t.Errorf("first price %+v published %s", first, first.PublishedAt)
	}
	var page2 bool
	for _, r := range f.requests() {
		if strings.Contains(r, "standard-unit-rates") && strings.Contains(r, "page=2") && strings.Contains(r, "period_from=2026-03-20T21") {
			page2 = true
		}
	}
	if !page2 {
		t.Errorf("page 2 not requested on the test server: %v", f.requests())
	}
}

func TestFetchErrorsAndRateLimits(t *testing.T) {
	t.Parallel()
	real := splitPages(t, nil)
	tests := []struct {
		name      string
		failures  []func(http.ResponseWriter) // served before the real pages
		wantErr   int                         // HTTP status of the error, 0 for success
		wantWaits time.Duration               // at least this much waited in total
	}{
		{"429 with Retry-After then success", []func(http.ResponseWriter){func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(429)
			fmt.Fprint(w, `{"detail":"Request was throttled. Expected available in 3 seconds."}`)
		}}, 0, 3 * time.Second},
		{"an HTML error page then success", []func(http.ResponseWriter){func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		}}, 0, 0},
		{"a 404 is not retried", []func(http.ResponseWriter){func(w http.ResponseWriter) {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"detail":"Not found."}`)
		}}, 404, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			n := 0
			f := newFakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				i := n
				n++
				mu.Unlock()
				if i < len(tc.failures) {
					tc.failures[i](w)
					return
				}
				real(w, r)
			})
			var waited time.Duration
			c := client(f)
			c.HTTP.Sleep = func(ctx context.Context, d time.Duration) error { waited += d; return nil }
			p := &Producer{Client: c, Live: true, Now: func() time.Time { return ts(t, "2026-04-01T12:00:00Z") }}
			b, err := p.Fetch(context.Background(), "M", ts(t, "2026-03-20T21:00:00Z"), ts(t, "2026-03-22T23:00:00Z"))
			if tc.wantErr != 0 {
				var se *source.StatusError
				if !errors.As(err, &se) || se.Status != tc.wantErr || n != 1 {
					t.Fatalf("err %v after %d requests, want HTTP %d after 1", err, n, tc.wantErr)
				}
				return
			}
			if err != nil || len(b.Prices) != 100 {
				t.Fatalf("prices %d err %v", len(b.Prices), err)
			}
			if waited < tc.wantWaits {
				t.Errorf("waited %s, want at least %s", waited, tc.wantWaits)
			}
		})
	}
}

func TestFetchMalformedEntry(t *testing.T) {
	t.Parallel()
	// One entry of the real page gets a string where a number belongs.
	f := newFakeAPI(t, splitPages(t, func(page int, b []byte) []byte {
		if page == 1 {
			return []byte(strings.Replace(string(b), `"value_inc_vat": 24.864`, `"value_inc_vat": "24,864"`, 1))
		}
		return b
	}))
	p := liveProducer(f, ts(t, "2026-04-01T12:00:00Z"))
	b, err := p.Fetch(context.Background(), "M", ts(t, "2026-03-20T21:00:00Z"), ts(t, "2026-03-22T23:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Prices) != 99 || len(b.Dead) != 1 || b.Dead[0].Reason != schemas.ReasonMalformed || !strings.Contains(string(b.Dead[0].Value), `"24,864"`) {
		t.Fatalf("prices %d dead %+v", len(b.Prices), b.Dead)
	}
	if b.Incomplete != nil || b.Through.IsZero() {
		t.Errorf("one bad entry should not hold the window back: incomplete %v through %s", b.Incomplete, b.Through)
	}
}

func TestFixedTariffIsNotPublishedAsPrices(t *testing.T) {
	t.Parallel()
	// A real fixed-tariff response: months-long periods and an open-ended
	// current rate. None of it is a half-hourly price.
	pg := loadPage(t, "fixed_tariff_standard_unit_rates_markallanson.json")
	var rates []Rate
	for _, raw := range pg.Results {
		var r Rate
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		rates = append(rates, r)
	}
	prices, bad := Prices("VAR-17-01-11", "A", rates, time.Time{})
	if len(prices) != 0 || len(bad) != 5 {
		t.Fatalf("prices %d bad %d, want 0 and 5", len(prices), len(bad))
	}
	for _, d := range bad {
		if d.Reason != schemas.ReasonInvalid {
			t.Errorf("reason %s: %v", d.Reason, d.Err)
		}
	}
}

// generatedRates serves, for any period_from..period_to, half-hourly rates
// with the real entry shape, newest first, page_size per page. Used for the
// clock-change days, which the recorded page does not contain.
func generatedRates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, _ := time.Parse(time.RFC3339, q.Get("period_from"))
	to, _ := time.Parse(time.RFC3339, q.Get("period_to"))
	size, _ := strconv.Atoi(q.Get("page_size"))
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	var all []map[string]any
	for s := to.Add(-30 * time.Minute); !s.Before(from); s = s.Add(-30 * time.Minute) {
		exc := float64(s.Unix()%3000) / 100
		all = append(all, map[string]any{"value_exc_vat": exc, "value_inc_vat": math.Round(exc*1.05*1000) / 1000,
			"valid_from": s.Format(time.RFC3339), "valid_to": s.Add(30 * time.Minute).Format(time.RFC3339), "payment_method": nil})
	}
	lo, hi := min((page-1)*size, len(all)), min(page*size, len(all))
	out := map[string]any{"count": len(all), "next": nil, "previous": nil, "results": all[lo:hi]}
	if hi < len(all) {
		q.Set("page", strconv.Itoa(page+1))
		out["next"] = "https://api.octopus.energy" + r.URL.Path + "?" + q.Encode()
	}
	json.NewEncoder(w).Encode(out)
}

func TestClockChangeDays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		day        string // a time inside the Agile day
		start, end string
		periods    int
		published  string
	}{
		// 30 March 2025: clocks go forward; 23:00 GMT on 29 Mar to 23:00
		// BST on 30 Mar is 23 hours.
		{"spring forward: 46 periods", "2025-03-30T12:00:00Z", "2025-03-29T23:00:00Z", "2025-03-30T22:00:00Z", 46, "2025-03-29T16:00:00Z"},
		// 26 October 2025: clocks go back; 23:00 BST on 25 Oct to 23:00
		// GMT on 26 Oct is 25 hours.
		{"fall back: 50 periods", "2025-10-26T12:00:00Z", "2025-10-25T22:00:00Z", "2025-10-26T23:00:00Z", 50, "2025-10-25T15:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, e := AgileDay(ts(t, tc.day))
			if !s.Equal(ts(t, tc.start)) || !e.Equal(ts(t, tc.end)) {
				t.Fatalf("AgileDay = [%s, %s), want [%s, %s)", s, e, tc.start, tc.end)
			}
			f := newFakeAPI(t, generatedRates)
			c := client(f)
			c.PageSize = 20 // several pages per day
			p := &Producer{Client: c, Live: true, Now: func() time.Time { return ts(t, "2026-01-01T00:00:00Z") }}
			b, err := p.Fetch(context.Background(), "C", s, e)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Prices) != tc.periods || !b.Through.Equal(e) {
				t.Fatalf("%d prices through %s, want %d through %s", len(b.Prices), b.Through, tc.periods, e)
			}
			for _, pr := range b.Prices {
				if !pr.PublishedAt.Equal(ts(t, tc.published)) {
					t.Fatalf("price %s published %s, want %s (16:00 UK time the day before)", pr.Start, pr.PublishedAt, tc.published)
				}
			}
			// The poll schedule knows the day is complete at its real end,
			// not after 48 periods.
			now := s.Add(-7 * time.Hour) // 16:00 UK time the day before
			if got := p.NextPoll(now, e.Add(-30*time.Minute)); got != 10*time.Minute {
				t.Errorf("one period short: next poll in %s, want the 10m retry", got)
			}
			if got := p.NextPoll(now, e); got < time.Hour {
				t.Errorf("complete day: next poll in %s, want hours", got)
			}
		})
	}
}

func TestLiveSchedule(t *testing.T) {
	t.Parallel()
	p := &Producer{}
	// 10:00 GMT on 15 Jan 2025: today's Agile day ends 23:00 on 15 Jan;
	// tomorrow's (16 Jan) is due at 16:00 today.
	now := ts(t, "2025-01-15T10:00:00Z")
	from, to := p.LiveWindow(now, time.Time{})
	if !from.Equal(ts(t, "2025-01-13T10:00:00Z")) || !to.Equal(ts(t, "2025-01-16T23:00:00Z")) {
		t.Errorf("window [%s, %s)", from, to)
	}
	// After a 5-day outage the window starts where publishing stopped.
	if from, _ := p.LiveWindow(now, ts(t, "2025-01-10T00:00:00Z")); !from.Equal(ts(t, "2025-01-10T00:00:00Z")) {
		t.Errorf("catch-up window starts %s", from)
	}
	tests := []struct {
		now, covered string
		want         time.Duration
	}{
		{"2025-01-15T10:00:00Z", "2025-01-15T23:00:00Z", 6*time.Hour + time.Minute},    // wait for 16:00
		{"2025-01-15T16:30:00Z", "2025-01-15T23:00:00Z", 10 * time.Minute},             // due, not out: retry
		{"2025-01-15T16:40:00Z", "2025-01-16T23:00:00Z", 6 * time.Hour},                // out: capped wait
		{"2025-01-15T14:00:00Z", "2025-01-16T23:00:00Z", 6 * time.Hour},                // (already in)
		{"2025-07-15T14:30:00Z", "2025-07-15T22:00:00Z", 30*time.Minute + time.Minute}, // BST: 16:00 is 15:00Z
	}
	for _, tc := range tests {
		if got := p.NextPoll(ts(t, tc.now), ts(t, tc.covered)); got != tc.want {
			t.Errorf("NextPoll(%s, covered to %s) = %s, want %s", tc.now, tc.covered, got, tc.want)
		}
	}
}

func TestPublishedAt(t *testing.T) {
	t.Parallel()
	start := ts(t, "2025-01-16T12:00:00Z") // published 15 Jan 16:00Z
	tests := []struct{ fetched, want string }{
		{"", "2025-01-15T16:00:00Z"},                     // backfill: the schedule
		{"2025-01-15T16:05:00Z", "2025-01-15T16:05:00Z"}, // seen 5 minutes late: when seen
		{"2025-01-15T15:00:00Z", "2025-01-15T16:00:00Z"}, // seen early: the schedule
		{"2025-01-20T00:00:00Z", "2025-01-15T16:00:00Z"}, // long after: the schedule
	}
	for _, tc := range tests {
		var f time.Time
		if tc.fetched != "" {
			f = ts(t, tc.fetched)
		}
		if got := PublishedAt(start, f); !got.Equal(ts(t, tc.want)) {
			t.Errorf("PublishedAt(fetched %s) = %s, want %s", tc.fetched, got, tc.want)
		}
	}
}

var _ = url.Values{}
