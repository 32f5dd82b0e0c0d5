package lakesink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
)

// DefaultGroup is the lake sink's consumer group.
const DefaultGroup = "wattcast-lakesink"

// Defaults for the zero values of Config.
//
// DefaultMaxBytes (64 MiB) is about what DefaultMaxRows records of the
// features topic come to (1.2 KB each), so it leaves batches of feature,
// price and weather records as DefaultMaxRows cuts them, and stops batches
// of larger records sooner: a model forecast is 4.2 KB, and a forecasts
// batch takes about 16 000 of them rather than 50 000 (BenchmarkJSONToParquet
// measures both, and the Parquet they make: docs/lake.md).
const (
	DefaultMaxRows      = 50_000
	DefaultMaxBytes     = 64 << 20
	DefaultRollInterval = 24 * time.Hour
	DefaultIdleFlush    = time.Minute
	DefaultRetryMin     = 200 * time.Millisecond
	DefaultRetryMax     = 10 * time.Second
	DefaultGiveUpAfter  = 5 * time.Minute
)

// Store is what the sink needs from the object store; *lake.Bucket
// satisfies it.
type Store interface {
	Put(ctx context.Context, key string, data []byte) error
	PutIfAbsent(ctx context.Context, key string, data []byte) (created bool, err error)
	Get(ctx context.Context, key string) ([]byte, error)
	// ListAfter returns the keys under prefix after the key after,
	// sorted. The sink lists a partition's journals past the offset where
	// it resumes it (see partState.ahead).
	ListAfter(ctx context.Context, prefix, after string) ([]string, error)
}

// Config configures a Sink.
type Config struct {
	Kafka kafka.Config
	// Group is the consumer group, default DefaultGroup.
	Group string
	// Topics names the inputs: Prices, WeatherObserved, WeatherForecast,
	// Features and Forecasts. An empty name is not consumed.
	Topics schemas.TopicSet
	// Store receives the Parquet files and batch journals. Required.
	Store Store
	// MaxRows closes a batch once it holds this many records (offsets,
	// including skipped ones), default DefaultMaxRows. It bounds memory:
	// one open batch per assigned topic partition.
	MaxRows int
	// MaxBytes closes a batch once the key and value bytes of its records
	// (as read from Kafka, skipped records and transaction markers
	// included) sum to at least this, default DefaultMaxBytes. Like
	// MaxRows it depends only on the records, so a re-read cuts the same
	// batches; it bounds the memory and the files of a batch whose records
	// are large (a forecast holds every point of a day), which MaxRows
	// alone does not. A batch exceeds it by less than its last record.
	MaxBytes int64
	// RollInterval closes a batch when a record's roll time (see the
	// package doc) reaches the next multiple of it (UTC-aligned), default
	// DefaultRollInterval.
	RollInterval time.Duration
	// IdleFlush closes a batch that received nothing for this long (wall
	// clock), default DefaultIdleFlush, so live data reaches the lake
	// without waiting for the next roll boundary.
	IdleFlush time.Duration
	// RetryMin and RetryMax bound the backoff between store retries,
	// defaults DefaultRetryMin and DefaultRetryMax.
	RetryMin, RetryMax time.Duration
	// GiveUpAfter makes Run fail when the store has answered only with
	// non-retryable errors (access denied, no such bucket) for this long,
	// default DefaultGiveUpAfter. Retryable errors are retried until they
	// stop or ctx ends.
	GiveUpAfter time.Duration
	// Logger receives progress and retries; nil discards.
	Logger *slog.Logger
	// StopAtEnd makes Run return nil once everything up to the end
	// offsets seen at start is stored and committed (the demo's mode).
	StopAtEnd bool
	// MaxPollRecords bounds the records handled per poll, default 10 000.
	MaxPollRecords int
	// SessionTimeout is how long the group waits for a silent member
	// before it reassigns that member's partitions; default 10s (franz-go's
	// is 45s), as for the processor (runner.Config.SessionTimeout).
	SessionTimeout time.Duration
	// ClientOpts are extra franz-go options, applied after the sink's own
	// (tests shorten the heartbeat interval to rebalance faster).
	ClientOpts []kgo.Opt
}

