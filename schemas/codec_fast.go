package schemas

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Fast paths for the hot values of the feature processor: decoding its
// inputs (Price, WeatherObservation, WeatherForecast) and encoding its output
// (FeatureRow). encoding/json spends most of its time in reflection; these
// do the same work by hand for the shapes our writers produce.
//
// They never decide anything encoding/json would decide differently: a fast
// path handles only the plain case (known field names spelt exactly, strings
// without escapes, well-formed numbers) and otherwise reports !ok, and the
// caller runs encoding/json on the same bytes, so every error, every unusual
// input and every edge case keeps encoding/json's behaviour. The tests in
// codec_fast_test.go check, byte for byte and value for value, that both
// give the same result, including for every field of the structs (a field
// added to one of these types without its fast path fails them).

// decodeFast decodes b into v when v is one of the fast-path types and
// still the zero value (so that json.Unmarshal's merging into existing
// values never comes into play). ok is false when the caller must use
// encoding/json.
func decodeFast(b []byte, v Value) (ok bool) {
	switch x := v.(type) {
	case *Price:
		if *x != (Price{}) {
			return false
		}
		var p Price
		if !decodePrice(b, &p) {
			return false
		}
		*x = p
		return true
	case *WeatherObservation:
		if !zeroObservation(x) {
			return false
		}
		var o WeatherObservation
		if !decodeObservation(b, &o) {
			return false
		}
		*x = o
		return true
	case *WeatherForecast:
		if !zeroForecast(x) {
			return false
		}
		var f WeatherForecast
		if !decodeForecast(b, &f) {
			return false
		}
		*x = f
		return true
	}
	return false
}

func zeroObservation(o *WeatherObservation) bool {
	return o.Region == "" && o.Location == "" && o.Latitude == nil && o.Longitude == nil && o.Source == "" &&
		o.Time == (time.Time{}) && o.Values == nil && o.AvailableAt == (time.Time{})
}

func zeroForecast(f *WeatherForecast) bool {
	return f.Region == "" && f.Location == "" && f.Latitude == nil && f.Longitude == nil && f.Source == "" &&
		f.Model == "" && f.IssuedAt == (time.Time{}) && f.Time == (time.Time{}) && f.LeadHours == 0 && f.Values == nil
}

func decodePrice(b []byte, p *Price) bool {
	d := dec{b: b}
	return d.object(func(key []byte) bool {
		switch string(key) {
		case "region":
			return d.str(&p.Region)
		case "market":
			return d.str(&p.Market)
		case "source":
			return d.str(&p.Source)
		case "tariff":
			return d.str(&p.Tariff)
		case "start":
			return d.time(&p.Start)
		case "end":
			return d.time(&p.End)
		case "value":
			return d.float(&p.Value)
		case "value_ex_vat":
			return d.floatPtr(&p.ValueExVAT)
		case "unit":
			return d.str(&p.Unit)
		case "currency":
			return d.str(&p.Currency)
		case "vat_included":
			return d.bool(&p.VATIncluded)
		case "published_at":
			return d.time(&p.PublishedAt)
		}
		return false
	}) && d.end()
}

func decodeObservation(b []byte, o *WeatherObservation) bool {
	d := dec{b: b}
	return d.object(func(key []byte) bool {
		switch string(key) {
		case "region":
			return d.str(&o.Region)
		case "location":
			return d.str(&o.Location)
		case "latitude":
			return d.floatPtr(&o.Latitude)
		case "longitude":
			return d.floatPtr(&o.Longitude)
		case "source":
			return d.str(&o.Source)
		case "time":
			return d.time(&o.Time)
		case "values":
			return d.floatMap(&o.Values)
		case "available_at":
			return d.time(&o.AvailableAt)
		}
		return false
	}) && d.end()
}

func decodeForecast(b []byte, f *WeatherForecast) bool {
	d := dec{b: b}
	return d.object(func(key []byte) bool {
		switch string(key) {
		case "region":
			return d.str(&f.Region)
		case "location":
			return d.str(&f.Location)
		case "latitude":
			return d.floatPtr(&f.Latitude)
		case "longitude":
			return d.floatPtr(&f.Longitude)
		case "source":
			return d.str(&f.Source)
		case "model":
			return d.str(&f.Model)
		case "issued_at":
			return d.time(&f.IssuedAt)
		case "time":
			return d.time(&f.Time)
		case "lead_hours":
			return d.int(&f.LeadHours)
		case "values":
			return d.floatMap(&f.Values)
		}
		return false
	}) && d.end()
}

