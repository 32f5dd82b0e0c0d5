package api

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromium returns the headless browser to drive, or skips the test when
// there is none (failing instead under CI=true, where .ci/run installs
// Debian's chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH under CI=true; .ci/run must install it (apt-get install -y chromium)")
	}
	t.Skip("no chromium on PATH: install Debian's chromium (apt-get install -y chromium) to run the page test")
	return ""
}

// dumpDOM loads url in headless Chromium, lets its scripts run (virtual
// time, so the fetches finish without a wall-clock wait) and returns the
// DOM as the scripts left it.
func dumpDOM(t *testing.T, url string) string {
	t.Helper()
	bin := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=10000", "--dump-dom", url)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("chromium: %v\n%s", err, stderr)
	}
	return string(out)
}

// screenshot saves a PNG of the page at url.
func screenshot(t *testing.T, url, file string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium(t), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=10000", "--window-size=1000,800", "--screenshot="+file, url)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("screenshot: %v\n%s", err, out)
	}
}

var (
	pathRE   = regexp.MustCompile(`<path [^>]*id="([a-z-]+)"[^>]*>`)
	attrRE   = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
	coordRE  = regexp.MustCompile(`[ML]\s*(-?[0-9.]+)\s+(-?[0-9.]+)`)
	rowRE    = regexp.MustCompile(`<tr class="([a-z]+)" data-model="([^"]+)">`)
	renderRE = regexp.MustCompile(`<svg [^>]*data-rendered="FI"`)
	rectRE   = regexp.MustCompile(`<rect [^>]*id="cheapest-window"[^>]*>`)
	windowRE = regexp.MustCompile(`<div id="window">([^<]*)</div>`)
)

func attrs(tag string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRE.FindAllStringSubmatch(tag, -1) {
		m[a[1]] = a[2]
	}
	return m
}

