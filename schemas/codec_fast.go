package schemas

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
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
func decodeFast(b []byte, v Value) (ok bool) { return decodeFastWith(b, v, nil) }

// decodeFastWith is decodeFast taking the text of strings from strs (nil:
// none; see Decoder).
func decodeFastWith(b []byte, v Value, strs strTable) (ok bool) {
	switch x := v.(type) {
	case *Price:
		if *x != (Price{}) {
			return false
		}
		var p Price
		if !decodePrice(b, &p, strs) {
			return false
		}
		*x = p
		return true
	case *WeatherObservation:
		if !zeroObservation(x) {
			return false
		}
		o := WeatherObservation{Values: x.Values}
		if !decodeObservation(b, &o, strs) {
			clear(x.Values)
			return false
		}
		*x = o
		return true
	case *WeatherForecast:
		if !zeroForecast(x) {
			return false
		}
		f := WeatherForecast{Values: x.Values}
		if !decodeForecast(b, &f, strs) {
			clear(x.Values)
			return false
		}
		*x = f
		return true
	}
	return false
}

// zeroObservation and zeroForecast report whether a value is zero but for
// an empty map of values, which decoding fills as it would a new one (a
// reader may so reuse its maps).
func zeroObservation(o *WeatherObservation) bool {
	return o.Region == "" && o.Location == "" && o.Latitude == nil && o.Longitude == nil && o.Source == "" &&
		o.Time == (time.Time{}) && len(o.Values) == 0 && o.AvailableAt == (time.Time{})
}

func zeroForecast(f *WeatherForecast) bool {
	return f.Region == "" && f.Location == "" && f.Latitude == nil && f.Longitude == nil && f.Source == "" &&
		f.Model == "" && f.IssuedAt == (time.Time{}) && f.Time == (time.Time{}) && f.LeadHours == 0 && len(f.Values) == 0
}

// The fields of each type, in the order encoding/json writes them (and so
// our writers): the order in which the decoders expect the keys first.
var (
	priceKeys       = []string{"region", "market", "source", "tariff", "start", "end", "value", "value_ex_vat", "unit", "currency", "vat_included", "published_at"}
	observationKeys = []string{"region", "location", "latitude", "longitude", "source", "time", "values", "available_at"}
	forecastKeys    = []string{"region", "location", "latitude", "longitude", "source", "model", "issued_at", "time", "lead_hours", "values"}

	// The keys the JSON Schema requires (TestRequiredMasksAreTheSchemas):
	// an object without one goes to decode's slow path, which says which.
	priceRequired       = keyMask(priceKeys, "region", "market", "source", "start", "end", "value", "unit", "currency", "vat_included", "published_at")
	observationRequired = keyMask(observationKeys, "region", "location", "source", "time", "values", "available_at")
	forecastRequired    = keyMask(forecastKeys, "region", "location", "source", "issued_at", "time", "lead_hours", "values")
)

// keyMask has bit i set for each of names that is keys[i].
func keyMask(keys []string, names ...string) uint32 {
	var m uint32
	for i, k := range keys {
		if slices.Contains(names, k) {
			m |= 1 << i
		}
	}
	return m
}

func decodePrice(b []byte, p *Price, strs strTable) bool {
	d := dec{b: b, strs: strs}
	var it fieldIter
	for d.field(priceKeys, &it) {
		if priceRequired&(1<<it.k) != 0 && d.null() {
			return false // a required null: decode's slow path names it
		}
		if !func() bool {
			switch it.k {
			case 0:
				return d.str(&p.Region)
			case 1:
				return d.str(&p.Market)
			case 2:
				return d.str(&p.Source)
			case 3:
				return d.str(&p.Tariff)
			case 4:
				return d.time(&p.Start)
			case 5:
				return d.time(&p.End)
			case 6:
				return d.float(&p.Value)
			case 7:
				return d.floatPtr(&p.ValueExVAT)
			case 8:
				return d.str(&p.Unit)
			case 9:
				return d.str(&p.Currency)
			case 10:
				return d.bool(&p.VATIncluded)
			default:
				return d.time(&p.PublishedAt)
			}
		}() {
			return false
		}
	}
	return it.ok && d.end() && it.seen&priceRequired == priceRequired
}

