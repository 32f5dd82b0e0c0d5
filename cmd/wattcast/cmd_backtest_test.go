package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/training/backtest"
	"github.com/wattcast/wattcast/training/models"
	"github.com/wattcast/wattcast/training/registry"
)

// runWithArgs runs c with args and returns what it wrote to the run
// context's writer (progress and summaries).
func runWithArgs(t *testing.T, c *command, args ...string) (string, error) {
	t.Helper()
	log, _, err := runCommand(t, c, args...)
	return log, err
}

// runCommand runs c with args and returns what it wrote to the run
// context's writer (progress and summaries) and to its stdout (results).
func runCommand(t *testing.T, c *command, args ...string) (log, stdout string, err error) {
	t.Helper()
	fs := flag.NewFlagSet("wattcast "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g := &globals{}
	g.registerFor(fs, sharedAll)
	fn := c.setup(fs, g)
	if err := parseFlags(fs, args, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	var out, so bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = fn(&runContext{Context: ctx, log: slog.New(slog.DiscardHandler), out: &out, stdout: &so, args: fs.Args()})
	return out.String(), so.String(), err
}

// The backtest command on the shipped Finland slice: the CSV goes through
// csvimport and the feature engine, every model is scored on the test
// days, and LEAR beats the weekly naive forecast.
func TestBacktestCommandOnShippedCSV(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "res.json")
	log, err := runWithArgs(t, backtestCommand(), "--data", "../../training/testdata/entsoe_FI_2021H1.csv.gz", "--preset", "entsoe-FI",
		"--zone", "Europe/Helsinki", "--country", "FI", "--test-start", "2021-06-01", "--test-end", "2021-06-14",
		"--models", "naive-weekly,naive-standard,lear", "--window-hours", "4", "--json", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res backtest.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Days) != 14 || len(res.Models) != 3 {
		t.Fatalf("%d days, %d models; want 14 and 3\n%s", len(res.Days), len(res.Models), log)
	}
	lear := res.Model(models.KindLEAR)
	if lear == nil || !(lear.Overall.RMAE < 1) || lear.Overall.N != 14*24 {
		t.Fatalf("LEAR result %+v; want rMAE below 1 over 336 hours", lear)
	}
	if !strings.Contains(log, "feature rows") {
		t.Errorf("no progress report:\n%s", log)
	}
	for _, m := range res.Models {
		if m.Window.Hours != 4 || m.Window.Days != 14 || m.Window.Model < m.Window.Best {
			t.Errorf("%s: window value %+v; want 4 hours over 14 days", m.Name, m.Window)
		}
	}
}

// A plain CSV described by flags alone (no mapping file): time and price
// columns, one known-ahead and one observed column.
func TestBacktestCommandPlainCSVFlags(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "res.json")
	log, err := runWithArgs(t, backtestCommand(), "--data", "../../training/testdata/entsoe_FI_2021H1.csv.gz",
		"--time-column", "#0", "--time-format", "1/2/2006 15:04", "--time-zone", "+01:00", "--price-column", "Price_DA",
		"--known-ahead", "Load_DA,Won_DA", "--observed", "Load_AC", "--zone", "Europe/Helsinki", "--region", "FI",
		"--test-start", "2021-06-01", "--test-end", "2021-06-07", "--models", "naive-weekly,lear", "--json", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res backtest.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	lear := res.Model(models.KindLEAR)
	if len(res.Days) != 7 || lear == nil || res.Region != "FI" {
		t.Fatalf("%d days, region %s, lear %v\n%s", len(res.Days), res.Region, lear, log)
	}
	// The known-ahead columns reach the model as inputs for the target day.
	var hasLoad bool
	for _, f := range lear.LastFit.Features {
		hasLoad = hasLoad || strings.HasPrefix(f, "Load_DA(D)")
	}
	if !hasLoad {
		t.Errorf("LEAR inputs lack Load_DA(D): %v", lear.LastFit.Features[:10])
	}
}

func TestBacktestCommandNeedsAMapping(t *testing.T) {
	t.Parallel()
	_, err := runWithArgs(t, backtestCommand(), "--data", "x.csv", "--test-start", "2021-06-01", "--test-end", "2021-06-14")
	if err == nil || !strings.Contains(err.Error(), "--price-column") {
		t.Fatalf("err = %v; want a hint about --preset/--mapping/--price-column", err)
	}
}

// models list and show read what the trainer registered, and print it to
// the run's stdout.
func TestModelsListAndShow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := lake.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := models.Marshal(models.NaiveWeekly{})
	reg := registry.New(b)
	c, err := reg.Register(context.Background(), registry.Card{ID: "naive-weekly", Kind: models.KindNaiveWeekly, CodeVersion: "t"}, blob)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.SetStages(context.Background(), []registry.StageChange{{Ref: c.Ref(), To: registry.StageChampion}}, "test", "t"); err != nil {
		t.Fatal(err)
	}
	_, stdout, err := runCommand(t, modelsCommand(), "--registry", "file://"+dir, "list")
	if err != nil {
		t.Error(err)
	}
	if !strings.Contains(stdout, "naive-weekly@1") || !strings.Contains(stdout, "champion") {
		t.Errorf("models list printed:\n%s", stdout)
	}
	_, stdout, err = runCommand(t, modelsCommand(), "--registry", "file://"+dir, "show", "naive-weekly@1")
	if err != nil {
		t.Error(err)
	}
	var card struct {
		Stage  string `json:"stage"`
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal([]byte(stdout), &card); err != nil || card.Stage != "champion" || card.SHA256 != c.SHA256 {
		t.Errorf("models show printed %q (%v)", stdout, err)
	}
	if _, err := runWithArgs(t, modelsCommand(), "--registry", "file://"+dir, "show", "nope@1"); err == nil {
		t.Error("show of a missing model succeeded")
	}
}

func TestLEARWindowsFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      []string
		want    []int
		wantErr bool
	}{
		{in: nil, want: nil},
		{in: []string{"56", "84", "364", "728"}, want: []int{56, 84, 364, 728}},
		{in: []string{"56", "x"}, wantErr: true},
		{in: []string{"7"}, wantErr: true},
	}
	for _, tt := range tests {
		p, err := learParams(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("learParams(%v): err %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), "--lear-windows") {
				t.Errorf("learParams(%v): error %q does not name the flag", tt.in, err)
			}
			continue
		}
		if tt.want == nil {
			if p != nil {
				t.Errorf("learParams(%v) = %+v, want nil (the defaults)", tt.in, p)
			}
			continue
		}
		if p == nil || !slices.Equal(p.Windows, tt.want) {
			t.Errorf("learParams(%v) = %+v, want windows %v", tt.in, p, tt.want)
		}
	}
}
