// Package scorer is the scoring consumer. It reads the features topic on the
// exactly-once runner and, for every region and delivery day:
//
//   - when the day's ready rows are complete (its inputs are known), it asks
//     the champion and every challenger for a forecast and writes them to
//     the forecasts topic;
//   - when a final row (the actual price of an hour) arrives, it writes each
//     open forecast's error for that hour to the champion or challenger
//     error topic.
//
// Its state (recent final rows, buffered ready rows, forecasts waiting for
// their actuals) lives in a changelog, so a restarted scorer neither loses
// nor repeats a forecast or an error.
package scorer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/runner"
	"github.com/wattcast/wattcast/training/models"
)

// DefaultGroup is the scorer's consumer group.
const DefaultGroup = "wattcast-scorer"

// Predictor is what the scorer needs of a model.
type Predictor interface {
	HistoryDays() int
	Predict(day models.Day) ([]float64, error)
}

// Deployed is a model serving one region in a role.
type Deployed struct {
	ID, Version, Kind string
	// Role is schemas.RoleChampion or schemas.RoleChallenger.
	Role  string
	Model Predictor
	// Interval returns the offsets from the point forecast of the central
	// prediction interval at level Level for a target row (by local hour),
	// or ok false when the model has none.
	Interval func(localHour int) (lo, hi float64, ok bool)
	Level    float64
}

// Catalog says which models serve a region. The registry implements it;
// it must be safe for concurrent use and cheap to call for every forecast.
type Catalog interface {
	Deployed(ctx context.Context, region string) ([]Deployed, error)
}

// A/B modes.
const (
	// ModeShadow: the champion's forecast is official everywhere; every
	// challenger forecasts too, in the shadows.
	ModeShadow = "shadow"
	// ModeSplit: a stable hash of the region sends SplitShare of the
	// regions to the first challenger's forecast as the official one.
	ModeSplit = "split"
)

// Config configures a Scorer.
type Config struct {
	Kafka   kafka.Config
	Topics  schemas.TopicSet
	Catalog Catalog
	// Regions gives each region's zone, to know how many hours its days
	// have; default features.DefaultRegions.
	Regions map[string]features.Region
	// ForecastFrom skips days issued before this time (their rows still
	// build up history), so a new scorer need not forecast all of history.
	// ForecastFromByRegion overrides it per region.
	ForecastFrom         time.Time
	ForecastFromByRegion map[string]time.Time
	// Mode is ModeShadow (default) or ModeSplit with SplitShare in [0,1].
	Mode       string
	SplitShare float64
	// HistoryDays of final rows kept per region; default 8 (the models need
	// 7 days before the target day).
	HistoryDays    int
	Group          string
	Producer       string
	Logger         *slog.Logger
	StopAtEnd      bool
	MaxPollRecords int
}

// Scorer is the scoring consumer. Create it with New and call Run once.
type Scorer struct {
	cfg Config
	r   *runner.Runner

	mu  sync.Mutex
	acc map[accKey]*Accuracy
	st  Stats
}

// Stats counts what the scorer did.
type Stats struct {
	Forecasts   int64 // forecast records emitted
	Errors      int64 // error records emitted
	ModelErrors int64 // forecasts a model failed to make
	NoModel     int64 // days with no deployed model
	NoOfficial  int64 // days forecast with none official (no champion deployed)
}

// ChangelogTopic is the scorer's state changelog for a topic set.
func ChangelogTopic(t schemas.TopicSet) string { return t.Internal("scorer", "changelog") }

// Topics returns the topics the scorer needs, including its changelog.
func Topics(t schemas.TopicSet, partitions int32) []schemas.TopicSpec {
	return append(t.Specs(partitions, 0), schemas.TopicSpec{Name: ChangelogTopic(t), Partitions: partitions,
		Retention: -1, Compacted: true, Key: "region/kind/id", Description: "scorer state (compacted)"})
}

