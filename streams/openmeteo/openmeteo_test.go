package openmeteo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serve answers every request with body and a fixed Date header, and
// records the queries.
type serve struct {
	mu      sync.Mutex
	queries []string
}

func (s *serve) handler(date string, body func(r *http.Request) []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.queries = append(s.queries, r.URL.RawQuery)
		s.mu.Unlock()
		w.Header().Set("Date", date)
		w.Write(body(r))
	}
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

var berlin = Location{Region: "DE", Name: "berlin", Latitude: 52.52, Longitude: 13.41}

func TestForecastIssueTime(t *testing.T) {
	t.Parallel()
	body := fixture(t, "npf_eu_wind_forecast.json")
	var raw struct {
		Hourly struct {
			Time []string  `json:"time"`
			W    []float64 `json:"wind_speed_120m"`
		} `json:"hourly"`
	}
	json.Unmarshal(body, &raw)
	// meta.json is constructed (no real one was recorded) with the fields
	// Open-Meteo's model-updates page reads.
	meta := `{"last_run_initialisation_time": 1766361600, "last_run_modification_time": 1766374800,
		"last_run_availability_time": 1766375100, "temporal_resolution_seconds": 3600, "update_interval_seconds": 10800}`
	tests := []struct {
		name      string
		metaModel string
		issued    string
		records   int
	}{
		// The recorded file has 336 values for 360 hours: the last 24 are
		// missing. best_match: the response's Date, 06:30; hours from 06:00.
		{"best_match uses the response time", "", "2025-12-22T06:30:00Z", 336 - 6},
		// A named model: the run's availability, 03:45 (read from meta.json).
		{"a model's run availability from meta.json", "ecmwf_ifs025", "2025-12-22T03:45:00Z", 336 - 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s serve
			srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/meta.json") {
					if !strings.Contains(r.URL.Path, "/ecmwf_ifs025/") {
						w.WriteHeader(404)
						return
					}
					fmt.Fprint(w, meta)
					return
				}
				s.handler("Mon, 22 Dec 2025 06:30:00 GMT", func(*http.Request) []byte { return body })(w, r)
			}))
			c := &Client{ForecastURL: srv.URL + "/v1/forecast", MetaURL: srv.URL + "/data/%s/static/meta.json",
				Variables: []string{"wind_speed_120m"}, MetaModel: tc.metaModel}
			fc, issued, err := c.Forecast(context.Background(), berlin, 16)
			if err != nil {
				t.Fatal(err)
			}
			if !issued.Equal(ts(t, tc.issued)) || len(fc) != tc.records {
				t.Fatalf("issued %s, %d records; want %s, %d", issued, len(fc), tc.issued, tc.records)
			}
			skip := 336 - tc.records
			for i, f := range fc {
				want := ts(t, raw.Hourly.Time[i+skip]+":00Z")
				if !f.Time.Equal(want) || f.Values["wind_speed_120m"] != raw.Hourly.W[i+skip] || !f.IssuedAt.Equal(issued) {
					t.Fatalf("record %d: %+v, want time %s value %g", i, f, want, raw.Hourly.W[i+skip])
				}
				if err := f.Validate(); err != nil {
					t.Fatal(err)
				}
			}
			if fc[0].LeadHours != -1 && fc[0].LeadHours != 0 {
				t.Errorf("first lead %d", fc[0].LeadHours)
			}
			q := s.queries[0]
			for _, want := range []string{"forecast_days=16", "hourly=wind_speed_120m", "timezone=GMT", "latitude=52.52"} {
				if !strings.Contains(q, want) {
					t.Errorf("query %q lacks %s", q, want)
				}
			}
		})
	}
}

