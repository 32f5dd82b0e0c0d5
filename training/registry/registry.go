// Package registry is wattcast's model registry: every trained model is an
// immutable version in an object store (a lake.Bucket: a directory or an S3
// prefix), with its weights and a model card (kind, hyperparameters,
// features, training window, lineage, code version, seed, backtest
// metrics). Models move through stages: candidate, challenger, champion,
// archived.
//
// # Layout
//
//	models/<id>/versions/<0000000001>.json   the card of version 1
//	models/<id>/blobs/<sha256>.json          weights (content-addressed)
//	stages/<0000000001>.json                 the stage log, one record per change
//
// # Several writers
//
// Nothing is ever overwritten. A version number is claimed by writing its
// card with PutIfAbsent (weights go first, under their hash, so a card never
// points at missing or foreign weights); a writer that loses the race takes
// the next number. Stage changes are records of a log, each holding the
// full stage map after its change, also written with PutIfAbsent under the
// next sequence number: two writers deciding at once cannot both win, and
// the loser re-reads and re-checks its expectations (compare-and-set), so a
// promotion is decided exactly once.
package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wattcast/wattcast/training/models"
)

// Store is the object store the registry writes to; *lake.Bucket
// satisfies it. Get of a missing key returns an error wrapping
// fs.ErrNotExist; PutIfAbsent reports whether it created the object.
type Store interface {
	Put(ctx context.Context, key string, data []byte) error
	PutIfAbsent(ctx context.Context, key string, data []byte) (bool, error)
	Get(ctx context.Context, key string) ([]byte, error)
	List(ctx context.Context, prefix string) ([]string, error)
}

// Stages.
const (
	StageCandidate  = "candidate"
	StageChallenger = "challenger"
	StageChampion   = "champion"
	StageArchived   = "archived"
)

var validStage = map[string]bool{StageCandidate: true, StageChallenger: true, StageChampion: true, StageArchived: true}

// Errors.
var (
	// ErrNotFound is returned for a model id or version that does not exist.
	ErrNotFound = errors.New("registry: no such model version")
	// ErrStageConflict is returned by SetStages when a version is no longer
	// in the stage the change expected: another writer changed it first.
	// Re-read the stages and decide again.
	ErrStageConflict = errors.New("registry: stage changed by another writer")
	// ErrCorrupt is returned when stored weights do not match their card.
	ErrCorrupt = errors.New("registry: stored model does not match its card")
)

// Ref names one model version, written ID@VERSION.
type Ref struct {
	ID      string `json:"id"`
	Version string `json:"version"`
}

func (r Ref) String() string { return r.ID + "@" + r.Version }

// ParseRef parses "ID" or "ID@VERSION" (version "" means the latest). The
// version comes back canonical ("lear@03" gives version "3"), the form
// stage records are keyed on.
func ParseRef(s string) (Ref, error) {
	id, v, _ := strings.Cut(s, "@")
	if err := validID(id); err != nil {
		return Ref{}, err
	}
	if v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Ref{}, fmt.Errorf("registry: version %q is not a positive number", v)
		}
		v = strconv.Itoa(n)
	}
	return Ref{ID: id, Version: v}, nil
}

// canonicalVersion reports whether v is written as Register writes
// versions: a positive decimal number without sign or leading zeros.
func canonicalVersion(v string) bool {
	n, err := strconv.Atoi(v)
	return err == nil && n > 0 && strconv.Itoa(n) == v
}

func validID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("registry: model id %q must be 1-64 characters", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("registry: model id %q may hold only letters, digits and - _ . characters", id)
		}
	}
	return nil
}

// Registry reads and writes models in a Store. Safe for concurrent use.
type Registry struct {
	s   Store
	now func() time.Time
}

// Option configures New.
type Option func(*Registry)

// WithClock replaces time.Now for record times (tests).
func WithClock(now func() time.Time) Option { return func(r *Registry) { r.now = now } }

