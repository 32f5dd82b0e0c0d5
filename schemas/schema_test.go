package schemas_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wattcast/wattcast/schemas"
)

// compiled compiles the embedded JSON Schema of every name, with format
// assertions on (date-time and date are checked, not only annotations), and
// fails if a schema file is not valid draft 2020-12.
func compiled(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	out := map[string]*jsonschema.Schema{}
	for _, name := range schemas.JSONSchemaNames() {
		b, err := schemas.JSONSchema(name)
		if err != nil {
			t.Fatalf("JSONSchema(%q): %v", name, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s.json is not JSON: %v", name, err)
		}
		url := "mem:///v1/" + name + ".json"
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("add %s.json: %v", name, err)
		}
		s, err := c.Compile(url)
		if err != nil {
			t.Fatalf("compile %s.json: %v", name, err)
		}
		out[name] = s
	}
	return out
}

func validateJSON(t *testing.T, s *jsonschema.Schema, b []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("instance is not JSON: %v\n%s", err, b)
	}
	return s.Validate(inst)
}

func ptr[T any](v T) *T { return &v }

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// samples returns realistic values of every topic value type, with every
// field set somewhere (omitempty ones included), so that each schema property
// is exercised. Prices are real: Nord Pool Finland on 2024-01-15 12:00 UTC
// (16.006 c/kWh incl. 24% VAT, from data/ nordpool_fi) and Octopus Agile
// region M on 2026-03-22 22:30 UTC (the Octopus API fixture).
func samples() map[string][]schemas.Value {
	hour := utc("2024-01-15T12:00:00Z")
	issue := utc("2024-01-14T08:00:00Z") // 10:00 Helsinki time, the day before
	fcIssued := utc("2024-01-14T06:00:00Z")
	fc, actual := 15.2, 16.006
	return map[string][]schemas.Value{
		schemas.SchemaPrice: {
			&schemas.Price{Region: "FI", Market: "nordpool-dayahead", Source: "import:nordpool_fi",
				Start: hour, End: hour.Add(time.Hour), Value: 16.006, ValueExVAT: ptr(12.908),
				Unit: "c/kWh", Currency: "EUR", VATIncluded: true, PublishedAt: utc("2024-01-14T11:45:00Z")},
			&schemas.Price{Region: "GB-M", Market: "octopus-agile", Source: "octopus-api", Tariff: "AGILE-24-10-01",
				Start: utc("2026-03-22T22:30:00Z"), End: utc("2026-03-22T23:00:00Z"), Value: 24.864, ValueExVAT: ptr(23.68),
				Unit: "p/kWh", Currency: "GBP", VATIncluded: true, PublishedAt: utc("2026-03-21T16:00:00Z")},
			&schemas.Price{Region: "SE3", Market: "nordpool-dayahead-15m", Source: "import:entsoe_se3",
				Start: utc("2025-10-01T10:45:00Z"), End: utc("2025-10-01T11:00:00Z"), Value: -3.12,
				Unit: "EUR/MWh", Currency: "EUR", PublishedAt: utc("2025-09-30T11:00:00Z")},
		},
		schemas.SchemaWeatherObservation: {
			&schemas.WeatherObservation{Region: "FI", Location: "fmi-101004", Latitude: ptr(60.1756), Longitude: ptr(24.9447),
				Source: "import:nordpool_fi", Time: hour,
				Values:      map[string]float64{"temperature_2m": -18.3, "wind_speed_10m": 4.6, "wind_power_mw": 1484},
				AvailableAt: hour.Add(time.Hour)},
		},
		schemas.SchemaWeatherForecast: {
			&schemas.WeatherForecast{Region: "FI", Location: "helsinki", Latitude: ptr(60.17), Longitude: ptr(24.94),
				Source: "open-meteo", Model: "best_match", IssuedAt: fcIssued, Time: hour,
				LeadHours: schemas.LeadHours(fcIssued, hour),
				Values:    map[string]float64{"temperature_2m": -17.9, "wind_speed_100m": 7.8, "cloud_cover": 100}},
		},
		schemas.SchemaFeatureRow: {
			featureRow(hour, issue, false),
			featureRow(hour, issue, true),
		},
		schemas.SchemaDailyFeatures: {
			// Helsinki, Monday 15 January 2024 (22:00 UTC to 22:00 UTC).
			&schemas.DailyFeatures{Region: "FI", Market: "nordpool-dayahead", Unit: "c/kWh", LocalDate: "2024-01-15",
				Start: utc("2024-01-14T22:00:00Z"), End: utc("2024-01-15T22:00:00Z"), Hours: 24, PriceHours: 24,
				PriceMean: 14.2, PriceStd: 3.1, PriceMin: 8.9, PriceMax: 21.5,
				MinHour: utc("2024-01-15T01:00:00Z"), MaxHour: utc("2024-01-15T15:00:00Z"),
				PeakMean: ptr(17.4), OffPeakMean: ptr(11.0), Weekday: 1, Month: 1,
				ObservedMean: map[string]float64{"temperature_2m": -17.2}, ObservedMin: map[string]float64{"temperature_2m": -21.0},
				ObservedMax: map[string]float64{"temperature_2m": -13.6}},
			// London's autumn clock change: 25 hours, some without a price, no weather.
			&schemas.DailyFeatures{Region: "GB-A", Market: "octopus-agile", Unit: "p/kWh", LocalDate: "2020-10-25",
				Start: utc("2020-10-24T23:00:00Z"), End: utc("2020-10-26T00:00:00Z"), Hours: 25, PriceHours: 22,
				PriceMean: 9.8, PriceStd: 4.4, PriceMin: -1.2, PriceMax: 24.1,
				MinHour: utc("2020-10-25T03:00:00Z"), MaxHour: utc("2020-10-25T17:00:00Z"),
				OffPeakMean: ptr(7.5), Weekday: 7, Month: 10, Weekend: true},
		},
		schemas.SchemaForecast: {
			&schemas.Forecast{ForecastID: "FI/linear/v3/2024-01-14T08:00:00Z", Region: "FI", Market: "nordpool-dayahead",
				Unit: "c/kWh", ModelID: "linear", ModelVersion: "v3", ModelKind: "linear", Role: schemas.RoleChampion,
				Official: true, IssueTime: issue, LocalDate: "2024-01-15", CreatedAt: issue.Add(2 * time.Second),
				Points: []schemas.ForecastPoint{
					{Hour: utc("2024-01-14T22:00:00Z"), LeadHours: 14, Value: 9.41,
						Quantiles: []schemas.Quantile{{Q: 0.1, Value: 6.2}, {Q: 0.9, Value: 12.7}}},
					{Hour: hour, LeadHours: 28, Value: 15.2,
						Quantiles: []schemas.Quantile{{Q: 0.1, Value: 12.1}, {Q: 0.9, Value: 18.3}}},
				}},
			&schemas.Forecast{ForecastID: "FI/gru/v1/2024-01-14T08:00:00Z", Region: "FI", Market: "nordpool-dayahead",
				Unit: "c/kWh", ModelID: "gru", ModelVersion: "v1", ModelKind: "gru", Role: schemas.RoleChallenger,
				IssueTime: issue, LocalDate: "2024-01-15", CreatedAt: issue.Add(3 * time.Second),
				Points: []schemas.ForecastPoint{{Hour: hour, LeadHours: 28, Value: 14.8}}},
		},
		schemas.SchemaForecastError: {
			&schemas.ForecastError{ForecastID: "FI/linear/v3/2024-01-14T08:00:00Z", Region: "FI", Market: "nordpool-dayahead",
				Unit: "c/kWh", ModelID: "linear", ModelVersion: "v3", ModelKind: "linear", Role: schemas.RoleChampion,
				Official: true, IssueTime: issue, Hour: hour, LeadHours: 28, Forecast: fc, Actual: actual,
				Error: fc - actual, AbsError: actual - fc, NaiveWeekly: ptr(9.87),
				Lower: ptr(12.1), Upper: ptr(18.3), IntervalLevel: ptr(0.8), Covered: ptr(true)},
			&schemas.ForecastError{ForecastID: "FI/gru/v1/2024-01-14T08:00:00Z", Region: "FI", Market: "nordpool-dayahead",
				Unit: "c/kWh", ModelID: "gru", ModelVersion: "v1", ModelKind: "gru", Role: schemas.RoleChallenger,
				IssueTime: issue, Hour: hour, LeadHours: 28, Forecast: 14.8, Actual: actual,
				Error: 14.8 - actual, AbsError: actual - 14.8},
		},
		schemas.SchemaModelEvent: {
			&schemas.ModelEvent{EventID: "01J2Z6Q5V8M3", Time: utc("2024-02-12T09:30:00Z"), Type: schemas.EventPromoted,
				ModelID: "gru", ModelVersion: "v1", ModelKind: "gru", FromStage: "challenger", ToStage: "champion",
				Reason:   "challenger beat the champion over 28 days (Diebold-Mariano, one-sided)",
				Evidence: map[string]float64{"dm_stat": -2.71, "p_value": 0.0034, "days": 28, "champion_mae": 1.92, "challenger_mae": 1.61},
				Actor:    "wattcast-scorer/scorer-0"},
			&schemas.ModelEvent{EventID: "01J2Z6Q5V8M4", Time: utc("2024-01-10T03:00:00Z"), Type: schemas.EventRegistered,
				ModelID: "linear", ModelVersion: "v3", Reason: "trained"},
		},
		schemas.SchemaDeadLetter: {
			&schemas.DeadLetter{Topic: "wattcast.prices", Partition: 2, Offset: 18231, Key: "FI",
				Value: `{"region":"FI","market":"nordpool-dayahead","value":"n/a"}`, ValueEncoding: "text",
				Headers: map[string]string{schemas.HeaderSchema: schemas.SchemaPrice, schemas.HeaderSchemaVersion: "1"},
				Reason:  schemas.ReasonMalformed, Error: "schemas: price: (value): not a valid JSON price",
				Stage: "processor", Time: utc("2024-01-15T12:00:03Z")},
			&schemas.DeadLetter{Topic: "wattcast.weather.observed", Partition: 0, Offset: 7, Key: "FI",
				Value: base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe, 0x00}), ValueEncoding: "base64",
				Reason: schemas.ReasonMalformed, Error: "not UTF-8", Stage: "lakesink", Time: utc("2024-01-15T12:00:04Z")},
		},
	}
}

