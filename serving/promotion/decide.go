package promotion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/runner"
	"github.com/wattcast/wattcast/training/backtest"
)

// gday is one model's scored hours of one decision day, per region.
type gday struct {
	Kind    string               `json:"kind"`
	Regions map[string][]hourErr `json:"regions"`
}

// decision is the promotion test state of one challenger.
type decision struct {
	// Champion is the champion key the counts are against; a new
	// champion starts them again.
	Champion string `json:"champion"`
	// Count is the number of paired days evaluated; NextAt the count at
	// which the next test runs.
	Count   int `json:"count"`
	NextAt  int `json:"next_at"`
	Denials int `json:"denials"`
}

// probation follows a new champion after its promotion.
type probation struct {
	// New is the promoted champion's key; Prev the archived one's.
	New      string `json:"new"`
	Prev     string `json:"prev"`
	PrevID   string `json:"prev_id"`
	PrevVer  string `json:"prev_version"`
	PrevKind string `json:"prev_kind"`
	// Since is the last day of promotion evidence; days after it count.
	Since    string `json:"since"`
	PrevMAE  num    `json:"prev_mae"`
	PrevRMAE num    `json:"prev_rmae"`
	Count    int    `json:"count"`
	NextAt   int    `json:"next_at"`
}

// intent is a stage change decided and committed, perhaps not yet written
// to the registry.
type intent struct {
	Moves  []catalog.StageMove `json:"moves"`
	Reason string              `json:"reason"`
}

// decider is the second stage: the one task of the single-partition days
// topic, so exactly one member of its group decides, for every region.
type decider struct {
	d         *Decider
	days      map[string]map[string]*gday // model key -> day
	seen      map[string]string           // region -> latest day received
	evaluated string                      // latest day evaluated
	decisions map[string]*decision        // challenger key
	probation *probation
	// lastRetrain is the day of the last retraining request.
	lastRetrain string
	intents     []intent
	dirty       map[string]bool
	pending     []schemas.ModelEvent
	// emitErr is the first event of this Process call that could not be
	// encoded: the call fails with it, so the transaction aborts and no
	// decision is committed without its record.
	emitErr error
}

func (d *Decider) newDecider(int32) (runner.Task, error) {
	return &decider{d: d, days: map[string]map[string]*gday{}, seen: map[string]string{}, decisions: map[string]*decision{},
		dirty: map[string]bool{}}, nil
}

// Changelog keys of the decider: "d|<model key>|<day>" a model's hours of a
// day; "s|<region>" the latest day a region sent; "c|<challenger key>" a
// challenger's test state; "p" the probation of a new champion; "r" the
// day of the last retraining request; "i" stage changes not yet in the
// registry; "e" the last day evaluated.

func (t *decider) Restore(key string, value []byte) error {
	parts := strings.Split(key, "|")
	var err error
	switch {
	case len(parts) == 3 && parts[0] == "d":
		if value == nil {
			delete(t.days[parts[1]], parts[2])
			return nil
		}
		var g gday
		if err = json.Unmarshal(value, &g); err == nil {
			if t.days[parts[1]] == nil {
				t.days[parts[1]] = map[string]*gday{}
			}
			t.days[parts[1]][parts[2]] = &g
		}
	case len(parts) == 2 && parts[0] == "s":
		delete(t.seen, parts[1])
		if value != nil {
			var d string
			if err = json.Unmarshal(value, &d); err == nil {
				t.seen[parts[1]] = d
			}
		}
	case len(parts) == 2 && parts[0] == "c":
		delete(t.decisions, parts[1])
		if value != nil {
			var d decision
			if err = json.Unmarshal(value, &d); err == nil {
				t.decisions[parts[1]] = &d
			}
		}
	case key == "p":
		t.probation = nil
		if value != nil {
			t.probation = &probation{}
			err = json.Unmarshal(value, t.probation)
		}
	case key == "r":
		t.lastRetrain = ""
		if value != nil {
			err = json.Unmarshal(value, &t.lastRetrain)
		}
	case key == "i":
		t.intents = nil
		if value != nil {
			err = json.Unmarshal(value, &t.intents)
		}
	case key == "e":
		t.evaluated = ""
		if value != nil {
			err = json.Unmarshal(value, &t.evaluated)
		}
	default:
		return fmt.Errorf("promotion: unknown changelog key %q", key)
	}
	if err != nil {
		return fmt.Errorf("promotion: restore %s: %w", key, err)
	}
	return nil
}

