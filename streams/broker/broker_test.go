package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func produceN(t *testing.T, addrs []string, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
}

func consumeAll(t *testing.T, addrs []string, topic string, want int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []string
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), want, err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// The demo relies on a restarted embedded broker serving what it stored:
// "make demo" twice in a row, and the crash tests, restart it on one dir.
func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := Start(WithDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	produceN(t, b.Addrs(), "t", 50)
	b.Close()

	b2, err := Start(WithDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b2.Close)
	produceN(t, b2.Addrs(), "t", 10)
	got := consumeAll(t, b2.Addrs(), "t", 60)
	if len(got) != 60 || got[0] != "v0" || got[49] != "v49" || got[50] != "v0" {
		t.Fatalf("after restart got %d records, first %q, 50th %q", len(got), got[0], got[49])
	}
}

func TestListensOnLoopbackOnly(t *testing.T) {
	b, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	for _, a := range b.Addrs() {
		if len(a) < 10 || a[:10] != "127.0.0.1:" {
			t.Fatalf("broker listens on %s, want 127.0.0.1 only", a)
		}
	}
}
