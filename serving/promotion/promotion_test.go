package promotion

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/serving/servingtest"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/runner"
)

var (
	topics = schemas.NewTopicSet("t.")
	base   = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
)

func truth(_ string, h time.Time) float64 {
	return 50 + 20*math.Sin(float64(h.Hour())/24*2*math.Pi) + 5*math.Sin(float64(h.Unix())/90000)
}

// model describes one model's errors: the truth plus seeded noise.
type model struct {
	v     catalog.Version
	sigma float64
	seed  uint64
	bias  float64
	// from and to bound the days (indices) it forecasts.
	from, to int
}

func version(id, stage string) catalog.Version {
	return catalog.Version{ID: id, Version: "1", Kind: "oracle", Regions: []string{"FI"}, Stage: stage}
}

// helsinki is FI's zone: the test's days are FI's local days, as the
// scorer forecasts them (23 or 25 hours on the days the clocks change).
var helsinki = func() *time.Location {
	l, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		panic(err)
	}
	return l
}()

// dayHours returns the hours of FI's local day d (counted from base's
// date), and its forecast's issue time: 10:00 local the day before.
func dayHours(d int) (hours []time.Time, issue time.Time) {
	start := time.Date(base.Year(), base.Month(), base.Day()+d, 0, 0, 0, 0, helsinki)
	next := time.Date(base.Year(), base.Month(), base.Day()+d+1, 0, 0, 0, 0, helsinki)
	for h := start; h.Before(next); h = h.Add(time.Hour) {
		hours = append(hours, h.UTC())
	}
	return hours, time.Date(base.Year(), base.Month(), base.Day()+d-1, 10, 0, 0, 0, helsinki).UTC()
}

// errorsFor returns model m's error records of FI's local day d, in the
// role its stage gives it.
func errorsFor(m model, d int, role string) []*schemas.ForecastError {
	hours, issue := dayHours(d)
	var out []*schemas.ForecastError
	for _, hour := range hours {
		actual := truth("FI", hour)
		f := actual + m.bias + m.sigma*servingtest.Noise(m.seed, "FI", hour)
		naive := actual + 12*servingtest.Noise(999, "FI", hour)
		out = append(out, &schemas.ForecastError{ForecastID: "FI/" + m.v.Key() + "/" + issue.Format(time.RFC3339), Region: "FI",
			Market: "m", Unit: "EUR/MWh", ModelID: m.v.ID, ModelVersion: m.v.Version, ModelKind: "oracle", Role: role,
			IssueTime: issue, Hour: hour, LeadHours: int(hour.Sub(issue).Hours()), Forecast: f, Actual: actual, Error: f - actual,
			AbsError: math.Abs(f - actual), NaiveWeekly: &naive})
	}
	return out
}

// stream returns the error records of days [0, days) of every model, as
// the scorer writes them: hour by hour, all models of an hour together.
func stream(t *testing.T, ms []model, roles map[string]string, days int) []*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	for d := 0; d < days; d++ {
		per := make([][]*schemas.ForecastError, len(ms))
		for i, m := range ms {
			if d >= m.from && (m.to == 0 || d < m.to) {
				per[i] = errorsFor(m, d, roles[m.v.ID])
			}
		}
		hours, _ := dayHours(d)
		for h := range hours {
			for i := range ms {
				if per[i] == nil {
					continue
				}
				e := per[i][h]
				topic := topics.ErrorsChallenger
				if e.Role == schemas.RoleChampion {
					topic = topics.ErrorsChampion
				}
				r, err := kafka.NewRecord(topic, "FI", e, "test")
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, r)
			}
		}
	}
	return recs
}

// recorder is a sink that keeps what a stage writes.
type recorder struct{ recs []*kgo.Record }

func (r *recorder) Emit(rec *kgo.Record) { r.recs = append(r.recs, rec) }

func (r *recorder) DeadLetter(orig *kgo.Record, reason string, err error) {
	r.recs = append(r.recs, &kgo.Record{Topic: "dead", Key: orig.Key, Value: []byte(reason + ": " + err.Error())})
}

type harness struct {
	t        *testing.T
	boundary int
	reg      *servingtest.Registry
	d        *Decider
	c        *collector
	k        *decider
	// logs are the changelogs the stages committed.
	clog, klog []runner.KV
}

