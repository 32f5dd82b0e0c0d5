package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// runSchema runs the schema command with args and returns what it printed.
func runSchema(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	c := schemaCommandTo(&out)
	fs := flag.NewFlagSet("wattcast schema", flag.ContinueOnError)
	g := &globals{}
	g.registerFor(fs, sharedAll)
	run := c.setup(fs, g)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	err := run(&runContext{Context: context.Background(), log: slog.New(slog.DiscardHandler), out: io.Discard, args: fs.Args()})
	return out.String(), err
}

func TestSchemaCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    []string // substrings of the output
		wantErr string
	}{
		{"lists every schema with its topics", nil,
			[]string{"price", "wattcast.prices", "forecast-error", "wattcast.errors.champion, wattcast.errors.challenger", "dead-letter"}, ""},
		{"topic prefix applies", []string{"--topic-prefix", "staging."}, []string{"staging.forecasts"}, ""},
		{"prints one schema", []string{"forecast"}, []string{`"$id": "https://github.com/wattcast/wattcast/raw/main/schemas/v1/forecast.json"`}, ""},
		{"unknown name", []string{"prices"}, nil, "no JSON Schema named \"prices\""},
		{"two names", []string{"price", "forecast"}, nil, "at most one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := runSchema(t, tt.args...)
			if !checkOutput(t, out, err, tt.want, tt.wantErr) {
				return
			}
			if len(tt.args) == 1 && !json.Valid([]byte(out)) {
				t.Errorf("printed schema is not JSON:\n%s", out)
			}
		})
	}
}

// checkOutput fails t unless err contains wantErr (when set) or, without
// wantErr, err is nil and out holds every string of want. It reports
// whether the command succeeded.
func checkOutput(t *testing.T, out string, err error, want []string, wantErr string) bool {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want one containing %q", err, wantErr)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	return true
}
