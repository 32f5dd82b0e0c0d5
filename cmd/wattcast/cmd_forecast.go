package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/serving/api"
)

// hourLayout prints an hour in the market's zone with the zone's
// abbreviation: on the day the clocks go back, the two 03:00s are 03:00
// EEST and 03:00 EET.
const hourLayout = "Mon 15:04 MST"

func forecastCommand() *command { return forecastCommandTo(nil, time.Now) }

// forecastCommandTo writes to w (nil: the run's stdout) and reads the clock
// from now, so that a test can read what it prints and fix the time.
func forecastCommandTo(w io.Writer, now func() time.Time) *command {
	return &command{
		name:    "forecast",
		summary: "print a region's forecast of the hours ahead, with the cheapest and dearest hours to shift a load to (from `wattcast score`'s HTTP API)",
		usage:   "wattcast forecast --region FI [--hours 3] [--before 07:00] [--api http://localhost:8080]",
		uses:    sharedNone,
		setup: func(fs *flag.FlagSet, _ *globals) func(*runContext) error {
			apiURL := fs.String("api", "http://localhost:8080", "the HTTP API of a running `wattcast score` (its --http)")
			region := fs.String("region", "", "the region, e.g. FI or GB-A; required")
			hours := fs.Int("hours", 3, "the load to place: the cheapest and dearest runs of this many consecutive hours (1 to 24)")
			zone := fs.String("time-zone", "", "time zone of the printed hours (default: the region's market zone if wattcast knows it, else this machine's)")
			before := fs.String("before", "", "the load must be done by this time of day, HH:MM in --time-zone (the next one to come), e.g. 07:00 for a car charged by the morning")
			return func(rc *runContext) error {
				if *region == "" {
					return errors.New("forecast: --region is required, e.g. --region FI")
				}
				if *hours < 1 || *hours > 24 {
					return fmt.Errorf("forecast: --hours %d: want 1 to 24", *hours)
				}
				loc, err := forecastZone(*zone, *region)
				if err != nil {
					return err
				}
				c := &apiClient{base: strings.TrimRight(*apiURL, "/"), http: &http.Client{Timeout: 15 * time.Second}}
				reg, t := url.PathEscape(*region), now()
				var f api.RegionForecast
				if err := c.get(rc, "/api/v1/forecasts/"+reg, &f); err != nil {
					return err
				}
				// Every hour of the latest forecast is over: printing it
				// would pass an old day off as the hours ahead.
				if !slices.ContainsFunc(f.Points, func(p api.Point) bool { return p.Hour.Add(time.Hour).After(t) }) {
					return staleForecast(&f, t.In(loc))
				}
				q := url.Values{"hours": {strconv.Itoa(*hours)}}
				if *before != "" {
					by, err := nextClock(*before, t.In(loc))
					if err != nil {
						return err
					}
					q.Set("before", by.Format(time.RFC3339))
				}
				var win api.RegionWindows
				if err := c.get(rc, "/api/v1/forecasts/"+reg+"/windows?"+q.Encode(), &win); err != nil {
					return err
				}
				// The hours ahead, as the windows see them: today's rest
				// from today's forecast once tomorrow's is out.
				var series struct {
					Upcoming []api.Point `json:"upcoming"`
				}
				if err := c.get(rc, "/api/v1/series/"+reg+"?days=1", &series); err != nil {
					return err
				}
				ahead := slices.DeleteFunc(series.Upcoming, func(p api.Point) bool { return !p.Hour.Add(time.Hour).After(t) })
				if len(ahead) == 0 {
					ahead = slices.DeleteFunc(slices.Clone(f.Points), func(p api.Point) bool { return !p.Hour.Add(time.Hour).After(t) })
				}
				out := w
				if out == nil {
					out = rc.stdout
				}
				return printForecast(out, &f, ahead, &win, loc)
			}
		},
	}
}

// staleForecast is the error for a latest forecast whose hours have all
// ended by now: the scorer has published nothing newer.
func staleForecast(f *api.RegionForecast, now time.Time) error {
	age := ""
	if d, err := time.Parse(time.DateOnly, f.LocalDate); err == nil {
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		switch n := int(today.Sub(d).Hours() / 24); n {
		case 0:
			age = " (today)"
		case 1:
			age = " (yesterday)"
		default:
			age = fmt.Sprintf(" (%d days ago)", n)
		}
	}
	return fmt.Errorf("forecast: the latest forecast for %s is for %s%s: no hours ahead; is the scorer running? "+
		"(`wattcast score` publishes each day's forecast once the features for it are in; check --api)", f.Region, f.LocalDate, age)
}

