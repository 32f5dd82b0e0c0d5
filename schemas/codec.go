package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Value is implemented by every topic value type.
type Value interface {
	// SchemaName is the value's schema, e.g. SchemaPrice.
	SchemaName() string
	// Validate reports the first problem that makes the value unusable, as
	// a *ValidationError.
	Validate() error
}

// ValidationError says why a value was rejected. Reason is one of
// ReasonMalformed, ReasonInvalid or ReasonOutOfRange, so that a dead letter
// can be classified without matching strings.
type ValidationError struct {
	Schema string
	Field  string
	Reason string
	Msg    string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("schemas: %s: %s: %s", e.Schema, e.Field, e.Msg)
}

// ReasonOf returns the dead-letter reason for an error from Decode or
// Validate: the ValidationError's reason, or ReasonMalformed.
func ReasonOf(err error) string {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return ReasonMalformed
}

// CheckHeaders reports whether a record's schema headers, as get returns
// them ("" for a header the record lacks), allow reading it as schema want
// of this SchemaVersion. A header that is absent says nothing (producers
// other than wattcast need not set them; the value's validation decides);
// one that names another schema or version is refused with reason
// ReasonUnknown, so that a v2 record is dead-lettered rather than read as
// v1.
func CheckHeaders(want string, get func(key string) string) error {
	if got := get(HeaderSchema); got != "" && got != want {
		return &ValidationError{Schema: want, Field: HeaderSchema, Reason: ReasonUnknown,
			Msg: fmt.Sprintf("the record is a %q, not a %q: it is on the wrong topic", got, want)}
	}
	if got := get(HeaderSchemaVersion); got != "" && got != SchemaVersion {
		return &ValidationError{Schema: want, Field: HeaderSchemaVersion, Reason: ReasonUnknown,
			Msg: fmt.Sprintf("schema version %q; this wattcast reads version %s: upgrade the reader", got, SchemaVersion)}
	}
	return nil
}

// Header is one record header.
type Header struct {
	Key   string
	Value string
}

// Headers returns the headers every wattcast record carries: schema, schema
// version, producer and content type.
func Headers(schema, producer string) []Header {
	return []Header{
		{HeaderSchema, schema},
		{HeaderSchemaVersion, SchemaVersion},
		{HeaderProducer, producer},
		{HeaderContentType, "application/json"},
	}
}

// Encode validates v and returns its JSON encoding. Writers never publish a
// value their own readers would dead-letter.
func Encode(v Value) ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	if r, ok := v.(*FeatureRow); ok {
		if b, ok := encodeFeatureRow(make([]byte, 0, 1024), r); ok {
			return b, nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("schemas: encode %s: %w", v.SchemaName(), err)
	}
	return b, nil
}

// Decode parses b into v and validates it. Unknown fields are ignored so
// that a v1 reader accepts v1 values with fields added later (see
// docs/topics.md on schema evolution). Decode into a fresh (zero) value:
// like encoding/json, decoding into a value that already holds data merges
// maps and keeps fields absent from b. (A zero value but for an empty map
// of values is fresh too: its map is filled and kept, so that a reader can
// reuse its maps.)
func Decode(b []byte, v Value) error { return decode(b, v, nil) }

func decode(b []byte, v Value, strs strTable) error {
	if !decodeFastWith(b, v, strs) {
		if err := json.Unmarshal(b, v); err != nil {
			return &ValidationError{Schema: v.SchemaName(), Field: "(value)", Reason: ReasonMalformed,
				Msg: "not a valid JSON " + v.SchemaName() + ": " + err.Error()}
		}
		// encoding/json takes a missing field, or a null, as the zero
		// value: a price of 0, a temperature of 0. The schema does not.
		// Checked on the input topics, which other producers write;
		// wattcast's own encoders write every field of the others.
		switch v.(type) {
		case *Price, *WeatherObservation, *WeatherForecast:
			if err := checkPresent(b, v.SchemaName()); err != nil {
				return err
			}
		}
	}
	return v.Validate()
}

