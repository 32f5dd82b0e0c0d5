package schemas

import (
	"errors"
	"testing"
)

// A reader refuses a record whose headers name another schema or version
// (reason unknown_schema) and accepts one without headers: producers other
// than wattcast need not set them.
func TestCheckHeaders(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string]string
		field   string // "" when accepted
	}{
		{"no headers", nil, ""},
		{"this schema and version", map[string]string{HeaderSchema: SchemaPrice, HeaderSchemaVersion: SchemaVersion}, ""},
		{"schema only", map[string]string{HeaderSchema: SchemaPrice}, ""},
		{"another schema", map[string]string{HeaderSchema: SchemaForecast, HeaderSchemaVersion: SchemaVersion}, HeaderSchema},
		{"a later version", map[string]string{HeaderSchema: SchemaPrice, HeaderSchemaVersion: "2"}, HeaderSchemaVersion},
		{"version only, unknown", map[string]string{HeaderSchemaVersion: "v1"}, HeaderSchemaVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckHeaders(SchemaPrice, func(k string) string { return tc.headers[k] })
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field || ReasonOf(err) != ReasonUnknown {
				t.Fatalf("err %v, want %s refused as %s", err, tc.field, ReasonUnknown)
			}
		})
	}
}
