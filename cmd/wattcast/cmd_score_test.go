package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/processors/features/featurestest"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/scorer"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/training/models"
	"github.com/wattcast/wattcast/training/registry"
)

// `wattcast score --until-caught-up` wires the scorer to the registry: it
// forecasts every day of the features topic with the registry's champion
// and challenger, scores them, and runs the promotion decider over the
// errors.
// scoreSetup starts a broker, registers a weekly naive champion and a
// standard naive challenger for FI in a registry directory, and produces
// 20 days of FI feature rows; it returns the broker address, the registry
// directory and the topic prefix.
func scoreSetup(t *testing.T, prefix string) (string, string) {
	t.Helper()
	brokers := brokertest.Start(t).Brokers
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	regDir := t.TempDir()
	rb, err := lake.Open(ctx, "file://"+regDir, lake.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(rb)
	for _, m := range []struct {
		id    string
		model models.Model
		stage string
	}{{"weekly", models.NaiveWeekly{}, registry.StageChampion}, {"standard", models.NaiveStandard{}, registry.StageChallenger}} {
		blob, err := models.Marshal(m.model)
		if err != nil {
			t.Fatal(err)
		}
		card, err := reg.Register(ctx, registry.Card{ID: m.id, Kind: m.model.Kind(), Regions: []string{"FI"}}, blob)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.SetStages(ctx, []registry.StageChange{{Ref: card.Ref(), From: registry.StageCandidate, To: m.stage}}, "test", "test"); err != nil {
			t.Fatal(err)
		}
	}

	topics := schemas.NewTopicSet(prefix)
	kc := kafka.Config{Brokers: brokers}
	cl := brokertest.Client(t, kc)
	if err := kafka.EnsureTopics(ctx, cl, topics.Specs(3, 0), 1); err != nil {
		t.Fatal(err)
	}
	in := featurestest.History([]string{"FI"}, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 20)
	res, err := features.Batch(features.Config{}, in.Prices, in.Obs, in.Fcs)
	if err != nil {
		t.Fatal(err)
	}
	type item struct {
		at  time.Time
		row *schemas.FeatureRow
	}
	var items []item
	for i := range res.Ready {
		items = append(items, item{res.Ready[i].IssueTime, &res.Ready[i]})
	}
	for i := range res.Final {
		items = append(items, item{res.Final[i].Hour.Add(time.Hour), &res.Final[i]})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at.Before(items[j].at) })
	var recs []*kgo.Record
	for _, it := range items {
		r, err := kafka.NewRecord(topics.Features, "FI", it.row, "test")
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	return brokers[0], regDir
}

// runScoreCmd parses args like the CLI and runs `wattcast score`.
func runScoreCmd(ctx context.Context, args []string, out *bytes.Buffer) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	g := &globals{}
	g.registerFor(fs, sharedAll)
	runFn := scoreCommand().setup(fs, g)
	if err := parseFlags(fs, args, func(string) string { return "" }); err != nil {
		return err
	}
	return runFn(&runContext{Context: ctx, log: slog.New(slog.DiscardHandler), out: out})
}

func TestScoreCommandScoresWithTheRegistryModels(t *testing.T) {
	t.Parallel()
	addr, regDir := scoreSetup(t, "sc.")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"--brokers", addr, "--topic-prefix", "sc.", "--registry", "file://" + regDir,
		"--lake", "file://" + t.TempDir(), "--until-caught-up", "--promote-min-days", "5", "--instance-id", "t1"}
	var out bytes.Buffer
	if err := runScoreCmd(ctx, args, &out); err != nil {
		t.Fatalf("score: %v\n%s", err, out.String())
	}
	m := regexp.MustCompile(`scored: (\d+) forecasts, (\d+) forecast errors`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no summary in %q", out.String())
	}
	nf, _ := strconv.Atoi(m[1])
	ne, _ := strconv.Atoi(m[2])
	// Days 9..20 of history can be forecast by both week-back models.
	if nf < 2*10 || ne < 2*10*24 {
		t.Errorf("%d forecasts and %d errors; want both models forecasting and scored on at least 10 days", nf, ne)
	}
	t.Log(out.String())
	if !regexp.MustCompile(`model event: promotion_denied standard@1|model event: promoted standard@1`).MatchString(out.String()) {
		t.Errorf("the decider made no decision on the challenger after 5+ days:\n%s", out.String())
	}
	// The groups follow the topic prefix (TopicSet.Group), so that another
	// topic set's scorer on the same cluster never shares them.
	adm := kadm.NewClient(brokertest.Client(t, kafka.Config{Brokers: []string{addr}}))
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"wattcast-scorer.sc", "wattcast-scorer.sc-promoter", "wattcast-scorer.sc-promoter-decide"} {
		if !slices.Contains(listed.Groups(), g) {
			t.Errorf("no group %s; the groups are %v", g, listed.Groups())
		}
	}
	if slices.Contains(listed.Groups(), scorer.DefaultGroup) {
		t.Errorf("the scorer of topic set sc. used the default topic set's group %s", scorer.DefaultGroup)
	}
}