func decodeObservation(b []byte, o *WeatherObservation, strs strTable) bool {
	d := dec{b: b, strs: strs}
	var it fieldIter
	for d.field(observationKeys, &it) {
		if observationRequired&(1<<it.k) != 0 && d.null() {
			return false // a required null: decode's slow path names it
		}
		if !func() bool {
			switch it.k {
			case 0:
				return d.str(&o.Region)
			case 1:
				return d.str(&o.Location)
			case 2:
				return d.floatPtr(&o.Latitude)
			case 3:
				return d.floatPtr(&o.Longitude)
			case 4:
				return d.str(&o.Source)
			case 5:
				return d.time(&o.Time)
			case 6:
				return d.floatMap(&o.Values)
			default:
				return d.time(&o.AvailableAt)
			}
		}() {
			return false
		}
	}
	return it.ok && d.end() && it.seen&observationRequired == observationRequired
}

func decodeForecast(b []byte, f *WeatherForecast, strs strTable) bool {
	d := dec{b: b, strs: strs}
	var it fieldIter
	for d.field(forecastKeys, &it) {
		if forecastRequired&(1<<it.k) != 0 && d.null() {
			return false // a required null: decode's slow path names it
		}
		if !func() bool {
			switch it.k {
			case 0:
				return d.str(&f.Region)
			case 1:
				return d.str(&f.Location)
			case 2:
				return d.floatPtr(&f.Latitude)
			case 3:
				return d.floatPtr(&f.Longitude)
			case 4:
				return d.str(&f.Source)
			case 5:
				return d.str(&f.Model)
			case 6:
				return d.time(&f.IssuedAt)
			case 7:
				return d.time(&f.Time)
			case 8:
				return d.int(&f.LeadHours)
			default:
				return d.floatMap(&f.Values)
			}
		}() {
			return false
		}
	}
	return it.ok && d.end() && it.seen&forecastRequired == forecastRequired
}

// fieldIter is the state of a scan of an object by field.
type fieldIter struct {
	seen    uint32 // bit i: keys[i] was read
	k       int    // the index of the key whose value is next
	next    int    // the index expected next
	started bool   // past the opening brace
	ok      bool   // the object was scanned to its closing brace
}

// field scans to the next field of an object whose keys are among keys,
// and reports whether there is one: it sets it.k to the key's index and
// leaves d after the colon, for the caller to scan the value. At the end
// of the object, or at anything else (a key not in keys, bad syntax), it
// returns false; it.ok tells which. Each key is first compared with the
// keys expected next in keys' order, which is how encoding/json writes
// them, so that the usual key costs a comparison, not a scan and a search.
// (An iterator rather than a callback: a closure would move d to the heap.)
func (d *dec) field(keys []string, it *fieldIter) bool {
	if !it.started {
		it.started = true
		if !d.next('{') {
			return false
		}
		if d.next('}') {
			it.ok = true
			return false
		}
	} else {
		it.next = it.k + 1
		if !d.next(',') {
			it.ok = d.next('}')
			return false
		}
	}
	d.ws()
	k := -1
	for j := it.next; j < len(keys) && j < it.next+3; j++ {
		if d.isKey(keys[j]) {
			k = j
			break
		}
	}
	if k < 0 {
		key, ok := d.rawString()
		if !ok {
			return false
		}
		for j, name := range keys {
			if string(key) == name {
				k = j
				break
			}
		}
		if k < 0 {
			return false
		}
	}
	if !d.next(':') {
		return false
	}
	d.ws()
	it.k = k
	it.seen |= 1 << k
	return true
}

// isKey scans the string name (which needs no escaping) if it is next.
func (d *dec) isKey(name string) bool {
	n := len(name)
	if len(d.b)-d.i < n+2 || d.b[d.i] != '"' || d.b[d.i+n+1] != '"' || string(d.b[d.i+1:d.i+1+n]) != name {
		return false
	}
	d.i += n + 2
	return true
}

// dec scans one JSON value. Every method returns false for anything it does
// not handle, leaving the decision to encoding/json.
type dec struct {
	b    []byte
	i    int
	strs strTable
}

// strTable holds strings already read, direct mapped by a hash of their
// text: a lookup is a hash and a comparison, cheaper than a map's, and the
// table's size bounds what it keeps.
type strTable *[strSlots]string

const strSlots = 1024

// string returns raw as a string, from d.strs when it is there.
func (d *dec) string(raw []byte) string {
	if d.strs == nil || len(raw) == 0 || len(raw) > 64 {
		return string(raw)
	}
	h := uint32(2166136261) // FNV-1a
	for _, c := range raw {
		h = (h ^ uint32(c)) * 16777619
	}
	e := &d.strs[h%strSlots]
	if *e == string(raw) {
		return *e
	}
	*e = string(raw)
	return *e
}