// New returns a registry on s.
func New(s Store, opts ...Option) *Registry {
	r := &Registry{s: s, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	return r
}

func versionKey(id string, v int) string {
	return fmt.Sprintf("models/%s/versions/%010d.json", id, v)
}

// Register stores model (serialised with models.Marshal) and card as the
// next version of card.ID, as a candidate, and returns the card as stored
// (with Version, CreatedAt, Blob, SHA256 and Size set).
func (r *Registry) Register(ctx context.Context, card Card, model []byte) (Card, error) {
	if err := validID(card.ID); err != nil {
		return Card{}, err
	}
	sum := sha256.Sum256(model)
	card.SHA256 = hex.EncodeToString(sum[:])
	card.Size = len(model)
	card.Blob = fmt.Sprintf("models/%s/blobs/%s.json", card.ID, card.SHA256)
	if card.CreatedAt.IsZero() {
		card.CreatedAt = r.now().UTC()
	}
	// Weights first, under their hash: rewriting them is harmless.
	if err := r.s.Put(ctx, card.Blob, model); err != nil {
		return Card{}, fmt.Errorf("registry: store weights of %s: %w", card.ID, err)
	}
	vs, err := r.versionNumbers(ctx, card.ID)
	if err != nil {
		return Card{}, err
	}
	next := 1
	if len(vs) > 0 {
		next = vs[len(vs)-1] + 1
	}
	for attempt := 0; attempt < 100; attempt++ {
		card.Version = strconv.Itoa(next)
		b, err := json.MarshalIndent(card, "", "  ")
		if err != nil {
			return Card{}, fmt.Errorf("registry: encode card: %w", err)
		}
		ok, err := r.s.PutIfAbsent(ctx, versionKey(card.ID, next), b)
		if err != nil {
			return Card{}, fmt.Errorf("registry: store card %s@%d: %w", card.ID, next, err)
		}
		if ok {
			return card, nil
		}
		next++ // another writer took this number
	}
	return Card{}, fmt.Errorf("registry: could not claim a version of %s after 100 tries", card.ID)
}

func (r *Registry) versionNumbers(ctx context.Context, id string) ([]int, error) {
	keys, err := r.s.List(ctx, "models/"+id+"/versions/")
	if err != nil {
		return nil, fmt.Errorf("registry: list versions of %s: %w", id, err)
	}
	var out []int
	for _, k := range keys {
		base := k[strings.LastIndex(k, "/")+1:]
		if n, err := strconv.Atoi(strings.TrimSuffix(base, ".json")); err == nil {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out, nil
}

// IDs lists the model ids, sorted.
func (r *Registry) IDs(ctx context.Context) ([]string, error) {
	keys, err := r.s.List(ctx, "models/")
	if err != nil {
		return nil, fmt.Errorf("registry: list models: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		parts := strings.Split(strings.TrimPrefix(k, "models/"), "/")
		if len(parts) >= 2 && parts[1] == "versions" && !seen[parts[0]] {
			seen[parts[0]] = true
			out = append(out, parts[0])
		}
	}
	sort.Strings(out)
	return out, nil
}

// Versions returns every card of id, oldest first.
func (r *Registry) Versions(ctx context.Context, id string) ([]Card, error) {
	vs, err := r.versionNumbers(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]Card, 0, len(vs))
	for _, v := range vs {
		c, err := r.card(ctx, id, v)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Card returns the card of ref; an empty Version means the latest.
func (r *Registry) Card(ctx context.Context, ref Ref) (Card, error) {
	if ref.Version == "" {
		vs, err := r.versionNumbers(ctx, ref.ID)
		if err != nil {
			return Card{}, err
		}
		if len(vs) == 0 {
			return Card{}, fmt.Errorf("%w: %s", ErrNotFound, ref.ID)
		}
		return r.card(ctx, ref.ID, vs[len(vs)-1])
	}
	v, err := strconv.Atoi(ref.Version)
	if err != nil {
		return Card{}, fmt.Errorf("registry: version %q is not a number", ref.Version)
	}
	return r.card(ctx, ref.ID, v)
}

func (r *Registry) card(ctx context.Context, id string, v int) (Card, error) {
	b, err := r.s.Get(ctx, versionKey(id, v))
	if errors.Is(err, fs.ErrNotExist) {
		return Card{}, fmt.Errorf("%w: %s@%d", ErrNotFound, id, v)
	}
	if err != nil {
		return Card{}, fmt.Errorf("registry: read card %s@%d: %w", id, v, err)
	}
	var c Card
	if err := json.Unmarshal(b, &c); err != nil {
		return Card{}, fmt.Errorf("registry: card %s@%d: %w", id, v, err)
	}
	return c, nil
}

// Model loads and checks the weights of card and returns the model.
func (r *Registry) Model(ctx context.Context, card Card) (models.Model, error) {
	b, err := r.s.Get(ctx, card.Blob)
	if err != nil {
		return nil, fmt.Errorf("registry: read weights of %s@%s: %w", card.ID, card.Version, err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != card.SHA256 {
		return nil, fmt.Errorf("%w: %s@%s weights hash to %x, card says %s", ErrCorrupt, card.ID, card.Version, sum, card.SHA256)
	}
	m, err := models.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("registry: %s@%s: %w", card.ID, card.Version, err)
	}
	return m, nil
}
