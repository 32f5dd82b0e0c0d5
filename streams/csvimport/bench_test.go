package csvimport

import (
	"bytes"
	"encoding/csv"
	"io"
	"testing"
	"time"

	"github.com/wattcast/wattcast/data"
)

// BenchmarkParseAgile parses the 61,532-row Agile file and reports the cost
// against reading the same bytes with encoding/csv alone (the floor any
// parser pays), measured in the same process.
func BenchmarkParseAgile(b *testing.B) {
	rc, err := data.Open(data.OctopusAgileA)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	const reps = 5
	for range reps {
		r := csv.NewReader(bytes.NewReader(raw))
		r.ReuseRecord = true
		for {
			if _, err := r.Read(); err == io.EOF {
				break
			}
		}
	}
	baseline := time.Since(start) / reps
	m, _ := Preset(PresetOctopusAgile)
	var rows int
	b.ResetTimer()
	for b.Loop() {
		res, err := Parse(bytes.NewReader(raw), m, Options{})
		if err != nil {
			b.Fatal(err)
		}
		rows = res.Rows
	}
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(rows)/per.Seconds(), "rows/s")
	b.ReportMetric(float64(per)/float64(baseline), "x-csv-read")
}
