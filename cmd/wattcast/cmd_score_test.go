package main

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/processors/features/featurestest"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/broker"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/training/models"
	"github.com/wattcast/wattcast/training/registry"
)

// `wattcast score --until-caught-up` wires the scorer to the registry: it
// forecasts every day of the features topic with the registry's champion
// and challenger, scores them, and runs the promotion decider over the
// errors.
func TestScoreCommandScoresWithTheRegistryModels(t *testing.T) {
	t.Parallel()
	b, err := broker.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
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

	topics := schemas.NewTopicSet("sc.")
	kc := kafka.Config{Brokers: b.Addrs()}
	cl, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
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

	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	g := &globals{}
	g.register(fs)
	runFn := scoreCommand().setup(fs, g)
	args := []string{"--brokers", b.Addrs()[0], "--topic-prefix", "sc.", "--registry", "file://" + regDir,
		"--lake", "file://" + t.TempDir(), "--until-caught-up", "--promote-min-days", "5", "--instance-id", "t1"}
	if err := parseFlags(fs, args, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rc := &runContext{Context: ctx, log: slog.New(slog.DiscardHandler), out: &out}
	if err := runFn(rc); err != nil {
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
}
