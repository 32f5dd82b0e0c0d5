package lake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// requirePython skips the test when python3 cannot import module, unless
// CI is set: CI installs pyarrow and duckdb, so there a missing module is
// a failure, not a skip.
func requirePython(t *testing.T, module string) {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import "+module).CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("python3 cannot import %s (pip install %s): %v %s", module, module, err, bytes.TrimSpace(out))
	if os.Getenv("CI") != "" {
		t.Fatal("CI needs this independent reader: " + msg)
	}
	t.Skip("skipping: " + msg + "; CI runs this test")
}

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../docs/athena.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	sqlBlock       = regexp.MustCompile("(?ms)^```sql\n(.*?)^```")
	mapEntriesName = regexp.MustCompile(` \('[^']*'\)`)
)

// The table definitions in docs/athena.md are exactly what AthenaDDL
// derives from the Parquet schema the sink writes.
func TestAthenaDDLInDocsMatchesTheParquetSchema(t *testing.T) {
	t.Parallel()
	doc := readDoc(t)
	var ddl []string
	for _, m := range sqlBlock.FindAllStringSubmatch(doc, -1) {
		if s := strings.TrimSpace(m[1]); strings.HasPrefix(s, "CREATE") {
			ddl = append(ddl, s)
		}
	}
	for _, table := range Tables() {
		want, err := AthenaDDL(table, "wattcast", "s3://YOUR-BUCKET/lake", []string{"FI", "GB-A"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ddl, want) {
			t.Errorf("docs/athena.md lacks the current definition of %s; it should read:\n%s", table, want)
		}
	}
	if len(ddl) != len(Tables()) {
		t.Errorf("docs/athena.md has %d CREATE statements, want one per table (%d)", len(ddl), len(Tables()))
	}
}

type queryResult struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// documentedQueries runs every query of docs/athena.md on DuckDB over the
// lake in dir (lakesql.py) and returns their results.
func documentedQueries(t *testing.T, dir string) []queryResult {
	t.Helper()
	out, err := exec.Command("python3", "lakesql.py", "--lake", dir, "--docs", "../docs/athena.md", "--json").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("lakesql.py: %v\n%s", err, stderr)
	}
	var results []queryResult
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("lakesql.py output: %v\n%s", err, out)
	}
	return results
}

