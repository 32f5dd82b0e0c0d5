package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wattcast/wattcast/streams/broker/brokertest"
)

// runCmd runs one of this file's subcommands the way main does (flags,
// then the run function), returning what it printed for humans.
func runCmd(t *testing.T, c *command, args ...string) (string, error) {
	t.Helper()
	fs := flag.NewFlagSet("wattcast "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g := &globals{}
	g.registerFor(fs, sharedAll)
	fn := c.setup(fs, g)
	if err := parseFlags(fs, args, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := fn(&runContext{Context: ctx, log: slog.New(slog.DiscardHandler), out: &out})
	return out.String(), err
}

func embedded(t *testing.T) string {
	t.Helper()
	brokers := brokertest.Start(t).Brokers
	return strings.Join(brokers, ",")
}

func TestImportCommandTwice(t *testing.T) {
	t.Parallel()
	brokers := embedded(t)
	args := []string{"--brokers", brokers, "--preset", "entsoe-DK_1", "--data", "../../streams/csvimport/testdata/entsoe_DK_1_2015-10-24_26.csv"}
	out, err := runCmd(t, importCommand(), args...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "published 72 prices, 72 observations, 72 forecasts, 0 dead letters; 0 already published") {
		t.Errorf("first import printed:\n%s", out)
	}
	out, err = runCmd(t, importCommand(), args...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "published 0 prices, 0 observations, 0 forecasts, 0 dead letters; 216 already published") {
		t.Errorf("second import printed:\n%s", out)
	}
}

func TestImportCommandFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--preset", "nordpool-fi"}, "--data is required"},
		{[]string{"--data", "x.csv"}, "exactly one of --mapping"},
		{[]string{"--data", "x.csv", "--preset", "nope"}, `no preset "nope"`},
		{[]string{"--data", "x.csv", "--preset", "nordpool-fi", "--published", "tomorrow"}, "csvimport: rule"},
	}
	for _, tc := range tests {
		_, err := runCmd(t, importCommand(), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
	}
	// --dry-run reads and reports without a broker.
	out, err := runCmd(t, importCommand(), "--dry-run", "--preset", "entsoe-FI", "--data", "../../streams/csvimport/testdata/entsoe_FI_2015-03.csv")
	if err != nil || !strings.Contains(out, "2400 rows: 2399 prices") {
		t.Errorf("dry run: %v\n%s", err, out)
	}
}

// A backfill against a server that serves the recorded products shape and
// the real page of rates.
func TestProduceOctopusBackfill(t *testing.T) {
	t.Parallel()
	products, err := os.ReadFile("../../streams/octopus/testdata/products_constructed.json")
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile("../../streams/octopus/testdata/agile_M_AGILE-24-10-01_page1_ihd.json")
	if err != nil {
		t.Fatal(err)
	}
	// The recorded page links to a page 2 we do not have: serve it alone.
	page = bytes.Replace(page, []byte(`"next": "https://api.octopus.energy/v1/products/AGILE-24-10-01/electricity-tariffs/E-1R-AGILE-24-10-01-M/standard-unit-rates/?page=2"`), []byte(`"next": null`), 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/products/":
			w.Write(products)
		case strings.Contains(r.URL.Path, "E-1R-AGILE-24-10-01-M/standard-unit-rates/"):
			w.Write(page)
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(srv.Close)
	brokers := embedded(t)
	args := []string{"--brokers", brokers, "--source", "octopus", "--regions", "M", "--octopus-url", srv.URL,
		"--requests-per-second", "1000", "--backfill-from", "2026-03-20T21:00:00Z", "--backfill-to", "2026-03-22T23:00:00Z"}
	out, err := runCmd(t, produceCommand(), args...)
	if err != nil || !strings.Contains(out, ": 100 prices, 0 observations, 0 forecasts, 0 dead letters, 0 already published") {
		t.Fatalf("backfill: %v\n%s", err, out)
	}
	// The same backfill again: covered, nothing fetched or published.
	out, err = runCmd(t, produceCommand(), args...)
	if err != nil || !strings.Contains(out, ": 0 prices") {
		t.Fatalf("repeat backfill: %v\n%s", err, out)
	}
}

func TestProduceFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{}, `--source "": want octopus or openmeteo`},
		{[]string{"--source", "octopus", "--regions", "Z"}, `region "Z"`},
		{[]string{"--source", "openmeteo"}, "needs --locations"},
		{[]string{"--source", "openmeteo", "--locations", "FI:x:1:2", "--openmeteo-apis", "forecast", "--backfill-from", "2024-01-01"}, "previous-runs"},
		{[]string{"--source", "octopus", "--backfill-from", "2024-02-01", "--backfill-to", "2024-01-01"}, "is not before"},
	}
	for _, tc := range tests {
		_, err := runCmd(t, produceCommand(), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
	}
}