func TestForecastManyVariables(t *testing.T) {
	t.Parallel()
	body := fixture(t, "tpryan_forecast_all_params.json")
	var s serve
	srv := newServer(t, s.handler("Sun, 27 Jul 2025 00:10:00 GMT", func(*http.Request) []byte { return body }))
	c := &Client{ForecastURL: srv.URL}
	fc, _, err := c.Forecast(context.Background(), berlin, 7)
	if err != nil {
		t.Fatal(err)
	}
	// The recorded response has no radiation and no 100 m wind: those
	// default variables are simply absent, the others present.
	if len(fc) != 168 {
		t.Fatalf("%d records", len(fc))
	}
	v := fc[0].Values
	if v["temperature_2m"] != 17.4 || len(v) != 3 {
		t.Errorf("values %v, want temperature_2m 17.4, wind_speed_10m and cloud_cover", v)
	}
}

func TestArchiveAvailability(t *testing.T) {
	t.Parallel()
	body := fixture(t, "npf_eu_wind_historical.json")
	var s serve
	// Fetched on 28 Dec 06:00: the last days' ERA5 would not exist yet in
	// reality, and available_at says when each value could be had.
	srv := newServer(t, s.handler("Sun, 28 Dec 2025 06:00:00 GMT", func(*http.Request) []byte { return body }))
	c := &Client{ArchiveURL: srv.URL, Variables: []string{"wind_speed_100m"}}
	obs, err := c.Archive(context.Background(), berlin, ts(t, "2025-12-20T00:00:00Z"), ts(t, "2025-12-27T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 168 || obs[0].Values["wind_speed_100m"] != 7.65 {
		t.Fatalf("%d observations, first %+v", len(obs), obs[0])
	}
	for _, o := range obs {
		end := o.Time.Add(time.Hour)
		want := end.Add(5 * 24 * time.Hour)
		if fetched := ts(t, "2025-12-28T06:00:00Z"); want.After(fetched) {
			want = fetched
		}
		if !o.AvailableAt.Equal(want) || o.AvailableAt.Before(end) {
			t.Fatalf("hour %s available %s, want %s", o.Time, o.AvailableAt, want)
		}
	}
	if !strings.Contains(s.queries[0], "start_date=2025-12-20") || !strings.Contains(s.queries[0], "end_date=2025-12-26") {
		t.Errorf("query %s", s.queries[0])
	}
}

// previousRunsBody builds a previous-runs response from the real forecast
// response (the recorded file has the same shape; only the variable names
// differ): day 1 holds the recorded values, day 2 the same values + 1.
func previousRunsBody(t *testing.T) []byte {
	var m map[string]any
	json.Unmarshal(fixture(t, "npf_eu_wind_forecast.json"), &m)
	h := m["hourly"].(map[string]any)
	vals := h["wind_speed_120m"].([]any)
	var d2 []any
	for _, v := range vals {
		d2 = append(d2, v.(float64)+1)
	}
	delete(h, "wind_speed_120m")
	h["wind_speed_120m_previous_day1"] = vals
	h["wind_speed_120m_previous_day2"] = d2
	b, _ := json.Marshal(m)
	return b
}

func TestPreviousRuns(t *testing.T) {
	t.Parallel()
	var s serve
	srv := newServer(t, s.handler("Mon, 05 Jan 2026 00:00:00 GMT", func(*http.Request) []byte { return previousRunsBody(t) }))
	c := &Client{PreviousRunsURL: srv.URL, Variables: []string{"wind_speed_120m"}}
	from, to := ts(t, "2025-12-23T00:00:00Z"), ts(t, "2025-12-24T00:00:00Z")
	fc, err := c.PreviousRuns(context.Background(), berlin, from, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 24 issue hours x 2 lead days.
	if len(fc) != 48 {
		t.Fatalf("%d records, want 48", len(fc))
	}
	byLead := map[int]int{}
	for _, f := range fc {
		if f.IssuedAt.Before(from) || !f.IssuedAt.Before(to) {
			t.Fatalf("issue %s outside the window", f.IssuedAt)
		}
		// previous_day1 for hour H was predicted about 24 h before H and
		// readable 6 h later: lead 18 h; previous_day2: lead 42 h.
		if f.LeadHours != 18 && f.LeadHours != 42 {
			t.Fatalf("lead %d", f.LeadHours)
		}
		byLead[f.LeadHours]++
		if _, ok := f.Values["wind_speed_120m"]; !ok || len(f.Values) != 1 {
			t.Fatalf("values %v: the suffix must be stripped", f.Values)
		}
	}
	if byLead[18] != 24 || byLead[42] != 24 {
		t.Errorf("by lead %v", byLead)
	}
	q := s.queries[0]
	if !strings.Contains(q, "wind_speed_120m_previous_day1%2Cwind_speed_120m_previous_day2") || !strings.Contains(q, "start_date=2025-12-23") || !strings.Contains(q, "end_date=2025-12-25") {
		t.Errorf("query %s", q)
	}
}

func TestMalformedAndRetried(t *testing.T) {
	t.Parallel()
	body := fixture(t, "npf_eu_wind_forecast.json")
	var n atomic.Int32
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", "Mon, 22 Dec 2025 06:30:00 GMT")
		switch n.Add(1) {
		case 1: // rate limited
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(429)
			fmt.Fprint(w, `{"error":true,"reason":"Minutely API request limit exceeded. Please try again in one minute."}`)
		case 2: // truncated
			w.Write(body[:len(body)/3])
		default:
			w.Write(body)
		}
	}))
	var waits []time.Duration
	c := &Client{ForecastURL: srv.URL, Variables: []string{"wind_speed_120m"},
		HTTP: &source.HTTPClient{Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}}
	p := &Producer{Client: c, Locations: []Location{berlin}}
	task := p.ForecastTasks()[0]
	b, err := task.Fetch(context.Background(), ts(t, "2025-12-21T00:00:00Z"), ts(t, "2025-12-22T07:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if len(waits) != 1 || waits[0] < 2*time.Second {
		t.Errorf("waits %v, want one of at least the 2s Retry-After", waits)
	}
	if len(b.Dead) != 1 || b.Dead[0].Reason != schemas.ReasonMalformed || b.Incomplete == nil || len(b.Forecasts) != 0 || !b.Through.IsZero() {
		t.Fatalf("malformed response: %+v", b)
	}
	b, err = task.Fetch(context.Background(), ts(t, "2025-12-21T00:00:00Z"), ts(t, "2025-12-22T07:00:00Z"))
	if err != nil || len(b.Forecasts) != 330 || !b.Through.Equal(ts(t, "2025-12-22T06:30:01Z")) {
		t.Fatalf("retry: %d forecasts through %s, err %v", len(b.Forecasts), b.Through, err)
	}
}