func featureRow(hour, issue time.Time, final bool) *schemas.FeatureRow {
	f := &schemas.FeatureRow{Region: "FI", Market: "nordpool-dayahead", Unit: "c/kWh", Hour: hour,
		LocalDate: "2024-01-15", IssueTime: issue, LeadHours: schemas.LeadHours(issue, hour),
		PriceLag24h: ptr(12.63), PriceLag48h: ptr(10.02), PriceLag168h: ptr(9.87),
		LastPrice: ptr(11.4), LastPriceHour: ptr(issue.Add(-time.Hour)),
		Mean24h: ptr(11.9), Std24h: ptr(2.31), Min24h: ptr(7.61), Max24h: ptr(16.2),
		Mean168h: ptr(10.4), Std168h: ptr(3.05), Min168h: ptr(2.9), Max168h: ptr(19.8),
		LocalHour: 14, Weekday: 1, Month: 1, DayOfYear: 15, Weekend: false, Holiday: false, DST: false,
		KnownAhead:          map[string]float64{"temperature_2m": -17.9, "wind_speed_100m": 7.8},
		KnownAheadIssuedAt:  ptr(utc("2024-01-14T06:00:00Z")),
		KnownAheadLeadHours: ptr(30),
		LastObserved:        map[string]float64{"temperature_2m": -16.2, "wind_speed_10m": 3.9},
		ForecastError:       map[string]float64{"temperature_2m": 0.42, "wind_speed_100m": -0.3},
	}
	if final {
		f.Final, f.Price, f.PriceCount = true, ptr(16.006), 1
		f.Observed = map[string]float64{"temperature_2m": -18.3, "wind_speed_10m": 4.6}
	}
	return f
}

