// Package api is wattcast's HTTP interface for people and services that
// read forecasts: the latest official forecast per region (in a shape a
// Home Assistant REST sensor reads), accuracy by horizon band, the models
// and their stages, a page with a chart of forecast against actual and a
// model leaderboard, and the OpenAPI document describing all of it
// (/openapi.json, embedded from openapi.json in this directory; a test
// checks every handler's responses against it).
//
// The handlers read the monitor's stores and the catalog; they never touch
// Kafka or the registry themselves, so a request costs microseconds (a few
// milliseconds when new scored hours make the window values be computed
// again) and a slow dependency cannot stall a Home Assistant poll.
package api

import (
	"cmp"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/serving/monitor"
	"github.com/wattcast/wattcast/training/decision"
)

//go:embed openapi.json
var openAPI []byte

//go:embed index.html
var indexHTML []byte

// OpenAPI returns the OpenAPI document the server serves at /openapi.json.
func OpenAPI() []byte { return openAPI }

// Forecasts is what the API needs of the latest forecasts.
type Forecasts interface {
	Latest(region string) (*schemas.Forecast, bool)
	// RecentOfficial is the region's latest official forecasts, oldest
	// issue first; of two covering an hour, the later counts.
	RecentOfficial(region string) []*schemas.Forecast
	Regions() []string
}

// Accuracy is what the API needs of the scored hours.
type Accuracy interface {
	Rows(q monitor.Query) []monitor.Row
	WindowValues(window time.Duration, n int) []monitor.WindowValue
	Series(region string, window time.Duration) []monitor.SeriesPoint
	Bands() monitor.Bands
	// Unit is the price unit of a region's scored hours.
	Unit(region string) string
	// Keep is how far back scored hours are kept: the longest window.
	Keep() time.Duration
}

// Models lists the registry's model versions (a catalog does).
type Models interface {
	Versions() []catalog.Version
}

// Config configures the handler.
type Config struct {
	Forecasts Forecasts
	Accuracy  Accuracy
	Models    Models
	// Metrics, when set, is served at /metrics (promhttp's handler).
	Metrics http.Handler
	// Ready, when set, answers /readyz: nil when ready to serve.
	Ready  func() error
	Logger *slog.Logger
	// Now is the wall clock (for the current hour of a forecast);
	// default time.Now.
	Now func() time.Time
}

// Route is one documented route.
type Route struct{ Method, Path string }

// Routes lists the routes of the JSON API and the documents, as the
// OpenAPI document names them ({region} for a path parameter).
func Routes() []Route {
	return []Route{
		{"GET", "/api/v1/forecasts"},
		{"GET", "/api/v1/forecasts/{region}"},
		{"GET", "/api/v1/forecasts/{region}/windows"},
		{"GET", "/api/v1/accuracy"},
		{"GET", "/api/v1/accuracy/windows"},
		{"GET", "/api/v1/models"},
		{"GET", "/api/v1/series/{region}"},
		{"GET", "/openapi.json"},
		{"GET", "/healthz"},
		{"GET", "/readyz"},
	}
}

// New returns the HTTP handler: the routes of Routes, the page at / and,
// when configured, /metrics.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &server{cfg: cfg, mux: http.NewServeMux()}
	mux := s.mux
	mux.HandleFunc("GET /api/v1/forecasts", s.forecasts)
	mux.HandleFunc("GET /api/v1/forecasts/{region}", s.forecast)
	mux.HandleFunc("GET /api/v1/forecasts/{region}/windows", s.windows)
	mux.HandleFunc("GET /api/v1/accuracy", s.accuracy)
	mux.HandleFunc("GET /api/v1/accuracy/windows", s.windowValues)
	mux.HandleFunc("GET /api/v1/models", s.models)
	mux.HandleFunc("GET /api/v1/series/{region}", s.series)
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { s.writeJSON(w, http.StatusOK, status{"ok"}) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if cfg.Ready != nil {
			if err := cfg.Ready(); err != nil {
				s.writeJSON(w, http.StatusServiceUnavailable, apiError{err.Error()})
				return
			}
		}
		s.writeJSON(w, http.StatusOK, status{"ready"})
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(indexHTML)
	})
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	return s
}

