// Package promotion decides which model is champion. It reads the champion
// and challenger error topics exactly once (on streams/runner, in its own
// consumer group) and, per region:
//
//   - promotes a challenger when a Diebold-Mariano test on paired daily
//     errors says it is more accurate than the champion (one-sided, at
//     level Alpha, over at least MinDays days), and otherwise records a
//     promotion_denied event with the evidence;
//   - rolls a new champion back when, during its probation, its rMAE is
//     worse than the previous champion's by more than RollbackMargin, or a
//     Diebold-Mariano test on paired errors says the previous champion
//     (shadowed by the catalog) is more accurate;
//   - requests a retraining when the champion's rolling rMAE passes
//     RetrainRMAE.
//
// # Exactly one decides
//
// The error topics are keyed by region, so each region's errors live in one
// partition, and the consumer group gives each partition to one member at a
// time: that member alone decides for the region. A decision is a
// deterministic function of the region's error stream (the days become
// paired in issue order whatever the poll boundaries, and the tests run at
// fixed counts of paired days), so a member that takes over after a crash or
// a rebalance, having restored the state from the changelog, reaches the
// same decisions. The registry writes are conditional (a version moves only
// from the stage the decision expects), so a repeated decision changes
// nothing twice and a stale member cannot undo a newer one. The model events
// are written in the same Kafka transaction as the consumed offsets and the
// state, with event ids derived from the decision, so each decision's events
// become visible once; a zombie member's transaction is fenced.
//
// A promotion is two writes: the challenger becomes champion, then the old
// champion is archived. If the decider dies between them, the region has two
// champions until the redone decision archives the old one; the catalog
// serves the later champion meanwhile.
//
// The Diebold-Mariano test is training/backtest's, as epftoolbox computes
// it: the loss differential of a day is the mean absolute error of the first
// model minus that of the second over the day's hours, so the 24 correlated
// hourly errors of a day-ahead forecast count as one observation.
package promotion

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/runner"
	"github.com/wattcast/wattcast/training/backtest"
)

// DefaultGroup is the decider's consumer group.
const DefaultGroup = "wattcast-promoter"

// Evidence keys of the model events.
const (
	EvStat           = "dm_stat"
	EvPValue         = "p_value"
	EvAlpha          = "alpha"
	EvDays           = "days"
	EvChampionMAE    = "champion_mae"
	EvChallengerMAE  = "challenger_mae"
	EvChampionRMAE   = "champion_rmae"
	EvChallengerRMAE = "challenger_rmae"
	EvPrevMAE        = "previous_champion_mae"
	EvPrevRMAE       = "previous_champion_rmae"
	EvNewMAE         = "new_champion_mae"
	EvNewRMAE        = "new_champion_rmae"
	EvMargin         = "margin"
	EvRollingRMAE    = "rolling_rmae"
	EvThreshold      = "threshold"
	EvDenials        = "denials"
)

// Config configures a Decider. The zero value of each numeric setting means
// its default.
type Config struct {
	Kafka  kafka.Config
	Topics schemas.TopicSet
	// Registry is read for the stages and written for stage changes.
	Registry catalog.Registry
	// Alpha is the test level; default 0.05.
	Alpha float64
	// MinDays is the number of paired days before the first test; default
	// 14. EvalEvery is the number of new paired days between tests;
	// default 7. Window is how many of the latest paired days a test uses;
	// default 28.
	MinDays, EvalEvery, Window int
	// MaxDenials archives a challenger after this many denied promotions,
	// so that repeated testing of an equal model does not, one day,
	// promote it by chance; default 4, negative for never.
	MaxDenials int
	// ProbationDays is how many days a new champion is watched for
	// degradation; default 28. RollbackMinDays is how many of them before
	// the first check; default MinDays. RollbackMargin is the relative
	// rMAE degradation over the previous champion's that rolls back;
	// default 0.10.
	ProbationDays, RollbackMinDays int
	RollbackMargin                 float64
	// RetrainRMAE requests a retraining when the champion's rMAE over the
	// latest DegradeDays closed days (default 7) exceeds it; 0 turns the
	// trigger off. RetrainCooldownDays (default 7) spaces the requests.
	RetrainRMAE         float64
	DegradeDays         int
	RetrainCooldownDays int
	// KeepDays of scored hours are kept per model; default the largest of
	// Window, ProbationDays and DegradeDays, plus 7.
	KeepDays int
	// Group is the consumer group; default DefaultGroup.
	Group string
	// Actor names this instance in the events; Producer in the headers.
	Actor, Producer string
	// TransactionalID is this instance's transactional id (see
	// runner.Config); default Group-hostname.
	TransactionalID string
	// OnEvent is called with each model event once it is committed (to
	// refresh a catalog). It must not block.
	OnEvent        func(schemas.ModelEvent)
	StopAtEnd      bool
	MaxPollRecords int
	Logger         *slog.Logger
}