// newValue returns an empty value of the type named by schema.
func newValue(t *testing.T, schema string) schemas.Value {
	t.Helper()
	switch schema {
	case schemas.SchemaPrice:
		return &schemas.Price{}
	case schemas.SchemaWeatherObservation:
		return &schemas.WeatherObservation{}
	case schemas.SchemaWeatherForecast:
		return &schemas.WeatherForecast{}
	case schemas.SchemaFeatureRow:
		return &schemas.FeatureRow{}
	case schemas.SchemaDailyFeatures:
		return &schemas.DailyFeatures{}
	case schemas.SchemaForecast:
		return &schemas.Forecast{}
	case schemas.SchemaForecastError:
		return &schemas.ForecastError{}
	case schemas.SchemaModelEvent:
		return &schemas.ModelEvent{}
	case schemas.SchemaDeadLetter:
		return &schemas.DeadLetter{}
	}
	t.Fatalf("no Go type for schema %q: add it to newValue and samples", schema)
	return nil
}

// TestEncodedSamplesValidate encodes a realistic value of every type with
// schemas.Encode and checks it against its JSON Schema, then decodes it back
// to the same value: what wattcast writes is what the schema documents.
func TestEncodedSamplesValidate(t *testing.T) {
	t.Parallel()
	compiledSchemas := compiled(t)
	all := samples()
	for _, name := range schemas.JSONSchemaNames() {
		if len(all[name]) == 0 {
			t.Errorf("no sample of %s: add one to samples()", name)
		}
	}
	for name, vs := range all {
		for i, v := range vs {
			t.Run(name+"/"+strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				if v.SchemaName() != name {
					t.Fatalf("sample is a %s, listed under %s", v.SchemaName(), name)
				}
				b, err := schemas.Encode(v)
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				if err := validateJSON(t, compiledSchemas[name], b); err != nil {
					t.Fatalf("encoded %s does not validate against %s.json: %v\n%s", name, name, err, b)
				}
				back := newValue(t, name)
				if err := schemas.Decode(b, back); err != nil {
					t.Fatalf("decode: %v", err)
				}
				if !reflect.DeepEqual(back, v) {
					t.Fatalf("round trip changed the value:\n got %#v\nwant %#v", back, v)
				}
			})
		}
	}
}

