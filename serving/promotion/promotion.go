// Package promotion decides which model version is the champion. It reads
// the champion and challenger error topics exactly once and:
//
//   - promotes a challenger when a Diebold-Mariano test on paired daily
//     errors says it is more accurate than the champion (one-sided, at
//     level Alpha, over at least MinDays days), and otherwise records a
//     promotion_denied event with the evidence;
//   - rolls a new champion back when, during its probation, its rMAE is
//     worse than the previous champion's by more than RollbackMargin, or a
//     Diebold-Mariano test on paired errors says the previous champion
//     (which the catalog keeps forecasting in the shadows) is more
//     accurate;
//   - requests a retraining when the champion's rolling rMAE passes
//     RetrainRMAE.
//
// The registry has one champion, and a model version serves every region
// it was trained for, so a decision pools the regions: a day's loss
// differential is the mean absolute error of the champion minus that of the
// challenger over every (region, hour) both forecast that day. This is
// epftoolbox's multivariate Diebold-Mariano test (training/backtest's
// implementation), with the regions' hours added to the day's 24: the
// correlated hourly errors of a day count as one observation.
//
// # Two stages, exactly one decider
//
// The collector stage reads the error topics (keyed by region) in a
// consumer group; each member collects its partitions' regions and, once a
// region's forecast day is complete (every hour scored, and every error the
// scorer committed so far read), writes one record per model of that day to
// an internal topic with one partition. The decider stage reads that
// topic in a second group: its single partition belongs to exactly one
// member at a time, which alone decides. This is the repartition step
// Kafka Streams uses for a global aggregate.
//
// Both stages run on streams/runner: inputs, outputs, state changelog and
// consumed offsets commit in one Kafka transaction, and a zombie member's
// transaction is fenced. A decision is a deterministic function of the days
// topic, which has one order, so a member taking over after a crash,
// restored from the changelog, redoes any uncommitted decision the same way.
// The registry is written only after the decision commits (the committed
// state holds the pending stage change until it is written): a crash before
// the commit leaves no trace, a crash after it is finished by the next
// owner. Each stage change is one conditional record of the registry's
// stage log (a version moves only from the stage the decision expects), so
// repeating it changes nothing, and a person's change made meanwhile wins.
// Model event ids derive from the decision, and the events are written in
// the decision's transaction: each is on the model-events topic once.
package promotion

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/runner"
)

// DefaultGroup is the collector stage's consumer group; the decider stage's
// is DefaultGroup + "-decide".
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
	// Regions gives each region's zone, to know how many hours its days
	// have (23, 24 or 25): pass the scorer's. It extends and overrides
	// features.DefaultRegions. A region in neither counts 24-hour days.
	Regions map[string]features.Region
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
	// latest DegradeDays days (default 7) exceeds it; 0 turns the trigger
	// off. RetrainCooldownDays (default 7) spaces the requests.
	RetrainRMAE         float64
	DegradeDays         int
	RetrainCooldownDays int
	// KeepDays of paired days are kept; default the largest of Window,
	// ProbationDays and DegradeDays, plus 7.
	KeepDays int
	// Group is the collector's consumer group; default DefaultGroup.
	Group string
	// Actor names this instance in the events; Producer in the headers.
	Actor, Producer string
	// InstanceID makes the transactional ids unique per instance (see
	// runner.Config.TransactionalID); default the host name.
	InstanceID string
	// OnEvent is called with each model event once it is committed (to
	// refresh a catalog). It must not block.
	OnEvent        func(schemas.ModelEvent)
	StopAtEnd      bool
	MaxPollRecords int
	Logger         *slog.Logger
}

// Decider is the promotion decider. Create it with New and call Run once.
type Decider struct {
	cfg       Config
	daysTopic string
	// zones are the regions' time zones, resolved once (read-only after
	// New: the collector tasks share them).
	zones   map[string]*time.Location
	collect *runner.Runner
	decide  *runner.Runner

	mu     sync.Mutex
	events []schemas.ModelEvent // the last MaxEvents committed events, for the CLI and tests
}

// CollectChangelog is the collector stage's state changelog.
func CollectChangelog(t schemas.TopicSet) string { return t.Internal("promoter", "changelog") }

// DaysTopic is the single-partition topic of complete region-days.
func DaysTopic(t schemas.TopicSet) string { return t.Internal("promoter", "days") }

// DecideChangelog is the decider stage's state changelog.
func DecideChangelog(t schemas.TopicSet) string { return t.Internal("promoter", "decisions") }

