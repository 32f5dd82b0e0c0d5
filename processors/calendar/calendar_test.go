package calendar

import (
	"testing"
	"time"
)

func TestFields(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		x, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	tests := []struct {
		name    string
		zone    string
		country string
		hour    string
		want    Fields
	}{
		{"Finnish Independence Day, winter time (UTC+2)", "Europe/Helsinki", "FI", "2023-12-06T10:00:00Z",
			Fields{"2023-12-06", 12, 3, 12, 340, false, true, false}},
		{"Finnish Midsummer Day 2024 is Saturday 22 June, summer time", "Europe/Helsinki", "FI", "2024-06-22T09:00:00Z",
			Fields{"2024-06-22", 12, 6, 6, 174, true, true, true}},
		{"an ordinary Finnish Monday", "Europe/Helsinki", "FI", "2024-06-24T09:00:00Z",
			Fields{"2024-06-24", 12, 1, 6, 176, false, false, true}},
		{"local date differs from UTC date just after local midnight", "Europe/Helsinki", "FI", "2023-12-31T22:00:00Z",
			Fields{"2024-01-01", 0, 1, 1, 1, false, true, false}},
		{"England's Easter Monday 2021", "Europe/London", "GB", "2021-04-05T12:00:00Z",
			Fields{"2021-04-05", 13, 1, 4, 95, false, true, true}},
		{"no country: no holidays", "UTC", "", "2021-12-25T12:00:00Z",
			Fields{"2021-12-25", 12, 6, 12, 359, true, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.zone, tt.country)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Fields(utc(tt.hour)); got != tt.want {
				t.Errorf("Fields(%s) = %+v, want %+v", tt.hour, got, tt.want)
			}
		})
	}
}

func TestUnknownCountryIsAnError(t *testing.T) {
	t.Parallel()
	if _, err := New("UTC", "XX"); err == nil {
		t.Fatal("want an error for an unknown country")
	}
	if _, err := New("Mars/Olympus", ""); err == nil {
		t.Fatal("want an error for an unknown zone")
	}
}

