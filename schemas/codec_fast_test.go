package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The fast paths in codec_fast.go must be invisible: the same bytes as
// json.Marshal, the same values as json.Unmarshal. These tests fill every
// field of the types by reflection with awkward values, so a field added to
// a type without its fast path, or a formatting rule got wrong (exponents,
// HTML escaping, map order, nanoseconds, zones), fails them.

var (
	awkwardStrings = []string{"", "FI", "GB-A", "nordpool-dayahead", "EUR/MWh", "a<b>&c", "quote\"d", `back\slash`,
		"tab\there", "nl\n", "ctl\x01", "é", "日本", "\u2028\u2029", "bad\xffutf8", "temperature_2m", "x.wind", "Region"}
	awkwardFloats = []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.99e-7, 1e-7, -1e-7, 1e20, 1e21, 1.5e21,
		123.456, 43.21793646474573, 5e-324, math.MaxFloat64, -math.MaxFloat64, 1e300, 2.5e-10, 100000000, 1234567.0}
	zones = []*time.Location{time.UTC, time.FixedZone("", 2*3600), time.FixedZone("X", -(5*3600 + 30*60)), time.FixedZone("", 0)}
)

// fill sets v to a random value, recursing into structs, pointers and maps.
func fill(r *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if r.IntN(3) == 0 {
			v.SetString(fmt.Sprintf("s%d", r.IntN(1000)))
		} else {
			v.SetString(awkwardStrings[r.IntN(len(awkwardStrings))])
		}
	case reflect.Float64:
		if r.IntN(2) == 0 {
			v.SetFloat(awkwardFloats[r.IntN(len(awkwardFloats))])
		} else {
			v.SetFloat(r.NormFloat64() * math.Pow(10, float64(r.IntN(30)-12)))
		}
	case reflect.Int:
		v.SetInt(int64(r.IntN(2001) - 1000))
	case reflect.Int32:
		v.SetInt(int64(r.Int32()))
	case reflect.Int64:
		v.SetInt(r.Int64N(1 << 40))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Pointer:
		if r.IntN(4) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(r, p.Elem())
		v.Set(p)
	case reflect.Map:
		switch r.IntN(6) {
		case 0:
			v.SetZero()
			return
		case 1:
			v.Set(reflect.MakeMap(v.Type()))
			return
		}
		m := reflect.MakeMap(v.Type())
		for range 1 + r.IntN(4) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(r, k)
			fill(r, e)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			sec := 631152000 + r.Int64N(3_500_000_000) // 1990 .. 2100
			ns := int64(0)
			if r.IntN(3) == 0 {
				ns = r.Int64N(1e9)
			}
			v.Set(reflect.ValueOf(time.Unix(sec, ns).In(zones[r.IntN(len(zones))])))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(r, v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), r.IntN(3), r.IntN(3)+3))
		for i := range v.Len() {
			fill(r, v.Index(i))
		}
	default:
		panic(fmt.Sprintf("fill: %s needs a case", v.Type()))
	}
}

func TestEncodeFeatureRowIsEncodingJSON(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	fast := 0
	for i := range 3000 {
		var row FeatureRow
		fill(r, reflect.ValueOf(&row).Elem())
		want, wantErr := json.Marshal(&row)
		got, ok := encodeFeatureRow(nil, &row)
		if !ok {
			// Declining is always safe; it must happen only where
			// encoding/json has something special to say.
			continue
		}
		fast++
		if wantErr != nil {
			t.Fatalf("case %d: encoding/json fails (%v) but the fast path wrote %s", i, wantErr, got)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d differs:\nfast %s\njson %s", i, got, want)
		}
	}
	if fast < 2850 {
		t.Fatalf("the fast path took only %d of 3000 rows", fast)
	}
}

func TestEncodeFeatureRowDeclinesWhatEncodingJSONRejects(t *testing.T) {
	t.Parallel()
	nan, inf := math.NaN(), math.Inf(-1)
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, row := range map[string]FeatureRow{
		"NaN price":        {Price: &nan},
		"infinite lag":     {PriceLag24h: &inf},
		"NaN in a map":     {Observed: map[string]float64{"t": nan}},
		"year 10000":       {Hour: far},
		"year 10000 field": {LastPriceHour: &far},
	} {
		if _, err := json.Marshal(&row); err == nil {
			t.Fatalf("%s: encoding/json accepts it; the case is wrong", name)
		}
		if b, ok := encodeFeatureRow(nil, &row); ok {
			t.Errorf("%s: the fast path wrote %s instead of leaving the error to encoding/json", name, b)
		}
	}
}

