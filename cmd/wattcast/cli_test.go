package main

import (
	"bytes"
	"flag"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/wattcast/wattcast/training/backtest"
	"github.com/wattcast/wattcast/training/registry"
)

// Flags may follow positional arguments (Go's flag package alone stops at
// the first positional one and ignores the rest without a word); "--" ends
// the flags.
func TestParseFlagsAnywhere(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		json bool
		reg  string
		pos  []string
	}{
		{[]string{"list", "--json", "--registry", "file:///r"}, true, "file:///r", []string{"list"}},
		{[]string{"--json", "show", "lear@1", "--registry", "file:///r"}, true, "file:///r", []string{"show", "lear@1"}},
		{[]string{"show", "--", "--json"}, false, "", []string{"show", "--json"}},
		{nil, false, "", nil},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		js := fs.Bool("json", false, "")
		reg := fs.String("registry", "", "")
		if err := parseFlags(fs, c.args, func(string) string { return "" }); err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if *js != c.json || *reg != c.reg || !slices.Equal(fs.Args(), c.pos) {
			t.Errorf("%q: json %v registry %q args %q; want %v %q %q", c.args, *js, *reg, fs.Args(), c.json, c.reg, c.pos)
		}
	}
}

// Results go to the stdout run was given, not to os.Stdout: a caller (a
// test, a wrapper) reads them there, and they stay apart from the log and
// progress on stderr.
func TestResultsGoToTheRunsStdout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args func(dir string) []string
		want []string // substrings of stdout
	}{
		{name: "version", args: func(string) []string { return []string{"version"} },
			want: []string{"wattcast " + version + " ", runtime.GOOS + "/" + runtime.GOARCH}},
		{name: "models list on an empty registry", args: func(dir string) []string {
			return []string{"models", "list", "--registry", "file://" + dir}
		}, want: []string{"no models in file://"}},
		{name: "schema", args: func(string) []string { return []string{"schema"} },
			want: []string{"SCHEMA", "wattcast.prices"}},
		{name: "schema price", args: func(string) []string { return []string{"schema", "price"} },
			want: []string{`"$schema"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := run(tt.args(t.TempDir()), &stdout, &stderr, func(string) string { return "" }); code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout %q lacks %q (stderr %q)", stdout.String(), w, stderr.String())
				}
				if strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q has %q, which belongs on stdout", stderr.String(), w)
				}
			}
		})
	}
}

// A command that takes no arguments refuses them: `--regions FI GB-A`
// would otherwise train FI alone.
func TestStrayArgumentsAreRefused(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	got := run([]string{"train", "--regions", "FI", "GB-A", "--lake", "file:///nonexistent"}, &out, &out, func(string) string { return "" })
	if got != 2 || !strings.Contains(out.String(), `takes no arguments besides flags, got ["GB-A"]`) {
		t.Fatalf("exit %d, output %q; want 2 and the stray argument named", got, out.String())
	}
}

// Settings that cannot work are refused at start with what to set instead:
// a non-positive refresh panicked, a zero request rate waited forever, an
// interval level outside (0, 1) silently dropped every interval.
func TestImpossibleSettingsAreRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"score", "--catalog-refresh", "-1s"}, "--catalog-refresh -1s: want a positive duration"},
		{[]string{"score", "--interval-level", "2"}, "--interval-level 2: want a level between 0 and 1"},
		{[]string{"produce", "--source", "octopus", "--requests-per-second", "0"}, "--requests-per-second 0: want a positive rate"},
		{[]string{"import", "--preset", "nordpool-fi", "--data", "x.csv", "--from", "2024-06-01", "--to", "2024-01-01"}, "--from 2024-06-01 is not before --to 2024-01-01"},
	} {
		var out bytes.Buffer
		if got := run(c.args, &out, &out, func(string) string { return "" }); got != 1 || !strings.Contains(out.String(), c.want) {
			t.Errorf("%q: exit %d, output %q; want 1 and %q", c.args, got, out.String(), c.want)
		}
	}
}

// The train summary's COV90 is pooled over the regions' hours, like its MAE
// and rMAE; it was whichever region a map iteration gave first.
func TestPooledCoverage(t *testing.T) {
	t.Parallel()
	bt := &registry.Backtest{
		ByRegion: map[string]backtest.Metrics{"FI": {N: 300}, "GB-A": {N: 100}},
		Intervals: map[string][]backtest.Interval{
			"FI":   {{Level: 0.5, Coverage: 0.5}, {Level: 0.9, Coverage: 0.96}},
			"GB-A": {{Level: 0.9, Coverage: 0.88}},
		},
	}
	if got, ok := pooledCoverage(bt, 0.9); !ok || math.Abs(got-0.94) > 1e-12 {
		t.Errorf("pooled 90%% coverage %v %v, want 0.94 (300 h at 0.96, 100 h at 0.88)", got, ok)
	}
	if _, ok := pooledCoverage(bt, 0.8); ok {
		t.Error("a level no region has reported a coverage")
	}
}
