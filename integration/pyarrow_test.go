package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wattcast/wattcast/lake"
)

// eventColumns is each table's event-time column, which its date partition
// is the UTC date of (docs/lake.md, Layout), except for the tables in
// dateColumns, whose date partition is that column's value: a daily
// window's local delivery day.
var (
	eventColumns = map[string]string{
		lake.TablePrices:          "start_time",
		lake.TableWeatherObserved: "hour",
		lake.TableWeatherForecast: "hour",
		lake.TableFeatures:        "hour",
		lake.TableFeaturesDaily:   "start_time",
		lake.TableForecasts:       "hour",
	}
	dateColumns = map[string]string{lake.TableFeaturesDaily: "local_date"}
)

// TestParquetReadByPyarrow reads the lake the demo wrote to the S3 server
// with pyarrow (an independent Parquet reader, from PyPI), over the S3 API
// (pyarrow.fs.S3FileSystem with endpoint_override, as an analyst would
// point it at a bucket), and checks it against docs/lake.md: every table's
// columns with the documented types and nullability (timestamps as
// timestamp[us, tz=UTC], never integers), the same schema in every file,
// the partition columns region and date only in the hive paths and read
// as strings, each row's date equal to the UTC date of its event time (for
// a daily window, its local day), the footer's table metadata, and the row
// counts wattcast's own reader counts.
func TestParquetReadByPyarrow(t *testing.T) {
	s := servers(t)
	python := pythonWithPyarrow(t)
	d := s.demoRun(t)
	doc, err := os.ReadFile(filepath.Join(s.root, "docs", "lake.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := documentedColumns(t, string(doc))

	u, err := url.Parse(d.lakeURL)
	if err != nil {
		t.Fatal(err)
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	spec, _ := json.Marshal(map[string]any{"endpoint": s.s3, "region": region, "bucket": u.Host,
		"prefix": strings.Trim(u.Path, "/"), "tables": eventColumns, "date_columns": dateColumns, "max_schema_files": 300})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "read_lake.py"), string(spec))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("read_lake.py: %v\n%s", err, stderr.String())
	}
	took := time.Since(start)
	var got struct {
		Pyarrow string               `json:"pyarrow"`
		Tables  map[string]tableSeen `json:"tables"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("read_lake.py printed no JSON: %v\n%s", err, out)
	}
	// wattcast's own count of each table (lake.Stats, in the demo's
	// summary), to compare pyarrow's with.
	stats := d.lakeStats()
	var summary []string
	for _, table := range lake.Tables() {
		t.Run(table, func(t *testing.T) {
			seen := got.Tables[table]
			cols, ok := want[table]
			if !ok {
				t.Fatalf("docs/lake.md documents no table %s", table)
			}
			if seen.Rows == 0 || seen.Rows != stats[table].Rows || seen.Files != stats[table].Files {
				t.Errorf("pyarrow read %d rows in %d files, the demo's summary (wattcast's reader) counts %d rows in %d files",
					seen.Rows, seen.Files, stats[table].Rows, stats[table].Files)
			}
			if !equalFields(seen.FileSchema, cols) {
				t.Errorf("file schema as pyarrow reads it:\n%s\ndocs/lake.md documents:\n%s", showFields(seen.FileSchema), showFields(cols))
			}
			if seen.SchemaFilesDiffering > 0 {
				t.Errorf("%d of %d files checked have another schema than the first", seen.SchemaFilesDiffering, seen.SchemaFilesChecked)
			}
			for _, f := range seen.FileSchema {
				if f.Name == "region" || f.Name == "date" {
					t.Errorf("the files repeat the partition column %s; docs/lake.md says it lives only in the path", f.Name)
				}
			}
			for _, f := range seen.DatasetSchema {
				if (f.Name == "region" || f.Name == "date") && f.Type != "string" {
					t.Errorf("partition column %s reads as %s, want string", f.Name, f.Type)
				}
			}
			if seen.EventType != "timestamp[us, tz=UTC]" {
				t.Errorf("event time %s reads as %s, want timestamp[us, tz=UTC]", eventColumns[table], seen.EventType)
			}
			if seen.DateMismatches > 0 || seen.NullPartition > 0 {
				what := "the UTC date of " + eventColumns[table]
				if c, ok := dateColumns[table]; ok {
					what = c
				}
				t.Errorf("%d rows whose date partition is not %s, %d rows without region or date",
					seen.DateMismatches, what, seen.NullPartition)
			}
			// A timestamp read in the wrong unit lands in 1970 or far in
			// the future; the shipped history is 2018 to 2024.
			if seen.EventMin < "2018-01-01" || seen.EventMax > "2025" {
				t.Errorf("event times %s .. %s are outside the history replayed", seen.EventMin, seen.EventMax)
			}
			if seen.Metadata["wattcast.table"] != table || seen.Metadata["wattcast.table_version"] != lake.TableVersion {
				t.Errorf("footer metadata %v, want wattcast.table=%s, wattcast.table_version=%s", seen.Metadata, table, lake.TableVersion)
			}
			if !t.Failed() {
				summary = append(summary, fmt.Sprintf("%s: %d rows, %d files (%d schemas checked), %d columns as documented, regions %v, %s .. %s",
					table, seen.Rows, seen.Files, seen.SchemaFilesChecked, len(cols), seen.Regions, seen.EventMin, seen.EventMax))
			}
		})
	}
	t.Logf("pyarrow %s read %s over the S3 API in %.1f s:\n  %s", got.Pyarrow, d.lakeURL, took.Seconds(), strings.Join(summary, "\n  "))
}

type fieldSeen struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

type tableSeen struct {
	Files                int               `json:"files"`
	Rows                 int               `json:"rows"`
	FileSchema           []fieldSeen       `json:"file_schema"`
	DatasetSchema        []fieldSeen       `json:"dataset_schema"`
	SchemaFilesChecked   int               `json:"schema_files_checked"`
	SchemaFilesDiffering int               `json:"schema_files_differing"`
	Metadata             map[string]string `json:"metadata"`
	EventType            string            `json:"event_type"`
	EventMin             string            `json:"event_min"`
	EventMax             string            `json:"event_max"`
	DateMismatches       int               `json:"date_mismatches"`
	NullPartition        int               `json:"null_partition_values"`
	Regions              []string          `json:"regions"`
}

func equalFields(a, b []fieldSeen) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func showFields(fs []fieldSeen) string {
	var b strings.Builder
	for _, f := range fs {
		opt := ""
		if f.Nullable {
			opt = ", nullable"
		}
		fmt.Fprintf(&b, "    %s %s%s\n", f.Name, f.Type, opt)
	}
	return b.String()
}

// documentedColumns parses the column tables of docs/lake.md ("### `table`"
// sections: | `column` | Parquet type[, optional] | Athena | meaning |) into
// the fields pyarrow should see, in order.
func documentedColumns(t *testing.T, doc string) map[string][]fieldSeen {
	t.Helper()
	out := map[string][]fieldSeen{}
	row := regexp.MustCompile("^\\| `([a-z0-9_]+)` \\| ([^|]+) \\|")
	var table string
	for _, line := range strings.Split(doc, "\n") {
		if h, ok := strings.CutPrefix(line, "### `"); ok {
			table = strings.TrimSuffix(h, "`")
			continue
		}
		if strings.HasPrefix(line, "## ") {
			table = ""
		}
		m := row.FindStringSubmatch(line)
		if table == "" || m == nil {
			continue
		}
		typ, optional := strings.CutSuffix(strings.TrimSpace(m[2]), ", optional")
		pt, err := pyarrowType(typ)
		if err != nil {
			t.Fatalf("docs/lake.md, table %s, column %s: %v", table, m[1], err)
		}
		out[table] = append(out[table], fieldSeen{Name: m[1], Type: pt, Nullable: optional})
	}
	if len(out) == 0 {
		t.Fatal("docs/lake.md: no column tables found")
	}
	return out
}