// Stats are the sink's counters since New.
type Stats struct {
	// RecordsIn counts data records consumed (not transaction markers).
	// Records re-read after a rebalance or a rewind count again.
	RecordsIn int64
	// Rows counts rows written per table, Files the files written and
	// Batches the batches stored. A batch written again after a restart
	// counts again.
	Rows    map[string]int64
	Files   int64
	Batches int64
	// SkippedNotFinal counts feature rows with final=false; the lake keeps
	// final rows only.
	SkippedNotFinal int64
	// SkippedInvalid counts records that do not decode or validate, by
	// reason (schemas.ReasonMalformed, ...). The stage that owns the topic
	// dead-letters them; the sink only skips them.
	SkippedInvalid map[string]int64
	// StoreRetries counts failed store requests that were retried.
	StoreRetries int64
	// JournalAdopted counts batches whose bounds came from an existing
	// journal (a restart or a new owner resuming a batch).
	JournalAdopted int64
	// Rewinds counts partitions re-read after a journal conflict or an
	// aborted store retry.
	Rewinds int64
	// Commits counts successful offset commits; LastCommit is the time of
	// the latest.
	Commits    int64
	LastCommit time.Time
}

type stats struct {
	mu sync.Mutex
	s  Stats
}

func (st *stats) update(f func(*Stats)) {
	st.mu.Lock()
	defer st.mu.Unlock()
	f(&st.s)
}

func (st *stats) snapshot() Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.s
	s.Rows = maps.Clone(st.s.Rows)
	s.SkippedInvalid = maps.Clone(st.s.SkippedInvalid)
	return s
}

// Sink is the Kafka to Parquet lake sink. Create it with New and call Run
// once.
type Sink struct {
	cfg    Config
	log    *slog.Logger
	routes map[string]route
	stats  stats
}

// ErrNoStore is returned by New when Config.Store is nil.
var ErrNoStore = errors.New("lakesink: no store configured: open one with lake.Open and set Config.Store")

// New checks cfg, fills in defaults and returns a sink. It does not connect.
func New(cfg Config) (*Sink, error) {
	if cfg.Store == nil {
		return nil, ErrNoStore
	}
	if len(cfg.Kafka.Brokers) == 0 {
		return nil, fmt.Errorf("lakesink: %w", kafka.ErrNoBrokers)
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"RollInterval", &cfg.RollInterval, DefaultRollInterval},
		{"IdleFlush", &cfg.IdleFlush, DefaultIdleFlush},
		{"RetryMin", &cfg.RetryMin, DefaultRetryMin},
		{"RetryMax", &cfg.RetryMax, DefaultRetryMax},
		{"GiveUpAfter", &cfg.GiveUpAfter, DefaultGiveUpAfter},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("lakesink: %s is %s; want a positive duration, or 0 for the default %s", d.name, *d.v, d.def)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.RetryMax < cfg.RetryMin {
		return nil, fmt.Errorf("lakesink: RetryMax %s is below RetryMin %s", cfg.RetryMax, cfg.RetryMin)
	}
	if cfg.MaxRows < 0 {
		return nil, fmt.Errorf("lakesink: MaxRows is %d; want a positive count, or 0 for the default %d", cfg.MaxRows, DefaultMaxRows)
	}
	if cfg.MaxRows == 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.MaxBytes < 0 {
		return nil, fmt.Errorf("lakesink: MaxBytes is %d; want a positive byte count, or 0 for the default %d", cfg.MaxBytes, int64(DefaultMaxBytes))
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = 10_000
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	routes := newRoutes(cfg.Topics)
	if len(routes) == 0 {
		return nil, errors.New("lakesink: no input topics: set Config.Topics, e.g. schemas.NewTopicSet(\"\")")
	}
	s := &Sink{cfg: cfg, log: cfg.Logger.With("component", "lakesink"), routes: routes}
	s.stats.s.Rows = make(map[string]int64)
	s.stats.s.SkippedInvalid = make(map[string]int64)
	return s, nil
}

// Stats returns a snapshot of the counters. It is safe to call while Run
// runs.
func (s *Sink) Stats() Stats { return s.stats.snapshot() }
