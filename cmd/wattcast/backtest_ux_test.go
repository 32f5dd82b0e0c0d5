package main

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wattcast/wattcast/training/backtest"
	"github.com/wattcast/wattcast/training/models"
)

const btFISlice = "../../training/testdata/entsoe_FI_2021H1.csv.gz"

// btPlainFI describes the shipped Finland slice with flags alone.
var btPlainFI = []string{"--data", btFISlice, "--time-column", "#0", "--time-format", "1/2/2006 15:04", "--time-zone", "+01:00",
	"--price-column", "Price_DA", "--test-start", "2021-06-01", "--test-end", "2021-06-07", "--models", "naive-weekly"}

func btArgs(base []string, more ...string) []string {
	return append(append([]string(nil), base...), more...)
}

// The Octopus Agile A week of 2021-08-01 has an hour of day at which the
// weekly naive forecast made no error: its rMAE is undefined, and --json
// still writes the whole result, with that rMAE as null.
func TestBacktestJSONWritesUndefinedRMAEAsNull(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "bt.json")
	log, err := runWithArgs(t, backtestCommand(), "--data", "../../data/octopus_agile_A_2018-2021.csv.gz", "--preset", "octopus-agile",
		"--test-start", "2021-08-01", "--test-end", "2021-08-07", "--models", "naive-weekly,lear", "--lear-windows", "56", "--json", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Models []struct {
			Name   string                       `json:"name"`
			ByHour []map[string]json.RawMessage `json:"by_hour"`
		} `json:"models"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	nulls := 0
	for _, m := range raw.Models {
		for _, h := range m.ByHour {
			if string(h["rmae"]) == "null" {
				nulls++
			}
		}
	}
	if nulls == 0 {
		t.Errorf("no hour's rMAE is null; the test needs an hour with a zero weekly naive MAE:\n%s", b)
	}
	var res backtest.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Days) != 7 || res.Model(models.KindLEAR) == nil {
		t.Errorf("read back %d days, models %v", len(res.Days), res.Models)
	}
}

// Flags are checked before the CSV is read: with a file that does not
// exist, the error is about the flag, and names it.
func TestBacktestChecksFlagsBeforeReading(t *testing.T) {
	t.Parallel()
	noRegion := []string{"--data", filepath.Join(t.TempDir(), "missing.csv"), "--time-column", "t", "--price-column", "p",
		"--test-start", "2021-08-01", "--test-end", "2021-08-07"}
	base := btArgs(noRegion[:6], "--region", "FI")
	period := noRegion[6:]
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"malformed test start", btArgs(base, "--test-start", "01/08/2021", "--test-end", "2021-08-07"), []string{"--test-start", "YYYY-MM-DD"}},
		{"malformed test end", btArgs(base, "--test-start", "2021-08-01", "--test-end", "2021-8-7x"), []string{"--test-end", "YYYY-MM-DD"}},
		{"end before start", btArgs(base, "--test-start", "2021-08-07", "--test-end", "2021-08-01"), []string{"--test-end", "before --test-start"}},
		{"unknown model", btArgs(btArgs(base, period...), "--models", "naive-weekly,lasso"), []string{"--models", `"lasso"`, "naive-weekly, naive-standard, lear, gru, ensemble"}},
		{"window hours", btArgs(btArgs(base, period...), "--window-hours", "0"), []string{"--window-hours", "1 to 24"}},
		{"recalibration", btArgs(btArgs(base, period...), "--recalibrate-every", "0"), []string{"--recalibrate-every"}},
		{"bad zone", btArgs(btArgs(base, period...), "--zone", "Europe/Helsinky"), []string{"--zone", `"Europe/Helsinky"`, "IANA"}},
		{"bad country", btArgs(btArgs(base, period...), "--country", "XX"), []string{"--country", `"XX"`}},
		{"bad issue time", btArgs(btArgs(base, period...), "--issue-time", "10h"), []string{"--issue-time", "HH:MM"}},
		{"bad time zone", btArgs(btArgs(base, period...), "--time-zone", "Mars/Olympus"), []string{"--time-zone", "Mars/Olympus"}},
		{"local times without a zone", btArgs(btArgs(base, period...), "--time-format", "2006-01-02 15:04"), []string{"--time-zone", "--time-format"}},
		{"bad published rule", btArgs(btArgs(base, period...), "--published", "tomorrow"), []string{"--published"}},
		{"missing json directory", btArgs(btArgs(base, period...), "--json", filepath.Join(t.TempDir(), "no", "bt.json")), []string{"--json"}},
		{"unknown region", btArgs(noRegion, "--region", "ZZ"), []string{`"ZZ"`, "--zone", "--country", "--issue-time", "DK1"}},
		{"unknown region of a preset", btArgs([]string{"--data", "missing.csv", "--preset", "octopus-agile", "--region", "ZZ"}, period...), []string{`"ZZ"`, "--zone", "--country", "--issue-time"}},
		{"no region", noRegion, []string{`"MARKET"`, "--region", "--zone"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := runWithArgs(t, backtestCommand(), tc.args...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "missing.csv") || strings.Contains(err.Error(), "no such file") {
				t.Errorf("error %q is about the CSV: the flags were not checked first", err)
			}
		})
	}
}

// backtestRegion: a region wattcast knows needs no flag and the flags
// given override it; any other needs --zone.
func TestBacktestRegion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id, zone, country, issue string
		set                      []string
		wantZone, wantCountry    string
		wantIssue                string
		wantErr                  string
	}{
		{id: "FI", issue: "10:00", wantZone: "Europe/Helsinki", wantCountry: "FI", wantIssue: "10:00"},
		{id: "DK1", issue: "10:00", wantZone: "Europe/Copenhagen", wantCountry: "DK", wantIssue: "10:00"},
		{id: "GB-C", issue: "10:00", wantZone: "Europe/London", wantCountry: "GB", wantIssue: "10:00"},
		{id: "SE3", country: "", issue: "11:30", set: []string{"country", "issue-time"}, wantZone: "Europe/Stockholm", wantCountry: "", wantIssue: "11:30"},
		{id: "FI", zone: "Europe/Tallinn", issue: "10:00", set: []string{"zone"}, wantZone: "Europe/Tallinn", wantCountry: "FI", wantIssue: "10:00"},
		{id: "EE", zone: "Europe/Tallinn", issue: "09:00", wantZone: "Europe/Tallinn", wantIssue: "09:00"},
		{id: "DK_1", issue: "10:00", wantErr: "--zone"},
		{id: "MARKET", issue: "10:00", wantErr: "--issue-time"},
	}
	for _, tc := range tests {
		set := map[string]bool{}
		for _, f := range tc.set {
			set[f] = true
		}
		r, err := backtestRegion(tc.id, tc.zone, tc.country, tc.issue, set, "")
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want one naming %s", tc.id, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.id, err)
			continue
		}
		if r.Zone != tc.wantZone || r.Country != tc.wantCountry || r.IssueTime != tc.wantIssue {
			t.Errorf("%s: %+v, want zone %s, country %q, issue time %s", tc.id, *r, tc.wantZone, tc.wantCountry, tc.wantIssue)
		}
	}
}

// A plain CSV of a region wattcast knows runs without --zone.
func TestBacktestKnownRegionNeedsNoZone(t *testing.T) {
	t.Parallel()
	log, err := runWithArgs(t, backtestCommand(), btArgs(btPlainFI, "--region", "FI")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
}

// gunzip returns the shipped Finland slice as text.
func btGunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// When no row survives, the error counts the rejected rows and shows the
// first, with the flags to check; --strict stops at the first bad row,
// which is otherwise skipped and shown.
func TestBacktestBadRows(t *testing.T) {
	t.Parallel()
	lines := strings.Split(btGunzip(t, btFISlice), "\n")
	lines[100] = strings.Replace(lines[100], ",", ",x", 1) // line 101: price "x..."
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(t.TempDir(), "text.csv")
	if err := os.WriteFile(text, []byte("t,p\n2021-01-01T00:00:00Z,high\n2021-01-01T01:00:00Z,low\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr []string
		wantLog []string
	}{
		{"wrong time format", btArgs(btPlainFI, "--region", "FI", "--time-format", "rfc3339"),
			[]string{"4344 rows rejected", "line 2", `column "#0" value "1/1/2021 0:00"`, `does not match format "rfc3339"`, "--time-format"}, nil},
		{"wrong time format, mapping file", btArgs(btPlainFI[8:], "--data", btFISlice, "--mapping", btWriteMapping(t, `{"time":{"column":"#0","format":"unix"},"period":"1h",`+
			`"price":{"column":"Price_DA","unit":"EUR/MWh","currency":"EUR"},"region":"FI","market":"m","published":"D-1 12:45 Europe/Brussels"}`)),
			[]string{"4344 rows rejected", "line 2", "time.format", "unix"}, nil},
		{"price column of text", []string{"--data", text, "--time-column", "t", "--price-column", "p", "--region", "FI",
			"--test-start", "2021-06-01", "--test-end", "2021-06-07"},
			[]string{"2 rows rejected", "line 2", `column "p" value "high"`, "not a number", `--price-column ("p")`}, nil},
		{"a bad row is skipped", btArgs(btPlainFI, "--region", "FI", "--data", bad), nil, []string{"1 rows rejected", "bad.csv:101"}},
		{"--strict stops at it", btArgs(btPlainFI, "--region", "FI", "--data", bad, "--strict"), []string{"--strict", "bad.csv:101", "not a number"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log, err := runWithArgs(t, backtestCommand(), tc.args...)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("%v\n%s", err, log)
				}
			} else if err == nil {
				t.Fatalf("no error\n%s", log)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, w := range tc.wantLog {
				if !strings.Contains(log, w) {
					t.Errorf("log does not say %q:\n%s", w, log)
				}
			}
		})
	}
}

func btWriteMapping(t *testing.T, js string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// import: a mapping whose local times have no zone names --time-zone, and
// --time-zone completes it.
func TestImportTimeZoneFlag(t *testing.T) {
	t.Parallel()
	m := btWriteMapping(t, `{"time":{"column":"#0","format":"1/2/2006 15:04"},"period":"1h",`+
		`"price":{"column":"Price_DA","unit":"EUR/MWh","currency":"EUR"},"region":"FI","market":"m","published":"D-1 12:45 Europe/Brussels"}`)
	tests := []struct {
		args    []string
		wantErr []string
		wantOut string
	}{
		{[]string{"--data", btFISlice, "--mapping", m, "--dry-run"}, []string{"--time-zone", "time.zone", m}, ""},
		{[]string{"--data", btFISlice, "--mapping", m, "--dry-run", "--time-zone", "Europe/Helsinky"}, []string{"--time-zone", "Europe/Helsinky"}, ""},
		{[]string{"--data", btFISlice, "--mapping", m, "--dry-run", "--time-zone", "+01:00"}, nil, "4344 prices"},
		{[]string{"--data", btFISlice, "--preset", "entsoe-FI", "--dry-run", "--published", "tomorrow"}, []string{"--published"}, ""},
	}
	for _, tc := range tests {
		out, err := runCmd(t, importCommand(), tc.args...)
		if tc.wantErr == nil {
			if err != nil || !strings.Contains(out, tc.wantOut) {
				t.Errorf("%v: err %v, printed %q; want %q", tc.args, err, out, tc.wantOut)
			}
			continue
		}
		if err == nil {
			t.Errorf("%v: no error", tc.args)
			continue
		}
		for _, w := range tc.wantErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not say %q", tc.args, err, w)
			}
		}
	}
}
