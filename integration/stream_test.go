package integration

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/processors"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/replay"
)

// partitions is the partition count of every test topic set (wattcast's
// default). FI hashes to partition 2 and GB-A to partition 0, so the two
// regions have separate clocks.
const partitions = 3

// streamWindows are the slices of the shipped history the fault tests
// stream: 24 weeks of each data set, more than any test publishes.
func streamWindows() map[string]replay.Window {
	d := func(s string) time.Time {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	return map[string]replay.Window{
		replay.NordPoolFI:    {From: d("2024-03-04"), To: d("2024-08-19")},
		replay.OctopusAgileA: {From: d("2021-03-01"), To: d("2021-08-16")},
	}
}

// stepSpan is how much known-at time one step of the paced publisher
// covers. A step is published, and acknowledged, before the next starts, so
// the processor never sees one input more than a step ahead of another:
// with a step shorter than the processor's allowed lateness (1 h) nothing
// it receives is late, as in live operation.
const stepSpan = 30 * time.Minute

// publisher streams a slice of the shipped history into a topic set at a
// steady pace, as live producers would, only faster: step i holds the
// records of every data set whose known-at time is in its i-th stepSpan.
type publisher struct {
	topics schemas.TopicSet
	steps  [][]replay.Item
	every  time.Duration

	mu        sync.Mutex
	published int // steps acknowledged
	stopped   bool
	err       error
	done      chan struct{}
	stop      chan struct{}
}

// newPublisher loads the windows of the history for topics and cuts them
// into steps, published one every `every` once started.
func newPublisher(t *testing.T, topics schemas.TopicSet, every time.Duration) *publisher {
	t.Helper()
	d, err := replay.Load(topics, replay.Options{Windows: streamWindows()})
	if err != nil {
		t.Fatal(err)
	}
	for name, rej := range d.Rejected {
		if len(rej) > 0 {
			t.Fatalf("data set %s has %d rejected rows; the fault tests need clean input", name, len(rej))
		}
	}
	origin := map[string]time.Time{}
	for _, it := range d.Items { // in known-at order
		if _, ok := origin[it.Dataset]; !ok {
			origin[it.Dataset] = it.KnownAt
		}
	}
	p := &publisher{topics: topics, every: every, done: make(chan struct{}), stop: make(chan struct{})}
	for _, it := range d.Items {
		i := int(it.KnownAt.Sub(origin[it.Dataset]) / stepSpan)
		for len(p.steps) <= i {
			p.steps = append(p.steps, nil)
		}
		p.steps[i] = append(p.steps[i], it)
	}
	return p
}

// start publishes in the background until stopStream or the end of the
// data. The producer is franz-go's idempotent producer with wattcast's
// client settings (retries for 2 minutes: it rides out a broker restart).
func (p *publisher) start(t *testing.T, s *suiteEnv) {
	t.Helper()
	cl, err := s.kafkaConfig().NewClient(replay.ClientOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		p.stopStream()
		cancel()
		cl.Close()
	})
	producer := kafka.Producer("itest", "replay")
	go func() {
		defer close(p.done)
		tick := time.NewTicker(p.every)
		defer tick.Stop()
		for i, step := range p.steps {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			for _, it := range step {
				r, err := kafka.NewRecord(it.Topic, it.Key, it.Value, producer)
				if err != nil {
					p.fail(fmt.Errorf("encode %s record: %w", it.Topic, err))
					return
				}
				cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
					if err != nil {
						p.fail(fmt.Errorf("produce to %s: %w", it.Topic, err))
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				p.fail(fmt.Errorf("flush: %w", err))
				return
			}
			p.mu.Lock()
			if p.err != nil {
				p.mu.Unlock()
				return
			}
			p.published = i + 1
			p.mu.Unlock()
		}
	}()
}

func (p *publisher) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

// stopStream stops publishing after the current step and waits.
func (p *publisher) stopStream() {
	p.mu.Lock()
	if !p.stopped {
		p.stopped = true
		close(p.stop)
	}
	p.mu.Unlock()
	<-p.done
}

// progress returns the number of steps acknowledged, and whether the data
// ran out (a test that wanted a fault mid-stream must fail then).
func (p *publisher) progress() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.published, p.published == len(p.steps)
}

// items returns what was published, once stopped.
func (p *publisher) items(t *testing.T) []replay.Item {
	t.Helper()
	p.stopStream()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		t.Fatalf("publisher: %v", p.err)
	}
	var out []replay.Item
	for _, step := range p.steps[:p.published] {
		out = append(out, step...)
	}
	return out
}

// waitSteps waits until n more steps are published: the stream is flowing.
func (p *publisher) waitSteps(ctx context.Context, n int) error {
	start, _ := p.progress()
	for {
		got, end := p.progress()
		if got >= start+n {
			return nil
		}
		if end {
			return fmt.Errorf("publisher: the data ran out after %d steps", got)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("publisher: %d of %d steps in time: %w", got-start, n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// streamTopics returns the topic set of a stream test, creating its topics.
func streamTopics(t *testing.T, s *suiteEnv, name string) schemas.TopicSet {
	t.Helper()
	topics := schemas.NewTopicSet(name + ".")
	s.createTopics(t, processors.Topics(topics, partitions))
	return topics
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