// Spot checks of each country's holidays, 2015-2026: fixed dates, the
// Easter-based ones, GB's substitute days, one-off days, and the eves by
// the rule in holidays.go. Each date is a local date.
func TestHolidays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		country string
		date    string
		want    bool
		what    string
	}{
		// Finland: its eves by the Annual Holidays Act, not New Year's Eve.
		{"FI", "2015-06-19", true, "Midsummer Eve (Friday 19-25 June)"},
		{"FI", "2015-06-20", true, "Midsummer Day"},
		{"FI", "2023-06-23", true, "Midsummer Eve"},
		{"FI", "2023-06-22", false, "the day before Midsummer Eve"},
		{"FI", "2026-06-19", true, "Midsummer Eve"},
		{"FI", "2019-04-19", true, "Good Friday"},
		{"FI", "2019-04-20", true, "Easter Saturday"},
		{"FI", "2019-04-22", true, "Easter Monday"},
		{"FI", "2016-05-05", true, "Ascension Day"},
		{"FI", "2017-11-04", true, "All Saints' Day (Saturday 31 Oct-6 Nov)"},
		{"FI", "2024-12-24", true, "Christmas Eve"},
		{"FI", "2024-12-31", false, "New Year's Eve is a working day"},
		{"FI", "2025-12-06", true, "Independence Day"},

		// Sweden: the three eves the Annual Leave Act equates with Sunday,
		// and the Sunday holidays.
		{"SE", "2023-06-23", true, "Midsommarafton"},
		{"SE", "2023-06-24", true, "Midsommardagen"},
		{"SE", "2021-12-24", true, "Julafton"},
		{"SE", "2021-12-31", true, "Nyårsafton"},
		{"SE", "2015-12-23", false, "an ordinary day"},
		{"SE", "2022-01-06", true, "Trettondedag jul"},
		{"SE", "2018-03-30", true, "Långfredagen"},
		{"SE", "2018-04-01", true, "Påskdagen"},
		{"SE", "2018-05-10", true, "Kristi himmelsfärds dag"},
		{"SE", "2024-05-19", true, "Pingstdagen"},
		{"SE", "2024-05-20", false, "Whit Monday, abolished in 2005"},
		{"SE", "2026-06-06", true, "Sveriges nationaldag"},
		{"SE", "2020-10-31", true, "Alla helgons dag (Saturday 31 Oct-6 Nov)"},

		// Norway and Denmark: no eves.
		{"NO", "2015-05-17", true, "Constitution Day"},
		{"NO", "2019-04-18", true, "Maundy Thursday"},
		{"NO", "2025-04-20", true, "Easter Sunday"},
		{"NO", "2022-06-05", true, "Whit Sunday"},
		{"NO", "2022-06-06", true, "Whit Monday"},
		{"NO", "2023-12-24", false, "Christmas Eve"},
		{"NO", "2020-12-26", true, "Boxing Day"},
		{"DK", "2016-03-24", true, "Maundy Thursday"},
		{"DK", "2023-05-05", true, "Store bededag, its last year"},
		{"DK", "2024-04-26", false, "Store bededag, abolished from 2024"},
		{"DK", "2021-05-23", true, "Whit Sunday"},
		{"DK", "2021-05-24", true, "Whit Monday"},
		{"DK", "2017-06-05", true, "Grundlovsdag"},
		{"DK", "2022-12-24", false, "Christmas Eve"},

		// Poland: Christmas Eve from 2025.
		{"PL", "2024-12-24", false, "Christmas Eve before 2025"},
		{"PL", "2025-12-24", true, "Christmas Eve, statutory from 2025"},
		{"PL", "2026-12-24", true, "Christmas Eve"},
		{"PL", "2015-05-03", true, "Constitution Day"},
		{"PL", "2021-04-04", true, "Easter Sunday"},
		{"PL", "2021-04-05", true, "Easter Monday"},
		{"PL", "2022-06-05", true, "Whit Sunday"},
		{"PL", "2016-05-26", true, "Corpus Christi"},
		{"PL", "2019-08-15", true, "Assumption"},
		{"PL", "2020-11-11", true, "Independence Day"},

		// Germany (nationwide holidays only).
		{"DE", "2017-10-31", true, "Reformation Day 2017, nationwide once"},
		{"DE", "2016-10-31", false, "Reformation Day, regional only"},
		{"DE", "2018-10-31", false, "Reformation Day, regional only"},
		{"DE", "2020-04-10", true, "Good Friday"},
		{"DE", "2024-05-09", true, "Ascension Day"},
		{"DE", "2023-05-29", true, "Whit Monday"},
		{"DE", "2019-10-03", true, "German Unity Day"},
		{"DE", "2021-11-01", false, "All Saints' Day, regional only"},
		{"DE", "2022-12-24", false, "Christmas Eve"},

		// Great Britain (England and Wales), with substitute days.
		{"GB", "2022-09-19", true, "State Funeral of Queen Elizabeth II"},
		{"GB", "2022-09-20", false, "the day after the State Funeral"},
		{"GB", "2023-05-08", true, "Coronation of King Charles III"},
		{"GB", "2022-06-02", true, "Spring bank holiday moved for the Platinum Jubilee"},
		{"GB", "2022-06-03", true, "Platinum Jubilee"},
		{"GB", "2022-05-30", false, "the usual Spring bank holiday, moved in 2022"},
		{"GB", "2020-05-08", true, "VE Day 75 (Early May moved)"},
		{"GB", "2020-05-04", false, "the usual Early May bank holiday, moved in 2020"},
		{"GB", "2024-04-01", true, "Easter Monday"},
		{"GB", "2017-01-02", true, "New Year's Day substitute (1 Jan a Sunday)"},
		{"GB", "2022-01-03", true, "New Year's Day substitute (1 Jan a Saturday)"},
		{"GB", "2015-12-28", true, "Boxing Day substitute (26 Dec a Saturday)"},
		{"GB", "2016-12-27", true, "Christmas Day substitute (25 Dec a Sunday)"},
		{"GB", "2021-12-27", true, "Christmas Day substitute (25 Dec a Saturday)"},
		{"GB", "2021-12-28", true, "Boxing Day substitute (26 Dec a Sunday)"},
		{"GB", "2021-12-29", false, "an ordinary day between Christmas and New Year"},
		{"GB", "2026-08-31", true, "Summer bank holiday (last Monday of August)"},
		{"UK", "2022-09-19", true, "UK is GB"},

		// The Netherlands: King's Day, the day before when the 27th is a
		// Sunday.
		{"NL", "2023-04-27", true, "Koningsdag"},
		{"NL", "2025-04-26", true, "Koningsdag on Saturday, 27 April a Sunday"},
		{"NL", "2025-05-05", false, "Bevrijdingsdag, left out"},
	}
	zones := map[string]string{"FI": "Europe/Helsinki", "SE": "Europe/Stockholm", "NO": "Europe/Oslo",
		"DK": "Europe/Copenhagen", "PL": "Europe/Warsaw", "DE": "Europe/Berlin", "GB": "Europe/London",
		"UK": "Europe/London", "NL": "Europe/Amsterdam"}
	for _, tt := range tests {
		t.Run(tt.country+" "+tt.date, func(t *testing.T) {
			c, err := New(zones[tt.country], tt.country)
			if err != nil {
				t.Fatal(err)
			}
			d, err := time.ParseInLocation(time.DateOnly, tt.date, c.Location())
			if err != nil {
				t.Fatal(err)
			}
			// Both ends of the local day: the holiday is the local date's.
			for _, at := range []time.Time{d, d.Add(23*time.Hour + 30*time.Minute)} {
				if got := c.IsHoliday(at); got != tt.want {
					t.Errorf("%s %s (%s): holiday %v, want %v", tt.country, at.Format(time.RFC3339), tt.what, got, tt.want)
				}
				if got := c.Fields(at.UTC()).Holiday; got != tt.want {
					t.Errorf("%s Fields(%s).Holiday = %v, want %v", tt.country, at.UTC().Format(time.RFC3339), got, tt.want)
				}
			}
		})
	}
}

// A calendar without a country is allowed, but says it has no holidays,
// so that a caller can report it.
func TestHasHolidays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		country, wantCountry string
		want                 bool
	}{
		{"", "", false},
		{"fi", "FI", true},
		{"GB", "GB", true},
		{"uk", "UK", true},
		{"SE", "SE", true},
	}
	for _, tt := range tests {
		c, err := New("Europe/London", tt.country)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.HasHolidays(); got != tt.want {
			t.Errorf("New(%q).HasHolidays() = %v, want %v", tt.country, got, tt.want)
		}
		if got := c.Country(); got != tt.wantCountry {
			t.Errorf("New(%q).Country() = %q, want %q", tt.country, got, tt.wantCountry)
		}
	}
}
