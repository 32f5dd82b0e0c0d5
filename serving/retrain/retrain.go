// Package retrain closes the loop: it trains new models from the lake and
// registers them as challengers, on a schedule and when the champion's
// accuracy degrades.
//
// Both triggers write a retrain_requested model event; a Worker acts on
// them. The schedule is a cron expression (robfig/cron syntax, with an
// optional CRON_TZ= prefix); at each tick, every scorer instance tries to
// claim the tick with a conditional write in the object store, and only the
// winner writes the request, so several instances request one retraining.
// A winner that cannot write the request releases the claim and retries
// until the next tick; the request's id is the tick's, and the worker skips
// a request already done, so writing it twice does not train twice.
// The degradation trigger is the promotion decider's (package promotion),
// which writes the request in its own transaction.
//
// The Worker reads the model-events topic in a consumer group (the topic
// has one partition: one worker acts at a time), trains through a Trainer,
// moves the new candidates to challenger in one stage-log record, writes a
// registered event for each version it moved and only then commits the
// request's offset. A request already done (a marker object per request id)
// is skipped, so a redelivered request does not train twice; a worker that
// dies mid-training trains again, which at worst registers an extra
// challenger that the decider tests like any other. A request that fails
// MaxAttempts times is given up (a log line, a dead letter with the last
// error, the done marker) and committed, so that it does not block the
// requests after it.
package retrain

import (
	"context"
	"encoding/json"
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
	// Delete releases a claim whose request could not be written.
	Delete(ctx context.Context, key string) error
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
	// RetryWait is the wait before retrying a tick whose request could
	// not be written; it doubles up to 30 minutes. Default 1 minute.
	RetryWait time.Duration
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
		case <-time.After(next.Sub(now())):
		}
		s.tick(ctx, next, now, log)
	}
}

// tick runs Tick for the tick at t, retrying a failed one (its claim is
// released) until it succeeds, the tick is another instance's, or the next
// tick is due: a failed write must not cost the tick's retraining.
func (s *Scheduler) tick(ctx context.Context, t time.Time, now func() time.Time, log *slog.Logger) {
	wait := s.RetryWait
	if wait <= 0 {
		wait = time.Minute
	}
	following := s.Schedule.Next(t)
	for {
		_, err := s.Tick(ctx, t)
		if err == nil || ctx.Err() != nil {
			return
		}
		if !now().Add(wait).Before(following) {
			log.Error("retrain: scheduled request not written; the next tick requests the next retraining", "tick", t, "err", err)
			return
		}
		log.Warn("retrain: scheduled request failed; retrying", "tick", t, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Minute)
	}
}

// Tick claims the tick at t and, if this instance won it, writes the
// request. It reports whether it did. If the write fails, the claim is
// released so that the tick can be tried again (by Run's retry or any
// instance's Tick), and the error is returned.
func (s *Scheduler) Tick(ctx context.Context, t time.Time) (bool, error) {
	key := claimKey(t)
	won, err := s.Store.PutIfAbsent(ctx, key, []byte(fmt.Sprintf("{\"actor\":%q}\n", s.Actor)))
	if err != nil {
		return false, fmt.Errorf("retrain: claim tick %s: %w", t.Format(time.RFC3339), err)
	}
	if !won {
		return false, nil
	}
	if err := s.write(ctx, t); err != nil {
		// ctx may be what failed the write: release with one of its own.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := s.Store.Delete(rctx, key); derr != nil {
			return false, fmt.Errorf("%w (and the claim of the tick stays: %w)", err, derr)
		}
		return false, err
	}
	return true, nil
}

// write writes the request of the tick at t. Its event id is the tick's:
// written twice (a write that failed only in appearance, then retried), the
// worker trains once.
func (s *Scheduler) write(ctx context.Context, t time.Time) error {
	e := schemas.ModelEvent{EventID: "retrain_requested/schedule/" + t.UTC().Format(time.RFC3339), Time: t.UTC(),
		Type: schemas.EventRetrainRequested, ModelID: "registry", Reason: "scheduled retraining (" + s.Expr + ")", Actor: s.Actor}
	// The champion only labels the request (the worker trains the same
	// either way), so a registry that cannot be listed does not cost it.
	vs, err := s.Registry.List(ctx)
	if err != nil && s.Logger != nil {
		s.Logger.Warn("retrain: the registry could not be listed; the scheduled request names no champion", "tick", t, "err", err)
	}
	for _, v := range vs {
		if v.Stage == catalog.StageChampion {
			e.ModelID, e.ModelVersion, e.ModelKind = v.ID, v.Version, v.Kind
		}
	}
	cl, err := s.Kafka.NewClient()
	if err != nil {
		return fmt.Errorf("retrain: write the request of tick %s: %w", t.Format(time.RFC3339), err)
	}
	defer cl.Close()
	rec, err := kafka.NewRecord(s.Topics.ModelEvents, e.ModelID, &e, s.Producer)
	if err != nil {
		return fmt.Errorf("retrain: write the request of tick %s: %w", t.Format(time.RFC3339), err)
	}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("retrain: write the request of tick %s: %w", t.Format(time.RFC3339), err)
	}
	return nil
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
	// MaxAttempts is how many times a request is tried before it is given
	// up; default DefaultMaxAttempts. RetryWait is the wait after the
	// first failed attempt, growing by as much after each (at most 30
	// minutes); default 1 minute.
	MaxAttempts int
	RetryWait   time.Duration

	mu   sync.Mutex
	done []schemas.ModelEvent // registered events written
}

// DefaultGroup is the worker's consumer group.
const DefaultGroup = "wattcast-retrainer"