func (d *dec) ws() {
	// Our writers put no whitespace between tokens.
	if d.i < len(d.b) && d.b[d.i] > ' ' {
		return
	}
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
	b := d.b
	for j := start; j < len(b); j++ {
		c := b[j]
		if !strSpecial[c] {
			continue
		}
		switch {
		case c == '"':
			s := b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			d.i = j + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		default: // c >= utf8.RuneSelf
			ascii = false
		}
	}
	return nil, false
}

// strSpecial marks the bytes rawString must look at: the quote, the
// backslash, control characters and the bytes of non-ASCII UTF-8.
var strSpecial = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf
	}
	return t
}()

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
		*s = d.string(raw)
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
// encoding/json does, except for the form every writer of ours uses,
// "2006-01-02T15:04:05Z", which it reads itself into the same value.
func (d *dec) time(t *time.Time) bool {
	if d.null() {
		return true
	}
	start := d.i
	raw, ok := d.rawString()
	if !ok {
		return false
	}
	if sec, ok := parseUTC(raw); ok {
		*t = time.Unix(sec, 0).UTC()
		return true
	}
	return t.UnmarshalJSON(d.b[start:d.i]) == nil
}

// parseUTC reads "YYYY-MM-DDTHH:MM:SSZ" as Unix seconds. ok is false for
// anything else, and for a field out of range (time.Parse's errors are left
// to it).
func parseUTC(b []byte) (int64, bool) {
	if len(b) != 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != 'Z' {
		return 0, false
	}
	// Digits, as values 0..9 (anything else is 10 or more as a byte).
	var dg [20]byte
	bad := byte(0)
	for _, i := range [14]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		dg[i] = b[i] - '0' // a byte below '0' wraps to above 9
		if dg[i] > 9 {
			bad = 1
		}
	}
	two := func(i int) int64 { return int64(dg[i])*10 + int64(dg[i+1]) }
	y := two(0)*100 + two(2)
	m, d := two(5), two(8)
	hh, mm, ss := two(11), two(14), two(17)
	if bad != 0 || m < 1 || m > 12 || d < 1 || d > daysIn(m, y) || hh > 23 || mm > 59 || ss > 59 {
		return 0, false
	}
	// Howard Hinnant's days_from_civil.
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	days := era*146097 + doe - 719468
	return days*86400 + hh*3600 + mm*60 + ss, true
}

func daysIn(m, y int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
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
			(*m)[d.string(key)] = f
		}
		return ok
	})
}

// encodeFeatureRow appends the JSON encoding of r to b, the same bytes as
// json.Marshal(r). ok is false when encoding/json must do it (a value it
// would reject, such as NaN, or a time it cannot format).
func encodeFeatureRow(b []byte, r *FeatureRow) (_ []byte, ok bool) {
	return encodeFeatureRowWith(b, r, nil, nil)
}

// encodeFeatureRowWith is encodeFeatureRow looking floats up in fc and the
// text of whole blocks of fields in bc first (nil: none).
func encodeFeatureRowWith(b []byte, r *FeatureRow, fc *floatCache, bc *blockCache) (_ []byte, ok bool) {
	e := enc{b: b, ok: true, fc: fc}
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
	var slot int
	if bc != nil {
		slot = bc.slot(r.Region)
	}
	bc.stats(&e, r, slot)
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
	bc.maps(&e, r, slot)
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
	fc *floatCache
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
	fc := e.fc
	if fc == nil {
		e.formatFloat(f)
		return
	}
	bits := math.Float64bits(f)
	c := &fc[(bits*0x9E3779B97F4A7C15)>>(64-floatCacheBits)]
	if c.n != 0 && c.bits == bits {
		e.b = append(e.b, c.text[:c.n]...)
		return
	}
	start := len(e.b)
	e.formatFloat(f)
	if n := len(e.b) - start; e.ok && n <= len(c.text) {
		c.bits, c.n = bits, uint8(n)
		copy(c.text[:], e.b[start:])
	}
}