// New checks cfg and returns a scorer. It does not connect.
func New(cfg Config) (*Scorer, error) {
	if cfg.Catalog == nil {
		return nil, errors.New("scorer: a model catalog is required")
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeShadow
	}
	if cfg.Mode != ModeShadow && cfg.Mode != ModeSplit {
		return nil, fmt.Errorf("scorer: mode %q: want shadow or split", cfg.Mode)
	}
	if cfg.SplitShare < 0 || cfg.SplitShare > 1 {
		return nil, fmt.Errorf("scorer: split share %g is not in [0, 1]", cfg.SplitShare)
	}
	if cfg.HistoryDays == 0 {
		cfg.HistoryDays = 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	regions := features.DefaultRegions()
	for k, v := range cfg.Regions {
		regions[k] = v
	}
	cfg.Regions = regions
	s := &Scorer{cfg: cfg, acc: map[accKey]*Accuracy{}}
	r, err := runner.New(runner.Config{
		Kafka:          cfg.Kafka,
		Group:          cfg.Group,
		Inputs:         []string{cfg.Topics.Features},
		Schemas:        map[string]string{cfg.Topics.Features: schemas.SchemaFeatureRow},
		Changelog:      ChangelogTopic(cfg.Topics),
		DeadLetters:    cfg.Topics.DeadLetters,
		Stage:          "scorer",
		Producer:       cfg.Producer,
		NewTask:        s.newTask,
		StopAtEnd:      cfg.StopAtEnd,
		MaxPollRecords: cfg.MaxPollRecords,
		Logger:         cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.r = r
	return s, nil
}

// Run scores until ctx is done (or, with StopAtEnd, the features present at
// start are consumed).
func (s *Scorer) Run(ctx context.Context) error { return s.r.Run(ctx) }

// RunnerStats returns the underlying runner's counters.
func (s *Scorer) RunnerStats() runner.Stats { return s.r.Stats() }

// Stats returns the scorer's counters of committed work.
func (s *Scorer) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

type accKey struct{ Region, ModelID, Version, Role string }

// Accuracy sums one model's errors in one region since the scorer started.
type Accuracy struct {
	Region, ModelID, Version, Kind, Role string
	// N hours scored, with the model's absolute errors summing to SumAbs.
	N      int
	SumAbs float64
	// NaiveN of those hours have a weekly naive forecast: on them the
	// model's absolute errors sum to SumAbsWithNaive and the naive
	// forecast's to SumAbsNaive.
	NaiveN                       int
	SumAbsWithNaive, SumAbsNaive float64
}

// MAE is the mean absolute error over every scored hour.
func (a Accuracy) MAE() float64 { return a.SumAbs / float64(a.N) }

// RMAE is the MAE over the weekly naive forecast's MAE on the same hours:
// only those that have a naive forecast, so that an hour without one (the
// first week of a region) counts in neither.
func (a Accuracy) RMAE() float64 {
	if a.NaiveN == 0 || a.SumAbsNaive == 0 {
		return math.NaN()
	}
	return a.SumAbsWithNaive / a.SumAbsNaive
}

// Accuracy returns the accumulated accuracy per region and model.
func (s *Scorer) Accuracy() []Accuracy {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Accuracy, 0, len(s.acc))
	for _, a := range s.acc {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Accuracy) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Role, b.Role), cmp.Compare(a.ModelID, b.ModelID))
	})
	return out
}

func (s *Scorer) newTask(p int32) (runner.Task, error) {
	return &task{s: s, history: map[string]map[string][]schemas.FeatureRow{}, ready: map[string]map[string][]schemas.FeatureRow{},
		open: map[string]*schemas.Forecast{}, dirty: map[string]bool{}, infos: map[string]*dayInfo{}}, nil
}

// task is the scorer state of one partition. Changelog keys:
// "<region>|h|<date>" final rows of a day, "<region>|r|<date>" ready rows of
// a day not yet complete, "f|<forecast id>" a forecast's unscored points.
type task struct {
	s       *Scorer
	history map[string]map[string][]schemas.FeatureRow
	ready   map[string]map[string][]schemas.FeatureRow
	open    map[string]*schemas.Forecast
	dirty   map[string]bool
	infos   map[string]*dayInfo
	pending pendingStats
}

type pendingStats struct {
	st  Stats
	acc []schemas.ForecastError
}

type dayInfo struct{ loc *time.Location }

func (t *task) Restore(key string, value []byte) error {
	parts := strings.SplitN(key, "|", 3)
	switch {
	case len(parts) == 2 && parts[0] == "f":
		if value == nil {
			delete(t.open, parts[1])
			return nil
		}
		var f schemas.Forecast
		if err := json.Unmarshal(value, &f); err != nil {
			return fmt.Errorf("scorer: restore %s: %w", key, err)
		}
		t.open[parts[1]] = &f
	case len(parts) == 3 && (parts[1] == "h" || parts[1] == "r"):
		m := t.history
		if parts[1] == "r" {
			m = t.ready
		}
		if value == nil {
			delete(m[parts[0]], parts[2])
			return nil
		}
		var rows []schemas.FeatureRow
		if err := json.Unmarshal(value, &rows); err != nil {
			return fmt.Errorf("scorer: restore %s: %w", key, err)
		}
		if m[parts[0]] == nil {
			m[parts[0]] = map[string][]schemas.FeatureRow{}
		}
		m[parts[0]][parts[2]] = rows
	default:
		return fmt.Errorf("scorer: unknown changelog key %q", key)
	}
	return nil
}

