package promotion

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/streams/runner"
)

// promoteNew runs days 0-10 of a champion (noise 9) and a challenger "new"
// (noise 3): new is promoted when day 9 closes, and its probation starts.
func promoteNew(t *testing.T, cfg Config) *harness {
	t.Helper()
	champ := model{v: version("champ", catalog.StageChampion), sigma: 9, seed: 1}
	good := model{v: version("new", catalog.StageChallenger), sigma: 3, seed: 2}
	h := newHarness(t, cfg, []model{champ, good})
	roles := map[string]string{"champ": schemas.RoleChampion, "new": schemas.RoleChallenger}
	h.feed(stream(t, []model{champ, good}, roles, 11), 300)
	ctx := context.Background()
	if h.reg.Stage(t, ctx, "new@1") != catalog.StageChampion || h.k.probation == nil {
		t.Fatalf("new was not promoted (probation %+v): %v", h.k.probation, summary2(h.d.Events()))
	}
	return h
}

// After a promotion the previous champion keeps forecasting (shadowed by
// the catalog). During the new champion's probation the two are compared
// with the Diebold-Mariano test: a previous champion significantly more
// accurate is restored, with the test's statistic and p-value as evidence;
// one that is worse changes nothing, and the probation ends after
// ProbationDays. The rMAE margin is set out of reach (the new champion's
// rMAE would have to be six times the previous one's), so only the DM
// branch can roll back.
func TestProbationRollsBackOnlyWhenThePreviousChampionIsSignificantlyBetter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// The noise of the two models' forecasts after the promotion.
		newSigma, prevSigma float64
		rollback            bool
	}{
		{name: "previous champion clearly better is restored", newSigma: 15, prevSigma: 2, rollback: true},
		{name: "previous champion worse: the new one stays", newSigma: 3, prevSigma: 15, rollback: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := fastCfg // ProbationDays 20, EvalEvery 5
			cfg.RollbackMinDays = 5
			cfg.RollbackMargin = 5
			h := promoteNew(t, cfg)
			ctx := context.Background()
			// Days from..to-1 of both models after the promotion: new is
			// the champion, champ its shadow.
			after := func(from, to int) []*kgo.Record {
				ms := []model{
					{v: version("new", catalog.StageChampion), sigma: c.newSigma, seed: 2, from: from, to: to},
					{v: version("champ", catalog.StageArchived), sigma: c.prevSigma, seed: 1, from: from, to: to},
				}
				return stream(t, ms, map[string]string{"new": schemas.RoleChampion, "champ": schemas.RoleChallenger}, to)
			}
			h.boundary = 2

			if c.rollback {
				// The first check is after RollbackMinDays days of
				// probation (days 10-14).
				h.feed(after(11, 18), 100)
				rb := eventsOf(h.d.Events(), schemas.EventRolledBack)
				if len(rb) != 1 || rb[0].ModelID != "new" {
					t.Fatalf("rolled back events %v, want one for new", summary2(h.d.Events()))
				}
				ev := rb[0].Evidence
				if _, ok := ev[EvStat]; !ok {
					t.Fatalf("rollback evidence %v has no DM statistic", ev)
				}
				if _, ok := ev[EvPValue]; !ok {
					t.Fatalf("rollback evidence %v has no p-value", ev)
				}
				if ev[EvStat] <= 0 || ev[EvPValue] >= 0.05 || ev[EvDays] != 5 || ev[EvAlpha] != 0.05 {
					t.Errorf("rollback evidence %v: want DM > 0, p < 0.05 over 5 days", ev)
				}
				// The rMAE branch did not fire: the new champion's rMAE is
				// within the margin, and the reason is the test's.
				if ev[EvNewRMAE] > ev[EvPrevRMAE]*(1+ev[EvMargin]) || ev[EvMargin] != cfg.RollbackMargin {
					t.Fatalf("test bug: rMAE %v against previous %v is beyond the margin %v; the DM branch is not what rolled back",
						ev[EvNewRMAE], ev[EvPrevRMAE], ev[EvMargin])
				}
				if !strings.Contains(rb[0].Reason, "previous champion champ@1 is more accurate") || !strings.Contains(rb[0].Reason, "DM") {
					t.Errorf("rollback reason %q, want the DM test's", rb[0].Reason)
				}
				if h.reg.Stage(t, ctx, "champ@1") != catalog.StageChampion || h.reg.Stage(t, ctx, "new@1") != catalog.StageArchived {
					t.Errorf("after rollback champ is %s and new %s", h.reg.Stage(t, ctx, "champ@1"), h.reg.Stage(t, ctx, "new@1"))
				}
				if h.k.probation != nil {
					t.Errorf("probation %+v still watched after the rollback", h.k.probation)
				}
				return
			}

			// Days 10-28: 19 days of probation, checked at 5, 10 and 15.
			h.feed(after(11, 29), 100)
			if rb := eventsOf(h.d.Events(), schemas.EventRolledBack); len(rb) != 0 {
				t.Fatalf("a better new champion was rolled back: %v (evidence %v)", summary2(rb), rb[0].Evidence)
			}
			if p := h.k.probation; p == nil || p.Count != cfg.ProbationDays-1 {
				t.Fatalf("probation after 19 days is %+v, want it still watched with count 19", p)
			}
			// Day 29, the 20th: the last check, then the probation ends.
			h.feed(after(29, 30), 100)
			if h.k.probation != nil {
				t.Fatalf("probation %+v still watched after ProbationDays", h.k.probation)
			}
			h.feed(after(30, 32), 100)
			if rb := eventsOf(h.d.Events(), schemas.EventRolledBack); len(rb) != 0 {
				t.Fatalf("a better new champion was rolled back: %v", summary2(rb))
			}
			if h.reg.Stage(t, ctx, "new@1") != catalog.StageChampion || h.reg.Stage(t, ctx, "champ@1") != catalog.StageArchived {
				t.Errorf("new is %s and champ %s, want them unchanged", h.reg.Stage(t, ctx, "new@1"), h.reg.Stage(t, ctx, "champ@1"))
			}
		})
	}
}