// mutate returns variants of a JSON object that exercise both the fast
// path and its fallbacks.
func mutate(r *rand.Rand, b []byte) [][]byte {
	s := string(b)
	out := [][]byte{b,
		[]byte(strings.ReplaceAll(strings.ReplaceAll(s, ":", " :\t"), ",", ",\n ")),
		[]byte(" \r\n" + s + "\n "),
		[]byte(`{"zzz":1,` + s[1:]),                           // unknown field
		[]byte(`{"Region":"XX",` + s[1:]),                     // other case
		[]byte(s[:len(s)-1] + `,"region":"DUP"}`),             // duplicate: last wins
		[]byte(s[:len(s)-1] + `,"values":null}`),              // null map
		[]byte(s[:len(s)-1] + `,"value":null}`),               // null number
		[]byte(s[:len(s)-1] + `,"lead_hours":1.5}`),           // not an int
		[]byte(s[:len(s)-1] + `,"lead_hours":1e2}`),           // not an int literal
		[]byte(s[:len(s)-1] + `,"latitude":null}`),            // null pointer
		[]byte(s[:len(s)-1] + `,"region":"a\u0042"}`),         // escape
		[]byte(s[:len(s)-1] + `,"values":{"w":null}}`),        // null map value
		[]byte(s[:len(s)-1] + `,"value":-0.0e+0}`),            // odd number
		[]byte(s[:len(s)-1] + `,"value":01}`),                 // invalid number
		[]byte(s[:len(s)-1] + `,"value":1e999}`),              // overflow
		[]byte(s[:len(s)-1] + `,"start":"2024-01-01"}`),       // bad time
		[]byte(s[:len(s)-1] + `,"vat_included":"true"}`),      // wrong type
		[]byte(s[:len(s)-1] + `,"time":null}`),                // null time
		[]byte(s + "x"),                                       // trailing garbage
		[]byte(s + "{}"),                                      // second value
		[]byte("[" + s + "]"),                                 // not an object
		[]byte(`{}`), []byte(`null`), []byte(``), []byte(`{`), // degenerate
	}
	for range 6 {
		c := []byte(s)
		const alphabet = " {}[]:,\"\\0123456789.eE-+nultrfasx\x00\xff"
		c[r.IntN(len(c))] = alphabet[r.IntN(len(alphabet))]
		out = append(out, c, c[:r.IntN(len(c))])
	}
	return out
}

// fastDecoded returns a maker of a zero value for each type with a
// decoding fast path.
func fastDecoded() []func() Value {
	return []func() Value{
		func() Value { return new(Price) },
		func() Value { return new(WeatherObservation) },
		func() Value { return new(WeatherForecast) },
	}
}

func TestDecodeFastIsEncodingJSON(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	types := fastDecoded()
	clean := 0
	for i := range 600 {
		newV := types[i%len(types)]
		src := newV()
		fill(r, reflect.ValueOf(src).Elem())
		b, err := json.Marshal(src)
		if err != nil {
			continue // NaN and the like: not a value anyone can send
		}
		for j, in := range mutate(r, b) {
			ok := checkDecodeFast(t, in, newV)
			if j == 0 && !bytes.ContainsRune(in, '\\') && checkPresent(in, newV().SchemaName()) == nil {
				// encoding/json wrote it without escapes and with no
				// required field null (those go to the slow path, which
				// refuses them): nothing here is unusual, so the fast
				// path must take it.
				clean++
				if !ok {
					t.Fatalf("the fast path declined %s", in)
				}
			}
		}
	}
	if clean < 50 {
		t.Fatalf("only %d values without escapes: the generator is off", clean)
	}
}

// checkDecodeFast checks that when the fast path accepts in, encoding/json
// accepts it too and yields the same value; it reports whether the fast
// path accepted.
func checkDecodeFast(t *testing.T, in []byte, newV func() Value) bool {
	t.Helper()
	fast, std := newV(), newV()
	ok := decodeFast(in, fast)
	err := json.Unmarshal(in, std)
	if !ok {
		if !reflect.ValueOf(fast).Elem().IsZero() {
			t.Fatalf("%s: the fast path declined %q but changed the value to %+v", fast.SchemaName(), in, fast)
		}
		return false
	}
	if err != nil {
		t.Fatalf("%s: fast path accepted %q, encoding/json says %v", fast.SchemaName(), in, err)
	}
	if !reflect.DeepEqual(fast, std) {
		t.Fatalf("%s: %q decodes differently:\nfast %+v\njson %+v", fast.SchemaName(), in, fast, std)
	}
	return true
}

// A value already holding data is merged into by encoding/json; the fast
// path must leave that to it.
func TestDecodeFastLeavesMergingToEncodingJSON(t *testing.T) {
	t.Parallel()
	in := []byte(`{"region":"FI","values":{"b":2}}`)
	o := &WeatherObservation{Values: map[string]float64{"a": 1}}
	if decodeFast(in, o) {
		t.Fatal("the fast path decoded into a non-zero value")
	}
	if err := Decode(in, o); err == nil || !reflect.DeepEqual(o.Values, map[string]float64{"a": 1, "b": 2}) {
		t.Fatalf("Decode into a non-zero value: %v, values %v; want encoding/json's merge", err, o.Values)
	}
}