// Every query documented in docs/athena.md runs on DuckDB over a lake the
// Go code wrote, and returns what the data implies. A documented query
// without a check here fails the test, so new examples get checked too.
func TestDocumentedQueriesRunOnDuckDB(t *testing.T) {
	t.Parallel()
	requirePython(t, "duckdb")
	_, _, dir := newSampleLake(t)
	results := documentedQueries(t, dir)
	checks := map[string]func(t *testing.T, r queryResult){
		"latest_prices": func(t *testing.T, r queryResult) {
			want := [][]any{
				{"FI", "2024-03-03T23:00:00Z", priceFI(2, 23), "EUR/MWh"},
				{"GB-A", "2024-03-03T23:30:00Z", 33.5, "p/kWh"},
			}
			equalRows(t, r, want)
		},
		"daily_mean_price": func(t *testing.T, r queryResult) {
			var want [][]any
			for _, reg := range []string{"FI", "GB-A"} {
				for d := range 3 {
					date := sampleDay0.AddDate(0, 0, d).Format(time.DateOnly)
					if reg == "FI" {
						want = append(want, []any{reg, date, "EUR/MWh", 51.5 + 10*float64(d), priceFI(d, 0), priceFI(d, 23), 24.0})
					} else {
						want = append(want, []any{reg, date, "p/kWh", 21.75, 10.0, 33.5, 48.0})
					}
				}
			}
			equalRows(t, r, want)
		},
		"forecast_error_by_hour": func(t *testing.T, r queryResult) {
			var want [][]any
			for _, m := range []struct {
				id, role string
				mae      func(h int) float64
			}{{"linear", "challenger", func(h int) float64 { return math.Abs(linearErr(h)) }}, {"weekly-naive", "champion", func(int) float64 { return 2 }}} {
				for h := range 24 {
					want = append(want, []any{"FI", m.id, m.role, float64(h), 3.0, m.mae(h)})
				}
			}
			equalRows(t, r, want)
		},
		"cheapest_3h_value": func(t *testing.T, r queryResult) {
			// Prices rise through each day, so the best three hours are
			// 00-02 (mean priceFI(d, 1)); the naive forecast (+2) sees
			// that, the linear one (-40 at 20-22) picks 20-22 instead.
			var dayMean, best, naive, linear float64
			for d := range 3 {
				dayMean += (priceFI(d, 0) + 11.5) / 3
				best += priceFI(d, 1) / 3
				naive += priceFI(d, 1) / 3
				linear += priceFI(d, 21) / 3
			}
			capture := func(m float64) float64 { return math.Round(1e4*(dayMean-m)/(dayMean-best)) / 1e4 }
			equalRows(t, r, [][]any{
				{"FI", "linear", "challenger", 3.0, dayMean, best, linear, capture(linear)},
				{"FI", "weekly-naive", "champion", 3.0, dayMean, best, naive, capture(naive)},
			})
		},
		"features_for_a_day": func(t *testing.T, r queryResult) {
			if len(r.Rows) != 24 {
				t.Fatalf("%d rows, want 24", len(r.Rows))
			}
			for h, row := range r.Rows {
				hour := sampleDay0.Add(time.Duration(24+h) * time.Hour).Format(time.RFC3339)
				want := []any{"FI", hour, float64((h + 2) % 24), 6.0, false, float64(14 + h),
					priceFI(1, h), priceFI(0, h), nil, 51.0}
				equalRows(t, queryResult{Name: r.Name, Columns: r.Columns, Rows: [][]any{row}}, [][]any{want})
			}
		},
		"daily_windows": func(t *testing.T, r queryResult) {
			var want [][]any
			for d := range 3 {
				day := sampleDay0.AddDate(0, 0, d)
				start := day.Add(-2 * time.Hour)
				want = append(want, []any{"FI", day.Format(time.DateOnly), start.Format(time.RFC3339), 24.0,
					priceFI(d, 0) + 11.5, priceFI(d, 0), start.Format(time.RFC3339),
					priceFI(d, 23), start.Add(23 * time.Hour).Format(time.RFC3339), 4.0})
			}
			equalRows(t, r, want)
		},
		"exactly_once_check": func(t *testing.T, r queryResult) {
			equalRows(t, r, [][]any{
				{"wattcast.prices", 0.0, 72.0, 72.0, 0.0, 71.0},    // FI, hourly
				{"wattcast.prices", 1.0, 144.0, 144.0, 0.0, 143.0}, // GB-A, half-hourly
			})
		},
	}
	if len(results) == 0 {
		t.Fatal("no queries found in docs/athena.md")
	}
	for _, r := range results {
		// An example that returns nothing teaches nothing: its dates
		// must fit the lake (docs/athena.md says they fit the demo's;
		// athena_demo_test.go checks that one).
		if len(r.Rows) == 0 {
			t.Errorf("documented query %q returns no rows on the sample lake; its dates must fit it (sample_test.go)", r.Name)
		}
		check, ok := checks[r.Name]
		if !ok {
			t.Errorf("documented query %q has no check in this test; add one", r.Name)
			continue
		}
		t.Run(r.Name, func(t *testing.T) { check(t, r) })
	}
}

// equalRows compares query rows with want: numbers within 1e-9, the rest
// exactly (JSON numbers arrive as float64).
func equalRows(t *testing.T, r queryResult, want [][]any) {
	t.Helper()
	if len(r.Rows) != len(want) {
		t.Fatalf("%s: %d rows, want %d\ngot  %v\nwant %v", r.Name, len(r.Rows), len(want), r.Rows, want)
	}
	for i := range want {
		if len(r.Rows[i]) != len(want[i]) {
			t.Fatalf("%s row %d: %d columns %v, want %d", r.Name, i, len(r.Rows[i]), r.Columns, len(want[i]))
		}
		for j := range want[i] {
			g, w := r.Rows[i][j], want[i][j]
			gf, gok := g.(float64)
			wf, wok := w.(float64)
			if gok && wok {
				if math.Abs(gf-wf) > 1e-9 {
					t.Fatalf("%s row %d column %s = %v, want %v", r.Name, i, r.Columns[j], g, w)
				}
				continue
			}
			if g != w {
				t.Fatalf("%s row %d column %s = %v (%T), want %v (%T)", r.Name, i, r.Columns[j], g, g, w, w)
			}
		}
	}
}

