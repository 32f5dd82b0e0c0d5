package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the binary's entry point with args and no environment.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut, func(string) string { return "" })
	return code, out.String(), errOut.String()
}

// The stores a command only reads must exist: a mistyped file:// lake or
// registry is an error naming the flag to check, and is not created. An
// empty registry says so. A bare path is a file:// store.
func TestReadOnlyStores(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	empty := filepath.Join(base, "registry")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(base, "typo")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // contained, when wantCode is 0
		wantStderr string // contained, when wantCode is not 0
	}{
		{"models list, missing registry", []string{"models", "list", "--registry", "file://" + missing}, 1, "",
			"registry directory " + missing + " does not exist (check --registry"},
		{"models show, missing registry", []string{"models", "show", "lear@1", "--registry", "file://" + missing}, 1, "",
			"registry directory " + missing + " does not exist (check --registry"},
		{"models list, registry next to a missing lake", []string{"models", "list", "--lake", "file://" + filepath.Join(missing, "lake")}, 1, "",
			"check --registry, or --lake: the registry defaults to <lake>/../registry"},
		{"models list, empty registry", []string{"models", "list", "--registry", "file://" + empty}, 0,
			"no models in file://" + filepath.ToSlash(empty) + " (check --registry", ""},
		{"models list --json, empty registry", []string{"models", "list", "--json", "--registry", "file://" + empty}, 0, "[]\n", ""},
		{"models list, bare registry path", []string{"models", "list", "--registry", empty}, 0,
			"no models in file://" + filepath.ToSlash(empty) + " (", ""},
		{"models list, bare missing path", []string{"models", "list", "--registry", missing}, 1, "",
			"registry directory " + missing + " does not exist (check --registry"},
		{"train, missing lake", []string{"train", "--lake", "file://" + missing, "--registry", "file://" + empty}, 1, "",
			"lake directory " + missing + " does not exist (check --lake"},
		{"train, bare missing lake", []string{"train", "--lake", missing, "--registry", "file://" + empty}, 1, "",
			"lake directory " + missing + " does not exist (check --lake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("wattcast %s exited %d, want %d; stderr:\n%s", strings.Join(tt.args, " "), code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("wattcast %s said %q, want %q", strings.Join(tt.args, " "), stderr, tt.wantStderr)
			}
			if tt.wantCode == 0 && !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("wattcast %s printed %q, want %q", strings.Join(tt.args, " "), stdout, tt.wantStdout)
			}
			if tt.wantCode == 0 && strings.Contains(stdout, "MODEL") {
				t.Errorf("wattcast %s printed a table of no models: %q", strings.Join(tt.args, " "), stdout)
			}
			if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("wattcast %s created %s (stat: %v)", strings.Join(tt.args, " "), missing, err)
			}
		})
	}
}

// `wattcast query` runs on Athena only: it takes no store flags, which it
// would ignore, and its help points at lakesql.py for a local lake.
func TestQueryTakesNoStoreFlags(t *testing.T) {
	t.Parallel()
	fs := commandFlags(t, "query")
	for _, name := range []string{"lake", "registry", "s3-endpoint", "s3-path-style", "brokers"} {
		if fs.Lookup(name) != nil {
			t.Errorf("query registers --%s, which it ignores", name)
		}
	}
	for _, name := range []string{"aws-region", "athena", "athena-workgroup", "athena-database", "athena-output", "max-rows", "log-level"} {
		if fs.Lookup(name) == nil {
			t.Errorf("query lacks --%s", name)
		}
	}
	code, _, help := runCLI(t, "query", "--help")
	if code != 0 {
		t.Fatalf("query --help exited %d", code)
	}
	if want := "Athena only; for a local file:// lake use python3 lake/lakesql.py"; !strings.Contains(help, want) {
		t.Errorf("query --help lacks %q:\n%s", want, help)
	}
	// A store flag is refused rather than silently ignored.
	if code, _, stderr := runCLI(t, "query", "--lake", "file://x", "--athena", "SELECT 1"); code != 2 || !strings.Contains(stderr, "-lake") {
		t.Errorf("query --lake exited %d (%q), want 2 naming the flag", code, stderr)
	}
}

// The demo's summary ends with the commands that read its registry and
// lake: they are not the default ones, so each names them.
func TestDemoSummaryEndsWithExploreCommands(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.ToSlash(filepath.Join(wd, ".wattcast", "demo"))
	tests := []struct {
		name          string
		lake, reg     string
		want, notWant []string
	}{
		{"below the working directory", "file://" + work + "/lake", "file://" + work + "/registry", []string{
			"\nexplore what the demo made (run from this directory):\n",
			"  wattcast models list --registry file://.wattcast/demo/registry\n",
			"  wattcast models show lear@1 --registry file://.wattcast/demo/registry\n",
			"  python3 lake/lakesql.py --lake .wattcast/demo/lake    #",
		}, nil},
		{"elsewhere", "file:///srv/demo/lake", "file:///srv/demo/registry", []string{
			"  wattcast models list --registry file:///srv/demo/registry\n",
			"  python3 lake/lakesql.py --lake /srv/demo/lake    #",
		}, nil},
		{"on S3: no lakesql", "s3://bucket/lake", "s3://bucket/registry", []string{
			"  wattcast models list --registry s3://bucket/registry\n",
		}, []string{"lakesql"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			printExplore(&out, &demoResult{lakeURL: tt.lake, registryURL: tt.reg,
				models: []trainedModel{{id: "naive-weekly", version: "1", stage: "challenger"}, {id: "lear", version: "1", stage: "champion"}}}, "wattcast")
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("summary lacks %q:\n%s", w, out.String())
				}
			}
			for _, n := range tt.notWant {
				if strings.Contains(out.String(), n) {
					t.Errorf("summary has %q:\n%s", n, out.String())
				}
			}
		})
	}
	// printSummary ends with them.
	var out bytes.Buffer
	printSummary(&out, &demoResult{lakeURL: "file:///srv/demo/lake", registryURL: "file:///srv/demo/registry"})
	if !strings.HasSuffix(out.String(), "python3 lake/lakesql.py --lake /srv/demo/lake    # docs/athena.md's queries with DuckDB (pip install duckdb)\n") {
		t.Errorf("the demo's summary does not end with the explore commands:\n%s", out.String())
	}
}

// With no --registry, the registry is the directory next to the lake,
// whatever the lake's spelling; a bare path stays a path (never URL
// encoded: a space or "#" in it must not move the registry elsewhere).
func TestRegistryNextToTheLake(t *testing.T) {
	for _, tc := range []struct{ lake, want string }{
		{"file:///srv/wattcast/lake", "file:///srv/wattcast/registry"},
		{"file://.wattcast/lake", "file://.wattcast/registry"},
		{"s3://bucket/prod/lake", "s3://bucket/prod/registry"},
		{".wattcast/lake", filepath.Join(".wattcast", "registry")},
		{"/home/a b/lake/", filepath.Join("/home/a b", "registry")},
		{"/srv/x#1/lake", filepath.Join("/srv/x#1", "registry")},
		{"/srv/50%/lake", filepath.Join("/srv/50%", "registry")},
	} {
		g := &globals{lakeURL: tc.lake}
		got, err := g.registryLocation()
		if err != nil || got != tc.want {
			t.Errorf("--lake %q: registry %q (%v), want %q", tc.lake, got, err, tc.want)
		}
	}
}