// Topics returns the topics the decider needs, including its own.
func Topics(t schemas.TopicSet, partitions int32) []schemas.TopicSpec {
	return append(t.Specs(partitions, 0),
		schemas.TopicSpec{Name: CollectChangelog(t), Partitions: partitions, Retention: -1, Compacted: true,
			Key: "region|d|model|issue", Description: "promotion collector state (compacted)"},
		schemas.TopicSpec{Name: DaysTopic(t), Partitions: 1, Retention: 28 * 24 * time.Hour,
			Key: dayKey, Description: "complete region-days of model errors, for the single promotion decider"},
		schemas.TopicSpec{Name: DecideChangelog(t), Partitions: 1, Retention: -1, Compacted: true,
			Key: "kind|...", Description: "promotion decider state (compacted)"})
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
	zones, err := resolveZones(cfg.Regions)
	if err != nil {
		return nil, err
	}
	d := &Decider{cfg: cfg, daysTopic: DaysTopic(cfg.Topics), zones: zones}
	txID := func(group string) string {
		if cfg.InstanceID == "" {
			return "" // the runner's default: group-hostname
		}
		return group + "-" + cfg.InstanceID
	}
	d.collect, err = runner.New(runner.Config{
		Kafka: cfg.Kafka, Group: cfg.Group, Inputs: []string{cfg.Topics.ErrorsChampion, cfg.Topics.ErrorsChallenger},
		Schemas:   map[string]string{cfg.Topics.ErrorsChampion: schemas.SchemaForecastError, cfg.Topics.ErrorsChallenger: schemas.SchemaForecastError},
		Changelog: CollectChangelog(cfg.Topics), DeadLetters: cfg.Topics.DeadLetters, Stage: "promoter", Producer: cfg.Producer,
		NewTask: d.newCollector, TransactionalID: txID(cfg.Group), StopAtEnd: cfg.StopAtEnd,
		MaxPollRecords: cfg.MaxPollRecords, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	d.decide, err = runner.New(runner.Config{
		Kafka: cfg.Kafka, Group: cfg.Group + "-decide", Inputs: []string{d.daysTopic},
		Changelog: DecideChangelog(cfg.Topics), DeadLetters: cfg.Topics.DeadLetters, Stage: "promoter-decide", Producer: cfg.Producer,
		NewTask: d.newDecider, TransactionalID: txID(cfg.Group + "-decide"), StopAtEnd: cfg.StopAtEnd,
		MaxPollRecords: cfg.MaxPollRecords, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// resolveZones loads the time zone of every region of
// features.DefaultRegions and extra, so that a bad zone fails New rather
// than a running stage.
func resolveZones(extra map[string]features.Region) (map[string]*time.Location, error) {
	regions := features.DefaultRegions()
	for k, v := range extra {
		regions[k] = v
	}
	byName := map[string]*time.Location{}
	zones := make(map[string]*time.Location, len(regions))
	for id, r := range regions {
		loc, ok := byName[r.Zone]
		if !ok {
			var err error
			if loc, err = time.LoadLocation(r.Zone); err != nil {
				return nil, fmt.Errorf("promotion: region %s: %w", id, err)
			}
			byName[r.Zone] = loc
		}
		zones[id] = loc
	}
	return zones, nil
}

// dayHours returns how many hours the local day holding hour h (Unix
// seconds) has in region's zone: 23, 24 or 25 around a clock change. As
// the scorer counts them (scorer's hoursIn), so that a day is complete
// exactly when the scorer has scored all of it. Without a zone, 24.
func (d *Decider) dayHours(region string, h int64) int {
	loc := d.zones[region]
	if loc == nil {
		return defaultDayHours
	}
	l := time.Unix(h, 0).In(loc)
	start := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	return int(start.AddDate(0, 0, 1).Sub(start).Hours())
}

// Run runs both stages until ctx is done (or, with StopAtEnd, until the
// input present at start is consumed: the collector first, then the
// decider over what the collector wrote).
func (d *Decider) Run(ctx context.Context) error {
	if d.cfg.StopAtEnd {
		if err := d.collect.Run(ctx); err != nil {
			return err
		}
		return d.decide.Run(ctx)
	}
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { return d.collect.Run(ctx) })
	eg.Go(func() error { return d.decide.Run(ctx) })
	return eg.Wait()
}

// RunnerStats returns the counters of the two stages' runners.
func (d *Decider) RunnerStats() (collect, decide runner.Stats) {
	return d.collect.Stats(), d.decide.Stats()
}

// MaxEvents is how many of its committed events a Decider keeps for
// Events; the model-events topic has them all.
const MaxEvents = 1000

// Events returns the model events this instance committed, oldest first
// (the last MaxEvents).
func (d *Decider) Events() []schemas.ModelEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.events)
}
