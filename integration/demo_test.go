package integration

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/replay"
)

// demoRun is one run of `wattcast demo` against the real servers, shared
// by the tests that read what it wrote (kcat, pyarrow).
type demoRun struct {
	topics      schemas.TopicSet
	lakeURL     string
	registryURL string
	output      string
	elapsed     time.Duration
}

// demo runs the demo once per suite and returns it; every caller fails if
// it failed.
func (s *suiteEnv) demoRun(t *testing.T) *demoRun {
	t.Helper()
	bin := s.binary(t)
	s.demoOnce.Do(func() { s.demo, s.demoErr = s.runDemo(bin) })
	if s.demoErr != nil {
		t.Fatalf("wattcast demo against the servers failed: %v", s.demoErr)
	}
	return s.demo
}

var demoPrefix = regexp.MustCompile(`topics prefixed "([^"]+)"`)

// demoWindows are the slices of the shipped history the demo replays here:
// ten weeks of each data set, enough to train on eight and score two.
func demoWindows() map[string]replay.Window {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	return map[string]replay.Window{
		replay.NordPoolFI:    {From: day("2024-03-04"), To: day("2024-05-13")},
		replay.OctopusAgileA: {From: day("2021-03-01"), To: day("2021-05-10")},
	}
}

// runDemo runs `wattcast demo --brokers ... --lake s3://... --registry
// s3://...` on slices of the shipped history (demoWindows).
func (s *suiteEnv) runDemo(bin string) (*demoRun, error) {
	name := s.name("demo")
	d := &demoRun{lakeURL: s.lakeURL(name, "lake"), registryURL: s.lakeURL(name, "registry")}
	work, err := os.MkdirTemp("", "wattcast-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var windows []string
	for name, w := range demoWindows() {
		windows = append(windows, name+"="+w.From.Format(time.DateOnly)+".."+w.To.Format(time.DateOnly))
	}
	args := []string{"demo", "--brokers", strings.Join(s.brokers, ","), "--lake", d.lakeURL, "--registry", d.registryURL,
		"--s3-endpoint", s.s3, "--work-dir", work, "--replay-window", strings.Join(windows, ","),
		"--holdout-weeks", "2", "--backtest-days", "7"}
	if s.pathStyle {
		args = append(args, "--s3-path-style")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = s.root
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d.elapsed = time.Since(start)
	d.output = string(out)
	logFile := filepath.Join(s.logDir, "demo.log")
	if err := os.MkdirAll(s.logDir, 0o755); err == nil {
		_ = os.WriteFile(logFile, out, 0o644)
	}
	if m := demoPrefix.FindStringSubmatch(d.output); m != nil {
		d.topics = schemas.NewTopicSet(m[1])
		s.atExit(func(failed bool) {
			if failed {
				fmt.Fprintf(os.Stderr, "integration: kept the demo's topics %s* and lake %s for inspection\n", m[1], d.lakeURL)
				return
			}
			s.dropTopicSet(m[1])
			s.deleteObjects(d.lakeURL)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("wattcast %s: %w\n%s(output in %s)", strings.Join(args, " "), err, lastLines(d.output, 20), logFile)
	}
	if d.topics.Prefix == "" {
		return nil, fmt.Errorf("the demo's summary does not say its topic prefix (output in %s)", logFile)
	}
	return d, nil
}

// lakeStats parses the lake table of the demo's summary ("table files
// rows"), which the demo counts with lake.Stats.
func (d *demoRun) lakeStats() map[string]lake.TableStats {
	out := map[string]lake.TableStats{}
	i := strings.Index(d.output, "\nlake ")
	if i < 0 {
		return out
	}
	row := regexp.MustCompile(`^\s*([a-z_]+)\s+(\d+)\s+(\d+)\s*$`)
	for _, line := range strings.Split(d.output[i+1:], "\n")[1:] {
		m := row.FindStringSubmatch(line)
		if m == nil {
			if strings.TrimSpace(line) == "" {
				break
			}
			continue
		}
		var st lake.TableStats
		fmt.Sscan(m[2], &st.Files)
		fmt.Sscan(m[3], &st.Rows)
		out[m[1]] = st
	}
	return out
}

// dropTopicSet deletes every topic whose name starts with prefix.
func (s *suiteEnv) dropTopicSet(prefix string) {
	cl, err := s.kafkaConfig().NewClient()
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return
	}
	var names []string
	for _, n := range td.Names() {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	if len(names) > 0 {
		_, _ = adm.DeleteTopics(ctx, names...)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestWholePipelineAgainstRealServers runs the walking skeleton, `wattcast
// demo`, against the real broker and S3 server (topics under a fresh
// prefix, lake and registry under s3://) and checks real outcomes: the
// lake and the features topic hold exactly the rows the replayed history
// implies, there are forecasts for every region with one official forecast
// per region and issue, every error record is |forecast - actual| for its
// hour, the lake's forecasts table holds every forecast point, and nothing
// was dead-lettered.
func TestWholePipelineAgainstRealServers(t *testing.T) {
	s := servers(t)
	d := s.demoRun(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	data, err := replay.Load(d.topics, replay.Options{Windows: demoWindows()})
	if err != nil {
		t.Fatal(err)
	}
	o := verifyExactlyOnce(t, s, d.topics, d.lakeURL, data.Items, nil)
	o.notes = append(o.notes, fmt.Sprintf("wattcast demo took %.1f s on %d replayed records", d.elapsed.Seconds(), len(data.Items)))

	// Forecasts: for every region, one official per region and issue time.
	recs, err := s.readTopic(ctx, d.topics.Forecasts)
	if err != nil {
		t.Fatal(err)
	}
	forecasts := map[string]schemas.Forecast{}
	perRegion := map[string]int{}
	official := map[string]int{}
	points := 0
	offsets := map[lake.Lineage]int{}
	for _, r := range recs {
		var f schemas.Forecast
		if err := schemas.Decode(r.Value, &f); err != nil {
			t.Fatalf("forecast at %s[%d]@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		if _, dup := forecasts[f.ForecastID]; dup {
			t.Errorf("forecast %s is on the topic twice", f.ForecastID)
		}
		forecasts[f.ForecastID] = f
		perRegion[f.Region]++
		if f.Official {
			official[f.Region+" "+f.IssueTime.Format(time.RFC3339)]++
		}
		points += len(f.Points)
		offsets[lake.Lineage{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}] = len(f.Points)
	}
	regions := map[string]bool{}
	for _, it := range data.Items {
		regions[it.Key] = true
	}
	for _, region := range sortedKeys(regions) {
		if perRegion[region] == 0 {
			t.Errorf("no forecast for region %s", region)
		}
	}
	for k, n := range official {
		if n != 1 {
			t.Errorf("%d official forecasts for %s, want 1", n, k)
		}
	}
	o.notes = append(o.notes, fmt.Sprintf("forecasts topic: %d forecasts (%v per region), %d points", len(recs), perRegion, points))

	// Errors: each one is |forecast - actual| for its hour.
	nErr := 0
	for _, topic := range []string{d.topics.ErrorsChampion, d.topics.ErrorsChallenger} {
		recs, err := s.readTopic(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			var e schemas.ForecastError
			if err := schemas.Decode(r.Value, &e); err != nil {
				t.Fatal(err)
			}
			nErr++
			f, ok := forecasts[e.ForecastID]
			var fv *float64
			for _, p := range f.Points {
				if p.Hour.Equal(e.Hour) {
					fv = &p.Value
				}
			}
			actual, known := o.want[rowKey{e.Region, e.Hour, true}]
			switch {
			case !ok || fv == nil:
				t.Fatalf("error record %+v has no forecast point on the forecasts topic", e)
			case !known:
				t.Fatalf("error record %+v is for an hour without a final feature row", e)
			case e.Forecast != *fv || e.Actual != *actual.Price || math.Abs(e.AbsError-math.Abs(*fv-*actual.Price)) > 1e-9:
				t.Fatalf("error record %+v: want forecast %v, actual %v, abs error %v", e, *fv, *actual.Price, math.Abs(*fv-*actual.Price))
			}
		}
	}
	if nErr == 0 {
		t.Error("no forecast error records on the error topics")
	}
	o.notes = append(o.notes, fmt.Sprintf("error topics: %d records, each |forecast - actual|", nErr))

	// The lake's forecasts table: one row per point of each forecast.
	store := s.openLake(t, d.lakeURL)
	ls, _, err := lake.ReadLineage(ctx, store, lake.TableForecasts, lake.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	perOffset := map[lake.Lineage]int{}
	for _, l := range ls {
		perOffset[l]++
	}
	bad := 0
	for l, n := range offsets {
		if perOffset[l] != n {
			bad++
		}
	}
	if bad > 0 || len(perOffset) != len(offsets) || len(ls) != points {
		t.Errorf("lake forecasts table: %d rows from %d records, want %d points from %d records (%d records with the wrong row count)",
			len(ls), len(perOffset), points, len(offsets), bad)
	}
	o.tallies = append(o.tallies, tally{what: "lake forecasts rows (points)", expected: points, found: len(ls)})
	o.report(t, "wattcast demo against the real broker and S3 server")

	// The summary says where the models are: that place must hold them.
	t.Run("registry named in the summary holds the models", func(t *testing.T) {
		m := regexp.MustCompile(`(\d+) models registered in (\S+)`).FindStringSubmatch(d.output)
		if m == nil {
			// The demo always registers models and says where.
			t.Fatalf("the demo's summary names no registry (no %q line):\n%s", "N models registered in URL", d.output)
		}
		keys, err := s.openLake(t, m[2]).List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			t.Errorf("the demo says %s models are registered in %s, but it holds no object", m[1], m[2])
		}
	})
}