// The service mode: the HTTP API serves the official forecasts the scorer
// wrote, /metrics exports the scorer's and the monitor's metrics, and
// cancelling the context (what SIGTERM does) stops every part cleanly.
func TestScoreServiceServesHTTP(t *testing.T) {
	t.Parallel()
	addr, regDir := scoreSetup(t, "sv.")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	args := []string{"--brokers", addr, "--topic-prefix", "sv.", "--registry", "file://" + regDir, "--lake", "file://" + t.TempDir(),
		"--http", httpAddr, "--instance-id", "s1", "--no-retrain-worker", "--promote-min-days", "5"}
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() { done <- runScoreCmd(runCtx, args, &out) }()

	base := "http://" + httpAddr
	var f struct {
		ModelID string `json:"model_id"`
		Points  []struct{ Value float64 }
	}
	for {
		resp, err := http.Get(base + "/api/v1/forecasts/FI")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && json.Unmarshal(b, &f) == nil && len(f.Points) == 24 {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no official FI forecast over HTTP: %v", err)
		case err := <-done:
			t.Fatalf("score stopped: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if f.ModelID != "weekly" && f.ModelID != "standard" {
		t.Errorf("official forecast from %q", f.ModelID)
	}
	// Latency over loopback, for the report (not asserted).
	start := time.Now()
	for range 200 {
		resp, err := http.Get(base + "/api/v1/forecasts/FI")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	t.Logf("GET /api/v1/forecasts/FI: %v per request over loopback", time.Since(start)/200)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"wattcast_scorer_forecasts_emitted_total", "wattcast_model_predictions_total{",
		"wattcast_model_age_seconds{", "wattcast_forecasts_total{", "go_goroutines"} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("score did not stop cleanly: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("score did not stop within the deadline")
	}
}

// A registry with a deployed version that cannot load stops `wattcast
// score` before it scores anything, with an error naming the version and
// what to do: scoring on a partial catalog would lose that model's days.
func TestScoreRefusesAPartialCatalog(t *testing.T) {
	t.Parallel()
	addr, regDir := scoreSetup(t, "sp.")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rb, err := lake.Open(ctx, "file://"+regDir, lake.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(rb)
	card, err := reg.Register(ctx, registry.Card{ID: "broken", Kind: models.KindNaiveWeekly, Regions: []string{"FI"}}, []byte("not a model"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.SetStages(ctx, []registry.StageChange{{Ref: card.Ref(), From: registry.StageCandidate, To: registry.StageChallenger}}, "test", "test"); err != nil {
		t.Fatal(err)
	}
	args := []string{"--brokers", addr, "--topic-prefix", "sp.", "--registry", "file://" + regDir,
		"--lake", "file://" + t.TempDir(), "--until-caught-up", "--instance-id", "t1"}
	var out bytes.Buffer
	err = runScoreCmd(ctx, args, &out)
	if err == nil {
		t.Fatalf("score started with a version that cannot load:\n%s", out.String())
	}
	t.Log(err)
	for _, want := range []string{"broken@1", "does not start", "archive a version that cannot load"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(out.String(), "scored:") {
		t.Errorf("score scored before failing:\n%s", out.String())
	}
}

// The service retries the first registry read with backoff, and gives up
// with the last error when the backoff runs out.
func TestScoreFirstRefreshRetries(t *testing.T) {
	t.Parallel()
	errRead := errors.New("S3 timeout")
	backoff := []time.Duration{time.Millisecond, time.Millisecond}
	for _, tc := range []struct {
		fails     int // reads that fail before one succeeds
		wantCalls int
		wantErr   bool
	}{
		{0, 1, false},
		{2, 3, false},
		{3, 3, true},
	} {
		calls := 0
		refresh := func(context.Context) error {
			calls++
			if calls <= tc.fails {
				return errRead
			}
			return nil
		}
		err := firstRefresh(context.Background(), refresh, backoff, slog.New(slog.DiscardHandler))
		if calls != tc.wantCalls || (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, errRead)) {
			t.Errorf("%d failing reads: %d reads, error %v; want %d reads, error %v", tc.fails, calls, err, tc.wantCalls, tc.wantErr)
		}
	}
}

// A part of the service that fails to open (here the lake of the retrain
// worker) stops `wattcast score` before anything runs: no goroutine of it
// is left behind, running on clients closed underneath it, even though
// the run's context is still live. Not parallel: it inspects every
// goroutine, and sequential tests run before the parallel ones.
func TestScoreStartsNothingWhenTheLakeFails(t *testing.T) {
	brokers := brokertest.Start(t).Brokers
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	args := []string{"--brokers", brokers[0], "--topic-prefix", "lf.", "--registry", "file://" + t.TempDir(),
		"--lake", "nope://lake", "--http", "", "--instance-id", "lf"}
	var out bytes.Buffer
	err := runScoreCmd(ctx, args, &out)
	if err == nil || !strings.Contains(err.Error(), "open the lake") {
		t.Fatalf("score: %v, want the lake's error", err)
	}
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, g := range strings.Split(stacks, "\n\n") {
		// A goroutine of runScore's errgroup that has not started yet
		// shows only errgroup's frames.
		if strings.Contains(g, "wattcast.runScore") || strings.Contains(g, "errgroup.(*Group).Go") {
			t.Errorf("a goroutine of score still runs after it returned %v:\n%s", err, g)
		}
	}
}