// checkPresent checks b, a JSON object that decoded, against its JSON
// Schema's required properties: each present, and not null unless its
// schema allows null; the same for the entries of a map whose values may
// not be null. The fast decoders leave every such object to this path.
func checkPresent(b []byte, schema string) error {
	sb, err := JSONSchema(schema)
	if err != nil {
		return nil // not one of ours: nothing to check against
	}
	var sc struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       map[string]json.RawMessage `json:"$defs"`
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(sb, &sc) != nil || json.Unmarshal(b, &obj) != nil {
		return nil
	}
	// resolve follows a property's "$ref" into the schema's $defs.
	resolve := func(prop json.RawMessage) json.RawMessage {
		var r struct {
			Ref string `json:"$ref"`
		}
		if json.Unmarshal(prop, &r) == nil {
			if name, ok := strings.CutPrefix(r.Ref, "#/$defs/"); ok && sc.Defs[name] != nil {
				return sc.Defs[name]
			}
		}
		return prop
	}
	fail := func(field, msg string) error {
		return &ValidationError{Schema: schema, Field: field, Reason: ReasonInvalid, Msg: msg}
	}
	for _, name := range sc.Required {
		raw, ok := obj[name]
		switch {
		case !ok:
			return fail(name, "is required")
		case isNull(raw) && !allowsNull(resolve(sc.Properties[name])):
			return fail(name, "is null; the schema wants a value")
		}
		var prop struct {
			Additional json.RawMessage `json:"additionalProperties"`
		}
		if json.Unmarshal(resolve(sc.Properties[name]), &prop) != nil || len(prop.Additional) == 0 || allowsNull(resolve(prop.Additional)) {
			continue
		}
		var entries map[string]json.RawMessage
		if json.Unmarshal(raw, &entries) != nil {
			continue
		}
		for k, e := range entries {
			if isNull(e) {
				return fail(name+"."+k, "is null; the schema wants a value")
			}
		}
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// allowsNull reports whether a property's schema admits null: a type list
// with "null", or an alternative that is null. One it cannot read admits it
// (this check only ever refuses what the schema clearly refuses).
func allowsNull(prop json.RawMessage) bool {
	var p struct {
		Type  json.RawMessage   `json:"type"`
		OneOf []json.RawMessage `json:"oneOf"`
		AnyOf []json.RawMessage `json:"anyOf"`
	}
	if json.Unmarshal(prop, &p) != nil || len(p.Type) == 0 && len(p.OneOf) == 0 && len(p.AnyOf) == 0 {
		return true
	}
	var one string
	var many []string
	switch {
	case json.Unmarshal(p.Type, &one) == nil:
		return one == "null"
	case json.Unmarshal(p.Type, &many) == nil:
		return slices.Contains(many, "null")
	}
	for _, alt := range append(p.OneOf, p.AnyOf...) {
		if allowsNull(alt) {
			return true
		}
	}
	return len(p.Type) == 0 && len(p.OneOf)+len(p.AnyOf) == 0
}

// Plausible bounds. They catch unit mistakes and corrupt values, not real
// extremes: the EU harmonised day-ahead limits are -500 and +4000 EUR/MWh and
// real prices have touched both; 50 000 leaves room for any unit we accept.
const (
	MinPrice      = -5000.0
	MaxPrice      = 50000.0
	maxAbsWeather = 1e7
)

// isRegionID reports whether s matches ^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$
// (checked by hand: it runs for every record, and a regexp match cost more
// than the rest of the validation).
func isRegionID(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// isUnit reports whether u is a unit prices may carry.
func isUnit(u string) bool {
	switch u {
	case "EUR/MWh", "c/kWh", "p/kWh", "GBP/MWh":
		return true
	}
	return false
}

type checker struct {
	schema string
	err    error
}

func (c *checker) fail(field, reason, format string, args ...any) {
	if c.err == nil {
		c.err = &ValidationError{Schema: c.schema, Field: field, Reason: reason, Msg: fmt.Sprintf(format, args...)}
	}
}

func (c *checker) region(field, v string) {
	if !isRegionID(v) {
		c.fail(field, ReasonInvalid, "%q is not a region id (1-32 of A-Z a-z 0-9 _ . -)", v)
	}
}

func (c *checker) nonEmpty(field, v string) {
	if v == "" {
		c.fail(field, ReasonInvalid, "is required")
	}
}

func (c *checker) time(field string, t time.Time) {
	if t.IsZero() {
		c.fail(field, ReasonInvalid, "is required")
		return
	}
	if y := t.Year(); y < 1990 || y > 2200 {
		c.fail(field, ReasonOutOfRange, "%s is outside 1990..2200", t.Format(time.RFC3339))
	}
}

func (c *checker) finite(field string, v float64, lo, hi float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		c.fail(field, ReasonOutOfRange, "is not a finite number")
		return
	}
	if v < lo || v > hi {
		c.fail(field, ReasonOutOfRange, "%g is outside the plausible range [%g, %g]", v, lo, hi)
	}
}

func (c *checker) values(field string, m map[string]float64) {
	if len(m) == 0 {
		c.fail(field, ReasonInvalid, "needs at least one value")
	}
	for k, v := range m {
		if k == "" {
			c.fail(field, ReasonInvalid, "has an empty variable name")
		}
		// The field's name is built only for an error: this runs for
		// every value of every record.
		if c.err == nil && !(v >= -maxAbsWeather && v <= maxAbsWeather) {
			c.finite(field+"."+k, v, -maxAbsWeather, maxAbsWeather)
		}
	}
}

// localDate checks a YYYY-MM-DD date.
func (c *checker) localDate(field, v string) {
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		c.fail(field, ReasonInvalid, "%q is not a date YYYY-MM-DD", v)
	}
}

func (c *checker) hourAligned(field string, t time.Time) {
	if !t.Equal(t.Truncate(time.Hour)) {
		c.fail(field, ReasonInvalid, "%s is not the start of an hour", t.Format(time.RFC3339))
	}
}

// SchemaName implements Value.
func (*Price) SchemaName() string { return SchemaPrice }

// Validate implements Value.
func (p *Price) Validate() error {
	c := &checker{schema: SchemaPrice}
	c.region("region", p.Region)
	c.nonEmpty("market", p.Market)
	c.nonEmpty("source", p.Source)
	c.time("start", p.Start)
	c.time("end", p.End)
	c.time("published_at", p.PublishedAt)
	if c.err == nil {
		switch d := p.End.Sub(p.Start); d {
		case 15 * time.Minute, 30 * time.Minute, time.Hour:
		default:
			c.fail("end", ReasonInvalid, "period %s..%s is %s long; want 15m, 30m or 1h",
				p.Start.Format(time.RFC3339), p.End.Format(time.RFC3339), d)
		}
		if !p.Start.Equal(p.Start.Truncate(15 * time.Minute)) {
			c.fail("start", ReasonInvalid, "%s is not on a quarter hour", p.Start.Format(time.RFC3339))
		}
	}
	c.finite("value", p.Value, MinPrice, MaxPrice)
	if p.ValueExVAT != nil {
		c.finite("value_ex_vat", *p.ValueExVAT, MinPrice, MaxPrice)
	}
	if !isUnit(p.Unit) {
		c.fail("unit", ReasonInvalid, "%q is not one of EUR/MWh, c/kWh, p/kWh, GBP/MWh", p.Unit)
	}
	c.nonEmpty("currency", p.Currency)
	return c.err
}

// SchemaName implements Value.
func (*WeatherObservation) SchemaName() string { return SchemaWeatherObservation }

// Validate implements Value.
func (w *WeatherObservation) Validate() error {
	c := &checker{schema: SchemaWeatherObservation}
	c.region("region", w.Region)
	c.nonEmpty("location", w.Location)
	c.nonEmpty("source", w.Source)
	c.time("time", w.Time)
	c.time("available_at", w.AvailableAt)
	if c.err == nil {
		c.hourAligned("time", w.Time)
		// An observation cannot be known before its hour is over: anything
		// earlier would let a feature look into the hour it describes.
		if w.AvailableAt.Before(w.Time.Add(time.Hour)) {
			c.fail("available_at", ReasonInvalid, "%s is before the end of the observed hour %s",
				w.AvailableAt.Format(time.RFC3339), w.Time.Format(time.RFC3339))
		}
	}
	c.latLon(w.Latitude, w.Longitude)
	c.values("values", w.Values)
	return c.err
}

func (c *checker) latLon(lat, lon *float64) {
	if lat != nil {
		c.finite("latitude", *lat, -90, 90)
	}
	if lon != nil {
		c.finite("longitude", *lon, -180, 180)
	}
}

// SchemaName implements Value.
func (*WeatherForecast) SchemaName() string { return SchemaWeatherForecast }

// Validate implements Value.
func (w *WeatherForecast) Validate() error {
	c := &checker{schema: SchemaWeatherForecast}
	c.region("region", w.Region)
	c.nonEmpty("location", w.Location)
	c.nonEmpty("source", w.Source)
	c.time("time", w.Time)
	c.time("issued_at", w.IssuedAt)
	if c.err == nil {
		c.hourAligned("time", w.Time)
		if want := LeadHours(w.IssuedAt, w.Time); w.LeadHours != want {
			c.fail("lead_hours", ReasonInvalid, "is %d but time - issued_at is %d hours", w.LeadHours, want)
		}
	}
	c.latLon(w.Latitude, w.Longitude)
	c.values("values", w.Values)
	return c.err
}

// LeadHours is the whole number of hours from issued to target, rounded
// towards minus infinity so that an hour already begun has a negative lead.
func LeadHours(issued, target time.Time) int {
	return int(math.Floor(target.Sub(issued).Hours()))
}

// SchemaName implements Value.
func (*FeatureRow) SchemaName() string { return SchemaFeatureRow }

// Validate implements Value.
func (f *FeatureRow) Validate() error {
	c := &checker{schema: SchemaFeatureRow}
	c.region("region", f.Region)
	c.nonEmpty("market", f.Market)
	c.time("hour", f.Hour)
	c.time("issue_time", f.IssueTime)
	if c.err == nil {
		c.hourAligned("hour", f.Hour)
		if !f.IssueTime.Before(f.Hour) {
			c.fail("issue_time", ReasonInvalid, "%s is not before the hour %s",
				f.IssueTime.Format(time.RFC3339), f.Hour.Format(time.RFC3339))
		}
	}
	if f.Final != (f.Price != nil) {
		c.fail("price", ReasonInvalid, "must be set exactly when final is true")
	}
	c.localDate("local_date", f.LocalDate)
	if f.LocalHour < 0 || f.LocalHour > 23 {
		c.fail("local_hour", ReasonInvalid, "%d is not in 0..23", f.LocalHour)
	}
	if f.Weekday < 1 || f.Weekday > 7 {
		c.fail("weekday", ReasonInvalid, "%d is not an ISO weekday 1..7", f.Weekday)
	}
	if f.Month < 1 || f.Month > 12 {
		c.fail("month", ReasonInvalid, "%d is not in 1..12", f.Month)
	}
	if f.DayOfYear < 1 || f.DayOfYear > 366 {
		c.fail("day_of_year", ReasonInvalid, "%d is not in 1..366", f.DayOfYear)
	}
	if f.Price != nil {
		c.finite("price", *f.Price, MinPrice, MaxPrice)
	}
	return c.err
}

// SchemaName implements Value.
func (*DailyFeatures) SchemaName() string { return SchemaDailyFeatures }

// Validate implements Value.
func (d *DailyFeatures) Validate() error {
	c := &checker{schema: SchemaDailyFeatures}
	c.region("region", d.Region)
	c.nonEmpty("market", d.Market)
	c.localDate("local_date", d.LocalDate)
	c.time("start", d.Start)
	c.time("end", d.End)
	if c.err == nil && !d.End.After(d.Start) {
		c.fail("end", ReasonInvalid, "%s is not after start %s", d.End.Format(time.RFC3339), d.Start.Format(time.RFC3339))
	}
	if d.Hours < 23 || d.Hours > 25 {
		c.fail("hours", ReasonInvalid, "%d is not 23, 24 or 25", d.Hours)
	}
	if d.PriceHours < 1 || d.PriceHours > d.Hours {
		c.fail("price_hours", ReasonInvalid, "%d is not in 1..hours (%d)", d.PriceHours, d.Hours)
	}
	c.finite("price_mean", d.PriceMean, MinPrice, MaxPrice)
	c.finite("price_min", d.PriceMin, MinPrice, MaxPrice)
	c.finite("price_max", d.PriceMax, MinPrice, MaxPrice)
	c.finite("price_std", d.PriceStd, 0, MaxPrice-MinPrice)
	if c.err == nil && !(d.PriceMin <= d.PriceMean && d.PriceMean <= d.PriceMax) {
		c.fail("price_mean", ReasonInvalid, "%g is not between price_min %g and price_max %g", d.PriceMean, d.PriceMin, d.PriceMax)
	}
	for _, h := range []struct {
		field string
		t     time.Time
	}{{"min_hour", d.MinHour}, {"max_hour", d.MaxHour}} {
		c.time(h.field, h.t)
		if c.err == nil && (h.t.Before(d.Start) || !h.t.Before(d.End)) {
			c.fail(h.field, ReasonInvalid, "%s is not within the day [%s, %s)", h.t.Format(time.RFC3339), d.Start.Format(time.RFC3339), d.End.Format(time.RFC3339))
		}
	}
	if d.PeakMean != nil {
		c.finite("peak_mean", *d.PeakMean, MinPrice, MaxPrice)
	}
	if d.OffPeakMean != nil {
		c.finite("off_peak_mean", *d.OffPeakMean, MinPrice, MaxPrice)
	}
	if d.Weekday < 1 || d.Weekday > 7 {
		c.fail("weekday", ReasonInvalid, "%d is not an ISO weekday 1..7", d.Weekday)
	}
	if d.Month < 1 || d.Month > 12 {
		c.fail("month", ReasonInvalid, "%d is not in 1..12", d.Month)
	}
	return c.err
}

// SchemaName implements Value.
func (*Forecast) SchemaName() string { return SchemaForecast }

// Validate implements Value.
func (f *Forecast) Validate() error {
	c := &checker{schema: SchemaForecast}
	c.nonEmpty("forecast_id", f.ForecastID)
	c.region("region", f.Region)
	c.nonEmpty("model_id", f.ModelID)
	c.nonEmpty("model_version", f.ModelVersion)
	c.role(f.Role)
	c.time("issue_time", f.IssueTime)
	c.localDate("local_date", f.LocalDate)
	if len(f.Points) == 0 {
		c.fail("points", ReasonInvalid, "needs at least one point")
	}
	for i, p := range f.Points {
		c.finite(fmt.Sprintf("points[%d].value", i), p.Value, MinPrice, MaxPrice)
		if !p.Hour.After(f.IssueTime) {
			c.fail(fmt.Sprintf("points[%d].hour", i), ReasonInvalid, "is not after issue_time")
		}
		for j, q := range p.Quantiles {
			if q.Q <= 0 || q.Q >= 1 {
				c.fail(fmt.Sprintf("points[%d].quantiles[%d].q", i, j), ReasonInvalid, "%g is not in (0, 1)", q.Q)
			}
		}
	}
	return c.err
}

func (c *checker) role(r string) {
	if r != RoleChampion && r != RoleChallenger {
		c.fail("role", ReasonInvalid, "%q is not champion or challenger", r)
	}
}

// SchemaName implements Value.
func (*ForecastError) SchemaName() string { return SchemaForecastError }

// Validate implements Value.
func (e *ForecastError) Validate() error {
	c := &checker{schema: SchemaForecastError}
	c.nonEmpty("forecast_id", e.ForecastID)
	c.region("region", e.Region)
	c.nonEmpty("model_id", e.ModelID)
	c.role(e.Role)
	c.time("hour", e.Hour)
	c.finite("forecast", e.Forecast, MinPrice, MaxPrice)
	c.finite("actual", e.Actual, MinPrice, MaxPrice)
	if math.Abs(e.Error-(e.Forecast-e.Actual)) > 1e-9*math.Max(1, math.Abs(e.Actual)) ||
		math.Abs(e.AbsError-math.Abs(e.Error)) > 1e-12 {
		c.fail("error", ReasonInvalid, "error must be forecast - actual and abs_error its absolute value")
	}
	return c.err
}

// SchemaName implements Value.
func (*ModelEvent) SchemaName() string { return SchemaModelEvent }

// Validate implements Value.
func (e *ModelEvent) Validate() error {
	c := &checker{schema: SchemaModelEvent}
	c.nonEmpty("event_id", e.EventID)
	c.time("time", e.Time)
	switch e.Type {
	case EventRegistered, EventStageChanged, EventPromoted, EventPromotionDenied, EventRolledBack, EventRetrainRequested:
	default:
		c.fail("type", ReasonInvalid, "%q is not a known event type", e.Type)
	}
	c.nonEmpty("model_id", e.ModelID)
	return c.err
}

// SchemaName implements Value.
func (*DeadLetter) SchemaName() string { return SchemaDeadLetter }

// Validate implements Value.
func (d *DeadLetter) Validate() error {
	c := &checker{schema: SchemaDeadLetter}
	c.nonEmpty("topic", d.Topic)
	switch d.Reason {
	case ReasonMalformed, ReasonInvalid, ReasonOutOfRange, ReasonLate, ReasonWindowClosed, ReasonUnknown:
	default:
		c.fail("reason", ReasonInvalid, "%q is not a dead-letter reason code", d.Reason)
	}
	c.nonEmpty("stage", d.Stage)
	c.time("time", d.Time)
	if d.ValueEncoding != "text" && d.ValueEncoding != "base64" {
		c.fail("value_encoding", ReasonInvalid, "%q is not text or base64", d.ValueEncoding)
	}
	return c.err
}
