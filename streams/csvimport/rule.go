package csvimport

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Rule says when the values for a delivery day become known: "day D is
// published (or issued) at D-1 12:45 Europe/Brussels". It is written as
//
//	D<offset> HH:MM ZONE [day-start ±HH:MM]
//
// for example "D-1 12:45 Europe/Brussels" (Nord Pool / SDAC day-ahead
// prices) or "D-1 16:00 Europe/London day-start -01:00" (Octopus Agile,
// whose day D runs from 23:00 on D-1 to 23:00 on D, UK time).
//
// The delivery day D of a period starting at t is the calendar date, in
// ZONE, of t minus day-start. The rule's time is HH:MM wall-clock time in
// ZONE on the date D+offset. ZONE is an IANA name such as Europe/Helsinki or
// a fixed offset such as +01:00 or UTC.
type Rule struct {
	DayOffset int
	Hour      int
	Minute    int
	Zone      *time.Location
	// DayStart shifts the start of delivery day D from local midnight:
	// -1h means D starts at 23:00 on D-1.
	DayStart time.Duration
	text     string
}

var ruleRE = regexp.MustCompile(`^D([+-]\d+)?\s+(\d{1,2}):(\d{2})\s+(\S+)(?:\s+day-start\s+([+-]?\d{1,2}:\d{2}))?$`)

// ParseRule parses a rule such as "D-1 12:45 Europe/Brussels".
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(s)
	m := ruleRE.FindStringSubmatch(s)
	if m == nil {
		return Rule{}, fmt.Errorf("csvimport: rule %q: want \"D-1 12:45 Europe/Brussels\" (optionally followed by \"day-start -01:00\")", s)
	}
	var r Rule
	if m[1] != "" {
		r.DayOffset, _ = strconv.Atoi(m[1])
	}
	r.Hour, _ = strconv.Atoi(m[2])
	r.Minute, _ = strconv.Atoi(m[3])
	if r.Hour > 23 || r.Minute > 59 {
		return Rule{}, fmt.Errorf("csvimport: rule %q: %s:%s is not a time of day", s, m[2], m[3])
	}
	loc, err := LoadZone(m[4])
	if err != nil {
		return Rule{}, fmt.Errorf("csvimport: rule %q: %w", s, err)
	}
	r.Zone = loc
	if m[5] != "" {
		d, err := parseSignedHHMM(m[5])
		if err != nil || d <= -24*time.Hour || d >= 24*time.Hour {
			return Rule{}, fmt.Errorf("csvimport: rule %q: day-start %q: want a signed HH:MM within a day, e.g. -01:00", s, m[5])
		}
		r.DayStart = d
	}
	r.text = s
	return r, nil
}

// MustRule is ParseRule for rules written in code; it panics on a bad rule.
func MustRule(s string) Rule {
	r, err := ParseRule(s)
	if err != nil {
		panic(err)
	}
	return r
}

// String returns the rule as written.
func (r Rule) String() string { return r.text }

// IsZero reports whether r is unset.
func (r Rule) IsZero() bool { return r.Zone == nil }

// DeliveryDay returns the delivery day of a period starting at t, as
// midnight of that date in the rule's zone.
func (r Rule) DeliveryDay(t time.Time) time.Time {
	l := t.Add(-r.DayStart).In(r.Zone)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, r.Zone)
}

// Time returns when the value for the period starting at t became known.
func (r Rule) Time(t time.Time) time.Time {
	d := r.DeliveryDay(t)
	return time.Date(d.Year(), d.Month(), d.Day()+r.DayOffset, r.Hour, r.Minute, 0, 0, r.Zone).UTC()
}

// MarshalJSON writes the rule as its string form.
func (r Rule) MarshalJSON() ([]byte, error) { return json.Marshal(r.text) }

// UnmarshalJSON reads the string form.
func (r *Rule) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("csvimport: a rule is a string such as \"D-1 12:45 Europe/Brussels\": %w", err)
	}
	if s == "" {
		*r = Rule{}
		return nil
	}
	p, err := ParseRule(s)
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// LoadZone resolves an IANA zone name ("Europe/Helsinki"), "UTC", or a
// fixed offset from UTC ("+02:00", "UTC+02:00", "-0500").
func LoadZone(name string) (*time.Location, error) {
	n := strings.TrimPrefix(strings.TrimPrefix(name, "UTC"), "GMT")
	if n != "" && (n[0] == '+' || n[0] == '-') {
		d, err := parseSignedHHMM(n)
		if err != nil || d < -14*time.Hour || d > 14*time.Hour {
			return nil, fmt.Errorf("zone %q: a fixed offset is written +HH:MM, between -14:00 and +14:00", name)
		}
		return time.FixedZone("UTC"+n, int(d/time.Second)), nil
	}
	if name == "UTC" || name == "GMT" || name == "Z" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil, fmt.Errorf("zone %q is not an IANA time zone (e.g. Europe/Helsinki) or a fixed offset (e.g. +01:00)", name)
	}
	return loc, nil
}

func parseSignedHHMM(s string) (time.Duration, error) {
	sign := time.Duration(1)
	switch {
	case strings.HasPrefix(s, "-"):
		sign, s = -1, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	var h, m int
	if strings.Contains(s, ":") {
		if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil {
			return 0, err
		}
	} else if len(s) == 4 {
		if _, err := fmt.Sscanf(s, "%2d%2d", &h, &m); err != nil {
			return 0, err
		}
	} else {
		if _, err := fmt.Sscanf(s, "%d", &h); err != nil {
			return 0, err
		}
	}
	if m < 0 || m > 59 || h < 0 {
		return 0, fmt.Errorf("bad offset %q", s)
	}
	return sign * (time.Duration(h)*time.Hour + time.Duration(m)*time.Minute), nil
}

// dayBounds returns the delivery day of t as a UTC interval [from, to).
func (r Rule) dayBounds(t time.Time) (from, to time.Time) {
	d := r.DeliveryDay(t)
	from = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, r.Zone).Add(r.DayStart)
	to = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, r.Zone).Add(r.DayStart)
	return from.UTC(), to.UTC()
}

// ruleCache remembers a rule's time for the last delivery day asked, since
// consecutive rows share a day.
type ruleCache struct {
	rule     Rule
	from, to time.Time
	val      time.Time
}

func (c *ruleCache) time(t time.Time) time.Time {
	if c.from.IsZero() || t.Before(c.from) || !t.Before(c.to) {
		c.from, c.to = c.rule.dayBounds(t)
		c.val = c.rule.Time(t)
	}
	return c.val
}