func FuzzDecodeFast(f *testing.F) {
	for _, s := range []string{
		`{"region":"FI","market":"m","source":"s","start":"2024-01-01T00:00:00Z","end":"2024-01-01T01:00:00Z","value":1.5,"unit":"EUR/MWh","currency":"EUR","vat_included":true,"published_at":"2023-12-31T11:45:00Z"}`,
		`{"region":"FI","location":"x","latitude":60.1,"source":"s","time":"2024-01-01T00:00:00+02:00","values":{"t":-3.5,"w":2},"available_at":"2024-01-01T01:00:00.5Z"}`,
		`{"region":"FI","location":"x","source":"s","model":"best_match","issued_at":"2024-01-01T00:00:00Z","time":"2024-01-01T06:00:00Z","lead_hours":6,"values":{"t":1e-7}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecodeFast(t, in, func() Value { return new(Price) })
		checkDecodeFast(t, in, func() Value { return new(WeatherObservation) })
		checkDecodeFast(t, in, func() Value { return new(WeatherForecast) })
	})
}

func TestIsRegionIDIsTheRegexp(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$`)
	cases := []string{"", "FI", "GB-A", "DK_1", "a.b", "_x", "-x", ".x", "x\n", "é", "aé", "x y",
		strings.Repeat("a", 32), strings.Repeat("a", 33), "A" + strings.Repeat("-", 31), "\xff"}
	r := rand.New(rand.NewPCG(5, 6))
	const alphabet = "aZ09_.-/ \né\x00"
	for range 5000 {
		var b strings.Builder
		for range r.IntN(36) {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		if got, want := isRegionID(s), re.MatchString(s); got != want {
			t.Fatalf("isRegionID(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}

// BenchmarkCodec reports the fast paths' cost per value and their speed-up
// over encoding/json on the same values, measured in the same run: a final
// feature row as the processor writes it, and the processor's inputs.
func BenchmarkCodec(b *testing.B) {
	h := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	v, lag, lead := 41.23456789012345, 38.1, 29
	row := &FeatureRow{Region: "FI", Market: "nordpool-dayahead", Unit: "EUR/MWh", Hour: h, LocalDate: "2024-03-01",
		IssueTime: h.Add(-24 * time.Hour), LeadHours: 24, Final: true, Price: &v, PriceCount: 1, PriceLag24h: &lag,
		PriceLag48h: &lag, PriceLag168h: &lag, LastPrice: &v, LastPriceHour: &h, Mean24h: &v, Std24h: &lag, Min24h: &lag,
		Max24h: &v, Mean168h: &v, Std168h: &lag, Min168h: &lag, Max168h: &v, LocalHour: 12, Weekday: 5, Month: 3, DayOfYear: 61,
		KnownAhead: map[string]float64{"temperature_2m": 3.5, "wind_speed_10m": 7.25}, KnownAheadIssuedAt: &h, KnownAheadLeadHours: &lead,
		LastObserved: map[string]float64{"temperature_2m": 2.25, "wind_speed_10m": 6}, ForecastError: map[string]float64{"temperature_2m": -0.123456789},
		Observed: map[string]float64{"temperature_2m": 4, "wind_speed_10m": 5.5}}
	price := []byte(`{"region":"R001","market":"test-dayahead","source":"test","start":"2021-01-03T05:00:00Z","end":"2021-01-03T06:00:00Z","value":43.21793646474573,"unit":"EUR/MWh","currency":"EUR","vat_included":false,"published_at":"2021-01-02T11:45:00Z"}`)
	fc := []byte(`{"region":"R001","location":"x","source":"test","issued_at":"2021-01-02T05:00:00Z","time":"2021-01-03T06:00:00Z","lead_hours":25,"values":{"temperature_2m":-3.5,"wind_speed_10m":26}}`)
	// per times f over a fixed number of runs: the baseline.
	per := func(f func()) time.Duration {
		const n = 3000
		start := time.Now()
		for range n {
			f()
		}
		return time.Since(start) / n
	}
	for _, c := range []struct {
		name      string
		std, fast func()
		ok        func() bool
	}{
		{"encode-feature-row",
			func() { _, _ = json.Marshal(row) },
			func() { encodeFeatureRow(make([]byte, 0, 1024), row) },
			func() bool {
				b, ok := encodeFeatureRow(nil, row)
				want, _ := json.Marshal(row)
				return ok && bytes.Equal(b, want)
			}},
		{"decode-price",
			func() { var p Price; _ = json.Unmarshal(price, &p) },
			func() { var p Price; decodeFast(price, &p) },
			func() bool { var p Price; return decodeFast(price, &p) }},
		{"decode-forecast",
			func() { var f WeatherForecast; _ = json.Unmarshal(fc, &f) },
			func() { var f WeatherForecast; decodeFast(fc, &f) },
			func() bool { var f WeatherForecast; return decodeFast(fc, &f) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			if !c.ok() {
				b.Fatal("the fast path does not take the benchmark's value")
			}
			std := per(c.std)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				c.fast()
			}
			fast := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(std.Nanoseconds()), "encoding/json-ns/op")
			b.ReportMetric(float64(std)/float64(fast), "x-faster")
		})
	}
}