func (t *decider) Changes() ([]runner.KV, error) {
	out, err := runner.JSONChanges(t.dirty, func(k string) any {
		parts := strings.Split(k, "|")
		var v any
		switch {
		case parts[0] == "d":
			if g, ok := t.days[parts[1]][parts[2]]; ok {
				v = g
			}
		case parts[0] == "s":
			if d, ok := t.seen[parts[1]]; ok {
				v = d
			}
		case parts[0] == "c":
			if d, ok := t.decisions[parts[1]]; ok {
				v = d
			}
		case k == "p" && t.probation != nil:
			v = t.probation
		case k == "r" && t.lastRetrain != "":
			v = t.lastRetrain
		case k == "i" && len(t.intents) > 0:
			v = t.intents
		case k == "e" && t.evaluated != "":
			v = t.evaluated
		}
		return v
	})
	if err != nil {
		return nil, fmt.Errorf("promotion: %w", err)
	}
	return out, nil
}

// Process implements runner.Task.
func (t *decider) Process(ctx context.Context, recs []*kgo.Record, lag runner.Lag, out *runner.Output) error {
	return t.process(ctx, recs, lag, out)
}

func (t *decider) process(ctx context.Context, recs []*kgo.Record, _ runner.Lag, out sink) error {
	// An aborted transaction discards this task, so pending only ever
	// holds the events of the transaction being built.
	t.pending = t.pending[:0]
	t.emitErr = nil
	// Decisions committed earlier whose registry writes failed (or were cut
	// short by a crash) are written first, so that what follows sees them.
	if err := t.applyIntents(ctx); err != nil {
		return err
	}
	for _, rec := range recs {
		var r DayRecord
		if err := json.Unmarshal(rec.Value, &r); err != nil || r.Region == "" || r.ModelID == "" {
			if err == nil {
				err = errors.New("promotion: day record without region or model")
			}
			out.DeadLetter(rec, schemas.ReasonMalformed, err)
			continue
		}
		t.add(&r)
	}
	if !t.mayBeReady() {
		return nil
	}
	vs, err := t.d.cfg.Registry.List(ctx)
	if err != nil {
		return fmt.Errorf("promotion: list the registry: %w", err)
	}
	t.evaluate(standing(vs), out)
	if t.emitErr != nil {
		return t.emitErr
	}
	t.prune()
	return nil
}

func (t *decider) add(r *DayRecord) {
	day, k := r.Day(), r.modelKey()
	if day <= t.evaluated {
		return // a day already decided on: a duplicate or a straggler
	}
	m := t.days[k]
	if m == nil {
		m = map[string]*gday{}
		t.days[k] = m
	}
	g := m[day]
	if g == nil {
		g = &gday{Kind: r.Kind, Regions: map[string][]hourErr{}}
		m[day] = g
	}
	g.Regions[r.Region] = r.Hours
	t.dirty["d|"+k+"|"+day] = true
	if day > t.seen[r.Region] {
		t.seen[r.Region] = day
		t.dirty["s|"+r.Region] = true
	}
}

