package lake

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// lakesql.py refuses a --lake that is not a lake directory, saying what to
// check, instead of failing on the first query with DuckDB's "Table with
// name prices does not exist".
func TestLakeSQLRefusesAMissingLake(t *testing.T) {
	t.Parallel()
	requirePython(t, "duckdb")
	empty := t.TempDir()
	tests := []struct {
		name, lake, wantErr string
	}{
		{"missing directory", filepath.Join(empty, "typo"), "lake directory " + filepath.Join(empty, "typo") + " does not exist (check --lake"},
		{"missing directory as a URL", "file://" + filepath.Join(empty, "typo"), "does not exist (check --lake"},
		{"a directory without tables", empty, "holds none of the lake's tables"},
		{"an S3 lake", "s3://bucket/lake", "use Athena"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("python3", "lakesql.py", "--lake", tt.lake, "--docs", "../docs/athena.md")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if err == nil {
				t.Fatalf("lakesql.py --lake %s succeeded; want it to fail", tt.lake)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("lakesql.py --lake %s said %q; want %q", tt.lake, stderr.String(), tt.wantErr)
			}
			if strings.Contains(stderr.String(), "Traceback") || strings.Contains(stderr.String(), "Catalog Error") {
				t.Errorf("lakesql.py --lake %s failed without a clear message:\n%s", tt.lake, stderr.String())
			}
		})
	}
}
