package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors"
	"github.com/wattcast/wattcast/processors/lakesink"
	"github.com/wattcast/wattcast/schemas"
)

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

func (k tp) String() string { return fmt.Sprintf("%s[%d]", k.topic, k.partition) }

// groupOffsets returns group's committed offsets on the topics of a topic
// set (the groups are shared by every topic set on the broker).
func groupOffsets(ctx context.Context, adm *kadm.Client, group string, topics schemas.TopicSet) (map[tp]int64, error) {
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	out := map[tp]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && strings.HasPrefix(o.Topic, topics.Prefix) && o.At >= 0 {
			out[tp{o.Topic, o.Partition}] = o.At
		}
	})
	return out, nil
}

// endOffsets returns the high watermarks (hwm) and the last stable offsets
// (lso) of topics. They differ while a transaction is open.
func endOffsets(ctx context.Context, adm *kadm.Client, topics ...string) (hwm, lso map[tp]int64, err error) {
	h, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, err
	}
	l, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, nil, err
	}
	hwm, lso = map[tp]int64{}, map[tp]int64{}
	h.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			hwm[tp{o.Topic, o.Partition}] = o.Offset
		}
	})
	l.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			lso[tp{o.Topic, o.Partition}] = o.Offset
		}
	})
	return hwm, lso, nil
}

func inputTopics(t schemas.TopicSet) []string {
	return []string{t.Prices, t.WeatherObserved, t.WeatherForecast}
}

// processorCaughtUp reports whether the feature processor's group has
// committed every input record: its outputs for them are committed in the
// same transactions.
func processorCaughtUp(ctx context.Context, adm *kadm.Client, topics schemas.TopicSet) (bool, error) {
	_, ends, err := endOffsets(ctx, adm, inputTopics(topics)...)
	if err != nil {
		return false, err
	}
	got, err := groupOffsets(ctx, adm, topics.Group(processors.DefaultGroup), topics)
	if err != nil {
		return false, err
	}
	for k, end := range ends {
		if end > 0 && got[k] < end {
			return false, nil
		}
	}
	return true, nil
}

// openTransaction returns a partition of the processor's outputs (features,
// changelog) with records of a transaction that is not yet committed or
// aborted, if there is one.
func openTransaction(ctx context.Context, adm *kadm.Client, topics schemas.TopicSet) (tp, int64, bool, error) {
	hwm, lso, err := endOffsets(ctx, adm, topics.Features, processors.ChangelogTopic(topics))
	if err != nil {
		return tp{}, 0, false, err
	}
	for k, h := range hwm {
		if h > lso[k] {
			return k, h - lso[k], true, nil
		}
	}
	return tp{}, 0, false, nil
}

// groupState describes a consumer group: its state and, per member, how
// many partitions of the topic set it is assigned.
type groupState struct {
	state    string
	assigned map[string]int // member id -> partitions of the topic set
}

// stableWithout reports whether the group is stable and the members that
// hold partitions of the topic set are all new (not in old). Members with
// none are another topic set's: the groups are shared.
func (g groupState) stableWithout(old map[string]int) bool {
	if g.state != "Stable" {
		return false
	}
	fresh := false
	for id, n := range g.assigned {
		if n == 0 {
			continue
		}
		if _, was := old[id]; was {
			return false
		}
		fresh = true
	}
	return fresh
}

// holding returns, for the members that hold partitions of the topic set,
// how many each holds, in member id order.
func (g groupState) holding() []int {
	var out []int
	for _, id := range sortedKeys(g.assigned) {
		if n := g.assigned[id]; n > 0 {
			out = append(out, n)
		}
	}
	return out
}

func describeGroup(ctx context.Context, adm *kadm.Client, group string, topics schemas.TopicSet) (groupState, error) {
	ds, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return groupState{}, err
	}
	d, ok := ds[group]
	if !ok || d.Err != nil {
		return groupState{}, fmt.Errorf("describe group %s: %v", group, d.Err)
	}
	gs := groupState{state: d.State, assigned: map[string]int{}}
	for _, m := range d.Members {
		gs.assigned[m.MemberID] = 0
		ca, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, at := range ca.Topics {
			if strings.HasPrefix(at.Topic, topics.Prefix) {
				gs.assigned[m.MemberID] += len(at.Partitions)
			}
		}
	}
	return gs, nil
}

// permanent marks an error that waiting longer cannot cure.
type permanent struct{ error }

// waitUntil polls cond every interval until it holds or the context ends.
// Errors from cond are taken as passing (a server down on purpose), except
// a permanent one, which ends the wait at once.
func waitUntil(ctx context.Context, what string, interval time.Duration, cond func() (bool, error)) error {
	var last error
	for {
		ok, err := cond()
		if ok && err == nil {
			return nil
		}
		var p permanent
		if errors.As(err, &p) {
			return fmt.Errorf("waiting for %s: %w", what, p.error)
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), last)
		case <-time.After(interval):
		}
	}
}