func (t *task) Changes() ([]runner.KV, error) {
	out, err := runner.JSONChanges(t.dirty, func(k string) any {
		var v any
		parts := strings.SplitN(k, "|", 3)
		switch {
		case parts[0] == "f":
			if f, ok := t.open[parts[1]]; ok {
				v = f
			}
		case parts[1] == "h":
			if rows, ok := t.history[parts[0]][parts[2]]; ok {
				v = rows
			}
		case parts[1] == "r":
			if rows, ok := t.ready[parts[0]][parts[2]]; ok {
				v = rows
			}
		}
		return v
	})
	if err != nil {
		return nil, fmt.Errorf("scorer: %w", err)
	}
	return out, nil
}

// Committed counts the work of the transaction that just committed. (An
// aborted transaction discards the task, and the work is counted when it
// is redone.)
func (t *task) Committed(context.Context) {
	t.s.mu.Lock()
	t.s.st.Forecasts += t.pending.st.Forecasts
	t.s.st.Errors += t.pending.st.Errors
	t.s.st.ModelErrors += t.pending.st.ModelErrors
	t.s.st.NoModel += t.pending.st.NoModel
	t.s.st.NoOfficial += t.pending.st.NoOfficial
	for _, e := range t.pending.acc {
		k := accKey{e.Region, e.ModelID, e.ModelVersion, e.Role}
		a := t.s.acc[k]
		if a == nil {
			a = &Accuracy{Region: e.Region, ModelID: e.ModelID, Version: e.ModelVersion, Kind: e.ModelKind, Role: e.Role}
			t.s.acc[k] = a
		}
		a.N++
		a.SumAbs += e.AbsError
		attrs := []any{"region", e.Region, "model", e.ModelID, "version", e.ModelVersion,
			"role", e.Role, "hour", e.Hour, "abs_error", e.AbsError}
		if e.NaiveWeekly != nil {
			naive := math.Abs(*e.NaiveWeekly - e.Actual)
			a.NaiveN++
			a.SumAbsWithNaive += e.AbsError
			a.SumAbsNaive += naive
			attrs = append(attrs, "naive_abs_error", naive)
		}
		// One line per committed error: CloudWatch metric filters count
		// these for the rMAE alarm (docs/aws.md).
		t.s.cfg.Logger.Info("forecast error", attrs...)
	}
	t.s.mu.Unlock()
	t.pending = pendingStats{}
}

func (t *task) Process(ctx context.Context, recs []*kgo.Record, _ runner.Lag, out *runner.Output) error {
	for _, rec := range recs {
		var row schemas.FeatureRow
		if err := schemas.Decode(rec.Value, &row); err != nil {
			out.DeadLetter(rec, schemas.ReasonOf(err), err)
			continue
		}
		if row.Final {
			if err := t.final(row, out); err != nil {
				return err
			}
			continue
		}
		// A day is complete when it has all its local hours; a row whose
		// day cannot be measured (its region has no zone here) is
		// dead-lettered, or it would stop the scorer at every retry.
		want, err := t.hoursIn(row.Region, row.LocalDate)
		if err != nil {
			out.DeadLetter(rec, schemas.ReasonInvalid, err)
			continue
		}
		if err := t.readyRow(ctx, row, want, out); err != nil {
			return err
		}
	}
	return nil
}

// hoursIn returns the number of hours of a region's local day.
func (t *task) hoursIn(region, date string) (int, error) {
	di := t.infos[region]
	if di == nil {
		r, ok := t.s.cfg.Regions[region]
		if !ok {
			return 0, fmt.Errorf("scorer: region %q has no configured zone, so its days cannot be counted: "+
				"give the scorer the --regions file the processor has", region)
		}
		loc, err := time.LoadLocation(r.Zone)
		if err != nil {
			return 0, fmt.Errorf("scorer: region %s: %w", region, err)
		}
		di = &dayInfo{loc: loc}
		t.infos[region] = di
	}
	d, err := time.ParseInLocation(time.DateOnly, date, di.loc)
	if err != nil {
		return 0, fmt.Errorf("scorer: local date %q: %w", date, err)
	}
	return int(d.AddDate(0, 0, 1).Sub(d).Hours()), nil
}