type server struct {
	cfg Config
	mux *http.ServeMux
}

// ServeHTTP serves the routes, and answers a request no route takes the way
// every other error is answered, as JSON: 404 for an unknown path, 405
// (with the mux's Allow header) for a method the path does not take.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// No route: the mux's handler is its plain-text 404 or 405; run it
	// aside for its status and Allow header.
	c := &captured{header: http.Header{}}
	h.ServeHTTP(c, r)
	if c.code == http.StatusMethodNotAllowed {
		if allow := c.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		s.writeJSON(w, http.StatusMethodNotAllowed, apiError{fmt.Sprintf("method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, c.header.Get("Allow"))})
		return
	}
	s.writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("no route %s; /openapi.json lists the routes", r.URL.Path)})
}

// captured is a ResponseWriter that keeps the status and headers and drops
// the body.
type captured struct {
	header http.Header
	code   int
}

func (c *captured) Header() http.Header { return c.header }

func (c *captured) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return len(b), nil
}

func (c *captured) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

type status struct {
	Status string `json:"status"`
}

type apiError struct {
	Error string `json:"error"`
}

// writeJSON answers v as JSON with status code. It encodes v before
// writing anything, so that a value that does not encode (a NaN where num
// is not used) is a logged 500 with a JSON error, not a 200 cut short.
func (s *server) writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		s.cfg.Logger.Error("api: response does not encode", "status", code, "type", fmt.Sprintf("%T", v), "err", err)
		code = http.StatusInternalServerError
		b, _ = json.MarshalIndent(apiError{"internal error: the response could not be encoded as JSON"}, "", "  ")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// num is a float64 that encodes NaN as null: an undefined metric is
// absent, not zero.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

// Point is one hour of a forecast.
type Point struct {
	Hour      time.Time `json:"hour"`
	LeadHours int       `json:"lead_hours"`
	Value     float64   `json:"value"`
	Lower     *float64  `json:"lower"`
	Upper     *float64  `json:"upper"`
}

// RegionForecast is the latest official forecast of a region, with the
// summary a home owner (or a Home Assistant template) wants.
type RegionForecast struct {
	Region       string    `json:"region"`
	Market       string    `json:"market"`
	Unit         string    `json:"unit"`
	ModelID      string    `json:"model_id"`
	ModelVersion string    `json:"model_version"`
	ModelKind    string    `json:"model_kind"`
	Role         string    `json:"role"`
	IssueTime    time.Time `json:"issue_time"`
	LocalDate    string    `json:"local_date"`
	// Current is the official forecast for the hour now: from this
	// forecast when now falls in its hours, else from the one before it
	// (today's, once tomorrow's is issued); null when none covers now.
	Current     *float64   `json:"current"`
	CurrentHour *time.Time `json:"current_hour"`
	// Stale is true when every hour of this forecast has ended: the
	// scorer has stopped forecasting (or not forecast since a restart),
	// and mean, min and max are of a past day.
	Stale        bool      `json:"stale"`
	Mean         float64   `json:"mean"`
	Min          float64   `json:"min"`
	Max          float64   `json:"max"`
	CheapestHour time.Time `json:"cheapest_hour"`
	PriciestHour time.Time `json:"priciest_hour"`
	Points       []Point   `json:"points"`
}