// The lake sink's promise: "offsets are committed only after every file of
// the batch is stored" (docs/lake.md). durabilityWatch checks it from the
// outside while a test runs. Each sample reads the sink group's committed
// offsets first and then lists the lake, so a commit it sees happened
// before the listing: every record below a committed offset must then be
// in a batch whose journal and every file are in that listing. The records
// are known only at the end (offsets of aborted transactions hold none), so
// samples are kept and checked by verify.
type durabilityWatch struct {
	topics schemas.TopicSet
	store  *lake.Bucket
	adm    *kadm.Client

	mu       sync.Mutex
	interval time.Duration
	samples  []durabilitySample
	journals map[string]journal // by key; journals are written once
	errs     int
	stop     chan struct{}
	done     chan struct{}
}

type durabilitySample struct {
	at        time.Time
	committed map[tp]int64
	durable   map[tp][]span // batches whose journal and files were all listed
}

type span struct{ first, last int64 }

// journal is the part of the lake sink's batch journal the watch reads
// (processors/lakesink/journal.go).
type journal struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	First     int64  `json:"first"`
	Last      int64  `json:"last"`
	Files     []struct {
		Key string `json:"key"`
	} `json:"files"`
}

func watchDurability(t *testing.T, s *suiteEnv, topics schemas.TopicSet, lakeURL string) *durabilityWatch {
	t.Helper()
	w := &durabilityWatch{topics: topics, store: s.openLake(t, lakeURL), adm: s.admin(t), interval: time.Second,
		journals: map[string]journal{}, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	t.Cleanup(w.close)
	return w
}

// setInterval changes how often samples are taken (more often during an
// outage).
func (w *durabilityWatch) setInterval(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.interval = d
}

func (w *durabilityWatch) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *durabilityWatch) run() {
	defer close(w.done)
	for {
		w.mu.Lock()
		d := w.interval
		w.mu.Unlock()
		select {
		case <-w.stop:
			return
		case <-time.After(d):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		smp, err := w.sample(ctx)
		cancel()
		w.mu.Lock()
		if err != nil {
			w.errs++ // the broker or the store may be down on purpose
		} else if len(smp.committed) > 0 {
			w.samples = append(w.samples, smp)
		}
		w.mu.Unlock()
	}
}

func (w *durabilityWatch) sample(ctx context.Context) (durabilitySample, error) {
	smp := durabilitySample{at: time.Now(), durable: map[tp][]span{}}
	var err error
	if smp.committed, err = groupOffsets(ctx, w.adm, w.topics.Group(lakesink.DefaultGroup), w.topics); err != nil {
		return smp, err
	}
	keys, err := w.store.List(ctx, "")
	if err != nil {
		return smp, err
	}
	have := make(map[string]bool, len(keys))
	for _, k := range keys {
		have[k] = true
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, lakesink.JournalPrefix) {
			continue
		}
		w.mu.Lock()
		j, ok := w.journals[k]
		w.mu.Unlock()
		if !ok {
			b, err := w.store.Get(ctx, k)
			if err != nil {
				return smp, err
			}
			if err := json.Unmarshal(b, &j); err != nil {
				return smp, fmt.Errorf("journal %s: %w", k, err)
			}
			w.mu.Lock()
			w.journals[k] = j
			w.mu.Unlock()
		}
		stored := true
		for _, f := range j.Files {
			stored = stored && have[f.Key]
		}
		if stored {
			key := tp{j.Topic, j.Partition}
			smp.durable[key] = append(smp.durable[key], span{j.First, j.Last})
		}
	}
	return smp, nil
}

// durabilityResult is what verify found.
type durabilityResult struct {
	samples, checks, violations int
	first                       string // the first violation, described
}

// verify checks every sample against the data records of each partition
// (offsets, sorted), read after the run.
func (w *durabilityWatch) verify(records map[tp][]int64) durabilityResult {
	w.close()
	w.mu.Lock()
	defer w.mu.Unlock()
	var r durabilityResult
	r.samples = len(w.samples)
	for _, smp := range w.samples {
		for k, c := range smp.committed {
			for _, o := range records[k] {
				if o >= c {
					break
				}
				r.checks++
				covered := false
				for _, sp := range smp.durable[k] {
					if sp.first <= o && o <= sp.last {
						covered = true
						break
					}
				}
				if !covered {
					r.violations++
					if r.first == "" {
						r.first = fmt.Sprintf("at %s the lake sink had committed %s up to offset %d, but the record at offset %d was in no batch whose journal and files were all stored",
							smp.at.Format("15:04:05.000"), k, c, o)
					}
				}
			}
		}
	}
	return r
}

// journalAt reports whether the batch journal of k starting at offset
// first exists.
func journalAt(ctx context.Context, store *lake.Bucket, k tp, first int64) (bool, error) {
	keys, err := store.List(ctx, lakesink.JournalPrefix+k.topic+"/p"+strconv.Itoa(int(k.partition))+"/")
	if err != nil {
		return false, err
	}
	want := fmt.Sprintf("%020d.json", first)
	for _, key := range keys {
		if strings.HasSuffix(key, "/"+want) {
			return true, nil
		}
	}
	return false, nil
}
