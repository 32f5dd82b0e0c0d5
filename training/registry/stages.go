package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// StageChange moves one version to a stage.
type StageChange struct {
	Ref Ref `json:"ref"`
	// From is the stage the version must be in for the change to apply
	// (compare-and-set); "" skips the check. A version never staged is a
	// candidate.
	From string `json:"from,omitempty"`
	To   string `json:"to"`
}

// StageRecord is one entry of the stage log: the changes, why, by whom,
// and every staged version's stage after them.
type StageRecord struct {
	Seq     int               `json:"seq"`
	Time    time.Time         `json:"time"`
	Actor   string            `json:"actor,omitempty"`
	Reason  string            `json:"reason"`
	Changes []StageChange     `json:"changes"`
	Stages  map[string]string `json:"stages"` // "id@version" -> stage
}

// Stage returns ref's stage in the record (candidate if never staged).
func (s *StageRecord) Stage(ref Ref) string {
	if v, ok := s.Stages[ref.String()]; ok {
		return v
	}
	return StageCandidate
}

// In returns the versions in stage, sorted.
func (s *StageRecord) In(stage string) []Ref {
	var out []Ref
	for k, v := range s.Stages {
		if v == stage {
			id, ver, _ := strings.Cut(k, "@")
			out = append(out, Ref{id, ver})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Champion returns the champion, if there is one.
func (s *StageRecord) Champion() (Ref, bool) {
	c := s.In(StageChampion)
	if len(c) == 0 {
		return Ref{}, false
	}
	return c[0], true
}

func stageKey(seq int) string { return fmt.Sprintf("stages/%010d.json", seq) }

// Stages returns the latest stage record (Seq 0 and no stages when nothing
// has ever been staged).
func (r *Registry) Stages(ctx context.Context) (*StageRecord, error) {
	keys, err := r.s.List(ctx, "stages/")
	if err != nil {
		return nil, fmt.Errorf("registry: list stages: %w", err)
	}
	last := 0
	for _, k := range keys {
		base := strings.TrimSuffix(k[strings.LastIndex(k, "/")+1:], ".json")
		if n, err := strconv.Atoi(base); err == nil && n > last {
			last = n
		}
	}
	if last == 0 {
		return &StageRecord{Stages: map[string]string{}}, nil
	}
	b, err := r.s.Get(ctx, stageKey(last))
	if err != nil {
		return nil, fmt.Errorf("registry: read stage record %d: %w", last, err)
	}
	var rec StageRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("registry: stage record %d: %w", last, err)
	}
	if rec.Stages == nil {
		rec.Stages = map[string]string{}
	}
	return &rec, nil
}

// SetStages applies changes atomically, as one record of the stage log,
// and returns that record. Versions must be exact, as registered ("3",
// not "03" or "" for the latest). It fails with ErrStageConflict if a
// change's From no longer holds, and refuses a result with two champions
// (demote the old champion in the same call); when the changes promote
// with a From and the other champion is one they do not mention, the
// stages moved under the caller and that refusal is an ErrStageConflict
// too. If another writer appends first, it re-reads and re-checks, so each
// decision lands once or not at all.
func (r *Registry) SetStages(ctx context.Context, changes []StageChange, reason, actor string) (*StageRecord, error) {
	if len(changes) == 0 {
		return nil, errors.New("registry: no stage change given")
	}
	for _, c := range changes {
		if !validStage[c.To] || (c.From != "" && !validStage[c.From]) {
			return nil, fmt.Errorf("registry: stage change %s %q -> %q: stages are candidate, challenger, champion, archived", c.Ref, c.From, c.To)
		}
		// The stage map is keyed on the ref as written, so "lear@01" or
		// "lear@" (latest) would stage a version under a second name.
		if !canonicalVersion(c.Ref.Version) {
			return nil, fmt.Errorf("registry: stage change of %s: version %q is not a version number as registered (1, 2, ...); name the exact version, e.g. %s@1", c.Ref.ID, c.Ref.Version, c.Ref.ID)
		}
		if _, err := r.Card(ctx, c.Ref); err != nil {
			return nil, err
		}
	}
	for attempt := 0; attempt < 100; attempt++ {
		cur, err := r.Stages(ctx)
		if err != nil {
			return nil, err
		}
		next := &StageRecord{Seq: cur.Seq + 1, Time: r.now().UTC(), Actor: actor, Reason: reason, Changes: changes,
			Stages: make(map[string]string, len(cur.Stages)+len(changes))}
		for k, v := range cur.Stages {
			next.Stages[k] = v
		}
		for _, c := range changes {
			if c.From != "" && cur.Stage(c.Ref) != c.From {
				return nil, fmt.Errorf("%w: %s is %s, not %s", ErrStageConflict, c.Ref, cur.Stage(c.Ref), c.From)
			}
			next.Stages[c.Ref.String()] = c.To
		}
		if champs := next.In(StageChampion); len(champs) > 1 {
			if championRaced(changes, cur) {
				return nil, fmt.Errorf("%w: %v is champion and the change does not move it; re-read the stages and decide again, moving the champion in the same call", ErrStageConflict, untouchedChampions(changes, cur))
			}
			return nil, fmt.Errorf("registry: the change would leave %d champions (%v); move the old champion in the same call", len(champs), champs)
		}
		b, err := json.MarshalIndent(next, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("registry: encode stage record: %w", err)
		}
		ok, err := r.s.PutIfAbsent(ctx, stageKey(next.Seq), b)
		if err != nil {
			return nil, fmt.Errorf("registry: write stage record %d: %w", next.Seq, err)
		}
		if ok {
			return next, nil
		}
		// Another writer appended record Seq first: re-read and re-check.
	}
	return nil, errors.New("registry: stage log kept moving; 100 attempts lost the race")
}

// championRaced reports whether a result with two champions is another
// writer's doing: the changes promote one version with a compare-and-set
// From and leave alone a champion they would have had to move. The caller
// decided on stages read before that champion existed (a concurrent
// bootstrap, say), which is a conflict like a stale From, not a bad call.
func championRaced(changes []StageChange, cur *StageRecord) bool {
	promoted := map[Ref]bool{}
	for _, c := range changes {
		if c.To != StageChampion {
			continue
		}
		if c.From == "" {
			return false // no expectation stated: the caller's own mistake
		}
		promoted[c.Ref] = true
	}
	return len(promoted) == 1 && len(untouchedChampions(changes, cur)) > 0
}

// untouchedChampions returns cur's champions that no change mentions.
func untouchedChampions(changes []StageChange, cur *StageRecord) []Ref {
	var out []Ref
	for _, ch := range cur.In(StageChampion) {
		mentioned := false
		for _, c := range changes {
			mentioned = mentioned || c.Ref == ch
		}
		if !mentioned {
			out = append(out, ch)
		}
	}
	return out
}

// History returns the whole stage log, oldest first.
func (r *Registry) History(ctx context.Context) ([]StageRecord, error) {
	keys, err := r.s.List(ctx, "stages/")
	if err != nil {
		return nil, fmt.Errorf("registry: list stages: %w", err)
	}
	var out []StageRecord
	for _, k := range keys {
		b, err := r.s.Get(ctx, k)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("registry: read %s: %w", k, err)
		}
		var rec StageRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("registry: %s: %w", k, err)
		}
		out = append(out, rec)
	}
	return out, nil
}
