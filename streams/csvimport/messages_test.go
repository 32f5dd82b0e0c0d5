package csvimport

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A time cell that does not match the format says what a time in that
// format looks like.
func TestTimeFormatErrorShowsAnExample(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format, zone, cell, want string
	}{
		{"rfc3339", "", "1/1/2015 0:00", `does not match format "rfc3339" (time.format; 2024-01-31 13:00 UTC in it reads "2024-01-31T13:00:00Z")`},
		{"unix", "", "2024-01-01", `does not match format "unix" (time.format; 2024-01-31 13:00 UTC in it reads "1706706000")`},
		{"unixms", "", "x", `reads "1706706000000"`},
		{"1/2/2006 15:04", "+01:00", "2024-01-01T00:00:00Z", `does not match format "1/2/2006 15:04" (time.format; 2024-01-31 13:00 UTC in it reads "1/31/2024 13:00")`},
	}
	for _, tc := range tests {
		m := baseMapping()
		m.Time.Format, m.Time.Zone = tc.format, tc.zone
		_, err := Parse(strings.NewReader("time,price,temp,load_fc\n"+tc.cell+",10,1,1\n"), m, Options{File: "x.csv"})
		var re *RowError
		if !errors.As(err, &re) || re.Line != 2 || re.Column != "time" || !strings.Contains(re.Error(), tc.want) {
			t.Errorf("%s: err %v, want a row error at line 2 saying %s", tc.format, err, tc.want)
		}
	}
}

// A mapping without the zone of its local times names the key and the
// flag; ReadMapping leaves it for the flag to complete, and the message
// does not repeat the package prefix.
func TestMappingTimeZoneMessage(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "m.json")
	js := `{"time":{"column":"t","format":"2006-01-02 15:04"},"period":"1h","price":{"column":"p","unit":"EUR/MWh","currency":"EUR"},"region":"X","market":"m","published":"D-1 12:45 UTC"}`
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadMapping(p)
	if err == nil || !strings.Contains(err.Error(), "time.zone") || !strings.Contains(err.Error(), "--time-zone") ||
		strings.Count(err.Error(), "csvimport:") != 1 {
		t.Errorf("LoadMapping: %v; want one naming time.zone and --time-zone, prefixed once", err)
	}
	m, err := ReadMapping(p)
	if err != nil {
		t.Fatalf("ReadMapping: %v", err)
	}
	if !m.Time.NeedsZone() {
		t.Error("a layout without an offset does not need a zone")
	}
	m.Time.Zone = "+01:00"
	if err := m.Validate(); err != nil {
		t.Errorf("with the zone: %v", err)
	}
	if _, err := ReadMapping(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("ReadMapping of a missing file succeeded")
	}
}