// The page, run by a real browser against the real handlers, draws the
// served data: the actual-price line has one vertex per scored hour, at the
// coordinates the chart's documented geometry gives each (hour, price) of
// /api/v1/series, and the leaderboard has one row per model of
// /api/v1/models, in the same order.
func TestPageRendersTheChartInChromium(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	dom := dumpDOM(t, fx.srv.URL+"/?region=FI")
	if shot := os.Getenv("WATTCAST_SCREENSHOT"); shot != "" {
		// For a person to look at: WATTCAST_SCREENSHOT=/tmp/page.png.
		screenshot(t, fx.srv.URL+"/?region=FI", shot)
	}
	if !strings.Contains(dom, `data-ready="true"`) || !renderRE.MatchString(dom) {
		t.Fatalf("the page's scripts did not finish rendering FI:\n%s", dom)
	}

	_, body := get(t, fx.srv.URL+"/api/v1/series/FI?days=7")
	var s struct {
		Points []struct {
			Hour                           time.Time
			Actual, Official, Lower, Upper *float64
		}
		Upcoming []struct {
			Hour         time.Time
			Value        float64
			Lower, Upper *float64
		}
	}
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	// The chart's geometry (index.html): x spans the first to the last
	// hour plotted, y the smallest to the largest value plotted, inside a
	// 30-pixel margin of a 900x320 box.
	const w, h, pad = 900.0, 320.0, 30.0
	t0, t1 := s.Points[0].Hour, s.Upcoming[len(s.Upcoming)-1].Hour
	lo, hi := math.Inf(1), math.Inf(-1)
	see := func(v *float64) {
		if v != nil {
			lo, hi = math.Min(lo, *v), math.Max(hi, *v)
		}
	}
	var want [][2]float64
	for _, p := range s.Points {
		see(p.Actual)
		see(p.Official)
		see(p.Lower)
		see(p.Upper)
	}
	for _, p := range s.Upcoming {
		see(&p.Value)
		see(p.Lower)
		see(p.Upper)
	}
	for _, p := range s.Points {
		if p.Actual != nil {
			x := pad + float64(p.Hour.Sub(t0))/float64(t1.Sub(t0))*(w-2*pad)
			y := pad + (hi-*p.Actual)/(hi-lo)*(h-2*pad)
			want = append(want, [2]float64{x, y})
		}
	}

	paths := map[string]map[string]string{}
	for _, m := range pathRE.FindAllStringSubmatch(dom, -1) {
		paths[m[1]] = attrs(m[0])
	}
	for _, id := range []string{"actual-line", "official-line", "upcoming-line"} {
		if paths[id] == nil {
			t.Fatalf("no %s in the chart:\n%s", id, dom)
		}
	}
	actual := paths["actual-line"]
	coords := coordRE.FindAllStringSubmatch(actual["d"], -1)
	if n, _ := strconv.Atoi(actual["data-points"]); n != len(want) || len(coords) != len(want) {
		t.Fatalf("actual line has %d vertices (data-points %s); the series has %d actual prices", len(coords), actual["data-points"], len(want))
	}
	for i, c := range coords {
		x, _ := strconv.ParseFloat(c[1], 64)
		y, _ := strconv.ParseFloat(c[2], 64)
		// Coordinates are written with one decimal.
		if math.Abs(x-want[i][0]) > 0.051 || math.Abs(y-want[i][1]) > 0.051 {
			t.Fatalf("vertex %d at (%v, %v), want (%.2f, %.2f)", i, x, y, want[i][0], want[i][1])
		}
	}
	if n, _ := strconv.Atoi(paths["upcoming-line"]["data-points"]); n != len(s.Upcoming) {
		t.Errorf("upcoming line has %d points, want %d", n, len(s.Upcoming))
	}

	// The cheapest three upcoming hours of /windows are shaded from their
	// first hour's x, one hour wide per hour, and named above the chart.
	_, body = get(t, fx.srv.URL+"/api/v1/forecasts/FI/windows?hours=3")
	var win RegionWindows
	if err := json.Unmarshal(body, &win); err != nil || win.Cheapest == nil {
		t.Fatalf("windows: %v %s", err, body)
	}
	rect := rectRE.FindString(dom)
	if rect == "" {
		t.Fatalf("no cheapest-window in the chart:\n%s", dom)
	}
	ra := attrs(rect)
	rx, _ := strconv.ParseFloat(ra["x"], 64)
	rw, _ := strconv.ParseFloat(ra["width"], 64)
	hourW := float64(time.Hour) / float64(t1.Sub(t0)) * (w - 2*pad)
	wantX := pad + float64(win.Cheapest.Start.Sub(t0))/float64(t1.Sub(t0))*(w-2*pad)
	if math.Abs(rx-wantX) > 0.051 || math.Abs(rw-3*hourW) > 0.11 || ra["data-start"] != win.Cheapest.Start.Format(time.RFC3339) {
		t.Errorf("cheapest window drawn at x %v width %v from %s; want x %.2f width %.2f from %s", rx, rw, ra["data-start"], wantX, 3*hourW, win.Cheapest.Start.Format(time.RFC3339))
	}
	if m := windowRE.FindStringSubmatch(dom); m == nil || !strings.Contains(m[1], "Cheapest 3 hours ahead: "+win.Cheapest.Start.Format("15:04")+"–"+win.Cheapest.End.Format("15:04")) {
		t.Errorf("the page does not name the cheapest window %s–%s: %q", win.Cheapest.Start.Format("15:04"), win.Cheapest.End.Format("15:04"), m)
	}

	_, body = get(t, fx.srv.URL+"/api/v1/models")
	var ml ModelList
	if err := json.Unmarshal(body, &ml); err != nil {
		t.Fatal(err)
	}
	rows := rowRE.FindAllStringSubmatch(dom, -1)
	if len(rows) != len(ml.Models) {
		t.Fatalf("leaderboard has %d rows, the API %d models", len(rows), len(ml.Models))
	}
	for i, r := range rows {
		if m := ml.Models[i]; r[1] != m.Stage || r[2] != m.ModelID+"@"+m.ModelVersion {
			t.Errorf("leaderboard row %d is %s %s, want %s %s@%s", i, r[1], r[2], m.Stage, m.ModelID, m.ModelVersion)
		}
	}
}

// With fewer upcoming hours than the window asked for (?hours=24 at 13:20
// of the forecast's day), the page says so and shades nothing.
func TestPageWithoutAWindowInChromium(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	dom := dumpDOM(t, fx.srv.URL+"/?region=FI&hours=24")
	if !renderRE.MatchString(dom) {
		t.Fatalf("the page's scripts did not finish rendering FI:\n%s", dom)
	}
	if rectRE.MatchString(dom) {
		t.Errorf("a cheapest window is shaded, but only 11 hours are left")
	}
	if m := windowRE.FindStringSubmatch(dom); m == nil || m[1] != "Fewer than 24 forecast hours left." {
		t.Errorf("window note %q, want %q", m, "Fewer than 24 forecast hours left.")
	}
}

// Behind a proxy that serves the page under a path prefix (Home Assistant
// ingress, /wattcast/ on a reverse proxy), the page reaches the API under
// the same prefix: its API URLs are relative to it.
func TestPageBehindAPathPrefixInChromium(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("/wattcast/", http.StripPrefix("/wattcast", fx.hdlr))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	dom := dumpDOM(t, srv.URL+"/wattcast/?region=FI")
	if !strings.Contains(dom, `data-ready="true"`) || !renderRE.MatchString(dom) || !rectRE.MatchString(dom) {
		t.Fatalf("the page did not render FI behind the prefix:\n%s", dom)
	}
	if m := regexp.MustCompile(`<div id="error">([^<]*)</div>`).FindStringSubmatch(dom); m == nil || m[1] != "" {
		t.Errorf("error line %q, want it empty", m)
	}
	if n := len(rowRE.FindAllString(dom, -1)); n == 0 {
		t.Error("no leaderboard rows behind the prefix")
	}
}