// summarise summarises f, the latest official forecast, with the current
// hour taken from the official forecasts of recent and f as mergeOfficial
// joins them, so that a Home Assistant sensor keeps showing the price of
// the hour now after tomorrow's forecast is issued.
func summarise(f *schemas.Forecast, recent []*schemas.Forecast, now time.Time) RegionForecast {
	r := RegionForecast{Region: f.Region, Market: f.Market, Unit: f.Unit, ModelID: f.ModelID, ModelVersion: f.ModelVersion,
		ModelKind: f.ModelKind, Role: f.Role, IssueTime: f.IssueTime, LocalDate: f.LocalDate,
		Min: math.Inf(1), Max: math.Inf(-1), Points: pointsOf(f)}
	var sum float64
	for _, p := range r.Points {
		sum += p.Value
		if p.Value < r.Min {
			r.Min, r.CheapestHour = p.Value, p.Hour
		}
		if p.Value > r.Max {
			r.Max, r.PriciestHour = p.Value, p.Hour
		}
	}
	if n := len(r.Points); n > 0 {
		r.Mean = sum / float64(n)
	}
	r.Stale = true
	for _, p := range r.Points {
		if p.Hour.Add(time.Hour).After(now) {
			r.Stale = false
		}
	}
	merged, _ := mergeOfficial(slices.Concat(recent, []*schemas.Forecast{f}))
	for _, p := range merged {
		if !now.Before(p.Hour) && now.Before(p.Hour.Add(time.Hour)) {
			r.Current, r.CurrentHour = &p.Value, &p.Hour
		}
	}
	return r
}

// pointsOf is f's points as the API shows them, with their interval.
func pointsOf(f *schemas.Forecast) []Point {
	out := make([]Point, 0, len(f.Points))
	for _, p := range f.Points {
		pt := Point{Hour: p.Hour, LeadHours: p.LeadHours, Value: p.Value}
		if len(p.Quantiles) == 2 {
			lo, hi := p.Quantiles[0].Value, p.Quantiles[1].Value
			pt.Lower, pt.Upper = &lo, &hi
		}
		out = append(out, pt)
	}
	return out
}

// ForecastList is the latest official forecast of every region.
type ForecastList struct {
	Forecasts []RegionForecast `json:"forecasts"`
}

func (s *server) forecasts(w http.ResponseWriter, _ *http.Request) {
	out := ForecastList{Forecasts: []RegionForecast{}}
	now := s.cfg.Now()
	for _, region := range s.cfg.Forecasts.Regions() {
		if f, ok := s.cfg.Forecasts.Latest(region); ok {
			out.Forecasts = append(out.Forecasts, summarise(f, s.cfg.Forecasts.RecentOfficial(region), now))
		}
	}
	s.writeJSON(w, http.StatusOK, out)
}

func (s *server) forecast(w http.ResponseWriter, r *http.Request) {
	region := r.PathValue("region")
	f, ok := s.cfg.Forecasts.Latest(region)
	if !ok {
		s.writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("no official forecast for region %q yet; GET /api/v1/forecasts lists the regions that have one", region)})
		return
	}
	s.writeJSON(w, http.StatusOK, summarise(f, s.cfg.Forecasts.RecentOfficial(region), s.cfg.Now()))
}

// Window is a run of consecutive forecast hours.
type Window struct {
	Start time.Time `json:"start"` // the first hour's start
	End   time.Time `json:"end"`   // the last hour's end
	Mean  float64   `json:"mean"`  // the mean forecast price over the hours
}

// ForecastRef names a forecast that hours of a reply come from.
type ForecastRef struct {
	ModelID      string    `json:"model_id"`
	ModelVersion string    `json:"model_version"`
	IssueTime    time.Time `json:"issue_time"`
	LocalDate    string    `json:"local_date"`
}

// RegionWindows answers a home battery's (or an electric car's, or a heat
// pump's) question: which run of so many consecutive hours is cheapest to
// charge in, and which dearest to discharge in. The hours are those of the
// region's recent official forecasts that have not ended, the later
// forecast's where two overlap: once tomorrow's forecast is issued, today's
// remaining hours and tomorrow's, so that a window can run through the
// night across midnight.
type RegionWindows struct {
	Region   string `json:"region"`
	Unit     string `json:"unit"`
	Hours    int    `json:"hours"`          // the window length asked for
	Upcoming int    `json:"upcoming_hours"` // forecast hours not yet ended (and ending by Before)
	// Before, when asked for, is when the load must be done: an electric
	// car charged by the morning. Only hours that end by then count.
	Before *time.Time `json:"before"`
	// Cheapest and Priciest are null when fewer than Hours consecutive
	// hours are upcoming; of equal windows, the earliest.
	Cheapest *Window `json:"cheapest"`
	Priciest *Window `json:"priciest"`
	// Spread is Priciest.Mean - Cheapest.Mean: what moving Hours hours of
	// use (or storage) from the one to the other saves per unit.
	Spread *float64 `json:"spread"`
	// Forecasts are the forecasts the upcoming hours come from, oldest
	// issue first.
	Forecasts []ForecastRef `json:"forecasts"`
}