func newHarness(t *testing.T, cfg Config, ms []model) *harness {
	t.Helper()
	ctx := context.Background()
	reg, err := servingtest.NewRegistry(ctx, t.TempDir(), func() time.Time { return base })
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.v.ID] {
			continue
		}
		seen[m.v.ID] = true
		if _, err := reg.Add(ctx, m.v.ID, []string{"FI"}, m.v.Stage, nil); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Topics, cfg.Registry, cfg.Producer = topics, reg, "test"
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, reg: reg, d: d, boundary: len(ms)}
	h.restart()
	return h
}

// restart replaces both stages' tasks with new ones restored from the
// committed changelogs, as after a crash (an uncommitted poll is lost).
func (h *harness) restart() {
	h.t.Helper()
	c, _ := h.d.newCollector(0)
	k, _ := h.d.newDecider(0)
	for _, kv := range h.clog {
		if err := c.Restore(kv.Key, kv.Value); err != nil {
			h.t.Fatal(err)
		}
	}
	for _, kv := range h.klog {
		if err := k.Restore(kv.Key, kv.Value); err != nil {
			h.t.Fatal(err)
		}
	}
	h.c, h.k = c.(*collector), k.(*decider)
}

// poll runs one poll of both stages, committing unless crash: the
// collector's days go to the decider as the days topic would carry them.
func (h *harness) poll(recs []*kgo.Record, lag runner.Lag, crash bool) {
	h.t.Helper()
	ctx := context.Background()
	if err := h.c.process(ctx, recs, lag, &recorder{}); err != nil {
		h.t.Fatal(err)
	}
	kv, err := h.c.Changes()
	if err != nil {
		h.t.Fatal(err)
	}
	var days []*kgo.Record
	for _, r := range h.c.emitted {
		b, err := json.Marshal(r)
		if err != nil {
			h.t.Fatal(err)
		}
		days = append(days, &kgo.Record{Topic: DaysTopic(topics), Key: []byte(dayKey), Value: b})
	}
	if crash {
		return
	}
	h.clog = append(h.clog, kv...)
	if err := h.k.process(ctx, days, nil, &recorder{}); err != nil {
		h.t.Fatal(err)
	}
	kv, err = h.k.Changes()
	if err != nil {
		h.t.Fatal(err)
	}
	h.klog = append(h.klog, kv...)
	h.k.Committed(context.Background())
}

// feed processes recs in polls of the given sizes (cycled), committing
// after each, as the runner does. A poll that ends on a multiple of
// h.boundary records (the end of one of the scorer's transactions, an
// hour of errors of every model) is caught up; others are behind.
func (h *harness) feed(recs []*kgo.Record, sizes ...int) {
	h.t.Helper()
	if len(sizes) == 0 {
		sizes = []int{len(recs)}
	}
	for i, k := 0, 0; i < len(recs); k++ {
		n := min(sizes[k%len(sizes)], len(recs)-i)
		end := i + n
		lag := runner.Lag{topics.ErrorsChampion: false}
		if end < len(recs) && (h.boundary == 0 || end%h.boundary != 0) {
			lag[topics.ErrorsChampion] = true
		}
		h.poll(recs[i:end], lag, false)
		i = end
	}
}

