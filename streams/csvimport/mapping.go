package csvimport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Exogenous column kinds.
const (
	// KnownAhead marks a forecast: usable for the hour it forecasts from its
	// issue time on. Its values ride the weather-forecast topic with
	// IssuedAt from the column's Issued rule.
	KnownAhead = "known_ahead"
	// Observed marks a measurement: usable only once its hour has passed.
	// Its values ride the weather-observation topic with AvailableAt at the
	// end of the hour plus the column's Delay.
	Observed = "observed"
)

// DST policies for local timestamps (TimeColumn.DST).
const (
	// DSTStrict rejects a local time that does not exist (the hour skipped
	// when clocks go forward) and reads a repeated local time as its first
	// occurrence, or its second when the row before was already at or after
	// the first (a file that lists both hours).
	DSTStrict = "strict"
	// DSTEvened is for files that keep 24 rows a day on a DST clock: the
	// row at the skipped hour is a filler and is skipped (counted), and the
	// one row at the repeated hour is read as its first occurrence (the
	// second occurrence is missing from the file).
	DSTEvened = "evened"
)

// Mapping says how to read a CSV file of prices and exogenous series. It is
// written as JSON (see docs/import.md); Preset returns the built-in ones.
type Mapping struct {
	// Name names the mapping in messages and, by default, in Source.
	Name string `json:"name,omitempty"`
	// Header says whether the first row names the columns (default true).
	Header *bool `json:"header,omitempty"`
	// Columns names the columns of a file without a header, in order.
	Columns []string `json:"columns,omitempty"`
	// Delimiter is the field separator, one character (default ",").
	Delimiter string `json:"delimiter,omitempty"`
	// Missing lists the cell texts that mean "no value" besides the empty
	// cell (default "NA", "NaN", "null").
	Missing []string `json:"missing,omitempty"`

	Time TimeColumn `json:"time"`
	// Period is the length of one row's delivery period: 15m, 30m or 1h.
	Period Duration    `json:"period"`
	Price  PriceColumn `json:"price"`

	// Region is the bidding zone or tariff region id, e.g. "FI" or "GB-A".
	Region string `json:"region"`
	// Market names the price series, e.g. "nordpool-dayahead".
	Market string `json:"market"`
	// Source is written on every record (default "import:<name>").
	Source string `json:"source,omitempty"`
	// Published says when the price of each delivery day became known.
	Published Rule `json:"published"`
	// SkipRowsWithoutPrice drops rows whose price cell is empty, with their
	// exogenous values (for files whose trailing rows hold forecasts made by
	// the file's author rather than data). Otherwise such a row yields its
	// exogenous values and no price.
	SkipRowsWithoutPrice bool `json:"skip_rows_without_price,omitempty"`

	// Location is where the exogenous values were measured or forecast
	// (default: named after Region, no coordinates).
	Location Location `json:"location,omitzero"`
	// Exogenous lists the extra columns to publish and what they are.
	Exogenous []Exogenous `json:"exogenous,omitempty"`
}

// TimeColumn says where a row's period start is and how to read it.
type TimeColumn struct {
	// Column is the column name, or "#N" for the N-th column from 0.
	Column string `json:"column"`
	// Format is a Go time layout (e.g. "2006-01-02 15:04:05Z07:00",
	// "1/2/2006 15:04") or one of "rfc3339", "unix" (seconds), "unixms".
	Format string `json:"format"`
	// Zone interprets times whose format has no UTC offset: an IANA zone
	// ("Europe/Brussels") or a fixed offset ("+01:00"). Required then.
	Zone string `json:"zone,omitempty"`
	// DST is DSTStrict (default) or DSTEvened; it matters only for IANA
	// zones with clock changes.
	DST string `json:"dst,omitempty"`
}