// dec scans one JSON value. Every method returns false for anything it does
// not handle, leaving the decision to encoding/json.
type dec struct {
	b []byte
	i int
}

func (d *dec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// end accepts only trailing whitespace.
func (d *dec) end() bool {
	d.ws()
	return d.i == len(d.b)
}

func (d *dec) next(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// object scans {"key": value, ...}, calling field after each key's colon;
// field must scan the value.
func (d *dec) object(field func(key []byte) bool) bool {
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return true
	}
	for {
		d.ws()
		key, ok := d.rawString()
		if !ok || !d.next(':') {
			return false
		}
		d.ws()
		if !field(key) {
			return false
		}
		if d.next(',') {
			continue
		}
		return d.next('}')
	}
}

// rawString scans a string without escapes or control characters that is
// valid UTF-8 (encoding/json would return its bytes unchanged) and returns
// its content.
func (d *dec) rawString() ([]byte, bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		c := d.b[j]
		switch {
		case c == '"':
			s := d.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			d.i = j + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// null scans a null literal if one is next.
func (d *dec) null() bool {
	if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

func (d *dec) str(s *string) bool {
	if d.null() {
		return true // encoding/json leaves a string unchanged on null
	}
	raw, ok := d.rawString()
	if ok {
		*s = string(raw)
	}
	return ok
}

func (d *dec) bool(v *bool) bool {
	switch {
	case d.null():
	case len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "true":
		*v = true
		d.i += 4
	case len(d.b)-d.i >= 5 && string(d.b[d.i:d.i+5]) == "false":
		*v = false
		d.i += 5
	default:
		return false
	}
	return true
}

// number scans a literal of JSON's number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *dec) number() ([]byte, bool) {
	b, i := d.b, d.i
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	return b[start:i], true
}

func (d *dec) parseFloat() (float64, bool) {
	lit, ok := d.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	return f, err == nil
}

func (d *dec) float(v *float64) bool {
	if d.null() {
		return true
	}
	f, ok := d.parseFloat()
	if ok {
		*v = f
	}
	return ok
}

func (d *dec) floatPtr(v **float64) bool {
	if d.null() {
		*v = nil
		return true
	}
	f, ok := d.parseFloat()
	if !ok {
		return false
	}
	if *v != nil {
		**v = f
	} else {
		*v = &f
	}
	return true
}

func (d *dec) int(v *int) bool {
	if d.null() {
		return true
	}
	lit, ok := d.number()
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil || n != int64(int(n)) {
		return false
	}
	*v = int(n)
	return true
}

// time hands the literal to time.Time's own UnmarshalJSON, as
// encoding/json does.
func (d *dec) time(t *time.Time) bool {
	if d.null() {
		return true
	}
	start := d.i
	if _, ok := d.rawString(); !ok {
		return false
	}
	return t.UnmarshalJSON(d.b[start:d.i]) == nil
}

func (d *dec) floatMap(m *map[string]float64) bool {
	if d.null() {
		*m = nil
		return true
	}
	if *m == nil {
		*m = make(map[string]float64, 2)
	}
	return d.object(func(key []byte) bool {
		if d.null() {
			return false // encoding/json stores a zero; leave it to it
		}
		f, ok := d.parseFloat()
		if ok {
			(*m)[string(key)] = f
		}
		return ok
	})
}

// encodeFeatureRow appends the JSON encoding of r to b, the same bytes as
// json.Marshal(r). ok is false when encoding/json must do it (a value it
// would reject, such as NaN, or a time it cannot format).
func encodeFeatureRow(b []byte, r *FeatureRow) (_ []byte, ok bool) {
	e := enc{b: b, ok: true}
	e.raw(`{"region":`)
	e.str(r.Region)
	e.raw(`,"market":`)
	e.str(r.Market)
	e.raw(`,"unit":`)
	e.str(r.Unit)
	e.raw(`,"hour":`)
	e.time(r.Hour)
	e.raw(`,"local_date":`)
	e.str(r.LocalDate)
	e.raw(`,"issue_time":`)
	e.time(r.IssueTime)
	e.raw(`,"lead_hours":`)
	e.int(r.LeadHours)
	e.raw(`,"final":`)
	e.bool(r.Final)
	e.raw(`,"price":`)
	e.floatPtr(r.Price)
	e.raw(`,"price_count":`)
	e.int(r.PriceCount)
	e.raw(`,"price_lag_24h":`)
	e.floatPtr(r.PriceLag24h)
	e.raw(`,"price_lag_48h":`)
	e.floatPtr(r.PriceLag48h)
	e.raw(`,"price_lag_168h":`)
	e.floatPtr(r.PriceLag168h)
	e.raw(`,"last_price":`)
	e.floatPtr(r.LastPrice)
	e.raw(`,"last_price_hour":`)
	e.timePtr(r.LastPriceHour)
	e.raw(`,"mean_24h":`)
	e.floatPtr(r.Mean24h)
	e.raw(`,"std_24h":`)
	e.floatPtr(r.Std24h)
	e.raw(`,"min_24h":`)
	e.floatPtr(r.Min24h)
	e.raw(`,"max_24h":`)
	e.floatPtr(r.Max24h)
	e.raw(`,"mean_168h":`)
	e.floatPtr(r.Mean168h)
	e.raw(`,"std_168h":`)
	e.floatPtr(r.Std168h)
	e.raw(`,"min_168h":`)
	e.floatPtr(r.Min168h)
	e.raw(`,"max_168h":`)
	e.floatPtr(r.Max168h)
	e.raw(`,"local_hour":`)
	e.int(r.LocalHour)
	e.raw(`,"weekday":`)
	e.int(r.Weekday)
	e.raw(`,"month":`)
	e.int(r.Month)
	e.raw(`,"day_of_year":`)
	e.int(r.DayOfYear)
	e.raw(`,"weekend":`)
	e.bool(r.Weekend)
	e.raw(`,"holiday":`)
	e.bool(r.Holiday)
	e.raw(`,"dst":`)
	e.bool(r.DST)
	e.raw(`,"known_ahead":`)
	e.floatMap(r.KnownAhead)
	e.raw(`,"known_ahead_issued_at":`)
	e.timePtr(r.KnownAheadIssuedAt)
	e.raw(`,"known_ahead_lead_hours":`)
	if r.KnownAheadLeadHours == nil {
		e.raw("null")
	} else {
		e.int(*r.KnownAheadLeadHours)
	}
	e.raw(`,"last_observed":`)
	e.floatMap(r.LastObserved)
	e.raw(`,"forecast_error":`)
	e.floatMap(r.ForecastError)
	e.raw(`,"observed":`)
	e.floatMap(r.Observed)
	e.raw("}")
	return e.b, e.ok
}

// enc appends JSON as encoding/json writes it; ok turns false at the first
// value it leaves to encoding/json.
type enc struct {
	b  []byte
	ok bool
}

func (e *enc) raw(s string) { e.b = append(e.b, s...) }

func (e *enc) bool(v bool) { e.b = strconv.AppendBool(e.b, v) }

func (e *enc) int(v int) { e.b = strconv.AppendInt(e.b, int64(v), 10) }

// str writes s as encoding/json does (HTML-safe escaping); strings that
// need any escaping at all are written by encoding/json itself.
func (e *enc) str(s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil {
				e.ok = false
				return
			}
			e.b = append(e.b, q...)
			return
		}
	}
	e.b = append(e.b, '"')
	e.b = append(e.b, s...)
	e.b = append(e.b, '"')
}

// float is encoding/json's float64 encoding: the shortest representation,
// in exponent form below 1e-6 and from 1e21, with e-07 shortened to e-7.
func (e *enc) float(f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		e.ok = false
		return
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	e.b = strconv.AppendFloat(e.b, f, format, -1, 64)
	if format == 'e' {
		n := len(e.b)
		if n >= 4 && e.b[n-4] == 'e' && e.b[n-3] == '-' && e.b[n-2] == '0' {
			e.b[n-2] = e.b[n-1]
			e.b = e.b[:n-1]
		}
	}
}

func (e *enc) floatPtr(f *float64) {
	if f == nil {
		e.raw("null")
		return
	}
	e.float(*f)
}

func (e *enc) time(t time.Time) {
	// encoding/json calls time.Time.MarshalJSON: RFC 3339 with
	// nanoseconds between quotes, the text AppendText writes; both fail for
	// years outside 0..9999.
	b, err := t.AppendText(append(e.b, '"'))
	if err != nil {
		e.ok = false
		return
	}
	e.b = append(b, '"')
}

func (e *enc) timePtr(t *time.Time) {
	if t == nil {
		e.raw("null")
		return
	}
	e.time(*t)
}

// floatMap writes m with its keys sorted, as encoding/json does; nil is
// null and an empty map {}.
func (e *enc) floatMap(m map[string]float64) {
	if m == nil {
		e.raw("null")
		return
	}
	var arr [8]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.b = append(e.b, '{')
	for i, k := range keys {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.str(k)
		e.b = append(e.b, ':')
		e.float(m[k])
	}
	e.b = append(e.b, '}')
}