// TestSchemasMatchGoTypes compares every schema with its Go type field by
// field: the same JSON property names, required exactly when the field is
// not omitempty (wattcast always writes it), the JSON type of the Go kind,
// and null allowed exactly for pointers and for maps and slices that the
// validator does not require to be non-empty.
func TestSchemasMatchGoTypes(t *testing.T) {
	t.Parallel()
	nonEmpty := map[string]bool{"weather-observation.values": true, "weather-forecast.values": true, "forecast.points": true}
	for _, name := range schemas.JSONSchemaNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := schemas.JSONSchema(name)
			if err != nil {
				t.Fatal(err)
			}
			var root map[string]any
			if err := json.Unmarshal(b, &root); err != nil {
				t.Fatal(err)
			}
			typ := reflect.TypeOf(newValue(t, name)).Elem()
			compareStruct(t, name, typ, root, root, nonEmpty)
		})
	}
}

// resolve follows a local "#/$defs/x" reference, merging the referring
// schema's own keywords (such as description) over the target's.
func resolve(t *testing.T, root, s map[string]any) map[string]any {
	t.Helper()
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		t.Fatalf("unexpected $ref %q: only local #/$defs/ references are used", ref)
	}
	def, ok := root["$defs"].(map[string]any)[name].(map[string]any)
	if !ok {
		t.Fatalf("$ref %q: no such definition", ref)
	}
	out := map[string]any{}
	for k, v := range def {
		out[k] = v
	}
	for k, v := range s {
		if k != "$ref" {
			out[k] = v
		}
	}
	return out
}

func jsonTypes(s map[string]any) []string {
	switch v := s["type"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, x.(string))
		}
		slices.Sort(out)
		return out
	}
	return nil
}

