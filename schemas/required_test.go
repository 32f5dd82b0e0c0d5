package schemas

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// A required field that is missing or null is refused, with its name, as
// the JSON Schema refuses it; encoding/json alone would take a zero (a
// price of 0, a temperature of 0 °C) and the record would look real.
func TestMissingOrNullRequiredFieldsAreRefused(t *testing.T) {
	t.Parallel()
	price := `{"region":"FI","market":"m","source":"s","start":"2024-01-01T00:00:00Z","end":"2024-01-01T01:00:00Z","value":12.5,"unit":"EUR/MWh","currency":"EUR","vat_included":false,"published_at":"2023-12-31T11:45:00Z"}`
	obs := `{"region":"FI","location":"Helsinki","source":"s","time":"2024-01-01T00:00:00Z","values":{"temperature_2m":-3.5},"available_at":"2024-01-01T01:00:00Z"}`
	fc := `{"region":"FI","location":"Helsinki","source":"s","issued_at":"2024-01-01T00:00:00Z","time":"2024-01-01T06:00:00Z","lead_hours":6,"values":{"temperature_2m":-3.5}}`
	for _, c := range []struct {
		name  string
		v     Value
		json  string
		field string // "" for accepted
	}{
		{"price", &Price{}, price, ""},
		{"price without value", &Price{}, strings.Replace(price, `"value":12.5,`, "", 1), "value"},
		{"price with a null value", &Price{}, strings.Replace(price, `"value":12.5`, `"value":null`, 1), "value"},
		{"price without vat_included", &Price{}, strings.Replace(price, `"vat_included":false,`, "", 1), "vat_included"},
		{"observation", &WeatherObservation{}, obs, ""},
		{"observation with a null reading", &WeatherObservation{}, strings.Replace(obs, `-3.5`, `null`, 1), "values.temperature_2m"},
		{"forecast", &WeatherForecast{}, fc, ""},
		{"forecast without lead_hours", &WeatherForecast{}, strings.Replace(fc, `"lead_hours":6,`, "", 1), "lead_hours"},
	} {
		err := Decode([]byte(c.json), c.v)
		var ve *ValidationError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.field != "" && (!asValidation(err, &ve) || ve.Field != c.field || ve.Reason != ReasonInvalid):
			t.Errorf("%s: error %v, want an invalid %s", c.name, err, c.field)
		}
	}
}

func asValidation(err error, ve **ValidationError) bool {
	v, ok := err.(*ValidationError)
	*ve = v
	return ok
}

// The fast decoders' required keys are the JSON Schemas' required lists.
func TestRequiredMasksAreTheSchemas(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		schema string
		keys   []string
		mask   uint32
	}{
		{SchemaPrice, priceKeys, priceRequired},
		{SchemaWeatherObservation, observationKeys, observationRequired},
		{SchemaWeatherForecast, forecastKeys, forecastRequired},
	} {
		b, err := JSONSchema(c.schema)
		if err != nil {
			t.Fatal(err)
		}
		var sc struct{ Required []string }
		if err := json.Unmarshal(b, &sc); err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, k := range c.keys {
			if c.mask&(1<<i) != 0 {
				got = append(got, k)
			}
		}
		slices.Sort(got)
		slices.Sort(sc.Required)
		if !slices.Equal(got, sc.Required) {
			t.Errorf("%s: the decoder requires %v, the schema %v", c.schema, got, sc.Required)
		}
	}
}