// pyarrow, an independent Parquet reader, reads the lake as a hive
// dataset with the documented types: timestamps as UTC timestamps (not
// integers), maps as maps, the partition columns region and date as
// strings, and the values the Go code wrote.
func TestPyarrowReadsTheLakeWithDocumentedTypes(t *testing.T) {
	t.Parallel()
	requirePython(t, "pyarrow")
	_, s, dir := newSampleLake(t)
	script := `
import json, sys
import pyarrow as pa, pyarrow.dataset as ds, pyarrow.parquet as pq
lake = sys.argv[1]
out = {}
part = ds.partitioning(pa.schema([("region", pa.string()), ("date", pa.string())]), flavor="hive")
for t in ["prices", "weather_observed", "weather_forecast", "features", "features_daily", "forecasts"]:
    d = ds.dataset(lake + "/" + t, format="parquet", partitioning=part)
    tb = d.to_table()
    first = tb.sort_by([("region", "ascending"), ("kafka_offset", "ascending")]).slice(0, 1).to_pylist()[0]
    f = pq.ParquetFile(d.files[0])
    meta = {k.decode(): v.decode() for k, v in (f.metadata.metadata or {}).items()}
    out[t] = {"types": {fld.name: str(fld.type) for fld in tb.schema},
              "nullable": {fld.name: fld.nullable for fld in f.schema_arrow},
              "rows": tb.num_rows, "meta": meta,
              "codec": f.metadata.row_group(0).column(0).compression,
              "first": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in first.items()
                        if not isinstance(v, (list, dict))}}
json.dump(out, sys.stdout)
`
	cmd := exec.Command("python3", "-c", script, dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyarrow: %v\n%s", err, stderr.String())
	}
	var got map[string]struct {
		Types    map[string]string
		Nullable map[string]bool
		Rows     int
		Meta     map[string]string
		Codec    string
		First    map[string]any
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	wantRows := map[string]int{TablePrices: len(s.prices), TableWeatherObserved: len(s.observed),
		TableWeatherForecast: len(s.forecast), TableFeatures: len(s.features), TableFeaturesDaily: len(s.daily), TableForecasts: len(s.forecasts)}
	arrow := map[string]string{"string": "string", "double": "double", "int": "int32", "bigint": "int64",
		"boolean": "bool", "timestamp": "timestamp[us, tz=UTC]", "map<string,double>": "map<string, double>",
		"array<struct<q:double,value:double>>": "list<element: struct<q: double not null, value: double not null> not null>"}
	for _, table := range Tables() {
		g := got[table]
		if g.Rows != wantRows[table] {
			t.Errorf("%s: pyarrow reads %d rows, want %d", table, g.Rows, wantRows[table])
		}
		cols, err := AthenaColumns(table)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range append(cols, PartitionColumns()...) {
			// pyarrow names a map's entries field when it is not the
			// default: map<string, double ('variables')>.
			got := mapEntriesName.ReplaceAllString(g.Types[c.Name], "")
			if want := arrow[c.Type]; got != want {
				t.Errorf("%s.%s: pyarrow type %q, want %q (documented %s)", table, c.Name, got, want, c.Type)
			}
		}
		if len(g.Types) != len(cols)+len(PartitionColumns()) {
			t.Errorf("%s: pyarrow sees columns %v, want the %d documented", table, g.Types, len(cols)+len(PartitionColumns()))
		}
		if g.Meta[MetaTable] != table || g.Meta[MetaTableVersion] != TableVersion || g.Codec != "ZSTD" {
			t.Errorf("%s: metadata %v codec %s", table, g.Meta, g.Codec)
		}
	}
	// Optional columns are nullable in the file, required ones are not.
	if n := got[TablePrices].Nullable; !n["value_ex_vat"] || !n["tariff"] || n["value"] || n["start_time"] {
		t.Errorf("prices nullability %v: want value_ex_vat and tariff nullable, value and start_time not", n)
	}
	fi := got[TablePrices].First
	if fi["region"] != "FI" || fi["date"] != "2024-03-01" || fi["start_time"] != "2024-03-01T00:00:00+00:00" ||
		fi["value"] != priceFI(0, 0) || fi["tariff"] != nil {
		t.Errorf("first FI price as pyarrow reads it: %v", fi)
	}
	if f := got[TableFeatures].First; f["hour"] != "2024-03-01T00:00:00+00:00" || f["last_price_hour"] != "2024-02-29T11:00:00+00:00" ||
		f["price_lag_24h"] != nil || f["known_ahead_lead_hours"] != 14.0 {
		t.Errorf("first feature row as pyarrow reads it: %v", f)
	}
}

// docs/lake.md lists every column of every table, in file order, with the
// Athena type AthenaColumns derives from the row types.
func TestLakeDocListsEveryColumn(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../docs/lake.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	row := regexp.MustCompile("(?m)^\\| `(\\w+)` \\| [^|]+ \\| `([^`]+)` \\|")
	for _, table := range Tables() {
		start := strings.Index(doc, "### `"+table+"`")
		if start < 0 {
			t.Errorf("docs/lake.md has no section for table %s", table)
			continue
		}
		section := doc[start+1:]
		if end := strings.Index(section, "\n#"); end >= 0 {
			section = section[:end]
		}
		var got []Column
		for _, m := range row.FindAllStringSubmatch(section, -1) {
			got = append(got, Column{m[1], m[2]})
		}
		want, err := AthenaColumns(table)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("docs/lake.md table %s lists\n%v\nwant\n%v", table, got, want)
		}
	}
}