func (t *task) readyRow(ctx context.Context, row schemas.FeatureRow, want int, out *runner.Output) error {
	r := row.Region
	if t.ready[r] == nil {
		t.ready[r] = map[string][]schemas.FeatureRow{}
	}
	day := t.ready[r][row.LocalDate]
	for _, x := range day {
		if x.Hour.Equal(row.Hour) {
			return nil // a re-delivery; the processor sends each row once
		}
	}
	day = append(day, row)
	t.ready[r][row.LocalDate] = day
	key := r + "|r|" + row.LocalDate
	t.dirty[key] = true
	if len(day) < want {
		return nil
	}
	delete(t.ready[r], row.LocalDate)
	slices.SortFunc(day, func(a, b schemas.FeatureRow) int { return a.Hour.Compare(b.Hour) })
	from, ok := t.s.cfg.ForecastFromByRegion[r]
	if !ok {
		from = t.s.cfg.ForecastFrom
	}
	if day[0].IssueTime.Before(from) {
		return nil
	}
	return t.forecast(ctx, day, out)
}

// forecast asks every model deployed for the region for the day.
func (t *task) forecast(ctx context.Context, day []schemas.FeatureRow, out *runner.Output) error {
	region := day[0].Region
	deployed, err := t.s.cfg.Catalog.Deployed(ctx, region)
	if err != nil {
		return fmt.Errorf("scorer: models for %s: %w", region, err)
	}
	if len(deployed) == 0 {
		t.pending.st.NoModel++
		return nil
	}
	in := models.Day{History: t.historyRows(region), Target: day}
	official := t.official(region, deployed)
	if official < 0 {
		t.pending.st.NoOfficial++
		t.s.cfg.Logger.Warn("the region has no champion (the champion's card does not name it), so none of its forecasts is official; "+
			"promote a champion that serves it", "region", region, "date", day[0].LocalDate, "models", len(deployed))
	}
	for i, d := range deployed {
		vals, err := d.Model.Predict(in)
		if err != nil {
			t.pending.st.ModelErrors++
			var first, last time.Time
			if n := len(in.History); n > 0 {
				first, last = in.History[0].Hour, in.History[n-1].Hour
			}
			t.s.cfg.Logger.Warn("model could not forecast", "region", region, "model", d.ID, "version", d.Version,
				"date", day[0].LocalDate, "history_rows", len(in.History), "history_from", first, "history_to", last, "err", err)
			continue
		}
		f := &schemas.Forecast{
			ForecastID:   fmt.Sprintf("%s/%s/%s/%s", region, d.ID, d.Version, day[0].IssueTime.UTC().Format(time.RFC3339)),
			Region:       region,
			Market:       day[0].Market,
			Unit:         day[0].Unit,
			ModelID:      d.ID,
			ModelVersion: d.Version,
			ModelKind:    d.Kind,
			Role:         d.Role,
			Official:     i == official,
			IssueTime:    day[0].IssueTime,
			LocalDate:    day[0].LocalDate,
			// The issue time, not the wall clock, so that a replayed
			// forecast is byte-identical to the original.
			CreatedAt: day[0].IssueTime,
		}
		for i, row := range day {
			p := schemas.ForecastPoint{Hour: row.Hour, LeadHours: row.LeadHours, Value: vals[i]}
			if d.Interval != nil {
				if lo, hi, ok := d.Interval(row.LocalHour); ok {
					q := (1 - d.Level) / 2
					p.Quantiles = []schemas.Quantile{{Q: q, Value: vals[i] + lo}, {Q: 1 - q, Value: vals[i] + hi}}
				}
			}
			f.Points = append(f.Points, p)
		}
		rec, err := kafka.NewRecord(t.s.cfg.Topics.Forecasts, region, f, t.s.cfg.Producer)
		if err != nil {
			t.pending.st.ModelErrors++
			t.s.cfg.Logger.Warn("model forecast rejected", "region", region, "model", d.ID, "err", err)
			continue
		}
		out.Emit(rec)
		t.pending.st.Forecasts++
		t.open[f.ForecastID] = f
		t.dirty["f|"+f.ForecastID] = true
	}
	return nil
}