func eventsOf(evs []schemas.ModelEvent, typ string) []schemas.ModelEvent {
	var out []schemas.ModelEvent
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

var fastCfg = Config{MinDays: 10, EvalEvery: 5, Window: 20, ProbationDays: 20}

// A challenger with a third of the champion's noise is promoted at the
// first test (after MinDays paired days), with the test's evidence; one
// with more noise is denied with its evidence and stays a challenger.
func TestBetterChallengerIsPromotedWorseIsDenied(t *testing.T) {
	t.Parallel()
	champ := model{v: version("champ", catalog.StageChampion), sigma: 9, seed: 1}
	better := model{v: version("better", catalog.StageChallenger), sigma: 3, seed: 2}
	worse := model{v: version("worse", catalog.StageChallenger), sigma: 12, seed: 3}
	ms := []model{champ, better, worse}
	h := newHarness(t, fastCfg, ms)
	roles := map[string]string{"champ": schemas.RoleChampion, "better": schemas.RoleChallenger, "worse": schemas.RoleChallenger}
	// Day 10's first hour closes day 9, the tenth paired day.
	h.feed(stream(t, ms, roles, 11), 100)

	evs := h.d.Events()
	prom := eventsOf(evs, schemas.EventPromoted)
	if len(prom) != 1 || prom[0].ModelID != "better" || prom[0].FromStage != catalog.StageChallenger || prom[0].ToStage != catalog.StageChampion {
		t.Fatalf("promoted events %+v; want one for better", prom)
	}
	ev := prom[0].Evidence
	if ev[EvDays] != 10 || ev[EvPValue] >= 0.05 || ev[EvStat] <= 0 || ev[EvChallengerMAE] >= ev[EvChampionMAE] {
		t.Errorf("promotion evidence %v: want 10 days, p < 0.05, DM > 0, challenger MAE below champion's", ev)
	}
	// Worse is denied against champ on day 9, and again against better
	// (with the 11 days the two share) on day 10.
	denied := eventsOf(evs, schemas.EventPromotionDenied)
	if len(denied) != 2 || denied[0].ModelID != "worse" || denied[1].ModelID != "worse" ||
		!strings.Contains(denied[0].Reason, "champion champ@1") || !strings.Contains(denied[1].Reason, "champion better@1") {
		t.Fatalf("denied events %v; want worse denied against champ, then against better", summary2(denied))
	}
	if ev := denied[0].Evidence; ev[EvPValue] < 0.05 || ev[EvDays] != 10 || ev[EvChallengerMAE] <= ev[EvChampionMAE] {
		t.Errorf("denial evidence %v: want p >= 0.05 over 10 days and a larger challenger MAE", ev)
	}
	ctx := context.Background()
	for key, want := range map[string]string{"better@1": catalog.StageChampion, "champ@1": catalog.StageArchived, "worse@1": catalog.StageChallenger} {
		if got := h.reg.Stage(t, ctx, key); got != want {
			t.Errorf("%s is %s in the registry, want %s", key, got, want)
		}
	}
	// Both moves are one record of the stage log: the registry never had
	// two champions or none.
	if hist := h.reg.History(t, ctx); len(hist) != 4 || hist[3] != "better@1 challenger->champion, champ@1 champion->archived" {
		t.Errorf("stage log %q; want the setup, then one record promoting better and archiving champ", hist)
	}
	// The evidence matches an independent computation of the MAEs.
	var sumC, sumB float64
	for d := 0; d < 10; d++ {
		for _, e := range errorsFor(champ, d, "") {
			sumC += e.AbsError
		}
		for _, e := range errorsFor(better, d, "") {
			sumB += e.AbsError
		}
	}
	if math.Abs(ev[EvChampionMAE]-sumC/240) > 1e-9 || math.Abs(ev[EvChallengerMAE]-sumB/240) > 1e-9 {
		t.Errorf("evidence MAEs %v/%v, want %v/%v", ev[EvChampionMAE], ev[EvChallengerMAE], sumC/240, sumB/240)
	}
}

// The decisions are a function of the error stream, not of how it is cut
// into polls or how the two topics interleave: the property that lets any
// instance taking over a region reach the same decisions.
func TestDecisionsDoNotDependOnPollBoundaries(t *testing.T) {
	t.Parallel()
	ms := []model{
		{v: version("champ", catalog.StageChampion), sigma: 9, seed: 1},
		{v: version("better", catalog.StageChallenger), sigma: 6, seed: 2},
		{v: version("equal", catalog.StageChallenger), sigma: 9, seed: 3},
	}
	roles := map[string]string{"champ": schemas.RoleChampion, "better": schemas.RoleChallenger, "equal": schemas.RoleChallenger}
	recs := stream(t, ms, roles, 40)
	run := func(recs []*kgo.Record, boundary int, sizes ...int) []schemas.ModelEvent {
		h := newHarness(t, fastCfg, ms)
		h.boundary = boundary
		h.feed(recs, sizes...)
		return h.d.Events()
	}
	want := run(recs, 3)
	if len(want) == 0 {
		t.Fatal("no events at all; the test proves nothing")
	}
	// The two topics' records in separate runs per topic within a poll,
	// as a fetch may return them.
	byTopic := func(recs []*kgo.Record, chunk int) []*kgo.Record {
		var out []*kgo.Record
		for i := 0; i < len(recs); i += chunk {
			c := slices.Clone(recs[i:min(i+chunk, len(recs))])
			slices.SortStableFunc(c, func(a, b *kgo.Record) int {
				if a.Topic == b.Topic {
					return 0
				}
				if a.Topic == topics.ErrorsChallenger {
					return -1
				}
				return 1
			})
			out = append(out, c...)
		}
		return out
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for i, tc := range []struct {
		recs     []*kgo.Record
		boundary int
		sizes    []int
	}{
		{recs, 3, []int{1}},
		{recs, 3, []int{71, 5, 300}},
		// Whole days in one poll, each topic's records together.
		{byTopic(recs, 216), 216, []int{216}},
		{byTopic(recs, 333), 333, []int{50, 283}},
		{recs, 3, []int{1 + rng.IntN(500), 1 + rng.IntN(500), 1 + rng.IntN(500)}},
		// Caught up only at the very end: everything is decided then.
		{byTopic(recs, 1000), len(recs), []int{1000}},
	} {
		if got := run(tc.recs, tc.boundary, tc.sizes...); !reflect.DeepEqual(got, want) {
			t.Errorf("case %d: events differ:\n got  %v\n want %v", i, summary2(got), summary2(want))
		}
	}
}

// championAndTwoChallengers is the usual field: a champion, a challenger
// that is truly better (less noise) and one that is worse.
func championAndTwoChallengers() ([]model, map[string]string) {
	return []model{
			{v: version("champ", catalog.StageChampion), sigma: 9, seed: 1},
			{v: version("better", catalog.StageChallenger), sigma: 3, seed: 2},
			{v: version("worse", catalog.StageChallenger), sigma: 12, seed: 3},
		},
		map[string]string{"champ": schemas.RoleChampion, "better": schemas.RoleChallenger, "worse": schemas.RoleChallenger}
}

func summary2(evs []schemas.ModelEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s %s p=%.4f", e.Type, e.ModelID, e.Evidence[EvPValue]))
	}
	return out
}

// A decider restored from its changelogs after a crash (the poll in flight
// lost) decides exactly as one that never stopped, and a decision committed
// before the crash but not yet written to the registry is written once.
func TestRestoredStateDecidesTheSame(t *testing.T) {
	t.Parallel()
	ms, roles := championAndTwoChallengers()
	recs := stream(t, ms, roles, 16)

	whole := newHarness(t, fastCfg, ms)
	whole.feed(recs, 60)

	h := newHarness(t, fastCfg, ms)
	for i, k := 0, 0; i < len(recs); k++ {
		end := min(i+60, len(recs))
		lag := runner.Lag{topics.ErrorsChampion: end < len(recs) && end%3 != 0}
		switch k {
		case 5, 17, 30:
			// Crash mid-poll: the poll's work is lost, the next
			// instance restores and polls the same records again.
			h.poll(recs[i:end], lag, true)
			h.restart()
			continue
		}
		h.poll(recs[i:end], lag, false)
		if k == 12 {
			h.restart()
		}
		i = end
	}
	if got, want := h.d.Events(), whole.d.Events(); !reflect.DeepEqual(got, want) || len(want) == 0 {
		t.Errorf("restored decider's events %v, uninterrupted %v", summary2(got), summary2(want))
	}
	ctx := context.Background()
	if got, want := h.reg.History(t, ctx), whole.reg.History(t, ctx); !reflect.DeepEqual(got, want) {
		t.Errorf("restored decider's stage log %q, uninterrupted %q", got, want)
	}
}

// A decision committed but not yet written to the registry (the instance
// died right after the commit) is written by the next owner's first poll,
// and writing it again changes nothing.
func TestCommittedDecisionIsWrittenToTheRegistryOnce(t *testing.T) {
	t.Parallel()
	ms := []model{
		{v: version("champ", catalog.StageChampion), sigma: 9, seed: 1},
		{v: version("better", catalog.StageChallenger), sigma: 3, seed: 2},
	}
	roles := map[string]string{"champ": schemas.RoleChampion, "better": schemas.RoleChallenger}
	recs := stream(t, ms, roles, 12)
	h := newHarness(t, fastCfg, ms)
	ctx := context.Background()
	n := 10 * 24 * 2
	// Both stages process and commit, but the decider dies before its
	// Committed hook writes the registry.
	if err := h.c.process(ctx, recs[:n], nil, &recorder{}); err != nil {
		t.Fatal(err)
	}
	kv, _ := h.c.Changes()
	h.clog = append(h.clog, kv...)
	var days []*kgo.Record
	for _, r := range h.c.emitted {
		b, _ := json.Marshal(r)
		days = append(days, &kgo.Record{Value: b})
	}
	if err := h.k.process(ctx, days, nil, &recorder{}); err != nil {
		t.Fatal(err)
	}
	kv, _ = h.k.Changes()
	h.klog = append(h.klog, kv...)
	if len(h.k.intents) != 1 || h.reg.Stage(t, ctx, "better@1") != catalog.StageChallenger {
		t.Fatalf("want one committed, unwritten decision; intents %+v", h.k.intents)
	}
	h.restart()
	h.poll(recs[n:], nil, false)
	if got := h.reg.Stage(t, ctx, "better@1"); got != catalog.StageChampion {
		t.Fatalf("better is %s after the restart, want champion", got)
	}
	hist := h.reg.History(t, ctx)
	// Writing the same decision again is a no-op, not an error.
	h.k.intents = []intent{{Moves: []catalog.StageMove{{ID: "better", Version: "1", From: catalog.StageChallenger, To: catalog.StageChampion},
		{ID: "champ", Version: "1", From: catalog.StageChampion, To: catalog.StageArchived}}, Reason: "again"}}
	if err := h.k.applyIntents(ctx); err != nil {
		t.Fatalf("re-applying a written decision: %v", err)
	}
	if got := h.reg.History(t, ctx); !reflect.DeepEqual(got, hist) {
		t.Errorf("re-applying wrote again: %q", got)
	}
}

// A challenger that is never better is tested every EvalEvery days and
// retired after MaxDenials denials.
func TestEqualChallengerIsRetiredAfterMaxDenials(t *testing.T) {
	t.Parallel()
	ms := []model{
		{v: version("champ", catalog.StageChampion), sigma: 9, seed: 1},
		{v: version("worse", catalog.StageChallenger), sigma: 11, seed: 5},
	}
	roles := map[string]string{"champ": schemas.RoleChampion, "worse": schemas.RoleChallenger}
	cfg := fastCfg
	cfg.MaxDenials = 3
	h := newHarness(t, cfg, ms)
	// Tests at 10, 15 and 20 paired days; day 20 is closed by day 21.
	h.feed(stream(t, ms, roles, 22), 500)
	evs := h.d.Events()
	denied := eventsOf(evs, schemas.EventPromotionDenied)
	if len(denied) != 3 {
		t.Fatalf("%d denials, want 3: %v", len(denied), summary2(evs))
	}
	for i, want := range []float64{10, 15, 20} {
		if denied[i].Evidence[EvDays] != want || denied[i].Evidence[EvDenials] != float64(i+1) {
			t.Errorf("denial %d evidence %v, want %v days", i, denied[i].Evidence, want)
		}
	}
	if st := eventsOf(evs, schemas.EventStageChanged); len(st) != 1 || st[0].ToStage != catalog.StageArchived {
		t.Errorf("stage events %+v; want the challenger archived", st)
	}
	if got := h.reg.Stage(t, context.Background(), "worse@1"); got != catalog.StageArchived {
		t.Errorf("worse is %s, want archived", got)
	}
}

// A new champion that turns out worse than the champion it replaced, once
// in production, is rolled back: the previous champion returns.
func TestDegradedNewChampionIsRolledBack(t *testing.T) {
	t.Parallel()
	champ := model{v: version("champ", catalog.StageChampion), sigma: 9, seed: 1}
	// Good for the first 11 days (promoted on day 10), then off by 25.
	good := model{v: version("new", catalog.StageChallenger), sigma: 3, seed: 2, to: 11}
	bad := model{v: version("new", catalog.StageChallenger), sigma: 3, seed: 2, bias: 25, from: 11}
	cfg := fastCfg
	cfg.RollbackMinDays = 5
	h := newHarness(t, cfg, []model{champ, good})
	roles := map[string]string{"champ": schemas.RoleChampion, "new": schemas.RoleChallenger}
	h.feed(stream(t, []model{champ, good}, roles, 11), 300)
	ctx := context.Background()
	if h.reg.Stage(t, ctx, "new@1") != catalog.StageChampion {
		t.Fatalf("new was not promoted: %v", summary2(h.d.Events()))
	}
	// After the promotion only the new champion forecasts.
	roles = map[string]string{"new": schemas.RoleChampion}
	h.feed(stream(t, []model{bad}, roles, 18), 300)
	rb := eventsOf(h.d.Events(), schemas.EventRolledBack)
	if len(rb) != 1 || rb[0].ModelID != "new" {
		t.Fatalf("rolled back events %v", summary2(h.d.Events()))
	}
	if ev := rb[0].Evidence; ev[EvNewRMAE] <= ev[EvPrevRMAE]*1.1 || ev[EvDays] != 5 {
		t.Errorf("rollback evidence %v: want the new rMAE 10%% above the previous, over 5 days", ev)
	}
	if h.reg.Stage(t, ctx, "champ@1") != catalog.StageChampion || h.reg.Stage(t, ctx, "new@1") != catalog.StageArchived {
		t.Errorf("after rollback champ is %s and new %s", h.reg.Stage(t, ctx, "champ@1"), h.reg.Stage(t, ctx, "new@1"))
	}
}

// A champion whose rolling rMAE passes the threshold triggers one retrain
// request per cooldown.
func TestDegradedChampionRequestsRetraining(t *testing.T) {
	t.Parallel()
	// The naive forecast's noise is 12: a champion with noise 20 has an
	// rMAE near 1.7.
	champ := model{v: version("champ", catalog.StageChampion), sigma: 20, seed: 1}
	cfg := fastCfg
	cfg.RetrainRMAE, cfg.DegradeDays, cfg.RetrainCooldownDays = 1.2, 3, 7
	h := newHarness(t, cfg, []model{champ})
	h.feed(stream(t, []model{champ}, map[string]string{"champ": schemas.RoleChampion}, 13), 77)
	rq := eventsOf(h.d.Events(), schemas.EventRetrainRequested)
	// Closed days 0..11: first request when day 2 closes, next 7 days later.
	if len(rq) != 2 {
		t.Fatalf("%d retrain requests, want 2: %v", len(rq), summary2(h.d.Events()))
	}
	if ev := rq[0].Evidence; ev[EvRollingRMAE] <= 1.2 || ev[EvThreshold] != 1.2 {
		t.Errorf("evidence %v", ev)
	}
	if rq[1].Time.Sub(rq[0].Time).Round(time.Hour) != 7*24*time.Hour {
		t.Errorf("requests at %s and %s, want 7 days apart", rq[0].Time, rq[1].Time)
	}
}

// A region's day is complete when every model has every hour of its local
// day: 25 on the day the clocks go back, 23 on the day they go forward.
// Scored live (one hour per transaction, caught up after each) the day is
// sent once, after its last hour, with all its hours: the same records as a
// replay that reads the whole day in one poll. With a fixed 24 the autumn
// day was sent without its 25th hour (dropped as a straggler), and the
// spring day waited for the next day.
func TestDayIsCompleteWithEveryHourOfTheLocalDay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		region, zone, date string
		hours              int
	}{
		{"FI", "Europe/Helsinki", "2024-10-27", 25},
		{"FI", "Europe/Helsinki", "2024-03-31", 23},
		{"FI", "Europe/Helsinki", "2024-03-04", 24},
		{"GB-A", "Europe/London", "2024-10-27", 25},
		{"GB-A", "Europe/London", "2024-03-31", 23},
		{"DE", "Europe/Berlin", "2024-10-27", 25},
		// Not one of features.DefaultRegions: its zone is configured.
		{"US-NY", "America/New_York", "2024-11-03", 25},
		{"US-NY", "America/New_York", "2024-03-10", 23},
	} {
		t.Run(tc.region+"/"+tc.date, func(t *testing.T) {
			loc, err := time.LoadLocation(tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			day, err := time.ParseInLocation(time.DateOnly, tc.date, loc)
			if err != nil {
				t.Fatal(err)
			}
			issue := day.Add(-14 * time.Hour).UTC()
			// The scorer's transactions: one hour of both models each.
			var hours [][]*kgo.Record
			for h := day; h.Before(day.AddDate(0, 0, 1)); h = h.Add(time.Hour) {
				var recs []*kgo.Record
				for _, m := range []struct{ id, role, topic string }{
					{"champ", schemas.RoleChampion, topics.ErrorsChampion},
					{"chall", schemas.RoleChallenger, topics.ErrorsChallenger},
				} {
					f, a := 50.0+float64(h.Hour()), 50.0
					e := &schemas.ForecastError{ForecastID: tc.region + "/" + m.id, Region: tc.region, Market: "m", Unit: "EUR/MWh",
						ModelID: m.id, ModelVersion: "1", ModelKind: "k", Role: m.role, IssueTime: issue, Hour: h.UTC(),
						LeadHours: int(h.Sub(issue).Hours()), Forecast: f, Actual: a, Error: f - a, AbsError: math.Abs(f - a)}
					r, err := kafka.NewRecord(m.topic, tc.region, e, "test")
					if err != nil {
						t.Fatal(err)
					}
					recs = append(recs, r)
				}
				hours = append(hours, recs)
			}
			if len(hours) != tc.hours {
				t.Fatalf("%s has %d hours in %s, the case says %d", tc.date, len(hours), tc.zone, tc.hours)
			}
			newCollector := func() *collector {
				cfg := Config{Topics: topics, Registry: &servingtest.Registry{}, Producer: "test"}
				if _, known := features.DefaultRegions()[tc.region]; !known {
					cfg.Regions = map[string]features.Region{tc.region: {Zone: tc.zone, IssueTime: "10:00"}}
				}
				d, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				c, _ := d.newCollector(0)
				return c.(*collector)
			}
			ctx := context.Background()
			live := newCollector()
			var sent []DayRecord
			for i, recs := range hours {
				if err := live.process(ctx, recs, runner.Lag{}, &recorder{}); err != nil {
					t.Fatal(err)
				}
				if len(live.emitted) > 0 && i < len(hours)-1 {
					t.Fatalf("day sent after hour %d of %d", i+1, len(hours))
				}
				sent = append(sent, live.emitted...)
			}
			replay := newCollector()
			if err := replay.process(ctx, slices.Concat(hours...), runner.Lag{}, &recorder{}); err != nil {
				t.Fatal(err)
			}
			if len(sent) != 2 || len(sent[0].Hours) != tc.hours || len(sent[1].Hours) != tc.hours {
				for _, r := range sent {
					t.Logf("sent %s %s: %d hours", r.ModelID, r.Day(), len(r.Hours))
				}
				t.Fatalf("live: %d day records; want 2 of %d hours, sent after the last hour", len(sent), tc.hours)
			}
			if !reflect.DeepEqual(sent, replay.emitted) {
				t.Errorf("live and replay send different days:\n live   %+v\n replay %+v", sent, replay.emitted)
			}
		})
	}
}