func (e *enc) formatFloat(f float64) {
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

// floatCache remembers the JSON text of recently written floats, direct
// mapped by their bits. Formatting a float the shortest way costs far more
// than looking it up, and the floats of a stream of feature rows recur: a
// day's statistics in each of its 48 rows, an hour's price in its own row
// and as the lags of six later ones.
type floatCache [1 << floatCacheBits]struct {
	bits uint64
	n    uint8 // 0: empty
	text [23]byte
}

const floatCacheBits = 12

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
	// years outside 0..9999. A UTC time in whole seconds from 1970 on (every
	// time in a feature row) is written here, as AppendText would.
	if t.Location() == time.UTC && t.Nanosecond() == 0 {
		if sec := t.Unix(); sec >= 0 && sec < year10000 {
			e.b = appendUTC(append(e.b, '"'), sec)
			e.b = append(e.b, '"')
			return
		}
	}
	b, err := t.AppendText(append(e.b, '"'))
	if err != nil {
		e.ok = false
		return
	}
	e.b = append(b, '"')
}

// year10000 is 10000-01-01T00:00:00Z in Unix seconds.
const year10000 = 253402300800

// appendUTC appends the Unix time sec (0 <= sec < year10000) as
// "2006-01-02T15:04:05Z". The date is Howard Hinnant's civil_from_days.
func appendUTC(b []byte, sec int64) []byte {
	days, rem := sec/86400, sec%86400
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	two := func(b []byte, v int64) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = two(two(b, y/100), y%100)
	b = two(append(b, '-'), m)
	b = two(append(b, '-'), d)
	b = two(append(b, 'T'), rem/3600)
	b = two(append(b, ':'), rem/60%60)
	b = two(append(b, ':'), rem%60)
	return append(b, 'Z')
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

// blockCache remembers the text of two blocks of a feature row's fields that
// all the rows of one region and delivery day share: the last price and
// the rolling statistics, and the last observations and forecast errors.
// Entries are found by region and checked against the row's values, so a
// row whose values differ from the entry's is written afresh (and replaces
// it): the cache only ever returns the text of equal values.
type blockCache struct {
	seed  maphash.Seed
	stat  [blockSlots]statsBlock
	mapsB [blockSlots]mapsBlock
}

const blockSlots = 64

func (bc *blockCache) slot(region string) int {
	return int(maphash.String(bc.seed, region) % blockSlots)
}

// statsKey is the values of the statistics block; cacheable only when its
// time is a UTC time in whole seconds (the time's zone and nanoseconds
// would otherwise matter too).
type statsKey struct {
	f    [9]uint64 // float bits of LastPrice, Mean24h .. Max168h
	nils uint16    // bit i: float i is nil; bit 9: LastPriceHour is nil
	hour int64
}

func statsKeyOf(r *FeatureRow) (k statsKey, ok bool) {
	for i, p := range [9]*float64{r.LastPrice, r.Mean24h, r.Std24h, r.Min24h, r.Max24h, r.Mean168h, r.Std168h, r.Min168h, r.Max168h} {
		if p == nil {
			k.nils |= 1 << i
		} else {
			k.f[i] = math.Float64bits(*p)
		}
	}
	if t := r.LastPriceHour; t == nil {
		k.nils |= 1 << 9
	} else {
		if t.Location() != time.UTC || t.Nanosecond() != 0 {
			return k, false
		}
		k.hour = t.Unix()
	}
	return k, true
}

type statsBlock struct {
	ok   bool
	key  statsKey
	text []byte
}

// stats writes the block from "last_price" to "max_168h".
func (bc *blockCache) stats(e *enc, r *FeatureRow, slot int) {
	var k statsKey
	cacheable := false
	if bc != nil {
		k, cacheable = statsKeyOf(r)
		if c := &bc.stat[slot]; cacheable && c.ok && c.key == k {
			e.b = append(e.b, c.text...)
			return
		}
	}
	start := len(e.b)
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
	if cacheable && e.ok {
		c := &bc.stat[slot]
		c.ok, c.key, c.text = true, k, append(c.text[:0], e.b[start:]...)
	}
}

// mapKey is the content of a map, its keys sorted.
type mapKey struct {
	isNil bool
	keys  []string
	vals  []uint64
}

func (k *mapKey) matches(m map[string]float64) bool {
	if m == nil || k.isNil {
		return m == nil && k.isNil
	}
	if len(m) != len(k.keys) {
		return false
	}
	for i, key := range k.keys {
		if v, ok := m[key]; !ok || math.Float64bits(v) != k.vals[i] {
			return false
		}
	}
	return true
}

func (k *mapKey) set(m map[string]float64) {
	k.isNil, k.keys, k.vals = m == nil, k.keys[:0], k.vals[:0]
	for key := range m {
		k.keys = append(k.keys, key)
	}
	slices.Sort(k.keys)
	for _, key := range k.keys {
		k.vals = append(k.vals, math.Float64bits(m[key]))
	}
}

type mapsBlock struct {
	ok     bool
	lo, fe mapKey
	text   []byte
}

// maps writes the block of "last_observed" and "forecast_error".
func (bc *blockCache) maps(e *enc, r *FeatureRow, slot int) {
	if bc != nil {
		if c := &bc.mapsB[slot]; c.ok && c.lo.matches(r.LastObserved) && c.fe.matches(r.ForecastError) {
			e.b = append(e.b, c.text...)
			return
		}
	}
	start := len(e.b)
	e.raw(`,"last_observed":`)
	e.floatMap(r.LastObserved)
	e.raw(`,"forecast_error":`)
	e.floatMap(r.ForecastError)
	if bc != nil && e.ok {
		c := &bc.mapsB[slot]
		c.ok = true
		c.lo.set(r.LastObserved)
		c.fe.set(r.ForecastError)
		c.text = append(c.text[:0], e.b[start:]...)
	}
}

// FeatureRowEncoder encodes feature rows as Encode does, with the same
// checks and the same bytes, for a writer of many rows: it remembers the
// text of the floats it wrote (see floatCache) and checks the common case
// of a valid row without the errors' formatting. The zero value is ready
// to use; it is not safe for concurrent use.
type FeatureRowEncoder struct {
	floats *floatCache
	blocks *blockCache
	// date is the last local date that passed the check, so that the
	// rows of one day parse it once.
	date string
}

// AppendJSON validates r and appends its JSON encoding to dst: the bytes
// Encode(r) returns, or Encode's error.
func (fe *FeatureRowEncoder) AppendJSON(dst []byte, r *FeatureRow) ([]byte, error) {
	if !fe.valid(r) {
		if err := r.Validate(); err != nil {
			return dst, err
		}
	}
	if fe.floats == nil {
		fe.floats = new(floatCache)
		fe.blocks = &blockCache{seed: maphash.MakeSeed()}
	}
	n := len(dst)
	if b, ok := encodeFeatureRowWith(dst, r, fe.floats, fe.blocks); ok {
		return b, nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return dst[:n], fmt.Errorf("schemas: encode %s: %w", r.SchemaName(), err)
	}
	return append(dst[:n], b...), nil
}

// valid reports whether r certainly passes Validate, checking what Validate
// checks the cheap way; false means "ask Validate".
func (fe *FeatureRowEncoder) valid(r *FeatureRow) bool {
	// Times in UTC whole seconds: their year is then a range of Unix
	// seconds, and a whole hour a multiple of 3600.
	utc := func(t time.Time) bool { return t.Location() == time.UTC && t.Nanosecond() == 0 }
	const y1990, y2201 = 631152000, 7289654400
	hour, issue := r.Hour.Unix(), r.IssueTime.Unix()
	ok := isRegionID(r.Region) && r.Market != "" &&
		utc(r.Hour) && utc(r.IssueTime) &&
		hour >= y1990 && hour < y2201 && issue >= y1990 && issue < y2201 &&
		hour%3600 == 0 && issue < hour &&
		r.Final == (r.Price != nil) &&
		r.LocalHour >= 0 && r.LocalHour <= 23 && r.Weekday >= 1 && r.Weekday <= 7 &&
		r.Month >= 1 && r.Month <= 12 && r.DayOfYear >= 1 && r.DayOfYear <= 366
	if ok && r.Price != nil {
		p := *r.Price
		ok = p >= MinPrice && p <= MaxPrice // false for NaN
	}
	// fe.date is the last date that parsed; "" (a fresh encoder) never
	// did, so an empty date is parsed, and refused, like any other.
	if ok && (r.LocalDate != fe.date || fe.date == "") {
		if _, err := time.Parse(time.DateOnly, r.LocalDate); err != nil {
			return false
		}
		fe.date = r.LocalDate
	}
	return ok
}

// Decoder decodes values as Decode does, for a reader of many: the strings
// of its values (region ids, markets, units, locations, variable names)
// recur in record after record, and it gives them the text it has already
// read instead of allocating it again. The zero value is ready to use; it is
// not safe for concurrent use.
type Decoder struct {
	strs strTable
}

// Decode is Decode(b, v).
func (dc *Decoder) Decode(b []byte, v Value) error {
	if dc.strs == nil {
		dc.strs = new([strSlots]string)
	}
	return decode(b, v, dc.strs)
}