// Decider is the promotion decider. Create it with New and call Run once.
type Decider struct {
	cfg Config
	r   *runner.Runner

	mu     sync.Mutex
	events []schemas.ModelEvent // committed events, for tests and the API
}

// ChangelogTopic is the decider's state changelog for a topic set.
func ChangelogTopic(t schemas.TopicSet) string { return t.Internal("promoter", "changelog") }

// Topics returns the topics the decider needs, including its changelog.
func Topics(t schemas.TopicSet, partitions int32) []schemas.TopicSpec {
	return append(t.Specs(partitions, 0), schemas.TopicSpec{Name: ChangelogTopic(t), Partitions: partitions,
		Retention: -1, Compacted: true, Key: "region|kind|...", Description: "promotion decider state (compacted)"})
}

// New checks cfg and returns a decider. It does not connect.
func New(cfg Config) (*Decider, error) {
	if cfg.Registry == nil {
		return nil, errors.New("promotion: a registry is required")
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = 0.05
	}
	if cfg.Alpha <= 0 || cfg.Alpha >= 0.5 {
		return nil, fmt.Errorf("promotion: alpha %g is not in (0, 0.5)", cfg.Alpha)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.MinDays, 14)
	def(&cfg.EvalEvery, 7)
	def(&cfg.Window, 28)
	def(&cfg.MaxDenials, 4)
	def(&cfg.ProbationDays, 28)
	def(&cfg.RollbackMinDays, cfg.MinDays)
	def(&cfg.DegradeDays, 7)
	def(&cfg.RetrainCooldownDays, 7)
	def(&cfg.KeepDays, max(cfg.Window, cfg.ProbationDays, cfg.DegradeDays)+7)
	if cfg.RollbackMargin == 0 {
		cfg.RollbackMargin = 0.10
	}
	// The test needs a variance: two days at the very least.
	if cfg.MinDays < 2 || cfg.Window < cfg.MinDays || cfg.EvalEvery < 1 || cfg.RollbackMinDays < 2 {
		return nil, fmt.Errorf("promotion: min days %d, window %d, eval every %d, rollback min days %d: want 2 <= min days <= window, eval every >= 1, rollback min days >= 2",
			cfg.MinDays, cfg.Window, cfg.EvalEvery, cfg.RollbackMinDays)
	}
	if cfg.KeepDays < max(cfg.Window, cfg.ProbationDays, cfg.DegradeDays) {
		return nil, fmt.Errorf("promotion: keep days %d is shorter than the window, probation or degrade days", cfg.KeepDays)
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.Actor == "" {
		cfg.Actor = "promoter"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Decider{cfg: cfg}
	r, err := runner.New(runner.Config{
		Kafka:           cfg.Kafka,
		Group:           cfg.Group,
		Inputs:          []string{cfg.Topics.ErrorsChampion, cfg.Topics.ErrorsChallenger},
		Changelog:       ChangelogTopic(cfg.Topics),
		DeadLetters:     cfg.Topics.DeadLetters,
		Stage:           "promoter",
		Producer:        cfg.Producer,
		NewTask:         d.newTask,
		TransactionalID: cfg.TransactionalID,
		StopAtEnd:       cfg.StopAtEnd,
		MaxPollRecords:  cfg.MaxPollRecords,
		Logger:          cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	d.r = r
	return d, nil
}

// Run decides until ctx is done (or, with StopAtEnd, the errors present at
// start are consumed).
func (d *Decider) Run(ctx context.Context) error { return d.r.Run(ctx) }

// RunnerStats returns the underlying runner's counters.
func (d *Decider) RunnerStats() runner.Stats { return d.r.Stats() }

// Events returns the model events this instance committed, oldest first.
func (d *Decider) Events() []schemas.ModelEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.events)
}

func (d *Decider) newTask(int32) (runner.Task, error) {
	return &task{d: d, regions: map[string]*regionState{}, dirty: map[string]bool{}}, nil
}

type task struct {
	d       *Decider
	regions map[string]*regionState
	dirty   map[string]bool
	pending []schemas.ModelEvent
}

func (t *task) Restore(key string, value []byte) error { return restore(t.regions, key, value) }

func (t *task) Changes() ([]runner.KV, error) {
	keys := make([]string, 0, len(t.dirty))
	for k := range t.dirty {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]runner.KV, 0, len(keys))
	for _, k := range keys {
		v, err := value(t.regions, k)
		if err != nil {
			return nil, err
		}
		out = append(out, runner.KV{Key: k, Value: v})
	}
	clear(t.dirty)
	return out, nil
}

func (t *task) Process(ctx context.Context, recs []*kgo.Record, lag runner.Lag, out *runner.Output) error {
	// An aborted transaction discards this task, so pending only ever
	// holds the events of the transaction being built.
	t.pending = t.pending[:0]
	// Decisions committed earlier whose registry writes failed (or were cut
	// short by a crash) are written first, so that what follows sees them.
	if err := t.applyIntents(ctx, true); err != nil {
		return err
	}
	for _, rec := range recs {
		var e schemas.ForecastError
		if err := schemas.Decode(rec.Value, &e); err != nil {
			out.DeadLetter(rec, schemas.ReasonOf(err), err)
			continue
		}
		if strings.Contains(e.Region, "|") {
			out.DeadLetter(rec, schemas.ReasonInvalid, fmt.Errorf("promotion: region %q holds a |", e.Region))
			continue
		}
		s := t.regions[e.Region]
		if s == nil {
			s = newRegionState()
			t.regions[e.Region] = s
		}
		if key, added := s.add(&e); added {
			t.dirty[key] = true
		}
	}
	// Days are evaluated only when every error committed so far has been
	// read: the scorer writes an hour's errors of all models in one
	// transaction, so then each day holds all it will hold, whichever of
	// the two topics a fetch returned first. While catching up, the state
	// grows and the decisions wait.
	if lag.Behind() {
		return nil
	}
	regions := make([]string, 0, len(t.regions))
	for r := range t.regions {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	var list []catalog.Version
	for _, region := range regions {
		s := t.regions[region]
		if !s.mayBeReady() {
			continue
		}
		if list == nil {
			var err error
			if list, err = t.d.cfg.Registry.List(ctx); err != nil {
				return fmt.Errorf("promotion: list the registry: %w", err)
			}
		}
		t.evaluate(region, s, standing(list, region), out)
		for _, k := range s.prune(region, t.d.cfg.KeepDays) {
			t.dirty[k] = true
		}
	}
	return nil
}

// mayBeReady reports whether the region's next pending day is complete;
// the registry is read only then.
func (s *regionState) mayBeReady() bool {
	p := s.pending()
	return len(p) > 0 && s.dayComplete(p[0])
}

// Committed hands the committed events to OnEvent and writes the committed
// decisions to the registry. A write that fails here is retried at the next
// Process.
func (t *task) Committed() {
	evs := t.pending
	t.pending = nil
	if len(evs) > 0 {
		t.d.mu.Lock()
		t.d.events = append(t.d.events, evs...)
		t.d.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := t.applyIntents(ctx, false); err != nil {
		t.d.cfg.Logger.Warn("promotion: registry write failed; retrying with the next errors", "err", err)
	}
	if t.d.cfg.OnEvent != nil {
		for _, e := range evs {
			t.d.cfg.OnEvent(e)
		}
	}
}

// applyIntents writes the pending stage changes of every region. Written
// intents are cleared (their tombstones go with the next transaction);
// failOnErr false keeps going past a failed region.
func (t *task) applyIntents(ctx context.Context, failOnErr bool) error {
	var errs []error
	regions := make([]string, 0)
	for r, s := range t.regions {
		if len(s.intent) > 0 {
			regions = append(regions, r)
		}
	}
	slices.Sort(regions)
	for _, region := range regions {
		s := t.regions[region]
		for len(s.intent) > 0 {
			m := s.intent[0]
			if err := t.move(ctx, region, m); err != nil {
				if failOnErr {
					return err
				}
				errs = append(errs, err)
				break
			}
			s.intent = s.intent[1:]
			t.dirty[intentKey(region)] = true
		}
	}
	return errors.Join(errs...)
}

// move writes one stage change. It succeeds when the version is at m.To
// afterwards, including when an earlier attempt already moved it; when
// someone else moved the version elsewhere first, the change is dropped
// with a warning (a person's decision in the registry wins).
func (t *task) move(ctx context.Context, region string, m stageMove) error {
	err := t.d.cfg.Registry.SetStage(ctx, m.ID, m.Version, m.From, m.To, m.Reason)
	if err == nil {
		return nil
	}
	if !errors.Is(err, catalog.ErrStageConflict) {
		return fmt.Errorf("promotion: move %s@%s from %s to %s: %w", m.ID, m.Version, m.From, m.To, err)
	}
	st, lerr := t.stages(ctx, region)
	if lerr != nil {
		return lerr
	}
	if cur, ok := st.byKey[m.ID+"@"+m.Version]; ok && cur.Stage == m.To {
		return nil
	}
	t.d.cfg.Logger.Warn("promotion: the model was moved elsewhere first; dropping this stage change",
		"model", m.ID+"@"+m.Version, "from", m.From, "to", m.To, "err", err)
	return nil
}

// stages is a region's standing in the registry.
type stages struct {
	champion    *catalog.Version
	challengers []catalog.Version
	byKey       map[string]catalog.Version
}

func (t *task) stages(ctx context.Context, region string) (stages, error) {
	vs, err := t.d.cfg.Registry.List(ctx)
	if err != nil {
		return stages{}, fmt.Errorf("promotion: list the registry: %w", err)
	}
	return standing(vs, region), nil
}

func standing(vs []catalog.Version, region string) stages {
	st := stages{byKey: map[string]catalog.Version{}}
	for _, v := range vs {
		// Only versions fitted for this region are decided here: a
		// version serving every region cannot be judged on one.
		if v.Region != region {
			continue
		}
		st.byKey[v.Key()] = v
		switch v.Stage {
		case catalog.StageChampion:
			// Two champions only mid-promotion: the later one counts.
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

// evaluate evaluates the region's complete pending days, in order, against
// the registry standing st. A stage change decided on a day applies to the
// days after it at once (the registry gets it after the commit).
func (t *task) evaluate(region string, s *regionState, st stages, out *runner.Output) {
	for _, d := range s.pending() {
		if !s.dayComplete(d) {
			return
		}
		s.evaluated = d
		t.dirty[evaluatedKey(region)] = true
		if st.champion == nil {
			continue
		}
		before := len(s.intent)
		if t.evaluateDay(region, s, st, d, out) || len(s.intent) > before {
			st = st.with(s.intent[before:])
		}
	}
}

// with returns the standing after moves.
func (st stages) with(moves []stageMove) stages {
	vs := make([]catalog.Version, 0, len(st.byKey))
	region := ""
	for _, v := range st.byKey {
		region = v.Region
		for _, m := range moves {
			if v.ID == m.ID && v.Version == m.Version {
				v.PreviousStage, v.Stage = v.Stage, m.To
				// Later than any stage time read from the registry.
				v.StageSince = time.Unix(1<<40, 0)
			}
		}
		vs = append(vs, v)
	}
	return standing(vs, region)
}

// evaluateDay runs the checks due on day d: the probation of a new
// champion (which may roll it back), the retraining trigger, and the
// challengers' tests. It reports whether the champion changed.
func (t *task) evaluateDay(region string, s *regionState, st stages, d time.Time, out *runner.Output) bool {
	if t.checkProbation(region, s, st, d, out) {
		return true
	}
	t.checkRetrain(region, s, *st.champion, d, out)
	return t.checkChallengers(region, s, st, d, out)
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

func (t *task) checkChallengers(region string, s *regionState, st stages, d time.Time, out *runner.Output) bool {
	cfg := t.d.cfg
	champ := *st.champion
	var due []testResult
	for _, c := range st.challengers {
		ck := c.Key()
		dec := s.decisions[ck]
		if dec == nil || dec.Champion != champ.Key() {
			// Against a new champion the count starts with the days the
			// two already share.
			dec = &decision{Champion: champ.Key(), NextAt: cfg.MinDays,
				Count: len(s.paired(champ.Key(), ck, time.Time{}, d.Add(-time.Second)))}
			s.decisions[ck] = dec
			t.dirty[decisionKey(region, ck)] = true
		}
		pd := s.paired(champ.Key(), ck, time.Time{}, d)
		if len(pd) == 0 || !pd[len(pd)-1].Issue.Equal(d) {
			continue
		}
		dec.Count++
		t.dirty[decisionKey(region, ck)] = true
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
		return false
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
		dec := s.decisions[r.c.Key()]
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
		t.emit(out, r.last.LastHour, schemas.EventPromotionDenied, r.c, "", "", region, why, ev)
		if cfg.MaxDenials > 0 && dec.Denials >= cfg.MaxDenials {
			reason := fmt.Sprintf("retired after %d denied promotions", dec.Denials)
			t.decide(region, s, stageMove{r.c.ID, r.c.Version, catalog.StageChallenger, catalog.StageArchived, reason})
			t.emit(out, r.last.LastHour, schemas.EventStageChanged, r.c, catalog.StageChallenger, catalog.StageArchived, region, reason, ev)
			delete(s.decisions, r.c.Key())
			t.dirty[decisionKey(region, r.c.Key())] = true
		}
	}
	if winner < 0 {
		return false
	}
	t.promote(region, s, champ, due[winner], out)
	return true
}

func (t *task) evidence(r testResult) map[string]float64 {
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

// decide records stage changes to write once the transaction commits.
func (t *task) decide(region string, s *regionState, moves ...stageMove) {
	for i := range moves {
		moves[i].Reason = "region " + region + ": " + moves[i].Reason
	}
	s.intent = append(s.intent, moves...)
	t.dirty[intentKey(region)] = true
}

// promote makes r.c the champion and archives champ. The challenger moves
// first, so that the region never lacks a champion.
func (t *task) promote(region string, s *regionState, champ catalog.Version, r testResult, out *runner.Output) {
	cfg := t.d.cfg
	ev := t.evidence(r)
	why := fmt.Sprintf("more accurate than champion %s at level %g: DM %.3f, p %.4f over %d days (MAE %.3f vs %.3f)",
		champ.Key(), cfg.Alpha, r.dm.Stat, r.dm.PValue, r.days, r.challSum.MAE, r.champSum.MAE)
	replaced := "replaced by " + r.c.Key()
	t.decide(region, s,
		stageMove{r.c.ID, r.c.Version, catalog.StageChallenger, catalog.StageChampion, why},
		stageMove{champ.ID, champ.Version, catalog.StageChampion, catalog.StageArchived, replaced})
	t.emit(out, r.last.LastHour, schemas.EventPromoted, r.c, catalog.StageChallenger, catalog.StageChampion, region, why, ev)
	t.emit(out, r.last.LastHour, schemas.EventStageChanged, champ, catalog.StageChampion, catalog.StageArchived, region, replaced, ev)
	s.probation = &probation{New: r.c.Key(), Prev: champ.Key(), PrevID: champ.ID, PrevVer: champ.Version, PrevKind: champ.Kind,
		Since: r.last.Issue, PrevMAE: num(r.champSum.MAE), PrevRMAE: num(r.champSum.RMAE), NextAt: cfg.RollbackMinDays}
	t.dirty[probationKey(region)] = true
	for k := range s.decisions {
		delete(s.decisions, k)
		t.dirty[decisionKey(region, k)] = true
	}
}

// checkProbation watches a new champion on day d; it reports whether it
// rolled it back.
func (t *task) checkProbation(region string, s *regionState, st stages, d time.Time, out *runner.Output) bool {
	cfg := t.d.cfg
	p := s.probation
	if p == nil {
		return false
	}
	if st.champion.Key() != p.New {
		// The champion changed by other means: nothing left to watch.
		s.probation = nil
		t.dirty[probationKey(region)] = true
		return false
	}
	if s.days[p.New][d] == nil || !d.After(p.Since) {
		return false
	}
	p.Count++
	t.dirty[probationKey(region)] = true
	if p.Count < p.NextAt {
		return false
	}
	p.NextAt = p.Count + cfg.EvalEvery
	post := s.daysOf(p.New, p.Since, d)
	post = post[max(0, len(post)-cfg.Window):]
	var e, naive []float64
	var lastHour time.Time
	for _, x := range post {
		for _, h := range s.days[p.New][x].Hours {
			e, naive = append(e, h.E), append(naive, h.N)
			lastHour = time.Unix(h.H, 0).UTC()
		}
	}
	sum := summarise(e, naive)
	ev := map[string]float64{EvDays: float64(len(post)), EvMargin: cfg.RollbackMargin, EvAlpha: cfg.Alpha}
	put(ev, EvNewMAE, sum.MAE)
	put(ev, EvNewRMAE, sum.RMAE)
	put(ev, EvPrevMAE, float64(p.PrevMAE))
	put(ev, EvPrevRMAE, float64(p.PrevRMAE))
	why := ""
	if prev := float64(p.PrevRMAE); !math.IsNaN(sum.RMAE) && !math.IsNaN(prev) && sum.RMAE > prev*(1+cfg.RollbackMargin) {
		why = fmt.Sprintf("rMAE %.3f over %d days as champion is worse than previous champion %s's %.3f by more than %.0f%%",
			sum.RMAE, len(post), p.Prev, prev, 100*cfg.RollbackMargin)
	} else {
		// The previous champion, shadowed by the catalog, may have
		// forecast the same days: test it against the new one.
		pd := s.paired(p.New, p.Prev, p.Since, d)
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
			s.probation = nil
		}
		return false
	}
	champ := *st.champion
	prev, ok := st.byKey[p.Prev]
	if !ok {
		prev = catalog.Version{ID: p.PrevID, Version: p.PrevVer, Kind: p.PrevKind}
	}
	restored := "restored: " + p.New + " degraded"
	t.decide(region, s,
		stageMove{prev.ID, prev.Version, catalog.StageArchived, catalog.StageChampion, restored},
		stageMove{champ.ID, champ.Version, catalog.StageChampion, catalog.StageArchived, why})
	t.emit(out, lastHour, schemas.EventRolledBack, champ, catalog.StageChampion, catalog.StageArchived, region, why, ev)
	t.emit(out, lastHour, schemas.EventStageChanged, prev, catalog.StageArchived, catalog.StageChampion, region, restored, ev)
	s.probation = nil
	for k := range s.decisions {
		delete(s.decisions, k)
		t.dirty[decisionKey(region, k)] = true
	}
	return true
}

// checkRetrain requests a retraining when the champion's rMAE over its
// latest DegradeDays days up to d passes the threshold, at most once a
// cooldown.
func (t *task) checkRetrain(region string, s *regionState, champ catalog.Version, d time.Time, out *runner.Output) {
	cfg := t.d.cfg
	if cfg.RetrainRMAE <= 0 || s.days[champ.Key()][d] == nil {
		return
	}
	days := s.daysOf(champ.Key(), time.Time{}, d)
	if len(days) < cfg.DegradeDays {
		return
	}
	if s.retrain != nil && d.Sub(s.retrain.LastRequested) < time.Duration(cfg.RetrainCooldownDays)*24*time.Hour {
		return
	}
	var e, naive []float64
	var lastHour time.Time
	for _, x := range days[len(days)-cfg.DegradeDays:] {
		for _, h := range s.days[champ.Key()][x].Hours {
			e, naive = append(e, h.E), append(naive, h.N)
			lastHour = time.Unix(h.H, 0).UTC()
		}
	}
	sum := summarise(e, naive)
	if math.IsNaN(sum.RMAE) || sum.RMAE <= cfg.RetrainRMAE {
		return
	}
	s.retrain = &retrainState{LastRequested: d}
	t.dirty[retrainKey(region)] = true
	ev := map[string]float64{EvRollingRMAE: sum.RMAE, EvThreshold: cfg.RetrainRMAE, EvDays: float64(cfg.DegradeDays)}
	put(ev, EvNewMAE, sum.MAE)
	why := fmt.Sprintf("champion's rMAE %.3f over the last %d days is above %.3f", sum.RMAE, cfg.DegradeDays, cfg.RetrainRMAE)
	t.emit(out, lastHour, schemas.EventRetrainRequested, champ, "", "", region, why, ev)
}

// emit adds a model event to the transaction. Its id and time derive from
// the decision (the end of the last hour of evidence), so a redone decision
// writes the same event.
func (t *task) emit(out *runner.Output, lastHour time.Time, typ string, v catalog.Version, from, to, region, reason string, ev map[string]float64) {
	at := lastHour.Add(time.Hour).UTC()
	e := schemas.ModelEvent{
		EventID:      fmt.Sprintf("%s/%s/%s/%s", typ, region, v.Key(), at.Format(time.RFC3339)),
		Time:         at,
		Type:         typ,
		ModelID:      v.ID,
		ModelVersion: v.Version,
		ModelKind:    v.Kind,
		FromStage:    from,
		ToStage:      to,
		Reason:       "region " + region + ": " + reason,
		Evidence:     ev,
		Actor:        t.d.cfg.Actor,
	}
	rec, err := kafka.NewRecord(t.d.cfg.Topics.ModelEvents, v.ID, &e, t.d.cfg.Producer)
	if err != nil {
		// Every field above is set from valid parts; an encoding failure
		// is a bug, and a decision must not go unrecorded.
		panic(fmt.Sprintf("promotion: encode model event: %v", err))
	}
	out.Emit(rec)
	t.pending = append(t.pending, e)
	t.d.cfg.Logger.Info("model event", "type", typ, "region", region, "model", v.Key(), "reason", e.Reason)
}