// The Glue tables terraform creates (terraform/modules/catalog/tables.tf)
// declare every table with the columns, in file order, and the Athena types
// AthenaColumns derives from the row types, so that Athena in AWS reads
// what the sink writes.
func TestTerraformGlueTablesMatchTheParquetSchema(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../terraform/modules/catalog/tables.tf")
	if err != nil {
		t.Fatal(err)
	}
	tf := string(b)
	col := regexp.MustCompile(`\{ name = "(\w+)", type = "([^"]+)"`)
	parse := func(block string) []Column {
		var out []Column
		for _, m := range col.FindAllStringSubmatch(block, -1) {
			out = append(out, Column{m[1], m[2]})
		}
		return out
	}
	i := strings.Index(tf, "lineage_columns = [")
	if i < 0 {
		t.Fatal("tables.tf: no lineage_columns")
	}
	lineage := parse(tf[i : i+strings.Index(tf[i:], "]")])
	block := regexp.MustCompile(`(?ms)^    (\w+) = \{\n(.*?)^    \}`)
	found := map[string][]Column{}
	for _, m := range block.FindAllStringSubmatch(tf, -1) {
		cols := parse(m[2])
		if strings.Contains(m[2], "local.lineage_columns") {
			cols = append(cols, lineage...)
		}
		found[m[1]] = cols
	}
	for _, table := range Tables() {
		want, err := AthenaColumns(table)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := found[table]
		if !ok {
			t.Errorf("tables.tf declares no Glue table %s", table)
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("tables.tf table %s declares\n%v\nthe sink writes\n%v", table, got, want)
		}
	}
	if len(found) != len(Tables()) {
		t.Errorf("tables.tf declares tables %v, the lake has %v", slices.Sorted(maps.Keys(found)), Tables())
	}
}

// AthenaDDL partitions every table by PartitionColumns, in the order of the
// sink's directories, and a caller cannot change them through the slice it
// got.
func TestPartitionColumns(t *testing.T) {
	t.Parallel()
	want := []Column{{"region", "string"}, {"date", "string"}}
	got := PartitionColumns()
	if !slices.Equal(got, want) {
		t.Fatalf("PartitionColumns() = %v, want %v", got, want)
	}
	// The directories the sink writes name the same columns, in order.
	dir := Partition{Table: TablePrices, Region: "FI", Date: "2024-03-01"}.Dir()
	var names []string
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/")[1:] {
		name, _, _ := strings.Cut(part, "=")
		names = append(names, name)
	}
	if want := []string{got[0].Name, got[1].Name}; !slices.Equal(names, want) {
		t.Errorf("partition directory %s names %v, want %v", dir, names, want)
	}
	got[0] = Column{"changed", "int"}
	_ = append(got[:1], Column{"appended", "int"})
	if again := PartitionColumns(); !slices.Equal(again, want) {
		t.Fatalf("after changing a returned slice: PartitionColumns() = %v, want %v", again, want)
	}
	for _, table := range Tables() {
		t.Run(table, func(t *testing.T) {
			t.Parallel()
			ddl, err := AthenaDDL(table, "wattcast", "s3://bucket/lake", []string{"FI"})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{
				"\nPARTITIONED BY (`region` string, `date` string)\n",
				"'storage.location.template' = 's3://bucket/lake/" + table + "/region=${region}/date=${date}/'",
			} {
				if !strings.Contains(ddl, s) {
					t.Errorf("DDL lacks %q:\n%s", s, ddl)
				}
			}
		})
	}
}

// The default projection start of the Glue tables (terraform's catalog and
// wattcast modules) is the DDL's: rows the docs' DDL shows are the rows a
// deployed Athena sees.
func TestProjectionStartMatchesTerraform(t *testing.T) {
	re := regexp.MustCompile(`(?s)variable "date_range_start" \{.*?default\s*=\s*"([0-9-]+)"`)
	for _, f := range []string{"../terraform/modules/catalog/variables.tf", "../terraform/modules/wattcast/variables.tf"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindSubmatch(b)
		if m == nil {
			t.Errorf("%s: no default for date_range_start", f)
			continue
		}
		if string(m[1]) != ProjectionStart {
			t.Errorf("%s: date_range_start defaults to %s, the DDL starts at %s", f, m[1], ProjectionStart)
		}
	}
}