// pollRecording is poll (committing) with the dead letters of both stages
// kept, and extra records added to the decider's input.
func (h *harness) pollRecording(recs []*kgo.Record, lag runner.Lag, extraDays []*kgo.Record) (cout, kout *recorder) {
	h.t.Helper()
	ctx := context.Background()
	cout, kout = &recorder{}, &recorder{}
	if err := h.c.process(ctx, recs, lag, cout); err != nil {
		h.t.Fatal(err)
	}
	kv, err := h.c.Changes()
	if err != nil {
		h.t.Fatal(err)
	}
	h.clog = append(h.clog, kv...)
	days := append([]*kgo.Record(nil), extraDays...)
	for _, r := range h.c.emitted {
		b, err := json.Marshal(r)
		if err != nil {
			h.t.Fatal(err)
		}
		days = append(days, &kgo.Record{Topic: DaysTopic(topics), Key: []byte(dayKey), Value: b})
	}
	if err := h.k.process(ctx, days, nil, kout); err != nil {
		h.t.Fatal(err)
	}
	kv, err = h.k.Changes()
	if err != nil {
		h.t.Fatal(err)
	}
	h.klog = append(h.klog, kv...)
	h.k.Committed(ctx)
	return cout, kout
}

// deadLetters returns the reasons of the dead letters a recorder holds.
func deadLetters(r *recorder) []string {
	var out []string
	for _, rec := range r.recs {
		if rec.Topic == "dead" {
			reason, _, _ := strings.Cut(string(rec.Value), ": ")
			out = append(out, reason)
		}
	}
	return out
}

// A malformed error record (to the collector) or day record (to the
// decider) is dead-lettered once as malformed, and the decisions are those
// of the same stream without it.
func TestMalformedRecordsAreDeadLetteredWithoutChangingDecisions(t *testing.T) {
	t.Parallel()
	ms, roles := championAndTwoChallengers()
	recs := stream(t, ms, roles, 16)
	const size = 90 // a multiple of 3: every poll is caught up
	whole := newHarness(t, fastCfg, ms)
	whole.feed(recs, size)
	want := whole.d.Events()
	if len(eventsOf(want, schemas.EventPromoted)) == 0 {
		t.Fatalf("test bug: no promotion in the clean run: %v", summary2(want))
	}

	badError := &kgo.Record{Topic: topics.ErrorsChampion, Key: []byte("FI"), Value: []byte("{not json")}
	cases := []struct {
		name      string
		errorRec  *kgo.Record // added to the collector's input
		dayRec    *kgo.Record // added to the decider's input
		collector int         // dead letters expected of each stage
		decider   int
	}{
		{name: "error record not JSON", errorRec: badError, collector: 1},
		{name: "day record not JSON", dayRec: &kgo.Record{Topic: DaysTopic(topics), Key: []byte(dayKey), Value: []byte("{not json")}, decider: 1},
		{name: "day record without region", dayRec: &kgo.Record{Topic: DaysTopic(topics), Key: []byte(dayKey),
			Value: []byte(`{"model_id":"better","model_version":"1","issue_time":"2024-03-05T08:00:00Z","hours":[{"h":1709622000,"e":0,"n":1}]}`)}, decider: 1},
		{name: "day record without model", dayRec: &kgo.Record{Topic: DaysTopic(topics), Key: []byte(dayKey),
			Value: []byte(`{"region":"FI","model_version":"1","issue_time":"2024-03-05T08:00:00Z","hours":[{"h":1709622000,"e":0,"n":1}]}`)}, decider: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, fastCfg, ms)
			var cdead, kdead []string
			for i, k := 0, 0; i < len(recs); k++ {
				end := min(i+size, len(recs))
				poll := recs[i:end]
				var extra []*kgo.Record
				if k == 7 { // mid-stream, before the promotion
					if c.errorRec != nil {
						poll = append([]*kgo.Record{c.errorRec}, poll...)
					}
					if c.dayRec != nil {
						extra = []*kgo.Record{c.dayRec}
					}
				}
				cout, kout := h.pollRecording(poll, runner.Lag{topics.ErrorsChampion: false}, extra)
				cdead = append(cdead, deadLetters(cout)...)
				kdead = append(kdead, deadLetters(kout)...)
				i = end
			}
			if len(cdead) != c.collector || len(kdead) != c.decider {
				t.Fatalf("dead letters: collector %q, decider %q; want %d and %d", cdead, kdead, c.collector, c.decider)
			}
			for _, r := range append(cdead, kdead...) {
				if r != schemas.ReasonMalformed {
					t.Errorf("dead letter reason %q, want %q", r, schemas.ReasonMalformed)
				}
			}
			if got := h.d.Events(); !reflect.DeepEqual(got, want) {
				t.Errorf("events with the malformed record:\n got  %v\n want %v", summary2(got), summary2(want))
			}
			ctx := context.Background()
			if got, want := h.reg.History(t, ctx), whole.reg.History(t, ctx); !reflect.DeepEqual(got, want) {
				t.Errorf("stage log %q, want %q", got, want)
			}
		})
	}
}