// official returns the index of the deployed model whose forecast is
// official: the champion, or in split mode the first challenger for the
// regions routed to it. It returns -1 (no forecast is official) when the
// region has no champion and is not routed to a challenger: a challenger
// is unproven, and in shadow mode must never be what users act on.
func (t *task) official(region string, ds []Deployed) int {
	champ, chall := -1, -1
	for i := range ds {
		switch {
		case ds[i].Role == schemas.RoleChampion && champ < 0:
			champ = i
		case ds[i].Role == schemas.RoleChallenger && chall < 0:
			chall = i
		}
	}
	if t.s.cfg.Mode == ModeSplit && chall >= 0 && inSplit(region, t.s.cfg.SplitShare) {
		return chall
	}
	return champ
}

// inSplit routes a stable share of regions: the FNV-1a hash of the region id
// modulo 10000 below share*10000.
func inSplit(region string, share float64) bool {
	h := fnv.New32a()
	h.Write([]byte(region))
	return float64(h.Sum32()%10000) < share*10000
}

func (t *task) historyRows(region string) []schemas.FeatureRow {
	days := make([]string, 0, len(t.history[region]))
	for d := range t.history[region] {
		days = append(days, d)
	}
	slices.Sort(days)
	var rows []schemas.FeatureRow
	for _, d := range days {
		rows = append(rows, t.history[region][d]...)
	}
	slices.SortFunc(rows, func(a, b schemas.FeatureRow) int { return a.Hour.Compare(b.Hour) })
	return rows
}

// final records an actual price: it scores every open forecast of the
// region for that hour and keeps the row as history.
func (t *task) final(row schemas.FeatureRow, out *runner.Output) error {
	r := row.Region
	if t.history[r] == nil {
		t.history[r] = map[string][]schemas.FeatureRow{}
	}
	day := t.history[r][row.LocalDate]
	for _, x := range day {
		if x.Hour.Equal(row.Hour) {
			return nil
		}
	}
	t.history[r][row.LocalDate] = append(day, row)
	t.dirty[r+"|h|"+row.LocalDate] = true
	// Keep HistoryDays local dates.
	if len(t.history[r]) > t.s.cfg.HistoryDays {
		days := make([]string, 0, len(t.history[r]))
		for d := range t.history[r] {
			days = append(days, d)
		}
		slices.Sort(days)
		for _, d := range days[:len(days)-t.s.cfg.HistoryDays] {
			delete(t.history[r], d)
			t.dirty[r+"|h|"+d] = true
		}
	}

	ids := make([]string, 0)
	for id, f := range t.open {
		if f.Region == r {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		f := t.open[id]
		i := slices.IndexFunc(f.Points, func(p schemas.ForecastPoint) bool { return p.Hour.Equal(row.Hour) })
		if i < 0 {
			continue
		}
		p := f.Points[i]
		actual := *row.Price
		e := schemas.ForecastError{
			ForecastID: f.ForecastID, Region: r, Market: f.Market, Unit: f.Unit,
			ModelID: f.ModelID, ModelVersion: f.ModelVersion, ModelKind: f.ModelKind, Role: f.Role, Official: f.Official,
			IssueTime: f.IssueTime, Hour: p.Hour, LeadHours: p.LeadHours,
			Forecast: p.Value, Actual: actual, Error: p.Value - actual, AbsError: math.Abs(p.Value - actual),
			NaiveWeekly: row.PriceLag168h,
		}
		if len(p.Quantiles) == 2 {
			lo, hi := p.Quantiles[0].Value, p.Quantiles[1].Value
			level := p.Quantiles[1].Q - p.Quantiles[0].Q
			covered := actual >= lo && actual <= hi
			e.Lower, e.Upper, e.IntervalLevel, e.Covered = &lo, &hi, &level, &covered
		}
		topic := t.s.cfg.Topics.ErrorsChallenger
		if f.Role == schemas.RoleChampion {
			topic = t.s.cfg.Topics.ErrorsChampion
		}
		rec, err := kafka.NewRecord(topic, r, &e, t.s.cfg.Producer)
		if err != nil {
			return fmt.Errorf("scorer: encode error of %s at %s: %w", id, p.Hour.Format(time.RFC3339), err)
		}
		out.Emit(rec)
		t.pending.st.Errors++
		t.pending.acc = append(t.pending.acc, e)
		f.Points = slices.Delete(f.Points, i, i+1)
		if len(f.Points) == 0 {
			delete(t.open, id)
		}
		t.dirty["f|"+id] = true
	}
	return nil
}
