// Package retrain closes the loop: it trains new models from the lake and
// registers them as challengers, on a schedule and when the champion's
// accuracy degrades.
//
// Both triggers write a retrain_requested model event; a Worker acts on
// them. The schedule is a cron expression (robfig/cron syntax, with an
// optional CRON_TZ= prefix); at each tick, every scorer instance tries to
// claim the tick with a conditional write in the object store, and only the
// winner writes the request, so several instances request one retraining.
// The degradation trigger is the promotion decider's (package promotion),
// which writes the request in its own transaction.
//
// The Worker reads the model-events topic in a consumer group (the topic
// has one partition: one worker acts at a time), trains through a Trainer,
// moves the new candidates to challenger in the registry, writes a
// registered event for each and only then commits the request's offset. A
// request already done (a marker object per request id) is skipped, so a
// redelivered request does not train twice; a worker that dies mid-training
// trains again, which at worst registers an extra challenger that the
// decider tests like any other.
package retrain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/streams/kafka"
)

// Store is the object store used for claims and done-markers;
// *lake.Bucket satisfies it.
type Store interface {
	PutIfAbsent(ctx context.Context, key string, data []byte) (bool, error)
	Get(ctx context.Context, key string) ([]byte, error)
}

// Trainer trains new versions from the lake and registers them as
// candidates, returning them. cmd/wattcast adapts training.Train.
type Trainer interface {
	Train(ctx context.Context, req schemas.ModelEvent) ([]catalog.Version, error)
}

// TrainerFunc adapts a function to Trainer.
type TrainerFunc func(ctx context.Context, req schemas.ModelEvent) ([]catalog.Version, error)

// Train implements Trainer.
func (f TrainerFunc) Train(ctx context.Context, req schemas.ModelEvent) ([]catalog.Version, error) {
	return f(ctx, req)
}

// Schedule says when the next scheduled retraining is.
type Schedule = cron.Schedule

// ParseSchedule parses a cron expression: five fields (minute hour
// day-of-month month day-of-week), a descriptor such as @daily or @every
// 6h, optionally prefixed with CRON_TZ=Europe/Helsinki.
func ParseSchedule(expr string) (Schedule, error) {
	s, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, fmt.Errorf("retrain: schedule %q: %w (want e.g. \"0 3 * * 1\" for Mondays at 03:00 UTC)", expr, err)
	}
	return s, nil
}

// Scheduler writes a retrain_requested event at each tick of a schedule,
// once across all instances.
type Scheduler struct {
	Schedule Schedule
	// Expr is the schedule's text, for the event's reason.
	Expr     string
	Store    Store
	Kafka    kafka.Config
	Topics   schemas.TopicSet
	Registry catalog.Registry
	Producer string
	Actor    string
	Logger   *slog.Logger
	// Now is the wall clock; default time.Now.
	Now func() time.Time
}

// claimKey is the object claimed for the tick at t.
func claimKey(t time.Time) string {
	return "serving/retrain/ticks/" + t.UTC().Format(time.RFC3339) + ".json"
}

// doneKey marks a request as done.
func doneKey(eventID string) string {
	return "serving/retrain/done/" + strings.NewReplacer("/", "_", ":", "-").Replace(eventID) + ".json"
}

// Run waits for each tick until ctx is done.
func (s *Scheduler) Run(ctx context.Context) error {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		next := s.Schedule.Next(now())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(next)):
		}
		if _, err := s.Tick(ctx, next); err != nil && ctx.Err() == nil {
			log.Warn("retrain: scheduled request failed; waiting for the next tick", "tick", next, "err", err)
		}
	}
}

// Tick claims the tick at t and, if this instance won it, writes the
// request. It reports whether it did.
func (s *Scheduler) Tick(ctx context.Context, t time.Time) (bool, error) {
	won, err := s.Store.PutIfAbsent(ctx, claimKey(t), []byte(fmt.Sprintf("{\"actor\":%q}\n", s.Actor)))
	if err != nil {
		return false, fmt.Errorf("retrain: claim tick %s: %w", t.Format(time.RFC3339), err)
	}
	if !won {
		return false, nil
	}
	e := schemas.ModelEvent{EventID: "retrain_requested/schedule/" + t.UTC().Format(time.RFC3339), Time: t.UTC(),
		Type: schemas.EventRetrainRequested, ModelID: "registry", Reason: "scheduled retraining (" + s.Expr + ")", Actor: s.Actor}
	if vs, err := s.Registry.List(ctx); err == nil {
		for _, v := range vs {
			if v.Stage == catalog.StageChampion {
				e.ModelID, e.ModelVersion, e.ModelKind = v.ID, v.Version, v.Kind
			}
		}
	}
	cl, err := s.Kafka.NewClient()
	if err != nil {
		return false, err
	}
	defer cl.Close()
	rec, err := kafka.NewRecord(s.Topics.ModelEvents, e.ModelID, &e, s.Producer)
	if err != nil {
		return false, err
	}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return false, fmt.Errorf("retrain: write the request: %w", err)
	}
	return true, nil
}

