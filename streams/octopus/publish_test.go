package octopus

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/source"
	"github.com/wattcast/wattcast/streams/source/sourcetest"
)

func countTopic(t *testing.T, kcfg kafka.Config, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Control records are kept so that reading reaches the last stable
	// offset even when the log ends with a commit marker.
	cl, err := kcfg.NewClient(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

// A malformed page 2 on the first poll: page 1's prices and a dead letter
// with the reason are published; the next poll fetches the window again
// and publishes only page 2's prices. Nothing lost, nothing doubled.
func TestMalformedPageThenRecovery(t *testing.T) {
	t.Parallel()
	kcfg, topics, pub := sourcetest.Publisher(t, source.PublisherOptions{TransactionalID: "octopus-test", Stage: "produce:octopus"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)

	var broken atomic.Bool
	broken.Store(true)
	f := newFakeAPI(t, splitPages(t, func(page int, body []byte) []byte {
		if page == 2 && broken.Load() {
			return body[:len(body)/2] // truncated mid-page
		}
		return body
	}))
	now := ts(t, "2026-03-22T10:00:00Z")
	p := &Producer{Client: client(f), Live: true, Now: func() time.Time { return now },
		Lookback: 49 * time.Hour} // the window reaches back to the start of the recorded page
	task, err := p.Task("M")
	if err != nil {
		t.Fatal(err)
	}
	r := &source.Runner{Sink: pub, Now: func() time.Time { return now }}
	st, err := r.PollOnce(ctx, task)
	if err == nil || st.Prices != 50 || st.DeadLetters != 1 {
		t.Fatalf("first poll: %+v, err %v; want 50 prices, 1 dead letter and an error saying it will retry", st, err)
	}
	broken.Store(false)
	st, err = r.PollOnce(ctx, task)
	if err != nil || st.Prices != 50 || st.Duplicates != 50 {
		t.Fatalf("second poll: %+v, err %v; want the other 50 prices and the first 50 recognised", st, err)
	}
	prices := countTopic(t, kcfg, topics.Prices)
	seen := map[string]bool{}
	for _, r := range prices {
		var p schemas.Price
		if err := schemas.Decode(r.Value, &p); err != nil {
			t.Fatal(err)
		}
		seen[p.Start.String()] = true
	}
	if len(prices) != 100 || len(seen) != 100 {
		t.Errorf("%d prices for %d periods, want 100 and 100", len(prices), len(seen))
	}
	dls := countTopic(t, kcfg, topics.DeadLetters)
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dls))
	}
	var d schemas.DeadLetter
	if err := schemas.Decode(dls[0].Value, &d); err != nil {
		t.Fatal(err)
	}
	if d.Reason != schemas.ReasonMalformed || !strings.Contains(d.Error, "malformed response") || !strings.Contains(d.Topic, "page=2") || d.Key != "GB-M" {
		t.Errorf("dead letter %+v", d)
	}
}
