package runner

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/wattcast/wattcast/streams/kafka"
)

// A stable offset fetch that finds a transactional offset commit still
// pending fails the lookup, so that no partition starts from the offset
// before it (KIP-447), and the error names the pending partitions and where
// to read about one that never ends. The broker is kfake, answering the
// stable OffsetFetch for in[1] as a broker holding a pending commit does:
// a real broker cannot be made to hold one on demand.
func TestPositionsNameAPendingOffsetCommit(t *testing.T) {
	t.Parallel()
	const in = "p.in"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, in))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	topics, err := adm.ListTopics(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	id := topics[in].ID // OffsetFetch v10 answers by topic id
	c.ControlKey(int16(kmsg.OffsetFetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.OffsetFetchRequest)
		if !req.RequireStable || len(req.Groups) == 0 {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		g := kmsg.NewOffsetFetchResponseGroup()
		g.Group = req.Groups[0].Group
		st := kmsg.NewOffsetFetchResponseGroupTopic()
		st.Topic, st.TopicID = in, id
		for p := range int32(3) {
			sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			sp.Partition, sp.Offset = p, 5
			if p == 1 {
				sp.Offset, sp.ErrorCode = -1, kerr.UnstableOffsetCommit.Code
			}
			st.Partitions = append(st.Partitions, sp)
		}
		g.Topics = append(g.Topics, st)
		resp.Groups = append(resp.Groups, g)
		return resp, nil, true
	})
	kc := kafka.Config{Brokers: c.ListenAddrs()}
	r, err := New(Config{Kafka: kc, Group: "g", Inputs: []string{in}, Changelog: "p.changelog", DeadLetters: "p.dlq", Stage: "test",
		NewTask: func(int32) (Task, error) { return nil, errors.New("not used") }})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r.positions(ctx, adm, map[int32]bool{0: true, 1: true, 2: true})
	if !errors.Is(err, kerr.UnstableOffsetCommit) {
		t.Fatalf("positions: %v, want an UNSTABLE_OFFSET_COMMIT error", err)
	}
	for _, want := range []string{"p.in[1]", "docs/operations.md", r.cfg.TransactionTimeout.String()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "p.in[0]") {
		t.Errorf("error %q names a stable partition", err)
	}
}
