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