// daysAfter returns the days of every model after the last evaluated one,
// in order.
func (t *decider) daysAfter() []string {
	set := map[string]bool{}
	for _, m := range t.days {
		for d := range m {
			if d > t.evaluated {
				set[d] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

func addDays(day string, n int) string {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return day
	}
	return d.AddDate(0, 0, n).Format(time.DateOnly)
}

// complete reports whether day d has been received from every region: each
// region that sent a day in the week before d has sent d or a later day.
// A region that falls silent holds the decisions back at most
// silentDays: once any region has sent a day that much later, d is taken
// as complete.
func (t *decider) complete(d string) bool {
	latest := ""
	for _, s := range t.seen {
		latest = max(latest, s)
	}
	if latest >= addDays(d, silentDays) {
		return true
	}
	weekBefore := addDays(d, -7)
	for _, s := range t.seen {
		if s >= weekBefore && s < d {
			return false
		}
	}
	return latest >= d
}

// silentDays is how long a silent region can hold back the decisions.
const silentDays = 3

func (t *decider) mayBeReady() bool {
	p := t.daysAfter()
	return len(p) > 0 && t.complete(p[0])
}

// prune drops days older than KeepDays before the last evaluated day.
func (t *decider) prune() {
	if t.evaluated == "" {
		return
	}
	cut := addDays(t.evaluated, -t.d.cfg.KeepDays)
	for k, m := range t.days {
		for d := range m {
			if d <= cut {
				delete(m, d)
				t.dirty["d|"+k+"|"+d] = true
			}
		}
		if len(m) == 0 {
			delete(t.days, k)
		}
	}
}

// stages is the registry's standing.
type stages struct {
	champion    *catalog.Version
	challengers []catalog.Version
	byKey       map[string]catalog.Version
}

func standing(vs []catalog.Version) stages {
	st := stages{byKey: map[string]catalog.Version{}}
	for _, v := range vs {
		st.byKey[v.Key()] = v
		switch v.Stage {
		case catalog.StageChampion:
			if st.champion == nil || v.StageSince.After(st.champion.StageSince) {
				v := v
				st.champion = &v
			}
		case catalog.StageChallenger:
			st.challengers = append(st.challengers, v)
		}
	}
	slices.SortFunc(st.challengers, func(a, b catalog.Version) int { return strings.Compare(a.Key(), b.Key()) })
	return st
}

// with returns the standing after moves.
func (st stages) with(moves []catalog.StageMove) stages {
	vs := make([]catalog.Version, 0, len(st.byKey))
	for _, v := range st.byKey {
		for _, m := range moves {
			if v.ID == m.ID && v.Version == m.Version {
				v.PreviousStage, v.Stage = v.Stage, m.To
				v.StageSince = time.Unix(1<<40, 0) // after any time read from the registry
			}
		}
		vs = append(vs, v)
	}
	return standing(vs)
}

// evaluate evaluates the complete days after the last evaluated one, in
// order, against the registry standing st. A stage change decided on a day
// applies to the days after it at once (the registry gets it after the
// commit).
func (t *decider) evaluate(st stages, out sink) {
	for _, d := range t.daysAfter() {
		if !t.complete(d) {
			return
		}
		t.evaluated = d
		t.dirty["e"] = true
		if st.champion == nil {
			continue
		}
		before := len(t.intents)
		t.evaluateDay(st, d, out)
		for _, in := range t.intents[before:] {
			st = st.with(in.Moves)
		}
	}
}

// evaluateDay runs the checks due on day d: the probation of a new
// champion (which may roll it back), the retraining trigger, and the
// challengers' tests.
func (t *decider) evaluateDay(st stages, d string, out sink) {
	if t.checkProbation(st, d, out) {
		return
	}
	t.checkRetrain(*st.champion, d, out)
	t.checkChallengers(st, d, out)
}

// paired returns the days in (from, to] that both models scored, with the
// (region, hour) pairs both scored, in day order.
func (t *decider) paired(a, b, from, to string) []pairedDay {
	var out []pairedDay
	for d, ga := range t.days[a] {
		gb := t.days[b][d]
		if gb == nil || d <= from || d > to {
			continue
		}
		p := pairedDay{Day: d}
		regions := make([]string, 0, len(ga.Regions))
		for r := range ga.Regions {
			regions = append(regions, r)
		}
		slices.Sort(regions)
		for _, r := range regions {
			bh := map[int64]hourErr{}
			for _, h := range gb.Regions[r] {
				bh[h.H] = h
			}
			for _, h := range ga.Regions[r] {
				hb, ok := bh[h.H]
				if !ok {
					continue
				}
				p.A, p.B, p.Naive = append(p.A, h.E), append(p.B, hb.E), append(p.Naive, h.N)
				if ht := time.Unix(h.H, 0).UTC(); ht.After(p.LastHour) {
					p.LastHour = ht
				}
			}
		}
		if len(p.A) > 0 {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(x, y pairedDay) int { return strings.Compare(x.Day, y.Day) })
	return out
}

// hoursOf returns model k's abs errors, naive abs errors and last hour on
// days in (from, to], at most the last n days.
func (t *decider) hoursOf(k, from, to string, n int) (e, naive []float64, days int, last time.Time) {
	var ds []string
	for d := range t.days[k] {
		if d > from && d <= to {
			ds = append(ds, d)
		}
	}
	slices.Sort(ds)
	ds = ds[max(0, len(ds)-n):]
	for _, d := range ds {
		for _, hs := range t.days[k][d].Regions {
			for _, h := range hs {
				e, naive = append(e, h.E), append(naive, h.N)
				if ht := time.Unix(h.H, 0).UTC(); ht.After(last) {
					last = ht
				}
			}
		}
	}
	return e, naive, len(ds), last
}

type testResult struct {
	c                  catalog.Version
	dm                 backtest.DMResult
	err                error
	days               int
	champSum, challSum summary
	last               pairedDay
}

// test runs the Diebold-Mariano test of b against a on paired days w: the
// first model is a, so a positive statistic and a small p-value say b is
// more accurate.
func test(w []pairedDay) (backtest.DMResult, summary, summary, error) {
	e1, e2 := make([][]float64, len(w)), make([][]float64, len(w))
	var a, b, naive []float64
	for i, p := range w {
		e1[i], e2[i] = p.A, p.B
		a, b, naive = append(a, p.A...), append(b, p.B...), append(naive, p.Naive...)
	}
	dm, err := backtest.DieboldMariano(e1, e2, 1)
	return dm, summarise(a, naive), summarise(b, naive), err
}

func (t *decider) checkChallengers(st stages, d string, out sink) {
	cfg := t.d.cfg
	champ := *st.champion
	var due []testResult
	for _, c := range st.challengers {
		ck := c.Key()
		dec := t.decisions[ck]
		if dec == nil || dec.Champion != champ.Key() {
			// Against a new champion the count starts with the days the
			// two already share.
			dec = &decision{Champion: champ.Key(), NextAt: cfg.MinDays,
				Count: len(t.paired(champ.Key(), ck, "", addDays(d, -1)))}
			t.decisions[ck] = dec
			t.dirty["c|"+ck] = true
		}
		pd := t.paired(champ.Key(), ck, "", d)
		if len(pd) == 0 || pd[len(pd)-1].Day != d {
			continue
		}
		dec.Count++
		t.dirty["c|"+ck] = true
		if dec.Count < dec.NextAt {
			continue
		}
		dec.NextAt = dec.Count + cfg.EvalEvery
		w := pd[max(0, len(pd)-cfg.Window):]
		r := testResult{c: c, days: len(w), last: w[len(w)-1]}
		r.dm, r.champSum, r.challSum, r.err = test(w)
		due = append(due, r)
	}
	if len(due) == 0 {
		return
	}
	// Several challengers due on one day: the most significant better one
	// wins; the others are denied.
	winner := -1
	for i, r := range due {
		if r.err == nil && r.dm.Stat > 0 && r.dm.PValue < cfg.Alpha && (winner < 0 || r.dm.Stat > due[winner].dm.Stat) {
			winner = i
		}
	}
	for i, r := range due {
		if i == winner {
			continue
		}
		ev := t.evidence(r)
		dec := t.decisions[r.c.Key()]
		dec.Denials++
		ev[EvDenials] = float64(dec.Denials)
		why := fmt.Sprintf("not more accurate than champion %s at level %g: DM %.3f, p %.4f over %d days (MAE %.3f vs %.3f)",
			champ.Key(), cfg.Alpha, r.dm.Stat, r.dm.PValue, r.days, r.challSum.MAE, r.champSum.MAE)
		switch {
		case r.err != nil:
			why = fmt.Sprintf("no test against champion %s: %v", champ.Key(), r.err)
		case winner >= 0 && r.dm.Stat > 0 && r.dm.PValue < cfg.Alpha:
			why = fmt.Sprintf("more accurate than champion %s (p %.4f), but %s was more so", champ.Key(), r.dm.PValue, due[winner].c.Key())
		}
		t.emit(out, r.last.LastHour, schemas.EventPromotionDenied, r.c, "", "", why, ev)
		if cfg.MaxDenials > 0 && dec.Denials >= cfg.MaxDenials {
			reason := fmt.Sprintf("retired after %d denied promotions", dec.Denials)
			t.decide(reason, catalog.StageMove{ID: r.c.ID, Version: r.c.Version, From: catalog.StageChallenger, To: catalog.StageArchived})
			t.emit(out, r.last.LastHour, schemas.EventStageChanged, r.c, catalog.StageChallenger, catalog.StageArchived, reason, ev)
			delete(t.decisions, r.c.Key())
			t.dirty["c|"+r.c.Key()] = true
		}
	}
	if winner >= 0 {
		t.promote(champ, due[winner], out)
	}
}

func (t *decider) evidence(r testResult) map[string]float64 {
	ev := map[string]float64{EvAlpha: t.d.cfg.Alpha, EvDays: float64(r.days)}
	if r.err == nil {
		put(ev, EvStat, r.dm.Stat)
		put(ev, EvPValue, r.dm.PValue)
	}
	put(ev, EvChampionMAE, r.champSum.MAE)
	put(ev, EvChallengerMAE, r.challSum.MAE)
	put(ev, EvChampionRMAE, r.champSum.RMAE)
	put(ev, EvChallengerRMAE, r.challSum.RMAE)
	return ev
}

// put sets a finite evidence value (JSON has no NaN).
func put(ev map[string]float64, k string, v float64) {
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		ev[k] = v
	}
}

// decide records an atomic stage change to write once the transaction
// commits.
func (t *decider) decide(reason string, moves ...catalog.StageMove) {
	t.intents = append(t.intents, intent{Moves: moves, Reason: reason})
	t.dirty["i"] = true
}

// promote makes r.c the champion and archives champ, in one registry
// record.
func (t *decider) promote(champ catalog.Version, r testResult, out sink) {
	cfg := t.d.cfg
	ev := t.evidence(r)
	why := fmt.Sprintf("more accurate than champion %s at level %g: DM %.3f, p %.4f over %d days (MAE %.3f vs %.3f)",
		champ.Key(), cfg.Alpha, r.dm.Stat, r.dm.PValue, r.days, r.challSum.MAE, r.champSum.MAE)
	t.decide("promoted "+r.c.Key()+": "+why,
		catalog.StageMove{ID: r.c.ID, Version: r.c.Version, From: catalog.StageChallenger, To: catalog.StageChampion},
		catalog.StageMove{ID: champ.ID, Version: champ.Version, From: catalog.StageChampion, To: catalog.StageArchived})
	t.emit(out, r.last.LastHour, schemas.EventPromoted, r.c, catalog.StageChallenger, catalog.StageChampion, why, ev)
	t.emit(out, r.last.LastHour, schemas.EventStageChanged, champ, catalog.StageChampion, catalog.StageArchived, "replaced by "+r.c.Key(), ev)
	t.probation = &probation{New: r.c.Key(), Prev: champ.Key(), PrevID: champ.ID, PrevVer: champ.Version, PrevKind: champ.Kind,
		Since: r.last.Day, PrevMAE: num(r.champSum.MAE), PrevRMAE: num(r.champSum.RMAE), NextAt: cfg.RollbackMinDays}
	t.dirty["p"] = true
	t.resetDecisions()
}

func (t *decider) resetDecisions() {
	for k := range t.decisions {
		delete(t.decisions, k)
		t.dirty["c|"+k] = true
	}
}

// checkProbation watches a new champion on day d; it reports whether it
// rolled it back.
func (t *decider) checkProbation(st stages, d string, out sink) bool {
	cfg := t.d.cfg
	p := t.probation
	if p == nil {
		return false
	}
	if st.champion.Key() != p.New {
		// The champion changed by other means: nothing left to watch.
		t.probation = nil
		t.dirty["p"] = true
		return false
	}
	if t.days[p.New][d] == nil || d <= p.Since {
		return false
	}
	p.Count++
	t.dirty["p"] = true
	if p.Count < p.NextAt {
		return false
	}
	p.NextAt = p.Count + cfg.EvalEvery
	e, naive, days, lastHour := t.hoursOf(p.New, p.Since, d, cfg.Window)
	sum := summarise(e, naive)
	ev := map[string]float64{EvDays: float64(days), EvMargin: cfg.RollbackMargin, EvAlpha: cfg.Alpha}
	put(ev, EvNewMAE, sum.MAE)
	put(ev, EvNewRMAE, sum.RMAE)
	put(ev, EvPrevMAE, float64(p.PrevMAE))
	put(ev, EvPrevRMAE, float64(p.PrevRMAE))
	why := ""
	if prev := float64(p.PrevRMAE); !math.IsNaN(sum.RMAE) && !math.IsNaN(prev) && sum.RMAE > prev*(1+cfg.RollbackMargin) {
		why = fmt.Sprintf("rMAE %.3f over %d days as champion is worse than previous champion %s's %.3f by more than %.0f%%",
			sum.RMAE, days, p.Prev, prev, 100*cfg.RollbackMargin)
	} else {
		// The previous champion, shadowed by the catalog, may have
		// forecast the same days: test it against the new one.
		pd := t.paired(p.New, p.Prev, p.Since, d)
		pd = pd[max(0, len(pd)-cfg.Window):]
		if len(pd) >= cfg.RollbackMinDays {
			dm, _, _, err := test(pd)
			if err == nil {
				put(ev, EvStat, dm.Stat)
				put(ev, EvPValue, dm.PValue)
				if dm.Stat > 0 && dm.PValue < cfg.Alpha {
					why = fmt.Sprintf("previous champion %s is more accurate at level %g: DM %.3f, p %.4f over %d days",
						p.Prev, cfg.Alpha, dm.Stat, dm.PValue, len(pd))
				}
			}
		}
	}
	if why == "" {
		if p.Count >= cfg.ProbationDays {
			t.probation = nil
		}
		return false
	}
	champ := *st.champion
	prev, ok := st.byKey[p.Prev]
	if !ok {
		prev = catalog.Version{ID: p.PrevID, Version: p.PrevVer, Kind: p.PrevKind}
	}
	t.decide("rolled back "+champ.Key()+": "+why,
		catalog.StageMove{ID: champ.ID, Version: champ.Version, From: catalog.StageChampion, To: catalog.StageArchived},
		catalog.StageMove{ID: prev.ID, Version: prev.Version, From: catalog.StageArchived, To: catalog.StageChampion})
	t.emit(out, lastHour, schemas.EventRolledBack, champ, catalog.StageChampion, catalog.StageArchived, why, ev)
	t.emit(out, lastHour, schemas.EventStageChanged, prev, catalog.StageArchived, catalog.StageChampion, "restored: "+p.New+" degraded", ev)
	t.probation = nil
	t.dirty["p"] = true
	t.resetDecisions()
	return true
}

// checkRetrain requests a retraining when the champion's rMAE over its
// latest DegradeDays days up to d passes the threshold, at most once a
// cooldown.
func (t *decider) checkRetrain(champ catalog.Version, d string, out sink) {
	cfg := t.d.cfg
	if cfg.RetrainRMAE <= 0 || t.days[champ.Key()][d] == nil {
		return
	}
	if t.lastRetrain != "" && d < addDays(t.lastRetrain, cfg.RetrainCooldownDays) {
		return
	}
	e, naive, days, lastHour := t.hoursOf(champ.Key(), "", d, cfg.DegradeDays)
	if days < cfg.DegradeDays {
		return
	}
	sum := summarise(e, naive)
	if math.IsNaN(sum.RMAE) || sum.RMAE <= cfg.RetrainRMAE {
		return
	}
	t.lastRetrain = d
	t.dirty["r"] = true
	ev := map[string]float64{EvRollingRMAE: sum.RMAE, EvThreshold: cfg.RetrainRMAE, EvDays: float64(days)}
	put(ev, EvNewMAE, sum.MAE)
	why := fmt.Sprintf("champion's rMAE %.3f over the last %d days is above %.3f", sum.RMAE, days, cfg.RetrainRMAE)
	t.emit(out, lastHour, schemas.EventRetrainRequested, champ, "", "", why, ev)
}

// emit adds a model event to the transaction. Its id and time derive from
// the decision (the end of the last hour of evidence), so a redone decision
// writes the same event.
func (t *decider) emit(out sink, lastHour time.Time, typ string, v catalog.Version, from, to, reason string, ev map[string]float64) {
	at := lastHour.Add(time.Hour).UTC()
	e := schemas.ModelEvent{
		EventID:      fmt.Sprintf("%s/%s/%s", typ, v.Key(), at.Format(time.RFC3339)),
		Time:         at,
		Type:         typ,
		ModelID:      v.ID,
		ModelVersion: v.Version,
		ModelKind:    v.Kind,
		FromStage:    from,
		ToStage:      to,
		Reason:       reason,
		Evidence:     ev,
		Actor:        t.d.cfg.Actor,
	}
	rec, err := kafka.NewRecord(t.d.cfg.Topics.ModelEvents, v.ID, &e, t.d.cfg.Producer)
	if err != nil {
		// Every field above comes from the registry's cards; a failure
		// means a card the registry should have refused. A decision must
		// not go unrecorded, so the transaction fails (process returns it).
		if t.emitErr == nil {
			t.emitErr = fmt.Errorf("promotion: the %s event of %s cannot be written, so the decision is not taken: %w "+
				"(check the version's card with wattcast models show)", typ, v.Key(), err)
		}
		return
	}
	out.Emit(rec)
	t.pending = append(t.pending, e)
	t.d.cfg.Logger.Info("model event", "type", typ, "model", v.Key(), "reason", reason)
}

// Committed hands the committed events to OnEvent and writes the committed
// decisions to the registry. A write that fails here is retried at the next
// Process.
func (t *decider) Committed(ctx context.Context) {
	evs := t.pending
	t.pending = nil
	if len(evs) > 0 {
		t.d.mu.Lock()
		t.d.events = append(t.d.events, evs...)
		if n := len(t.d.events) - MaxEvents; n > 0 {
			t.d.events = slices.Delete(t.d.events, 0, n)
		}
		t.d.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := t.applyIntents(ctx); err != nil {
		t.d.cfg.Logger.Warn("promotion: registry write failed; retrying with the next records", "err", err)
	}
	if t.d.cfg.OnEvent != nil {
		for _, e := range evs {
			t.d.cfg.OnEvent(e)
		}
	}
}

// applyIntents writes the pending stage changes in order. A written one is
// dropped (its tombstone goes with the next transaction). A change whose
// versions are all at their targets already was written by an earlier
// attempt; one that conflicts otherwise lost to a person's decision in the
// registry, which wins, and is dropped with a warning.
func (t *decider) applyIntents(ctx context.Context) error {
	for len(t.intents) > 0 {
		in := t.intents[0]
		err := t.d.cfg.Registry.SetStages(ctx, in.Moves, in.Reason)
		if err != nil && !errors.Is(err, catalog.ErrStageConflict) {
			return fmt.Errorf("promotion: write %s: %w", catalog.Describe(in.Moves), err)
		}
		if err != nil {
			vs, lerr := t.d.cfg.Registry.List(ctx)
			if lerr != nil {
				return fmt.Errorf("promotion: list the registry: %w", lerr)
			}
			st := standing(vs)
			done := true
			for _, m := range in.Moves {
				if st.byKey[m.ID+"@"+m.Version].Stage != m.To {
					done = false
				}
			}
			if !done {
				t.d.cfg.Logger.Warn("promotion: the registry changed first; dropping this stage change",
					"change", catalog.Describe(in.Moves), "err", err)
			}
		}
		t.intents = t.intents[1:]
		t.dirty["i"] = true
	}
	return nil
}