func TestParseLocations(t *testing.T) {
	t.Parallel()
	ls, err := ParseLocations([]string{"FI:helsinki:60.17:24.94", "GB-A:cambridge:52.2:0.12"})
	if err != nil || len(ls) != 2 || ls[1].Region != "GB-A" || ls[0].Longitude != 24.94 {
		t.Fatalf("%+v %v", ls, err)
	}
	for _, bad := range [][]string{{"FI:helsinki:60.17"}, {"FI:helsinki:north:24"}, {"FI:h:1:2", "FI:h:3:4"}, {"FI:h:95:0"}} {
		if _, err := ParseLocations(bad); err == nil {
			t.Errorf("ParseLocations(%v) succeeded", bad)
		}
	}
}

// modelRuns serves the recorded forecast as a model whose runs come one
// after another: run r holds the recorded values + r and became available
// at 03:45 + 3r hours. A new run lands right after each forecast response
// numbered in landAfter is served: between the forecast request and the
// meta.json read that follows it.
type modelRuns struct {
	t         *testing.T
	landAfter map[int]bool
	mu        sync.Mutex
	run       int
	served    int
}

func (m *modelRuns) avail(run int) time.Time {
	return ts(m.t, "2025-12-22T03:45:00Z").Add(time.Duration(run) * 3 * time.Hour)
}