// PriceColumn says where the price is and what it means.
type PriceColumn struct {
	Column string `json:"column"`
	// Unit is one of "EUR/MWh", "c/kWh", "p/kWh", "GBP/MWh".
	Unit     string `json:"unit"`
	Currency string `json:"currency"`
	// VATIncluded says whether the values include VAT.
	VATIncluded bool `json:"vat_included"`
	// VATRate, when set with VATIncluded, derives the price without VAT
	// (value / (1 + rate)), e.g. 0.05 for GB domestic electricity.
	VATRate *float64 `json:"vat_rate,omitempty"`
	// Scale multiplies every value (default 1), e.g. 100 to turn EUR/kWh
	// into c/kWh.
	Scale float64 `json:"scale,omitempty"`
	// Tariff is written on every price, e.g. "AGILE-18-02-21".
	Tariff string `json:"tariff,omitempty"`
}

// Location names the place of exogenous values.
type Location struct {
	Name      string   `json:"name,omitempty"`
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
}

// Exogenous declares one extra column.
type Exogenous struct {
	Column string `json:"column"`
	// Name is the variable name in the published values (default Column).
	Name string `json:"name,omitempty"`
	// Kind is KnownAhead or Observed. There is no default: a column whose
	// nature is unknown must be declared Observed, which can never leak.
	Kind string `json:"kind"`
	// Issued, for KnownAhead columns, says when the forecast for delivery
	// day D was issued, e.g. "D-1 10:00 Europe/Brussels".
	Issued Rule `json:"issued,omitzero"`
	// Delay, for Observed columns, is how long after the end of its hour a
	// value became available (default 0: at the end of the hour).
	Delay Duration `json:"delay,omitzero"`
	// ZeroMissing reads 0 as "no value" (some exports write 0 for gaps).
	ZeroMissing bool `json:"zero_missing,omitempty"`
	// Optional skips the column when the file does not have it.
	Optional bool `json:"optional,omitempty"`
	// Location overrides the mapping's location name for this column.
	Location string `json:"location,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("1h", "30m").
type Duration time.Duration

// MarshalJSON writes d as a string such as "1h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("csvimport: a duration is a string such as \"1h\" or \"30m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("csvimport: duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// LoadMapping reads a JSON mapping file and validates it. Unknown fields are
// an error, so that a misspelt key does not silently fall back to a default.
func LoadMapping(path string) (Mapping, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Mapping{}, fmt.Errorf("csvimport: read mapping: %w", err)
	}
	return DecodeMapping(b, path)
}

// DecodeMapping parses and validates a JSON mapping; name is used in errors.
func DecodeMapping(b []byte, name string) (Mapping, error) {
	m, err := decodeMapping(b, name)
	if err != nil {
		return Mapping{}, err
	}
	if err := m.validate(); err != nil {
		return Mapping{}, fmt.Errorf("csvimport: mapping %s: %w", name, err)
	}
	return m, nil
}

// ReadMapping reads a JSON mapping file like LoadMapping but does not
// validate it, for callers that apply overrides (command-line flags such as
// --time-zone) first and then call Validate.
func ReadMapping(path string) (Mapping, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Mapping{}, fmt.Errorf("csvimport: read mapping: %w", err)
	}
	return decodeMapping(b, path)
}

func decodeMapping(b []byte, name string) (Mapping, error) {
	var m Mapping
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Mapping{}, fmt.Errorf("csvimport: mapping %s: %w (see docs/import.md for the format)", name, err)
	}
	return m, nil
}

var units = map[string]bool{"EUR/MWh": true, "c/kWh": true, "p/kWh": true, "GBP/MWh": true}

// Validate checks the mapping on its own, before any file is read: required
// fields, units, rules, and that every exogenous column is declared.
func (m *Mapping) Validate() error {
	if err := m.validate(); err != nil {
		return fmt.Errorf("csvimport: %w", err)
	}
	return nil
}

func (m *Mapping) validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if m.Time.Column == "" {
		bad("time.column is required")
	}
	if m.Time.Format == "" {
		bad("time.format is required (a Go layout such as \"2006-01-02 15:04\", or rfc3339, unix, unixms)")
	}
	if m.Time.Zone != "" {
		if _, err := LoadZone(m.Time.Zone); err != nil {
			bad("time.zone: %v", err)
		}
	} else if m.Time.NeedsZone() {
		bad("time.zone is required: format %q has no UTC offset; set time.zone in the mapping or pass --time-zone (an IANA zone such as Europe/Brussels, or +01:00)", m.Time.Format)
	}
	switch m.Time.DST {
	case "", DSTStrict, DSTEvened:
	default:
		bad("time.dst %q: want %q or %q", m.Time.DST, DSTStrict, DSTEvened)
	}
	switch time.Duration(m.Period) {
	case 15 * time.Minute, 30 * time.Minute, time.Hour:
	default:
		bad("period %s: want 15m, 30m or 1h", time.Duration(m.Period))
	}
	if m.Price.Column == "" {
		bad("price.column is required")
	}
	if !units[m.Price.Unit] {
		bad("price.unit %q: want one of EUR/MWh, c/kWh, p/kWh, GBP/MWh", m.Price.Unit)
	}
	if m.Price.Currency == "" {
		bad("price.currency is required (e.g. EUR, GBP)")
	}
	if m.Price.VATRate != nil && (!m.Price.VATIncluded || *m.Price.VATRate < 0 || *m.Price.VATRate > 1) {
		bad("price.vat_rate needs vat_included and a rate in [0, 1], e.g. 0.05")
	}
	if m.Region == "" {
		bad("region is required (e.g. FI, GB-A)")
	}
	if m.Market == "" {
		bad("market is required (e.g. nordpool-dayahead)")
	}
	if m.Published.IsZero() {
		bad("published is required, e.g. \"D-1 12:45 Europe/Brussels\"")
	}
	if m.Delimiter != "" && len([]rune(m.Delimiter)) != 1 {
		bad("delimiter %q: want one character", m.Delimiter)
	}
	if m.Header != nil && !*m.Header && len(m.Columns) == 0 {
		bad("a file without a header needs columns (names in order)")
	}
	seen := map[string]bool{}
	for i, x := range m.Exogenous {
		where := fmt.Sprintf("exogenous[%d] (%s)", i, x.Column)
		if x.Column == "" {
			bad("exogenous[%d].column is required", i)
		}
		name := x.variable()
		if seen[name] {
			bad("%s: variable %q is declared twice", where, name)
		}
		seen[name] = true
		switch x.Kind {
		case KnownAhead:
			if x.Issued.IsZero() {
				bad("%s: a known_ahead column needs issued, e.g. \"D-1 10:00 Europe/Brussels\"", where)
			}
			if x.Delay != 0 {
				bad("%s: delay is for observed columns", where)
			}
		case Observed:
			if !x.Issued.IsZero() {
				bad("%s: issued is for known_ahead columns", where)
			}
			if x.Delay < 0 {
				bad("%s: delay must not be negative", where)
			}
		default:
			bad("%s: kind %q: declare %q (a forecast, usable for the hour it forecasts from its issue time) or %q (usable once its hour has passed)", where, x.Kind, KnownAhead, Observed)
		}
	}
	if len(m.Exogenous) > 0 && time.Duration(m.Period) != time.Hour {
		bad("exogenous columns need hourly rows (period 1h): weather values are hourly")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func (x Exogenous) variable() string {
	if x.Name != "" {
		return x.Name
	}
	return x.Column
}

func (m *Mapping) source() string {
	if m.Source != "" {
		return m.Source
	}
	if m.Name != "" {
		return "import:" + m.Name
	}
	return "import"
}

func (m *Mapping) hasHeader() bool { return m.Header == nil || *m.Header }

// NeedsZone reports whether the column's format lacks a UTC offset, so that
// its times are local and need Zone.
func (t TimeColumn) NeedsZone() bool { return needsZone(t.Format) }

// needsZone reports whether a time format lacks a UTC offset.
func needsZone(format string) bool {
	switch strings.ToLower(format) {
	case "rfc3339", "unix", "unixms":
		return false
	}
	return !strings.Contains(format, "Z07") && !strings.Contains(format, "-07") && !strings.Contains(format, "MST")
}