func compareStruct(t *testing.T, path string, typ reflect.Type, root, s map[string]any, nonEmpty map[string]bool) {
	t.Helper()
	props, _ := s["properties"].(map[string]any)
	required := map[string]bool{}
	for _, r := range s["required"].([]any) {
		required[r.(string)] = true
	}
	seen := map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			t.Errorf("%s: Go field %s has no JSON name", path, f.Name)
			continue
		}
		p := path + "." + name
		seen[name] = true
		raw, ok := props[name].(map[string]any)
		if !ok {
			t.Errorf("%s: Go field %s has no schema property", p, f.Name)
			continue
		}
		ps := resolve(t, root, raw)
		omitempty := strings.Contains(opts, "omitempty")
		if required[name] == omitempty {
			t.Errorf("%s: required is %v but the Go field is omitempty=%v", p, required[name], omitempty)
		}
		ft := f.Type
		nullable := false
		switch ft.Kind() {
		case reflect.Pointer:
			nullable, ft = true, ft.Elem()
		case reflect.Map, reflect.Slice:
			nullable = !nonEmpty[p]
		}
		want := []string{goJSONType(t, p, ft)}
		if nullable {
			want = append(want, "null")
			slices.Sort(want)
		}
		if got := jsonTypes(ps); !slices.Equal(got, want) {
			t.Errorf("%s: schema type %v, want %v for Go type %s", p, got, want, f.Type)
		}
		if ft == reflect.TypeFor[time.Time]() && ps["format"] != "date-time" {
			t.Errorf("%s: a time.Time needs format date-time, got %v", p, ps["format"])
		}
		switch {
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			compareStruct(t, p+"[]", ft.Elem(), root, resolve(t, root, ps["items"].(map[string]any)), nonEmpty)
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]():
			compareStruct(t, p, ft, root, ps, nonEmpty)
		}
	}
	for name := range props {
		if !seen[name] {
			t.Errorf("%s: schema property %q has no Go field", path, name)
		}
	}
	for name := range required {
		if !seen[name] {
			t.Errorf("%s: required %q has no Go field", path, name)
		}
	}
}

func goJSONType(t *testing.T, path string, typ reflect.Type) string {
	t.Helper()
	if typ == reflect.TypeFor[time.Time]() {
		return "string"
	}
	switch typ.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Map:
		return "object"
	case reflect.Slice:
		return "array"
	case reflect.Struct:
		return "object"
	}
	t.Fatalf("%s: no JSON type for Go type %s", path, typ)
	return ""
}