// forecastZone is the zone hours are printed in: the flag's, else the
// region's market zone, else the machine's.
func forecastZone(name, region string) (*time.Location, error) {
	if name == "" {
		if r, ok := features.DefaultRegions()[region]; ok {
			name = r.Zone
		}
	}
	if name == "" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("forecast: --time-zone %q: %w (want an IANA name such as Europe/London)", name, err)
	}
	return loc, nil
}

// nextClock is the first time after now (in now's zone) whose clock reads
// hhmm.
func nextClock(hhmm string, now time.Time) (time.Time, error) {
	c, err := time.Parse("15:04", hhmm)
	if err != nil {
		return time.Time{}, fmt.Errorf("forecast: --before %q: want a time of day such as 07:00", hhmm)
	}
	t := time.Date(now.Year(), now.Month(), now.Day(), c.Hour(), c.Minute(), 0, 0, now.Location())
	if !t.After(now) {
		t = time.Date(now.Year(), now.Month(), now.Day()+1, c.Hour(), c.Minute(), 0, 0, now.Location())
	}
	return t, nil
}

// apiClient reads the serving API.
type apiClient struct {
	base string
	http *http.Client
}

// get decodes the JSON at path into v; an error response's message is the
// error.
func (c *apiClient) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return fmt.Errorf("forecast: --api %q: %w", c.base, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("forecast: %w (is `wattcast score --http` running there? set --api)", err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if dec.Decode(&e) == nil && e.Error != "" {
			return fmt.Errorf("forecast: %s: %s", path, e.Error)
		}
		return fmt.Errorf("forecast: GET %s%s: HTTP %d", c.base, path, resp.StatusCode)
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("forecast: GET %s%s: %w", c.base, path, err)
	}
	return nil
}

// printForecast writes the hours ahead in loc, a bar per hour, the hours
// of the cheapest and dearest windows marked, then the windows; f, the
// latest forecast, heads it.
func printForecast(w io.Writer, f *api.RegionForecast, ahead []api.Point, win *api.RegionWindows, loc *time.Location) error {
	fmt.Fprintf(w, "%s %s, %s (model %s@%s, issued %s); times in %s\n\n", f.Region, f.LocalDate, f.Unit, f.ModelID, f.ModelVersion,
		f.IssueTime.In(loc).Format("2006-01-02 15:04"), loc)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range ahead {
		lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
	}
	in := func(w *api.Window, t time.Time) bool { return w != nil && !t.Before(w.Start) && t.Before(w.End) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "hour\tforecast\tinterval\t")
	for _, p := range ahead {
		iv := "-"
		if p.Lower != nil && p.Upper != nil {
			iv = fmt.Sprintf("%.2f – %.2f", *p.Lower, *p.Upper)
		}
		// Bars from the day's lowest forecast, so that the shape shows
		// even when every price is far from zero.
		n := 1
		if hi > lo {
			n += int(math.Round(30 * (p.Value - lo) / (hi - lo)))
		}
		mark := ""
		switch {
		case in(win.Cheapest, p.Hour):
			mark = " cheapest"
		case in(win.Priciest, p.Hour):
			mark = " dearest"
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s%s\n", p.Hour.In(loc).Format(hourLayout), p.Value, iv, strings.Repeat("█", n), mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if win.Cheapest == nil {
		_, err := fmt.Fprintf(w, "\nfewer than %d hours of the forecasts are left (%d): no window\n", win.Hours, win.Upcoming)
		return err
	}
	span := func(x *api.Window) string {
		return fmt.Sprintf("%s – %s", x.Start.In(loc).Format(hourLayout), x.End.In(loc).Format("15:04 MST"))
	}
	by := ""
	if win.Before != nil {
		by = " done by " + win.Before.In(loc).Format(hourLayout)
	}
	_, err := fmt.Fprintf(w, "\ncheapest %d hours ahead%s: %s, mean %.2f\ndearest %d hours ahead%s:  %s, mean %.2f\nspread %.2f %s\n",
		win.Hours, by, span(win.Cheapest), win.Cheapest.Mean, win.Hours, by, span(win.Priciest), win.Priciest.Mean, *win.Spread, f.Unit)
	return err
}