// Worker acts on retrain_requested events.
type Worker struct {
	Kafka    kafka.Config
	Topics   schemas.TopicSet
	Group    string
	Trainer  Trainer
	Registry catalog.Registry
	Store    Store
	Producer string
	Actor    string
	Logger   *slog.Logger
	// FromStart makes a new group start at the beginning of the topic
	// instead of its end (tests, or a deliberate replay of requests).
	FromStart bool

	mu   sync.Mutex
	done []schemas.ModelEvent // registered events written
}

// DefaultGroup is the worker's consumer group.
const DefaultGroup = "wattcast-retrainer"

// Registered returns the registered events this worker wrote.
func (w *Worker) Registered() []schemas.ModelEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]schemas.ModelEvent(nil), w.done...)
}

// Run consumes requests until ctx is done. A new group starts at the end of
// the topic: a fresh deployment does not act on old requests.
func (w *Worker) Run(ctx context.Context) error {
	if w.Trainer == nil || w.Registry == nil || w.Store == nil {
		return errors.New("retrain: a trainer, a registry and a store are required")
	}
	group := w.Group
	if group == "" {
		group = DefaultGroup
	}
	log := w.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reset := kgo.NewOffset().AtEnd()
	if w.FromStart {
		reset = kgo.NewOffset().AtStart()
	}
	cl, err := w.Kafka.NewClient(kgo.ConsumerGroup(group), kgo.ConsumeTopics(w.Topics.ModelEvents),
		kgo.ConsumeResetOffset(reset), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit())
	if err != nil {
		return fmt.Errorf("retrain: %w", err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := kafka.Refused(fs); err != nil {
			return fmt.Errorf("retrain: %w", err)
		}
		fs.EachError(func(t string, p int32, err error) {
			log.Warn("retrain: fetch error", "topic", t, "partition", p, "err", err)
		})
		for _, r := range fs.Records() {
			var e schemas.ModelEvent
			if err := schemas.Decode(r.Value, &e); err != nil || e.Type != schemas.EventRetrainRequested {
				continue // other events, and bad ones (the decider's problem)
			}
			for attempt := 1; ; attempt++ {
				err := w.handle(ctx, e, cl)
				if err == nil || ctx.Err() != nil {
					break
				}
				wait := min(time.Duration(attempt)*time.Minute, 30*time.Minute)
				log.Warn("retrain: retraining failed; retrying", "request", e.EventID, "err", err, "in", wait)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(wait):
				}
			}
			if ctx.Err() != nil {
				return nil
			}
			if err := cl.CommitRecords(ctx, r); err != nil {
				log.Warn("retrain: commit failed; the request may be seen again (and skipped as done)", "err", err)
			}
		}
	}
}

func (w *Worker) handle(ctx context.Context, req schemas.ModelEvent, cl *kgo.Client) error {
	if _, err := w.Store.Get(ctx, doneKey(req.EventID)); err == nil {
		return nil // done before a crash or a rebalance
	}
	vs, err := w.Trainer.Train(ctx, req)
	if err != nil {
		return fmt.Errorf("retrain: train: %w", err)
	}
	var recs []*kgo.Record
	var evs []schemas.ModelEvent
	for _, v := range vs {
		moves := []catalog.StageMove{{ID: v.ID, Version: v.Version, From: catalog.StageCandidate, To: catalog.StageChallenger}}
		reason := "retrained (" + req.Reason + "); registered as a challenger"
		if err := w.Registry.SetStages(ctx, moves, reason); err != nil && !errors.Is(err, catalog.ErrStageConflict) {
			return fmt.Errorf("retrain: stage %s: %w", v.Key(), err)
		}
		e := schemas.ModelEvent{EventID: "registered/" + v.Key(), Time: time.Now().UTC(), Type: schemas.EventRegistered,
			ModelID: v.ID, ModelVersion: v.Version, ModelKind: v.Kind, FromStage: catalog.StageCandidate, ToStage: catalog.StageChallenger,
			Reason: reason + " on request " + req.EventID, Actor: w.Actor, Evidence: map[string]float64{}}
		if !isNaN(v.BacktestMAE) {
			e.Evidence["backtest_mae"] = v.BacktestMAE
		}
		if !isNaN(v.BacktestRMAE) {
			e.Evidence["backtest_rmae"] = v.BacktestRMAE
		}
		rec, err := kafka.NewRecord(w.Topics.ModelEvents, v.ID, &e, w.Producer)
		if err != nil {
			return err
		}
		recs = append(recs, rec)
		evs = append(evs, e)
	}
	if len(recs) > 0 {
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("retrain: write registered events: %w", err)
		}
	}
	if _, err := w.Store.PutIfAbsent(ctx, doneKey(req.EventID), []byte("{}\n")); err != nil {
		return fmt.Errorf("retrain: mark %s done: %w", req.EventID, err)
	}
	w.mu.Lock()
	w.done = append(w.done, evs...)
	w.mu.Unlock()
	return nil
}

func isNaN(f float64) bool { return f != f }