// TestSchemasRejectWhatGoRejects mutates valid encoded samples and compares
// the two validators: schemas.Decode (the Go rules in codec.go) and the JSON
// Schema. Where the Go rule compares two fields, JSON Schema cannot express
// it and the table says so (schema: accepts).
func TestSchemasRejectWhatGoRejects(t *testing.T) {
	t.Parallel()
	compiledSchemas := compiled(t)
	all := samples()
	type verdict struct{ goRejects, schemaRejects bool }
	both := verdict{true, true}
	neither := verdict{false, false}
	crossField := verdict{true, false} // a rule between two fields: Go only
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	tests := []struct {
		name   string
		schema string
		sample int
		mutate func(map[string]any)
		want   verdict
	}{
		// price
		{"price: missing region", "price", 0, del("region"), both},
		{"price: empty region", "price", 0, set("region", ""), both},
		{"price: region with a space", "price", 0, set("region", "F I"), both},
		{"price: region of 33 characters", "price", 0, set("region", strings.Repeat("A", 33)), both},
		{"price: region of 32 characters", "price", 0, set("region", strings.Repeat("A", 32)), neither},
		{"price: missing market", "price", 0, del("market"), both},
		{"price: empty source", "price", 0, set("source", ""), both},
		{"price: missing start", "price", 0, del("start"), both},
		{"price: start not a time", "price", 0, set("start", "yesterday"), both},
		{"price: start in 1989", "price", 0, func(m map[string]any) {
			m["start"], m["end"] = "1989-12-31T23:00:00Z", "1990-01-01T00:00:00Z"
		}, both},
		{"price: start in 2201", "price", 0, func(m map[string]any) {
			m["start"], m["end"] = "2201-01-01T00:00:00Z", "2201-01-01T01:00:00Z"
		}, both},
		{"price: start in 1990", "price", 0, func(m map[string]any) {
			m["start"], m["end"] = "1990-01-01T00:00:00Z", "1990-01-01T01:00:00Z"
		}, neither},
		{"price: start off the quarter hour", "price", 1, func(m map[string]any) {
			m["start"], m["end"] = "2026-03-22T22:10:00Z", "2026-03-22T22:40:00Z"
		}, both},
		{"price: start with seconds", "price", 2, func(m map[string]any) {
			m["start"], m["end"] = "2025-10-01T10:45:30Z", "2025-10-01T11:00:30Z"
		}, both},
		{"price: quarter hour written with an offset", "price", 1, func(m map[string]any) {
			m["start"], m["end"] = "2026-03-23T04:00:00+05:30", "2026-03-23T04:30:00+05:30"
		}, neither},
		{"price: 45-minute period", "price", 0, set("end", "2024-01-15T12:45:00Z"), crossField},
		{"price: value below -5000", "price", 0, set("value", -5000.01), both},
		{"price: value -5000", "price", 0, set("value", -5000), neither},
		{"price: value above 50000", "price", 0, set("value", 50000.5), both},
		{"price: value as a string", "price", 0, set("value", "16.006"), both},
		{"price: value_ex_vat out of range", "price", 0, set("value_ex_vat", 60000), both},
		{"price: value_ex_vat null", "price", 0, set("value_ex_vat", nil), neither},
		{"price: unknown unit", "price", 0, set("unit", "MWh"), both},
		{"price: empty currency", "price", 0, set("currency", ""), both},
		{"price: missing published_at", "price", 0, del("published_at"), both},
		{"price: unknown property (forward compatibility)", "price", 0, set("bidding_zone_eic", "10YFI-1--------U"), neither},

		// weather-observation
		{"observation: no values", "weather-observation", 0, set("values", map[string]any{}), both},
		{"observation: values null", "weather-observation", 0, set("values", nil), both},
		{"observation: empty variable name", "weather-observation", 0, set("values", map[string]any{"": 1.0}), both},
		{"observation: value beyond 1e7", "weather-observation", 0, set("values", map[string]any{"t": 2e7}), both},
		{"observation: latitude 91", "weather-observation", 0, set("latitude", 91), both},
		{"observation: longitude -181", "weather-observation", 0, set("longitude", -181), both},
		{"observation: time off the hour", "weather-observation", 0, set("time", "2024-01-15T12:30:00Z"), both},
		{"observation: hour written with +05:30", "weather-observation", 0, set("time", "2024-01-15T17:30:00+05:30"), neither},
		{"observation: empty location", "weather-observation", 0, set("location", ""), both},
		{"observation: missing available_at", "weather-observation", 0, del("available_at"), both},
		{"observation: available before the hour", "weather-observation", 0, set("available_at", "2024-01-15T11:00:00Z"), crossField},
		{"observation: available before the hour is over", "weather-observation", 0, set("available_at", "2024-01-15T12:30:00Z"), crossField},

		// weather-forecast
		{"weather forecast: wrong lead_hours", "weather-forecast", 0, set("lead_hours", 29), crossField},
		{"weather forecast: lead_hours as a string", "weather-forecast", 0, set("lead_hours", "30"), both},
		{"weather forecast: issued in 1900", "weather-forecast", 0, set("issued_at", "1900-01-14T06:00:00Z"), both},
		{"weather forecast: missing source", "weather-forecast", 0, del("source"), both},
		{"weather forecast: no model (optional)", "weather-forecast", 0, del("model"), neither},

		// daily-features
		{"daily features: missing price_mean", "daily-features", 0, del("price_mean"), both},
		{"daily features: 22 hours", "daily-features", 0, set("hours", 22), both},
		{"daily features: no priced hour", "daily-features", 0, set("price_hours", 0), both},
		{"daily features: more priced hours than hours", "daily-features", 0, set("price_hours", 25), crossField},
		{"daily features: negative std", "daily-features", 0, set("price_std", -1), both},
		{"daily features: mean above max", "daily-features", 0, set("price_mean", 30.0), crossField},
		{"daily features: cheapest hour outside the day", "daily-features", 0, set("min_hour", "2024-01-16T01:00:00Z"), crossField},
		{"daily features: end before start", "daily-features", 0, set("end", "2024-01-14T21:00:00Z"), crossField},
		{"daily features: peak mean out of range", "daily-features", 0, set("peak_mean", 1e6), both},
		{"daily features: null peak mean", "daily-features", 0, set("peak_mean", nil), neither},
		{"daily features: weekday 0", "daily-features", 0, set("weekday", 0), both},
		{"daily features: bad local_date", "daily-features", 1, set("local_date", "25/10/2020"), both},
		// feature-row
		{"feature row: final without price", "feature-row", 1, set("price", nil), both},
		{"feature row: ready row with a price", "feature-row", 0, set("price", 16.0), both},
		{"feature row: price out of range", "feature-row", 1, set("price", 1e6), both},
		{"feature row: hour off the hour", "feature-row", 0, set("hour", "2024-01-15T12:15:00Z"), both},
		{"feature row: missing issue_time", "feature-row", 0, del("issue_time"), both},
		{"feature row: issue_time after the hour", "feature-row", 0, set("issue_time", "2024-01-15T13:00:00Z"), crossField},
		{"feature row: bad region", "feature-row", 0, set("region", "-FI"), both},
		// types.go documents these; codec.go does not check them (reported).
		{"feature row: weekday 0", "feature-row", 0, set("weekday", 0), both},
		{"feature row: local_hour 24", "feature-row", 0, set("local_hour", 24), both},
		{"feature row: local_date not YYYY-MM-DD", "feature-row", 0, set("local_date", "15.1.2024"), both},

		// forecast
		{"forecast: unknown role", "forecast", 0, set("role", "champ"), both},
		{"forecast: no points", "forecast", 0, set("points", []any{}), both},
		{"forecast: points missing", "forecast", 0, del("points"), both},
		{"forecast: empty forecast_id", "forecast", 0, set("forecast_id", ""), both},
		{"forecast: empty model_version", "forecast", 0, set("model_version", ""), both},
		{"forecast: missing model_id", "forecast", 0, del("model_id"), both},
		{"forecast: issue_time in 2300", "forecast", 0, set("issue_time", "2300-01-14T08:00:00Z"), both},
		{"forecast: point value out of range", "forecast", 1, func(m map[string]any) {
			m["points"].([]any)[0].(map[string]any)["value"] = 1e9
		}, both},
		{"forecast: quantile level 1", "forecast", 0, func(m map[string]any) {
			m["points"].([]any)[0].(map[string]any)["quantiles"].([]any)[1].(map[string]any)["q"] = 1.0
		}, both},
		{"forecast: quantile level 0", "forecast", 0, func(m map[string]any) {
			m["points"].([]any)[0].(map[string]any)["quantiles"].([]any)[0].(map[string]any)["q"] = 0.0
		}, both},
		{"forecast: point before issue_time", "forecast", 1, func(m map[string]any) {
			m["points"].([]any)[0].(map[string]any)["hour"] = "2024-01-14T07:00:00Z"
		}, crossField},

		// forecast-error
		{"error: unknown role", "forecast-error", 0, set("role", "boss"), both},
		{"error: forecast out of range", "forecast-error", 0, set("forecast", -9999), both},
		{"error: actual out of range", "forecast-error", 0, set("actual", 99999), both},
		{"error: empty model_id", "forecast-error", 0, set("model_id", ""), both},
		{"error: missing hour", "forecast-error", 0, del("hour"), both},
		{"error: error is not forecast - actual", "forecast-error", 0, set("error", 1.5), crossField},
		{"error: naive_weekly null", "forecast-error", 0, set("naive_weekly", nil), neither},

		// model-event
		{"model event: unknown type", "model-event", 0, set("type", "deleted"), both},
		{"model event: empty event_id", "model-event", 0, set("event_id", ""), both},
		{"model event: missing time", "model-event", 0, del("time"), both},
		{"model event: missing model_id", "model-event", 0, del("model_id"), both},
		{"model event: evidence not a number", "model-event", 0, set("evidence", map[string]any{"p_value": "low"}), both},

		// dead-letter
		{"dead letter: unknown value_encoding", "dead-letter", 0, set("value_encoding", "hex"), both},
		{"dead letter: empty reason", "dead-letter", 0, set("reason", ""), both},
		{"dead letter: missing stage", "dead-letter", 0, del("stage"), both},
		{"dead letter: empty topic", "dead-letter", 0, set("topic", ""), both},
		{"dead letter: partition beyond int32", "dead-letter", 0, set("partition", 3e9), both},
		{"dead letter: missing time", "dead-letter", 0, del("time"), both},
		// The reason codes are the Reason* constants; codec.go only checks
		// that reason is not empty (reported).
		{"dead letter: unknown reason code", "dead-letter", 0, set("reason", "oops"), both},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := schemas.Encode(all[tt.schema][tt.sample])
			if err != nil {
				t.Fatalf("encode sample: %v", err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			tt.mutate(m)
			if b, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
			goErr := schemas.Decode(b, newValue(t, tt.schema))
			schemaErr := validateJSON(t, compiledSchemas[tt.schema], b)
			if got := (verdict{goErr != nil, schemaErr != nil}); got != tt.want {
				t.Errorf("Go rejects: %v (%v); JSON Schema rejects: %v (%v); want %+v\nvalue: %s",
					got.goRejects, goErr, got.schemaRejects, schemaErr, tt.want, b)
			}
		})
	}
}

