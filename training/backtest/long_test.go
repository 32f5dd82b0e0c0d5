package backtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/csvimport"
	"github.com/wattcast/wattcast/training/backtest"
	"github.com/wattcast/wattcast/training/dataset"
	"github.com/wattcast/wattcast/training/models"
)

// TestLongBacktest runs the full-year backtests reported in docs/backtest.md.
// It takes hours on two cores, so it runs only when WATTCAST_LONG_BACKTEST
// names the datasets ("all" or e.g. "entsoe-FI,nordpool-fi") and
// WATTCAST_SHARED_DATA points at the shared data folder.
//
//	WATTCAST_LONG_BACKTEST=all WATTCAST_SHARED_DATA=../shared/data \
//	  go test -run TestLongBacktest -timeout 0 -v ./training/backtest
//
// WATTCAST_LONG_MODELS lists the model kinds, WATTCAST_LONG_RECAL and
// WATTCAST_LONG_RECAL_GRU the refit intervals (days), WATTCAST_LONG_OUT a
// markdown file to append the tables to, and WATTCAST_LONG_VARIANT=-strict
// uses the entsoe-*-strict presets, which date the TSOs' forecasts by their
// regulatory deadlines instead of the morning of D-1 (docs/backtest.md).
func TestLongBacktest(t *testing.T) {
	which := os.Getenv("WATTCAST_LONG_BACKTEST")
	dir := os.Getenv("WATTCAST_SHARED_DATA")
	if which == "" || dir == "" || testing.Short() {
		t.Skip("set WATTCAST_LONG_BACKTEST and WATTCAST_SHARED_DATA to run the full-year backtests")
	}
	kinds := strings.Split(envOr("WATTCAST_LONG_MODELS", "naive-weekly,naive-standard,lear,gru,ensemble"), ",")
	for _, ds := range longDatasets(dir) {
		if which != "all" && !strings.Contains(","+which+",", ","+ds.name+",") {
			continue
		}
		ds := ds
		t.Run(ds.name, func(t *testing.T) {
			rows := cachedRows(t, ds)
			var specs []models.Spec
			for _, k := range kinds {
				s := models.Spec{Kind: k}
				if k == models.KindLEAR && ds.learWindows != nil {
					s.LEAR = &models.LEARParams{Windows: ds.learWindows}
				}
				specs = append(specs, s)
			}
			cfg := backtest.Config{TestStart: ds.start, TestEnd: ds.end, RecalibrateEvery: atoi(envOr("WATTCAST_LONG_RECAL", "7")),
				RecalibrateKind: map[string]int{models.KindGRU: atoi(envOr("WATTCAST_LONG_RECAL_GRU", "91"))}, WarmStart: true,
				Seed: 1, Progress: os.Stderr}
			t0 := time.Now()
			res, err := backtest.Run(context.Background(), rows, specs, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			backtest.WriteTable(&b, res)
			for _, pair := range [][2]string{{"naive-standard", "gru"}, {"lear", "ensemble(gru+lear)"}, {"gru", "ensemble(gru+lear)"}} {
				if d, err := res.DM(pair[0], pair[1]); err == nil {
					fmt.Fprintf(&b, "DM %s vs %s: stat %.2f p %.4f\n", pair[0], pair[1], d.Stat, d.PValue)
				}
			}
			fmt.Fprintf(&b, "wall %s\n", time.Since(t0).Round(time.Second))
			t.Log("\n" + b.String())
			if out := os.Getenv("WATTCAST_LONG_OUT"); out != "" {
				f, _ := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
				fmt.Fprintf(f, "## %s\n```\n%s```\n", ds.name, b.String())
				backtest.WriteHourly(f, res)
				f.Close()
			}
		})
	}
}

type longDataset struct {
	name, file, preset string
	region             *features.Region
	start, end         string
	learWindows        []int
	mapping            func(m *csvimport.Mapping)
}

func longDatasets(dir string) []longDataset {
	var out []longDataset
	for _, z := range []struct{ file, zone, country string }{
		{"FI", "Europe/Helsinki", "FI"}, {"DK_1", "Europe/Copenhagen", "DK"}, {"SE_3", "Europe/Stockholm", "SE"},
		{"NO_2", "Europe/Oslo", "NO"}, {"ES", "Europe/Madrid", "ES"}, {"PL", "Europe/Warsaw", "PL"},
	} {
		out = append(out, longDataset{name: "entsoe-" + z.file, file: filepath.Join(dir, "entsoe", z.file+".csv"), preset: "entsoe-" + z.file,
			region: &features.Region{Zone: z.zone, Country: z.country, IssueTime: "10:00"}, start: "2022-07-01", end: "2023-06-30"})
	}
	out = append(out,
		longDataset{name: "nordpool-fi", file: filepath.Join(dir, "prices", "nordpool_fi_price_weather_2023-2024.csv"), preset: "nordpool-fi",
			start: "2024-01-01", end: "2024-09-05", learWindows: []int{56, 84, 364}},
		longDataset{name: "octopus-agile-A", file: filepath.Join(dir, "prices", "octopus_agile_A_2018-2021.csv"), preset: "octopus-agile",
			start: "2020-08-20", end: "2021-08-20", learWindows: []int{56, 84, 364, 728}},
	)
	return out
}

// cachedRows computes a dataset's feature rows once and keeps them in the
// temp directory as JSON (gob would turn a zero price into a nil pointer):
// the feature engine takes about 30 s per ENTSO-E file.
func cachedRows(t *testing.T, ds longDataset) []schemas.FeatureRow {
	t.Helper()
	variant := os.Getenv("WATTCAST_LONG_VARIANT")
	cache := filepath.Join(os.TempDir(), "wattcast-rows-"+ds.name+variant+".json")
	if f, err := os.Open(cache); err == nil {
		defer f.Close()
		var rows []schemas.FeatureRow
		if err := json.NewDecoder(f).Decode(&rows); err == nil {
			return rows
		}
	}
	preset := ds.preset
	if variant == "-strict" && strings.HasPrefix(preset, "entsoe-") {
		preset += "-strict"
	}
	m, err := csvimport.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	if ds.mapping != nil {
		ds.mapping(&m)
	}
	rows, info, err := dataset.Load(ds.file, dataset.Options{Mapping: m, Region: ds.region})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %+v", ds.name, info)
	if f, err := os.Create(cache); err == nil {
		json.NewEncoder(f).Encode(rows)
		f.Close()
	}
	return rows
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}