// windowsOf finds the cheapest and dearest runs of n consecutive hours
// among the hours of fs (oldest issue first; a later forecast's hour
// replaces an earlier one's) that have not ended at now. Forecast hours are
// UTC hours, so a clock-change day's 23 or 25 hours are consecutive too; a
// gap in the hours breaks a run.
func windowsOf(fs []*schemas.Forecast, now time.Time, n int, before time.Time) RegionWindows {
	out := RegionWindows{Hours: n, Forecasts: []ForecastRef{}}
	if !before.IsZero() {
		out.Before = &before
	}
	if len(fs) > 0 {
		out.Region, out.Unit = fs[len(fs)-1].Region, fs[len(fs)-1].Unit
	}
	pts, from := mergeOfficial(fs)
	var hours []time.Time
	var values []float64
	used := make([]bool, len(fs))
	for i, p := range pts {
		if end := p.Hour.Add(time.Hour); end.After(now) && (before.IsZero() || !end.After(before)) {
			hours, values = append(hours, p.Hour), append(values, p.Value)
			used[from[i]] = true
		}
	}
	out.Upcoming = len(hours)
	for i, f := range fs {
		if used[i] {
			out.Forecasts = append(out.Forecasts, ForecastRef{f.ModelID, f.ModelVersion, f.IssueTime, f.LocalDate})
		}
	}
	window := func(i int) *Window {
		return &Window{Start: hours[i], End: hours[i+n-1].Add(time.Hour), Mean: decision.Mean(values[i : i+n])}
	}
	if lo, hi := decision.Runs(hours, values, n); lo >= 0 {
		out.Cheapest, out.Priciest = window(lo), window(hi)
		d := out.Priciest.Mean - out.Cheapest.Mean
		out.Spread = &d
	}
	return out
}

// mergeOfficial joins the hours of the recent official forecasts fs
// (oldest issue first) into one series sorted by hour, the later
// forecast's point where two cover an hour, and says which forecast (its
// index in fs) each point comes from.
func mergeOfficial(fs []*schemas.Forecast) ([]Point, []int) {
	type at struct {
		p    Point
		from int
	}
	byHour := map[time.Time]at{}
	for i, f := range fs {
		for _, p := range pointsOf(f) {
			byHour[p.Hour.UTC()] = at{p, i}
		}
	}
	hours := slices.SortedFunc(maps.Keys(byHour), time.Time.Compare)
	pts, from := make([]Point, len(hours)), make([]int, len(hours))
	for i, h := range hours {
		pts[i], from[i] = byHour[h].p, byHour[h].from
	}
	return pts, from
}

func (s *server) windows(w http.ResponseWriter, r *http.Request) {
	n, err := intParam(r, "hours", 3, 1, 24)
	if err != nil {
		s.writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	var before time.Time
	if v := r.URL.Query().Get("before"); v != "" {
		// A "+" of an offset left unescaped in a URL arrives as a space.
		if before, err = time.Parse(time.RFC3339, strings.ReplaceAll(v, " ", "+")); err != nil {
			s.writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf("query parameter before=%q: want an RFC 3339 time such as 2024-05-15T07:00:00+03:00", v)})
			return
		}
	}
	region := r.PathValue("region")
	fs := s.cfg.Forecasts.RecentOfficial(region)
	if len(fs) == 0 {
		s.writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("no official forecast for region %q yet; GET /api/v1/forecasts lists the regions that have one", region)})
		return
	}
	s.writeJSON(w, http.StatusOK, windowsOf(fs, s.cfg.Now(), n, before))
}

