// Package openmeteo reads weather from Open-Meteo (https://open-meteo.com,
// free for non-commercial use, no key, data under CC BY 4.0) for the
// locations configured per region, keeping for every value the time it
// became known.
//
// # Three APIs, three known-at times
//
//   - Forecast API (/v1/forecast): the latest forecast. Its issue time is
//     when the run became available, read from the model's meta.json
//     (last_run_availability_time) when a single model is configured. It is
//     read before and after the forecast: if they differ, a run landed in
//     between and the response may hold either, so it is fetched again
//     rather than published under a time that may not be its own. For the
//     default best_match blend, which has no single run, it is the
//     response's Date, the moment we had it. Either way it is never before
//     the data could be known.
//   - Archive API (/v1/archive): observations (reanalysis: ERA5, ERA5-Land
//     and the ECMWF IFS analysis), published with a delay of 2 (IFS) to 5
//     (ERA5) days. An observation's available_at is the end of its hour plus
//     ArchiveDelay (default 5 days), or the fetch time if that is earlier:
//     a feature can use an archive value only from then on, which is what
//     a live system reading this API would have had.
//   - Previous Runs API: what the forecast said at the time. A variable
//     suffixed _previous_dayN holds, for each valid hour H, the value
//     predicted about N*24 hours before H. Its issued_at is H - N*24h +
//     RunDelay (default 6 h, the time a global model takes to be computed
//     and published), so it is never earlier than the forecast could be
//     read. We use this API rather than the Historical Forecast API, whose
//     series is stitched from the first hours of successive runs: a value
//     there was forecast only hours ahead, so using it as a day-ahead
//     forecast would look ahead.
package openmeteo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/source"
)

// API endpoints.
const (
	DefaultForecastURL     = "https://api.open-meteo.com/v1/forecast"
	DefaultArchiveURL      = "https://archive-api.open-meteo.com/v1/archive"
	DefaultPreviousRunsURL = "https://previous-runs-api.open-meteo.com/v1/forecast"
	// DefaultMetaURL is the model status file; %s is the model name.
	DefaultMetaURL = "https://api.open-meteo.com/data/%s/static/meta.json"
)

// Source names written on the records.
const (
	SourceForecast     = "open-meteo-forecast"
	SourceArchive      = "open-meteo-archive"
	SourcePreviousRuns = "open-meteo-previous-runs"
)

// ErrRunChanged says that the model's run changed during every attempt to
// fetch a forecast: which run the values came from is unknown, so none are
// returned (a later poll gets them).
var ErrRunChanged = errors.New("openmeteo: the model's run changed while the forecast was fetched")

// runAttempts bounds the forecast fetches of one poll when runs keep
// landing during them (runs come hours apart, so a second one succeeds).
const runAttempts = 3

// DefaultVariables returns the hourly variables fetched unless configured:
// the drivers of power demand and wind and solar supply. Each call returns a
// new slice, which the caller may change.
func DefaultVariables() []string {
	return []string{"temperature_2m", "wind_speed_10m", "wind_speed_100m", "cloud_cover", "shortwave_radiation"}
}

// Location is a named point whose weather feeds a region.
type Location struct {
	Region    string  `json:"region"`
	Name      string  `json:"name"`
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// ParseLocations reads "REGION:NAME:LAT:LON" entries, e.g.
// "FI:helsinki:60.17:24.94".
func ParseLocations(entries []string) ([]Location, error) {
	var out []Location
	for _, e := range entries {
		p := strings.Split(e, ":")
		if len(p) != 4 {
			return nil, fmt.Errorf("openmeteo: location %q: want REGION:NAME:LAT:LON, e.g. FI:helsinki:60.17:24.94", e)
		}
		lat, err1 := strconv.ParseFloat(p[2], 64)
		lon, err2 := strconv.ParseFloat(p[3], 64)
		if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
			return nil, fmt.Errorf("openmeteo: location %q: latitude and longitude must be decimal degrees", e)
		}
		out = append(out, Location{p[0], p[1], lat, lon})
	}
	return out, validate(out)
}