func (m *modelRuns) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/meta.json") {
		fmt.Fprintf(w, `{"last_run_availability_time": %d}`, m.avail(m.run).Unix())
		return
	}
	var body map[string]any
	if err := json.Unmarshal(fixture(m.t, "npf_eu_wind_forecast.json"), &body); err != nil {
		m.t.Error(err)
	}
	vals := body["hourly"].(map[string]any)["wind_speed_120m"].([]any)
	for i, v := range vals {
		if f, ok := v.(float64); ok {
			vals[i] = f + float64(m.run)
		}
	}
	json.NewEncoder(w).Encode(body)
	m.served++
	if m.landAfter[m.served] {
		m.run++
	}
}

func (m *modelRuns) requests() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.served
}

func (m *modelRuns) client(srv *httptest.Server) *Client {
	return &Client{ForecastURL: srv.URL + "/v1/forecast", MetaURL: srv.URL + "/data/%s/static/meta.json",
		Variables: []string{"wind_speed_120m"}, Model: "ecmwf_ifs025", MetaModel: "ecmwf_ifs025"}
}

// A forecast's values are published with the issue time of the run they
// came from: when a run lands between the forecast request and meta.json,
// the forecast is fetched again; when runs keep landing, nothing is
// returned. Before, the old run's values went out with the new run's time.
func TestForecastRunLandingDuringRequest(t *testing.T) {
	t.Parallel()
	var raw struct {
		Hourly struct {
			Time []string  `json:"time"`
			W    []float64 `json:"wind_speed_120m"`
		} `json:"hourly"`
	}
	json.Unmarshal(fixture(t, "npf_eu_wind_forecast.json"), &raw)
	tests := []struct {
		name      string
		landAfter map[int]bool
		run       int // the run whose values and time are returned; -1: an error
		requests  int // forecast requests made
	}{
		{"no run lands", nil, 0, 1},
		{"a run lands before meta.json is read", map[int]bool{1: true}, 1, 2},
		{"runs keep landing", map[int]bool{1: true, 2: true, 3: true}, -1, runAttempts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := &modelRuns{t: t, landAfter: tc.landAfter}
			c := m.client(newServer(t, m))
			fc, issued, err := c.Forecast(context.Background(), berlin, 16)
			if n := m.requests(); n != tc.requests {
				t.Errorf("%d forecast requests, want %d", n, tc.requests)
			}
			if tc.run < 0 {
				if !errors.Is(err, ErrRunChanged) || len(fc) != 0 {
					t.Fatalf("%d records, err %v; want none and ErrRunChanged", len(fc), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := m.avail(tc.run)
			skip := want.Hour() // hours before the issue hour are left out
			if !issued.Equal(want) || len(fc) != 336-skip {
				t.Fatalf("issued %s, %d records; want %s, %d", issued, len(fc), want, 336-skip)
			}
			for i, f := range fc {
				if v := raw.Hourly.W[i+skip] + float64(tc.run); f.Values["wind_speed_120m"] != v || !f.IssuedAt.Equal(want) {
					t.Fatalf("record %d: %v issued %s, want %g (run %d) issued %s", i, f.Values, f.IssuedAt, v, tc.run, want)
				}
			}
		})
	}
}

// The default variables cannot be changed through a returned slice: each
// call gets its own.
func TestDefaultVariablesAreFresh(t *testing.T) {
	t.Parallel()
	want := []string{"temperature_2m", "wind_speed_10m", "wind_speed_100m", "cloud_cover", "shortwave_radiation"}
	tests := []struct {
		name string
		get  func() []string
	}{
		{"DefaultVariables", DefaultVariables},
		{"a client's default", (&Client{}).vars},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.get()
			if !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			got[0] = "changed"
			_ = append(got[:1], "appended")
			if again := tt.get(); !slices.Equal(again, want) {
				t.Errorf("after changing a returned slice: got %q, want %q", again, want)
			}
		})
	}
}
