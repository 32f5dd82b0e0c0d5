package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
)

// CheckSchema refuses exactly the records whose headers name another schema
// or version, and costs no allocation on a record whose headers agree.
func TestCheckSchema(t *testing.T) {
	ok := RecordHeaders(schemas.SchemaPrice, "test")
	withVersion := func(v string) []kgo.RecordHeader {
		return []kgo.RecordHeader{{Key: schemas.HeaderSchema, Value: []byte(schemas.SchemaPrice)}, {Key: schemas.HeaderSchemaVersion, Value: []byte(v)}}
	}
	for _, tc := range []struct {
		name    string
		headers []kgo.RecordHeader
		want    string
		refused bool
	}{
		{"wattcast's own headers", ok, schemas.SchemaPrice, false},
		{"no headers", nil, schemas.SchemaPrice, false},
		{"empty values", withVersion(""), schemas.SchemaPrice, false},
		{"another schema", ok, schemas.SchemaForecast, true},
		{"version 2", withVersion("2"), schemas.SchemaPrice, true},
		{"no schema to check", withVersion("2"), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSchema(&kgo.Record{Headers: tc.headers}, tc.want)
			if (err != nil) != tc.refused || tc.refused && schemas.ReasonOf(err) != schemas.ReasonUnknown {
				t.Fatalf("err %v, refused want %v with reason %s", err, tc.refused, schemas.ReasonUnknown)
			}
		})
	}
	rec := &kgo.Record{Headers: ok}
	if n := testing.AllocsPerRun(100, func() { _ = CheckSchema(rec, schemas.SchemaPrice) }); n != 0 {
		t.Errorf("CheckSchema allocates %v times on agreeing headers", n)
	}
}