// An event that cannot be encoded (a card the registry should have
// refused: no model id) fails the call instead of panicking the scorer,
// and records nothing: the decision must not be taken without its event.
func TestUnwritableEventFailsTheTransaction(t *testing.T) {
	d := &Decider{cfg: Config{Topics: topics, Producer: "test", Logger: slog.New(slog.DiscardHandler)}}
	task, _ := d.newDecider(0)
	k := task.(*decider)
	out := &recorder{}
	k.emit(out, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), schemas.EventPromoted, catalog.Version{Version: "1"}, "", "", "test", nil)
	if k.emitErr == nil || !strings.Contains(k.emitErr.Error(), "model_id") {
		t.Fatalf("emitErr = %v, want the encoding error naming model_id", k.emitErr)
	}
	if len(out.recs) != 0 || len(k.pending) != 0 {
		t.Fatalf("an unwritable event was emitted (%d records, %d pending)", len(out.recs), len(k.pending))
	}
}

// The events a long-running decider keeps for Events are bounded: the
// newest MaxEvents, oldest first.
func TestCommittedEventsAreBounded(t *testing.T) {
	d := &Decider{cfg: Config{Topics: topics, Producer: "test", Logger: slog.New(slog.DiscardHandler)}}
	task, _ := d.newDecider(0)
	k := task.(*decider)
	for i := range MaxEvents + 5 {
		k.pending = []schemas.ModelEvent{{EventID: fmt.Sprint(i)}}
		k.Committed(context.Background())
	}
	evs := d.Events()
	if len(evs) != MaxEvents || evs[0].EventID != "5" || evs[len(evs)-1].EventID != fmt.Sprint(MaxEvents+4) {
		t.Fatalf("kept %d events from %s to %s, want the last %d", len(evs), evs[0].EventID, evs[len(evs)-1].EventID, MaxEvents)
	}
}
