// Package calendar gives the calendar features of an hour in a market's
// local time: hour, ISO weekday, month, day of year, weekend, public holiday
// and daylight saving time. Holiday rules come from github.com/rickar/cal,
// except Finland's, which that library lacks and which is built here from its
// rule primitives, amended by the local list in holidays.go: one-off and new
// holidays the library misses, and eves (see there for the rule).
package calendar

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/aa"
	"github.com/rickar/cal/v2/at"
	"github.com/rickar/cal/v2/be"
	"github.com/rickar/cal/v2/de"
	"github.com/rickar/cal/v2/dk"
	"github.com/rickar/cal/v2/es"
	"github.com/rickar/cal/v2/fr"
	"github.com/rickar/cal/v2/gb"
	"github.com/rickar/cal/v2/it"
	"github.com/rickar/cal/v2/nl"
	"github.com/rickar/cal/v2/no"
	"github.com/rickar/cal/v2/pl"
	"github.com/rickar/cal/v2/se"
)

// Fields are the calendar features of one hour.
type Fields struct {
	LocalDate string // YYYY-MM-DD in the local zone
	LocalHour int
	Weekday   int // ISO: Monday 1 .. Sunday 7
	Month     int
	DayOfYear int
	Weekend   bool
	Holiday   bool
	DST       bool
}

// Calendar computes Fields for one zone and country. It is safe for
// concurrent use.
type Calendar struct {
	loc      *time.Location
	country  string
	holidays []*cal.Holiday

	mu    sync.Mutex
	years map[int]map[int]bool // year -> day of year -> public holiday
}

// New returns the calendar of an IANA zone and an ISO 3166 country code
// ("" for no holidays).
func New(zone, country string) (*Calendar, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("calendar: time zone %q: %w", zone, err)
	}
	hs, err := holidaysOf(country)
	if err != nil {
		return nil, err
	}
	return &Calendar{loc: loc, country: strings.ToUpper(country), holidays: hs, years: map[int]map[int]bool{}}, nil
}

// Location is the calendar's zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// Country is the calendar's country code, upper case; "" for none.
func (c *Calendar) Country() string { return c.country }

// HasHolidays reports whether the calendar knows any public holiday. It is
// false for the country "": such a calendar is allowed (a region without a
// holiday feature) but its Holiday field is always false, so a caller
// should say so, e.g. log it once at start, rather than let a missing
// country pass unnoticed.
func (c *Calendar) HasHolidays() bool { return len(c.holidays) > 0 }

// Fields returns the calendar features of the hour starting at t.
func (c *Calendar) Fields(t time.Time) Fields {
	l := t.In(c.loc)
	wd := int(l.Weekday())
	if wd == 0 {
		wd = 7
	}
	return Fields{
		LocalDate: l.Format(time.DateOnly),
		LocalHour: l.Hour(),
		Weekday:   wd,
		Month:     int(l.Month()),
		DayOfYear: l.YearDay(),
		Weekend:   wd >= 6,
		Holiday:   c.isHoliday(l),
		DST:       l.IsDST(),
	}
}

// IsHoliday reports whether the local date of t is a public holiday.
func (c *Calendar) IsHoliday(t time.Time) bool { return c.isHoliday(t.In(c.loc)) }

func (c *Calendar) isHoliday(l time.Time) bool {
	if len(c.holidays) == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	days, ok := c.years[l.Year()]
	if !ok {
		days = map[int]bool{}
		for _, h := range c.holidays {
			// GB calls its public holidays bank holidays. Eves and the
			// other days holidays.go adds are retyped as public.
			if h.Type != cal.ObservancePublic && h.Type != cal.ObservanceBank {
				continue
			}
			actual, observed := h.Calc(l.Year())
			for _, d := range []time.Time{actual, observed} {
				if !d.IsZero() && d.Year() == l.Year() {
					days[d.YearDay()] = true
				}
			}
		}
		c.years[l.Year()] = days
	}
	return days[l.YearDay()]
}

// holidaysOf returns the library's holidays of country followed by the
// local additions (holidays.go), in a new slice: the library's are shared.
func holidaysOf(country string) ([]*cal.Holiday, error) {
	lib, err := libraryHolidays(country)
	if err != nil || lib == nil {
		return lib, err
	}
	add := additions[strings.ToUpper(country)]
	if strings.EqualFold(country, "UK") {
		add = additions["GB"]
	}
	return append(slices.Clip(lib), add...), nil
}

func libraryHolidays(country string) ([]*cal.Holiday, error) {
	switch strings.ToUpper(country) {
	case "":
		return nil, nil
	case "FI":
		return finland(), nil
	case "GB", "UK":
		return gb.Holidays, nil
	case "DK":
		return dk.Holidays, nil
	case "SE":
		return se.Holidays, nil
	case "NO":
		return no.Holidays, nil
	case "ES":
		return es.Holidays, nil
	case "PL":
		return pl.Holidays, nil
	case "DE":
		return de.Holidays, nil
	case "NL":
		return nl.Holidays, nil
	case "FR":
		return fr.Holidays, nil
	case "BE":
		return be.Holidays, nil
	case "AT":
		return at.Holidays, nil
	case "IT":
		return it.Holidays, nil
	}
	return nil, fmt.Errorf("calendar: no public holidays known for country %q; use one of FI, GB, DK, SE, NO, ES, PL, DE, NL, FR, BE, AT, IT, or \"\" for none", country)
}

// finland returns Finland's public holidays (Act on Holidays 1966/1999 as
// amended): the church holidays plus May Day and Independence Day.
// Midsummer Day is the Saturday between 20 and 26 June and All Saints' Day
// the Saturday between 31 October and 6 November. Its eves (Midsummer Eve,
// Christmas Eve, Easter Saturday) are added in holidays.go, by the rule
// there.
func finland() []*cal.Holiday {
	pub := func(h *cal.Holiday, name string) *cal.Holiday {
		return h.Clone(&cal.Holiday{Name: name, Type: cal.ObservancePublic})
	}
	sat := func(name string, month time.Month, day int) *cal.Holiday {
		return &cal.Holiday{Name: name, Type: cal.ObservancePublic, Month: month, Day: day,
			Weekday: time.Saturday, Offset: 1, Func: cal.CalcWeekdayFrom}
	}
	fixed := func(name string, month time.Month, day int) *cal.Holiday {
		return &cal.Holiday{Name: name, Type: cal.ObservancePublic, Month: month, Day: day, Func: cal.CalcDayOfMonth}
	}
	return []*cal.Holiday{
		pub(aa.NewYear, "Uudenvuodenpäivä"),
		pub(aa.Epiphany, "Loppiainen"),
		pub(aa.GoodFriday, "Pitkäperjantai"),
		pub(aa.Easter, "Pääsiäispäivä"),
		pub(aa.EasterMonday, "2. pääsiäispäivä"),
		pub(aa.WorkersDay, "Vappu"),
		pub(aa.AscensionDay, "Helatorstai"),
		pub(aa.Pentecost, "Helluntaipäivä"),
		sat("Juhannuspäivä", time.June, 20),
		sat("Pyhäinpäivä", time.October, 31),
		fixed("Itsenäisyyspäivä", time.December, 6),
		fixed("Joulupäivä", time.December, 25),
		fixed("Tapaninpäivä", time.December, 26),
	}
}