// LoadLocations reads a JSON array of locations.
func LoadLocations(path string) ([]Location, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("openmeteo: %w", err)
	}
	var out []Location
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("openmeteo: %s: want a JSON array of {region, name, latitude, longitude}: %w", path, err)
	}
	return out, validate(out)
}

func validate(ls []Location) error {
	seen := map[string]bool{}
	for _, l := range ls {
		if l.Region == "" || l.Name == "" {
			return fmt.Errorf("openmeteo: location %+v needs a region and a name", l)
		}
		k := l.Region + "/" + l.Name
		if seen[k] {
			return fmt.Errorf("openmeteo: location %s is configured twice", k)
		}
		seen[k] = true
	}
	return nil
}

// Client talks to the three APIs.
type Client struct {
	HTTP *source.HTTPClient
	// Endpoints; empty means the public ones.
	ForecastURL, ArchiveURL, PreviousRunsURL, MetaURL string
	// Variables are the hourly variables (default DefaultVariables()).
	Variables []string
	// Model is the models= parameter; "" is Open-Meteo's best_match.
	Model string
	// MetaModel names the model whose meta.json gives a forecast's issue
	// time (e.g. "ecmwf_ifs025"); "" uses the response's Date.
	MetaModel string
	// ArchiveDelay is added to the end of an hour for an archive value's
	// available_at, overriding 5 days (ERA5's delay).
	ArchiveDelay time.Duration
	// RunDelay is added to a previous-run value's nominal issue time,
	// overriding 6h.
	RunDelay time.Duration
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func (c *Client) vars() []string {
	if len(c.Variables) > 0 {
		return c.Variables
	}
	return DefaultVariables()
}

func (c *Client) http() *source.HTTPClient {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &source.HTTPClient{}
}

// MalformedError is a response that is not the JSON we expect.
type MalformedError struct {
	URL  string
	Body []byte
	Err  error
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("openmeteo: %s: malformed response: %v", e.URL, e.Err)
}

func (e *MalformedError) Unwrap() error { return e.Err }

// hourly is a decoded response: times and, per variable, values (nil for
// a null).
type hourly struct {
	times  []time.Time
	values map[string][]*float64
	date   time.Time // the response's Date
}

func (c *Client) get(ctx context.Context, base string, q url.Values) (*hourly, error) {
	q.Set("timezone", "GMT")
	q.Set("wind_speed_unit", "ms")
	if c.Model != "" {
		q.Set("models", c.Model)
	}
	u := base + "?" + q.Encode()
	resp, err := c.http().Get(ctx, u)
	if err != nil {
		return nil, err
	}
	h, err := decodeHourly(resp.Body)
	if err != nil {
		return nil, &MalformedError{URL: u, Body: resp.Body, Err: err}
	}
	h.date = resp.Date
	return h, nil
}

func decodeHourly(body []byte) (*hourly, error) {
	var r struct {
		UTCOffsetSeconds int                        `json:"utc_offset_seconds"`
		Hourly           map[string]json.RawMessage `json:"hourly"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	raw, ok := r.Hourly["time"]
	if !ok {
		return nil, errors.New(`no "hourly.time" array`)
	}
	var ts []string
	if err := json.Unmarshal(raw, &ts); err != nil {
		return nil, fmt.Errorf("hourly.time: %w", err)
	}
	h := &hourly{values: map[string][]*float64{}}
	off := time.Duration(r.UTCOffsetSeconds) * time.Second
	for i, s := range ts {
		t, err := time.Parse("2006-01-02T15:04", s)
		if err != nil {
			return nil, fmt.Errorf("hourly.time[%d] %q: %w", i, s, err)
		}
		h.times = append(h.times, t.Add(-off))
	}
	for k, raw := range r.Hourly {
		if k == "time" {
			continue
		}
		var vs []*float64
		if err := json.Unmarshal(raw, &vs); err != nil {
			return nil, fmt.Errorf("hourly.%s: %w", k, err)
		}
		// A value array shorter than the time array has been seen in a
		// recorded response (336 values for 360 hours): the trailing
		// hours are read as missing. A longer one cannot be aligned.
		if len(vs) > len(ts) {
			return nil, fmt.Errorf("hourly.%s has %d values for %d times", k, len(vs), len(ts))
		}
		for len(vs) < len(ts) {
			vs = append(vs, nil)
		}
		h.values[k] = vs
	}
	return h, nil
}

// at returns the non-null values at index i of the given variables, keyed
// by name(variable).
func (h *hourly) at(i int, vars []string, name func(string) string) map[string]float64 {
	var m map[string]float64
	for _, v := range vars {
		vs, ok := h.values[v]
		if !ok || vs[i] == nil {
			continue
		}
		if m == nil {
			m = map[string]float64{}
		}
		m[name(v)] = *vs[i]
	}
	return m
}

func same(s string) string { return s }

func ptr(v float64) *float64 { return &v }

// Forecast fetches the latest forecast for loc, days ahead, and returns its
// hours from the one containing the issue time on.
func (c *Client) Forecast(ctx context.Context, loc Location, days int) ([]schemas.WeatherForecast, time.Time, error) {
	q := url.Values{}
	q.Set("latitude", strconv.FormatFloat(loc.Latitude, 'f', -1, 64))
	q.Set("longitude", strconv.FormatFloat(loc.Longitude, 'f', -1, 64))
	q.Set("hourly", strings.Join(c.vars(), ","))
	q.Set("forecast_days", strconv.Itoa(days))
	u := or(c.ForecastURL, DefaultForecastURL)
	var h *hourly
	var issued time.Time
	if c.MetaModel == "" {
		var err error
		if h, err = c.get(ctx, u, q); err != nil {
			return nil, time.Time{}, err
		}
		issued = h.date
	} else {
		// The response does not say which run it holds: meta.json, read
		// before and after it, does when both name the same run. If a run
		// landed in between, the values may be the old run's or the new
		// one's: neither time is safe (the new one would label the old
		// values, and the new run would then be dropped as already
		// published), so fetch again.
		before, err := c.availability(ctx)
		if err != nil {
			return nil, time.Time{}, err
		}
		for attempt := 1; ; attempt++ {
			if h, err = c.get(ctx, u, q); err != nil {
				return nil, time.Time{}, err
			}
			after, err := c.availability(ctx)
			if err != nil {
				return nil, time.Time{}, err
			}
			if after.Equal(before) {
				issued = after
				break
			}
			if attempt == runAttempts {
				return nil, time.Time{}, fmt.Errorf("%w: %s's last run became available at %s, then at %s (%d attempts)",
					ErrRunChanged, c.MetaModel, before.Format(time.RFC3339), after.Format(time.RFC3339), attempt)
			}
			before = after
		}
	}
	issued = issued.UTC()
	var out []schemas.WeatherForecast
	vars := c.vars()
	for i, t := range h.times {
		if t.Before(issued.Truncate(time.Hour)) {
			continue
		}
		vals := h.at(i, vars, same)
		if vals == nil {
			continue
		}
		out = append(out, schemas.WeatherForecast{Region: loc.Region, Location: loc.Name, Latitude: ptr(loc.Latitude),
			Longitude: ptr(loc.Longitude), Source: SourceForecast, Model: or(c.Model, "best_match"), IssuedAt: issued,
			Time: t, LeadHours: schemas.LeadHours(issued, t), Values: vals})
	}
	return out, issued, nil
}

// availability reads the model's meta.json.
func (c *Client) availability(ctx context.Context) (time.Time, error) {
	u := fmt.Sprintf(or(c.MetaURL, DefaultMetaURL), url.PathEscape(c.MetaModel))
	resp, err := c.http().Get(ctx, u)
	if err != nil {
		return time.Time{}, err
	}
	var m struct {
		Availability *int64 `json:"last_run_availability_time"`
	}
	if err := json.Unmarshal(resp.Body, &m); err != nil || m.Availability == nil {
		if err == nil {
			err = errors.New("no last_run_availability_time")
		}
		return time.Time{}, &MalformedError{URL: u, Body: resp.Body, Err: err}
	}
	return time.Unix(*m.Availability, 0).UTC(), nil
}

func dateRange(q url.Values, from, to time.Time) {
	q.Set("start_date", from.UTC().Format("2006-01-02"))
	q.Set("end_date", to.UTC().Add(-time.Nanosecond).Format("2006-01-02"))
}

// Archive fetches the observations of loc for the hours in [from, to).
// Hours the archive does not have yet (nulls) are left out.
func (c *Client) Archive(ctx context.Context, loc Location, from, to time.Time) ([]schemas.WeatherObservation, error) {
	q := url.Values{}
	q.Set("latitude", strconv.FormatFloat(loc.Latitude, 'f', -1, 64))
	q.Set("longitude", strconv.FormatFloat(loc.Longitude, 'f', -1, 64))
	q.Set("hourly", strings.Join(c.vars(), ","))
	dateRange(q, from, to)
	h, err := c.get(ctx, or(c.ArchiveURL, DefaultArchiveURL), q)
	if err != nil {
		return nil, err
	}
	delay := c.ArchiveDelay
	if delay <= 0 {
		delay = 5 * 24 * time.Hour
	}
	var out []schemas.WeatherObservation
	vars := c.vars()
	for i, t := range h.times {
		end := t.Add(time.Hour)
		if t.Before(from) || !t.Before(to) || end.After(h.date) {
			continue
		}
		vals := h.at(i, vars, same)
		if vals == nil {
			continue
		}
		avail := end.Add(delay)
		if h.date.Before(avail) {
			avail = h.date // we had it then, so it was available
		}
		out = append(out, schemas.WeatherObservation{Region: loc.Region, Location: loc.Name, Latitude: ptr(loc.Latitude),
			Longitude: ptr(loc.Longitude), Source: SourceArchive, Time: t, Values: vals, AvailableAt: avail})
	}
	return out, nil
}

// PreviousRuns fetches what the forecasts issued in [from, to) said, from
// the previous-runs API, for the lead days given (1 and 2 if none). Each
// (valid hour, lead day) is one record with its own issue time.
func (c *Client) PreviousRuns(ctx context.Context, loc Location, from, to time.Time, leadDays []int) ([]schemas.WeatherForecast, error) {
	if len(leadDays) == 0 {
		leadDays = []int{1, 2}
	}
	sort.Ints(leadDays)
	runDelay := c.RunDelay
	if runDelay <= 0 {
		runDelay = 6 * time.Hour
	}
	lead := func(n int) time.Duration { return time.Duration(n)*24*time.Hour - runDelay }
	var vars []string
	for _, v := range c.vars() {
		for _, n := range leadDays {
			vars = append(vars, fmt.Sprintf("%s_previous_day%d", v, n))
		}
	}
	// Issue times in [from, to) forecast valid hours in [from+lead, to+lead).
	vfrom, vto := from.Add(lead(leadDays[0])), to.Add(lead(leadDays[len(leadDays)-1]))
	q := url.Values{}
	q.Set("latitude", strconv.FormatFloat(loc.Latitude, 'f', -1, 64))
	q.Set("longitude", strconv.FormatFloat(loc.Longitude, 'f', -1, 64))
	q.Set("hourly", strings.Join(vars, ","))
	dateRange(q, vfrom, vto)
	h, err := c.get(ctx, or(c.PreviousRunsURL, DefaultPreviousRunsURL), q)
	if err != nil {
		return nil, err
	}
	var out []schemas.WeatherForecast
	for _, n := range leadDays {
		suffix := fmt.Sprintf("_previous_day%d", n)
		var nv []string
		for _, v := range c.vars() {
			nv = append(nv, v+suffix)
		}
		for i, t := range h.times {
			issued := t.Add(-lead(n))
			if issued.Before(from) || !issued.Before(to) {
				continue
			}
			vals := h.at(i, nv, func(s string) string { return strings.TrimSuffix(s, suffix) })
			if vals == nil {
				continue
			}
			out = append(out, schemas.WeatherForecast{Region: loc.Region, Location: loc.Name, Latitude: ptr(loc.Latitude),
				Longitude: ptr(loc.Longitude), Source: SourcePreviousRuns, Model: or(c.Model, "best_match"), IssuedAt: issued,
				Time: t, LeadHours: schemas.LeadHours(issued, t), Values: vals})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].IssuedAt.Before(out[j].IssuedAt) })
	return out, nil
}