// pyarrowType turns a Parquet type as docs/lake.md writes it into the type
// pyarrow reads, as read_lake.py prints it.
func pyarrowType(doc string) (string, error) {
	doc = strings.TrimSpace(doc)
	simple := map[string]string{"STRING": "string", "DOUBLE": "double", "INT32": "int32", "INT64": "int64",
		"BOOLEAN": "bool", "TIMESTAMP(MICROS, UTC)": "timestamp[us, tz=UTC]"}
	if p, ok := simple[doc]; ok {
		return p, nil
	}
	if in, ok := strings.CutPrefix(doc, "MAP<"); ok && strings.HasSuffix(in, ">") {
		k, v, ok := strings.Cut(strings.TrimSuffix(in, ">"), ",")
		if !ok {
			return "", fmt.Errorf("map type %q", doc)
		}
		kt, err := pyarrowType(k)
		if err != nil {
			return "", err
		}
		vt, err := pyarrowType(v)
		if err != nil {
			return "", err
		}
		return "map<" + kt + ", " + vt + ">", nil
	}
	if in, ok := strings.CutPrefix(doc, "LIST<"); ok && strings.HasSuffix(in, ">") {
		et, err := pyarrowType(strings.TrimSuffix(in, ">"))
		if err != nil {
			return "", err
		}
		return "list<" + et + ">", nil
	}
	if in, ok := strings.CutPrefix(doc, "STRUCT<"); ok && strings.HasSuffix(in, ">") {
		var parts []string
		for _, f := range strings.Split(strings.TrimSuffix(in, ">"), ",") {
			name, typ, ok := strings.Cut(strings.TrimSpace(f), " ")
			if !ok {
				return "", fmt.Errorf("struct field %q", f)
			}
			ft, err := pyarrowType(typ)
			if err != nil {
				return "", err
			}
			parts = append(parts, name+": "+ft)
		}
		return "struct<" + strings.Join(parts, ", ") + ">", nil
	}
	return "", fmt.Errorf("unknown Parquet type %q", doc)
}

// pythonWithPyarrow returns a Python that imports pyarrow: WATTCAST_PYTHON
// (.ci/run sets it to its venv's python) or python3.
func pythonWithPyarrow(t *testing.T) string {
	t.Helper()
	python := os.Getenv("WATTCAST_PYTHON")
	if python == "" {
		python = "python3"
	}
	if out, err := exec.Command(python, "-c", "import pyarrow").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("%s cannot import pyarrow (%v: %s): pip install pyarrow, or set WATTCAST_PYTHON to a python that has it", python, err, bytes.TrimSpace(out))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return python
}