// WindowValueRow is what following one model's forecasts was worth to a
// load of Hours hours a day in one region (monitor.WindowValue).
type WindowValueRow struct {
	Region       string  `json:"region"`
	Unit         string  `json:"unit"`
	ModelID      string  `json:"model_id"`
	ModelVersion string  `json:"model_version"`
	Role         string  `json:"role"`
	Days         int     `json:"days"`
	DayMean      float64 `json:"day_mean"`
	Best         float64 `json:"best"`
	Model        float64 `json:"model"`
	Capture      num     `json:"capture"`
	NaiveDays    int     `json:"naive_days"`
	Naive        num     `json:"naive"`
	NaiveCapture num     `json:"naive_capture"`
}

// WindowValueReport is the window values over the last WindowDays.
type WindowValueReport struct {
	WindowDays int              `json:"window_days"`
	Hours      int              `json:"hours"`
	Rows       []WindowValueRow `json:"rows"`
}

func (s *server) windowValues(w http.ResponseWriter, r *http.Request) {
	days, err := s.daysParam(r, 30)
	if err != nil {
		s.writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	n, err := intParam(r, "hours", 3, 1, 24)
	if err != nil {
		s.writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	out := WindowValueReport{WindowDays: days, Hours: n, Rows: []WindowValueRow{}}
	for _, v := range s.cfg.Accuracy.WindowValues(time.Duration(days)*24*time.Hour, n) {
		row := WindowValueRow{Region: v.Region, Unit: v.Unit, ModelID: v.ModelID, ModelVersion: v.ModelVersion, Role: v.Role, Days: v.Days,
			DayMean: v.DayMean, Best: v.Best, Model: v.Model, Capture: num(v.Capture()), NaiveDays: v.Naive.Days,
			Naive: num(math.NaN()), NaiveCapture: num(math.NaN())}
		if v.Naive.Days > 0 {
			row.Naive, row.NaiveCapture = num(v.Naive.Model), num(v.Naive.Capture())
		}
		out.Rows = append(out.Rows, row)
	}
	s.writeJSON(w, http.StatusOK, out)
}

// AccuracyRow is one model's accuracy in one region and horizon band.
type AccuracyRow struct {
	Region        string    `json:"region"`
	Unit          string    `json:"unit"`
	ModelID       string    `json:"model_id"`
	ModelVersion  string    `json:"model_version"`
	ModelKind     string    `json:"model_kind"`
	Role          string    `json:"role"`
	Band          string    `json:"band"`
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	Hours         int       `json:"hours"`
	MAE           num       `json:"mae"`
	RMAE          num       `json:"rmae"`
	Coverage      num       `json:"coverage"`
	IntervalHours int       `json:"interval_hours"`
	IntervalLevel num       `json:"interval_level"`
}

// AccuracyReport is the accuracy over a window.
type AccuracyReport struct {
	WindowDays int           `json:"window_days"`
	Bands      []string      `json:"bands"`
	Rows       []AccuracyRow `json:"rows"`
}

// intParam reads an integer query parameter in [lo, hi], or def.
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("query parameter %s=%q: want a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

// daysParam reads the days query parameter: a window from 1 day to the days
// the monitor keeps (35 by default), def when not given (capped the same
// way). A longer window would silently show fewer days than it says, so it
// is refused with the maximum in the message.
func (s *server) daysParam(r *http.Request, def int) (int, error) {
	hi := max(1, int(s.cfg.Accuracy.Keep()/(24*time.Hour)))
	return intParam(r, "days", min(def, hi), 1, hi)
}

func (s *server) accuracy(w http.ResponseWriter, r *http.Request) {
	days, err := s.daysParam(r, 30)
	if err != nil {
		s.writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	q := monitor.Query{Window: time.Duration(days) * 24 * time.Hour, Region: r.URL.Query().Get("region"),
		ModelID: r.URL.Query().Get("model"), ByBand: true}
	out := AccuracyReport{WindowDays: days, Bands: s.cfg.Accuracy.Bands().Labels(), Rows: []AccuracyRow{}}
	for _, x := range s.cfg.Accuracy.Rows(q) {
		out.Rows = append(out.Rows, accuracyRow(x))
	}
	s.writeJSON(w, http.StatusOK, out)
}

func accuracyRow(x monitor.Row) AccuracyRow {
	lv := math.NaN()
	if x.IntervalN > 0 {
		lv = x.Level
	}
	return AccuracyRow{Region: x.Region, Unit: x.Unit, ModelID: x.ModelID, ModelVersion: x.Version, ModelKind: x.Kind, Role: x.Role,
		Band: x.Band, From: x.From, To: x.To, Hours: x.N, MAE: num(x.MAE), RMAE: num(x.RMAE), Coverage: num(x.Coverage),
		IntervalHours: x.IntervalN, IntervalLevel: num(lv)}
}

// ModelInfo is one model version with its stage and its accuracy over the
// last 30 days in the regions priced in Unit, pooled (null where it has not
// been scored). A version scored in regions priced in different units
// (EUR/MWh and p/kWh) has a row per unit: their errors do not add up.
type ModelInfo struct {
	// Regions the version serves; empty for every region.
	Regions      []string `json:"regions"`
	ModelID      string   `json:"model_id"`
	ModelVersion string   `json:"model_version"`
	ModelKind    string   `json:"model_kind"`
	// Unit is the price unit of the regions pooled (MAE is in it); "" for
	// a version not scored in the last 30 days.
	Unit        string     `json:"unit"`
	Stage       string     `json:"stage"`
	StageSince  *time.Time `json:"stage_since"`
	CreatedAt   *time.Time `json:"created_at"`
	AgeSeconds  *float64   `json:"age_seconds"`
	Hours30d    int        `json:"hours_30d"`
	MAE30d      num        `json:"mae_30d"`
	RMAE30d     num        `json:"rmae_30d"`
	Coverage30d num        `json:"coverage_30d"`
	// Capture3h30d is the share of the possible saving a load of three
	// hours a day got by following the version's cheapest window over the
	// last 30 days, pooled over its regions priced in Unit
	// (monitor.WindowValues).
	Capture3h30d num `json:"capture_3h_30d"`
}

// ModelList is the leaderboard: the models by 30-day rMAE (then MAE),
// unscored ones last.
type ModelList struct {
	Models []ModelInfo `json:"models"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *server) models(w http.ResponseWriter, _ *http.Request) {
	// Rows pooled per version and unit.
	type versionUnit struct{ key, unit string }
	acc := map[versionUnit]monitor.Row{}
	units := map[string][]string{} // per version, sorted
	addUnit := func(key, unit string) {
		if !slices.Contains(units[key], unit) {
			units[key] = append(units[key], unit)
			slices.Sort(units[key])
		}
	}
	for _, x := range s.cfg.Accuracy.Rows(monitor.Query{Window: 30 * 24 * time.Hour, Pool: true}) {
		k := versionUnit{x.ModelID + "@" + x.Version, x.Unit}
		acc[k] = x
		addUnit(k.key, k.unit)
	}
	// Pooled as total saving got over total saving possible, day-weighted.
	type pool struct{ got, possible float64 }
	caps := map[versionUnit]*pool{}
	for _, v := range s.cfg.Accuracy.WindowValues(30*24*time.Hour, monitor.CaptureHours) {
		k := versionUnit{v.ModelID + "@" + v.ModelVersion, v.Unit}
		if caps[k] == nil {
			caps[k] = &pool{}
		}
		d := float64(v.Days)
		caps[k].got += d * (v.DayMean - v.Model)
		caps[k].possible += d * (v.DayMean - v.Best)
		addUnit(k.key, k.unit)
	}
	now := s.cfg.Now()
	out := ModelList{Models: []ModelInfo{}}
	for _, v := range s.cfg.Models.Versions() {
		regions := v.Regions
		if regions == nil {
			regions = []string{}
		}
		us := units[v.Key()]
		if len(us) == 0 {
			us = []string{""} // not scored: one row
		}
		for _, unit := range us {
			m := ModelInfo{Regions: regions, ModelID: v.ID, ModelVersion: v.Version, ModelKind: v.Kind, Unit: unit, Stage: v.Stage,
				StageSince: timePtr(v.StageSince), CreatedAt: timePtr(v.CreatedAt),
				MAE30d: num(math.NaN()), RMAE30d: num(math.NaN()), Coverage30d: num(math.NaN()), Capture3h30d: num(math.NaN())}
			if !v.CreatedAt.IsZero() {
				age := now.Sub(v.CreatedAt).Seconds()
				m.AgeSeconds = &age
			}
			k := versionUnit{v.Key(), unit}
			if x, ok := acc[k]; ok {
				m.Hours30d, m.MAE30d, m.RMAE30d, m.Coverage30d = x.N, num(x.MAE), num(x.RMAE), num(x.Coverage)
			}
			if p := caps[k]; p != nil {
				m.Capture3h30d = num(p.got / p.possible)
			}
			out.Models = append(out.Models, m)
		}
	}
	slices.SortStableFunc(out.Models, func(a, b ModelInfo) int {
		return cmp.Or(cmpNaNLast(float64(a.RMAE30d), float64(b.RMAE30d)),
			cmpNaNLast(float64(a.MAE30d), float64(b.MAE30d)), cmp.Compare(a.ModelID, b.ModelID), cmp.Compare(a.ModelVersion, b.ModelVersion),
			cmp.Compare(a.Unit, b.Unit))
	})
	s.writeJSON(w, http.StatusOK, out)
}

func cmpNaNLast(a, b float64) int {
	switch an, bn := math.IsNaN(a), math.IsNaN(b); {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return cmp.Compare(a, b)
}

// SeriesPoint is one hour of the chart.
type SeriesPoint struct {
	Hour     time.Time          `json:"hour"`
	Actual   num                `json:"actual"`
	Official num                `json:"official"`
	Lower    num                `json:"lower"`
	Upper    num                `json:"upper"`
	Models   map[string]float64 `json:"models"`
}

// Series is a region's recent hours (actual and forecasts) and the latest
// official forecast of the hours not yet scored.
type Series struct {
	Region string        `json:"region"`
	Unit   string        `json:"unit"`
	Days   int           `json:"days"`
	Points []SeriesPoint `json:"points"`
	// Upcoming are the recent official forecasts' hours after the last
	// scored hour (the later forecast's where two cover an hour).
	Upcoming []Point `json:"upcoming"`
}

func (s *server) series(w http.ResponseWriter, r *http.Request) {
	region := r.PathValue("region")
	days, err := s.daysParam(r, 7)
	if err != nil {
		s.writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	pts := s.cfg.Accuracy.Series(region, time.Duration(days)*24*time.Hour)
	latest, hasLatest := s.cfg.Forecasts.Latest(region)
	if len(pts) == 0 && !hasLatest {
		s.writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("nothing known of region %q yet", region)})
		return
	}
	out := Series{Region: region, Days: days, Points: make([]SeriesPoint, 0, len(pts)), Upcoming: []Point{}}
	var last time.Time
	for _, p := range pts {
		out.Points = append(out.Points, SeriesPoint{Hour: p.Hour, Actual: num(p.Actual), Official: num(p.Official),
			Lower: num(p.Lower), Upper: num(p.Upper), Models: p.Models})
		last = p.Hour
	}
	// The unit the scored hours are priced in; the latest forecast's when
	// none has been scored yet.
	out.Unit = s.cfg.Accuracy.Unit(region)
	if hasLatest {
		if out.Unit == "" {
			out.Unit = latest.Unit
		}
		// Today's hours not yet scored come from today's forecast once
		// tomorrow's is the latest: the chart has no gap before tomorrow.
		pts, _ := mergeOfficial(s.cfg.Forecasts.RecentOfficial(region))
		for _, p := range pts {
			if p.Hour.After(last) {
				out.Upcoming = append(out.Upcoming, p)
			}
		}
	}
	s.writeJSON(w, http.StatusOK, out)
}