// schemaConstants parses topics.go for the Schema* string constants, so that
// a schema name added there without a JSON Schema file fails this test.
func schemaConstants(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "topics.go", nil, 0)
	if err != nil {
		t.Fatalf("parse topics.go: %v", err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, id := range vs.Names {
			if !strings.HasPrefix(id.Name, "Schema") || id.Name == "SchemaVersion" || i >= len(vs.Values) {
				continue
			}
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				v, _ := strconv.Unquote(lit.Value)
				out[id.Name] = v
			}
		}
		return true
	})
	if len(out) == 0 {
		t.Fatal("found no Schema* constants in topics.go")
	}
	return out
}

func TestEverySchemaHasAJSONSchema(t *testing.T) {
	t.Parallel()
	consts := schemaConstants(t)
	var names []string
	for constName, name := range consts {
		names = append(names, name)
		b, err := schemas.JSONSchema(name)
		if err != nil {
			t.Errorf("%s = %q: %v", constName, name, err)
			continue
		}
		var doc struct {
			Schema string `json:"$schema"`
			ID     string `json:"$id"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Errorf("%s.json: %v", name, err)
			continue
		}
		if doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s.json: $schema %q, want draft 2020-12", name, doc.Schema)
		}
		if !strings.HasSuffix(doc.ID, "/v"+schemas.SchemaVersion+"/"+name+".json") {
			t.Errorf("%s.json: $id %q does not end in /v%s/%s.json", name, doc.ID, schemas.SchemaVersion, name)
		}
	}
	slices.Sort(names)
	if got := schemas.JSONSchemaNames(); !slices.Equal(got, names) {
		t.Errorf("JSONSchemaNames() = %v, want the Schema* constants %v (a file without a constant, or the reverse)", got, names)
	}
	for _, s := range schemas.NewTopicSet("wattcast.").Specs(3, 0) {
		if _, err := schemas.JSONSchema(s.Schema); err != nil {
			t.Errorf("topic %s: schema %q: %v", s.Name, s.Schema, err)
		}
	}
}

func TestJSONSchemaUnknownName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "prices", "../codec", "v1/price", "price.json"} {
		if _, err := schemas.JSONSchema(name); err == nil || !strings.Contains(err.Error(), "price") {
			t.Errorf("JSONSchema(%q): err = %v, want an error listing the known names", name, err)
		}
	}
}

// TestTopicsDocExamples checks every example value in docs/topics.md (a
// ```json block right after an "<!-- example: NAME -->" marker) against the
// Go validator and the JSON Schema, so that the documentation cannot drift
// from the contract.
func TestTopicsDocExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/topics.md")
	if err != nil {
		t.Fatalf("read docs/topics.md: %v", err)
	}
	compiledSchemas := compiled(t)
	re := regexp.MustCompile("(?s)<!-- example: ([a-z-]+) -->\\s*```json\\n(.*?)```")
	found := map[string]int{}
	for _, m := range re.FindAllSubmatch(doc, -1) {
		name, value := string(m[1]), m[2]
		found[name]++
		if err := schemas.Decode(value, newValue(t, name)); err != nil {
			t.Errorf("docs/topics.md example %s #%d: %v\n%s", name, found[name], err, value)
		}
		if err := validateJSON(t, compiledSchemas[name], value); err != nil {
			t.Errorf("docs/topics.md example %s #%d does not validate: %v\n%s", name, found[name], err, value)
		}
	}
	for _, name := range schemas.JSONSchemaNames() {
		if found[name] == 0 {
			t.Errorf("docs/topics.md has no example of %s", name)
		}
	}
}
