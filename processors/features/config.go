// Package features is the feature engine: a deterministic state machine
// that turns prices, weather observations and weather forecasts into hourly
// feature rows, with no Kafka in it. The Kafka processor (package processors)
// runs one Engine per partition; the backtest runs one over a CSV with Batch.
//
// # Concepts
//
// Every input has an event time (the hour it describes) and a known-at time
// (when it became available). The engine keeps a clock, which only moves
// forward, and emits:
//
//   - ready rows for delivery day D once the clock passes issue(D) + the
//     allowed lateness, where issue(D) is D-1 at the region's issue time: one
//     row per hour of D with every feature as known at issue(D);
//   - a final row for hour H once the clock passes H + 1h + the allowed
//     lateness: the same features plus the price and the observations of H
//     as known at the end of H;
//   - with the final row of a delivery day's last hour, the day's daily
//     window (DailyAppend): statistics of its hourly prices and observed
//     weather.
//
// A row uses only inputs whose known-at time is not after its as-of time,
// and it is emitted only when no input that could change it can still
// arrive (anything older than the clock minus the lateness is rejected as
// late), so rows are a function of the inputs alone: a replay after a crash
// emits exactly the same rows.
package features

import (
	"fmt"
	"strings"
	"time"

	"github.com/wattcast/wattcast/processors/calendar"
)

// Region describes one price region: its market's time zone, the country
// whose public holidays apply, and when its day-ahead forecast is issued.
type Region struct {
	// Zone is the IANA time zone of the market's delivery days.
	Zone string `json:"zone"`
	// Country is the ISO 3166 code for public holidays; "" for none.
	Country string `json:"country"`
	// IssueTime is the local time on D-1 at which the forecast for D is
	// issued, "HH:MM". It should be before the day-ahead auction closes.
	IssueTime string `json:"issue_time"`
}

// DefaultRegions returns the regions wattcast knows without configuration:
// the Nordic and European bidding zones of the shipped data and the
// Octopus Agile regions GB-A to GB-P. Forecasts are issued at 10:00 local
// time the day before delivery: before the Nord Pool and EPEX auctions
// close at 12:00 CET and before Octopus publishes Agile prices at about
// 16:00 UK time.
func DefaultRegions() map[string]Region {
	// Nordic bidding zones are named as Nord Pool names them (DK1, SE3):
	// the ids `wattcast import --preset entsoe-*` publishes.
	r := map[string]Region{
		"FI":  {"Europe/Helsinki", "FI", "10:00"},
		"DK1": {"Europe/Copenhagen", "DK", "10:00"},
		"DK2": {"Europe/Copenhagen", "DK", "10:00"},
		"ES":  {"Europe/Madrid", "ES", "10:00"},
		"PL":  {"Europe/Warsaw", "PL", "10:00"},
		"DE":  {"Europe/Berlin", "DE", "10:00"},
		"NL":  {"Europe/Amsterdam", "NL", "10:00"},
		"FR":  {"Europe/Paris", "FR", "10:00"},
		"BE":  {"Europe/Brussels", "BE", "10:00"},
		"AT":  {"Europe/Vienna", "AT", "10:00"},
	}
	for i := 1; i <= 4; i++ {
		r[fmt.Sprintf("SE%d", i)] = Region{"Europe/Stockholm", "SE", "10:00"}
	}
	for i := 1; i <= 5; i++ {
		r[fmt.Sprintf("NO%d", i)] = Region{"Europe/Oslo", "NO", "10:00"}
	}
	for _, l := range "ABCDEFGHJKLMNP" {
		r["GB-"+string(l)] = Region{"Europe/London", "GB", "10:00"}
	}
	return r
}

// Config configures an Engine. The zero value works: it knows the
// DefaultRegions, allows one hour of lateness and keeps ten days of state.
type Config struct {
	// Regions maps a region id to its description, overriding and
	// extending DefaultRegions.
	Regions map[string]Region
	// Fallback describes regions in neither map; if its Zone is empty,
	// inputs for unknown regions are rejected as invalid.
	Fallback Region
	// AllowedLateness is how far behind the clock an input's known-at time
	// may be and still be used; older inputs are rejected as late. Default
	// 1h. Emission waits this long past each as-of time.
	AllowedLateness time.Duration
	// Retention is how much history the state keeps behind the clock.
	// Default (and minimum) 10 days: the 168 h lag of the last hour of D
	// reaches back to D-7, which is up to 8 days before issue(D+1).
	Retention time.Duration
}

const minRetention = 10 * 24 * time.Hour

func (c Config) withDefaults() (Config, error) {
	if c.AllowedLateness == 0 {
		c.AllowedLateness = time.Hour
	}
	if c.AllowedLateness < 0 {
		return c, fmt.Errorf("features: allowed lateness %s is negative", c.AllowedLateness)
	}
	if c.Retention == 0 {
		c.Retention = minRetention
	}
	if c.Retention < minRetention {
		return c, fmt.Errorf("features: retention %s is below the minimum %s that 168 h lags need", c.Retention, minRetention)
	}
	regions := DefaultRegions()
	for k, v := range c.Regions {
		// A bad zone or issue time fails here, at start, rather than
		// dead-lettering every record of the region.
		if _, err := resolve(k, v); err != nil {
			return c, err
		}
		regions[k] = v
	}
	c.Regions = regions
	return c, nil
}

// regionInfo is a Region resolved for computation.
type regionInfo struct {
	cal        *calendar.Calendar
	issueH     int
	issueM     int
	zone, name string
}

func resolve(id string, r Region) (*regionInfo, error) {
	c, err := calendar.New(r.Zone, r.Country)
	if err != nil {
		return nil, fmt.Errorf("features: region %s: %w", id, err)
	}
	it := r.IssueTime
	if it == "" {
		it = "10:00"
	}
	var h, m int
	if _, err := fmt.Sscanf(strings.TrimSpace(it), "%d:%d", &h, &m); err != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return nil, fmt.Errorf("features: region %s: issue time %q is not HH:MM", id, it)
	}
	return &regionInfo{cal: c, issueH: h, issueM: m, zone: r.Zone, name: id}, nil
}

// issue returns the issue time of the forecast for local delivery day d
// (YYYY-MM-DD): d-1 at the region's issue time.
func (ri *regionInfo) issue(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day()-1, ri.issueH, ri.issueM, 0, 0, ri.cal.Location()).UTC()
}

// dayStart returns local midnight of the day containing t, and of the next.
func (ri *regionInfo) day(t time.Time) (start, next time.Time) {
	l := t.In(ri.cal.Location())
	s := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, ri.cal.Location())
	n := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, ri.cal.Location())
	return s.UTC(), n.UTC()
}

// dayRange is a local delivery day: its start and the next day's (local
// midnights, Unix) and its forecast's issue time.
type dayRange struct{ start, next, iss int64 }

func (d dayRange) has(h int64) bool { return h >= d.start && h < d.next }

// hourCeil is the first hour starting at or after t: a day's first hour.
// A day of a zone with a half-hour offset (India) starts mid-hour, and the
// hour it starts in belongs to the day before (dayRange of that hour).
func hourCeil(t int64) int64 { return (t + 3599) / 3600 * 3600 }

// dayRange returns the delivery day containing h.
func (ri *regionInfo) dayRange(h int64) dayRange {
	start, next := ri.day(unix(h))
	return dayRange{start.Unix(), next.Unix(), ri.issue(start.In(ri.cal.Location())).Unix()}
}