// DefaultMaxAttempts is Worker.MaxAttempts' default: with the default
// waits, a request that keeps failing is given up after about 10 minutes.
const DefaultMaxAttempts = 5

// stage names the worker in its dead letters.
const stage = "retrainer"

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
			if !w.process(ctx, cl, r, e, log) {
				return nil
			}
			if err := cl.CommitRecords(ctx, r); err != nil {
				log.Warn("retrain: commit failed; the request may be seen again (and skipped as done)", "err", err)
			}
		}
	}
}

// process handles request req (record r), retrying a failed attempt, and
// gives it up after MaxAttempts. It returns false when ctx is done (the
// request is then not committed: the next owner of the group does it).
func (w *Worker) process(ctx context.Context, cl *kgo.Client, r *kgo.Record, req schemas.ModelEvent, log *slog.Logger) bool {
	maxAttempts := w.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	unit := w.RetryWait
	if unit <= 0 {
		unit = time.Minute
	}
	for attempt := 1; ; attempt++ {
		err := w.handle(ctx, req, cl, log)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if attempt >= maxAttempts {
			w.giveUp(ctx, cl, r, req, attempt, err, log)
			return true
		}
		wait := min(time.Duration(attempt)*unit, 30*time.Minute)
		log.Warn("retrain: retraining failed; retrying", "request", req.EventID, "attempt", attempt, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

// giveUp records why request req (record r) is dropped after attempts
// failed attempts, the last with cause: an ERROR log line, a dead letter
// (the request, with the error) and the done marker holding the reason, so
// that a redelivery is skipped too. A failure to record is logged, not
// retried: the request is committed anyway, since holding it would block
// every later request (the log line still says why).
func (w *Worker) giveUp(ctx context.Context, cl *kgo.Client, r *kgo.Record, req schemas.ModelEvent, attempts int, cause error, log *slog.Logger) {
	why := fmt.Errorf("retrain: gave up on request %s after %d attempts: %w", req.EventID, attempts, cause)
	log.Error("retrain: request given up; it will not be retried", "request", req.EventID, "attempts", attempts, "err", cause)
	dl := kafka.NewDeadLetter(w.Topics.DeadLetters, r, schemas.ReasonInvalid, why, stage, w.Producer, time.Now())
	if err := cl.ProduceSync(ctx, dl).FirstErr(); err != nil {
		log.Error("retrain: could not write the dead letter of a given-up request", "request", req.EventID, "err", err)
	} else {
		kafka.LogDeadLetters(ctx, log, w.Topics.DeadLetters, map[string]int{schemas.ReasonInvalid: 1})
	}
	marker, _ := json.Marshal(map[string]any{"gave_up": why.Error(), "attempts": attempts})
	if _, err := w.Store.PutIfAbsent(ctx, doneKey(req.EventID), append(marker, '\n')); err != nil {
		log.Error("retrain: could not mark a given-up request done", "request", req.EventID, "err", err)
	}
}

func (w *Worker) handle(ctx context.Context, req schemas.ModelEvent, cl *kgo.Client, log *slog.Logger) error {
	if _, err := w.Store.Get(ctx, doneKey(req.EventID)); err == nil {
		return nil // done (or given up) before a crash or a rebalance
	}
	vs, err := w.Trainer.Train(ctx, req)
	if err != nil {
		return fmt.Errorf("retrain: train: %w", err)
	}
	reason := "retrained (" + req.Reason + "); registered as a challenger"
	moved, err := w.toChallenger(ctx, vs, reason+" on request "+req.EventID, log)
	if err != nil {
		return err
	}
	var recs []*kgo.Record
	var evs []schemas.ModelEvent
	for _, v := range moved {
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

// toChallenger moves the new versions vs from candidate to challenger in
// one stage-log record, so that a crash leaves all of them moved or none.
// The record is conditional: if someone moved one of them first (a
// conflict, nothing written), the versions still candidates are moved in
// one record and the others left where they are. It returns the versions
// it moved: the only ones a registered event may be written for.
func (w *Worker) toChallenger(ctx context.Context, vs []catalog.Version, reason string, log *slog.Logger) ([]catalog.Version, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	move := func(vs []catalog.Version) error {
		moves := make([]catalog.StageMove, len(vs))
		for i, v := range vs {
			moves[i] = catalog.StageMove{ID: v.ID, Version: v.Version, From: catalog.StageCandidate, To: catalog.StageChallenger}
		}
		if err := w.Registry.SetStages(ctx, moves, reason); err != nil {
			return fmt.Errorf("retrain: stage %s: %w", catalog.Describe(moves), err)
		}
		return nil
	}
	err := move(vs)
	if err == nil {
		return vs, nil
	}
	if !errors.Is(err, catalog.ErrStageConflict) {
		return nil, err
	}
	all, lerr := w.Registry.List(ctx)
	if lerr != nil {
		return nil, fmt.Errorf("retrain: list the registry after %w: %w", err, lerr)
	}
	stages := make(map[string]string, len(all))
	for _, v := range all {
		stages[v.Key()] = v.Stage
	}
	var still []catalog.Version
	for _, v := range vs {
		if st := stages[v.Key()]; st != catalog.StageCandidate {
			log.Warn("retrain: a new version was moved by someone else first; left as it is", "version", v.Key(), "stage", st)
			continue
		}
		still = append(still, v)
	}
	if len(still) == 0 {
		return nil, nil
	}
	if err := move(still); err != nil {
		return nil, err
	}
	return still, nil
}

func isNaN(f float64) bool { return f != f }
