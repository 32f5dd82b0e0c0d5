package integration

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestRebalanceTwoInstancesOneLeaves runs two `wattcast process` instances
// (distinct --instance-id) in the stages' consumer groups while the input
// streams in: the second joins (a rebalance), does real work on the
// partitions it is given, then leaves with SIGTERM (another rebalance) and
// the first takes everything over. Nothing may be lost or doubled in the
// features topic or the lake.
func TestRebalanceTwoInstancesOneLeaves(t *testing.T) {
	s := servers(t)
	st := newStreamTest(t, s, "rebalance")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	st.pub.start(t, s)
	a := st.process(t, "process-a", "a")
	if err := st.waitFlowing(ctx, a, time.Time{}); err != nil {
		t.Fatal(err)
	}

	joined := time.Now()
	b := st.process(t, "process-b", "b")
	var both groupState
	if err := waitUntil(ctx, "both instances in the processor group", 50*time.Millisecond, func() (bool, error) {
		g, err := describeGroup(ctx, st.adm, st.processorGroup(), st.topics)
		both = g
		return err == nil && g.state == "Stable" && len(g.holding()) == 2, nil
	}); err != nil {
		t.Fatal(err)
	}
	var sinkBoth groupState
	if err := waitUntil(ctx, "both instances with partitions in the lake sink group", 50*time.Millisecond, func() (bool, error) {
		g, err := describeGroup(ctx, st.adm, st.sinkGroup(), st.topics)
		sinkBoth = g
		return err == nil && g.state == "Stable" && len(g.holding()) == 2, nil
	}); err != nil {
		t.Fatal(err)
	}
	// The second instance must have done real work: processed input in a
	// committed transaction and stored lake batches.
	if err := st.waitFlowing(ctx, b, joined); err != nil {
		t.Fatalf("the second instance did no work after joining: %v", err)
	}
	if err := st.pub.waitSteps(ctx, 80); err != nil {
		t.Fatal(err)
	}
	bTx := len(b.find(func(l logLine) bool { return l.Msg == msgTxCommitted && l.Int("records") > 0 }))
	bBatches := len(b.find(func(l logLine) bool { return l.Msg == msgBatchStored }))
	st.midStream(t, "second instance leaving")

	left := time.Now()
	if err := b.stop(time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := waitUntil(ctx, "the first instance alone in the processor group", 50*time.Millisecond, func() (bool, error) {
		g, err := describeGroup(ctx, st.adm, st.processorGroup(), st.topics)
		return err == nil && g.state == "Stable" && len(g.holding()) == 1, nil
	}); err != nil {
		t.Fatal(err)
	}
	alone := time.Now()
	if err := st.waitFlowing(ctx, a, alone); err != nil {
		t.Fatalf("the first instance did not carry on alone: %v", err)
	}
	if err := st.pub.waitSteps(ctx, 50); err != nil {
		t.Fatal(err)
	}
	o := st.finish(t, ctx, a)
	o.notes = append(o.notes,
		fmt.Sprintf("second instance joined: processor partitions per member %v, lake sink partitions per member %v",
			both.holding(), sinkBoth.holding()),
		fmt.Sprintf("second instance committed %d transactions with input and stored %d lake batches before leaving", bTx, bBatches),
		fmt.Sprintf("after its SIGTERM the first instance owned every partition %.1f s later", alone.Sub(left).Seconds()))
	o.report(t, "exactly once across a join and a leave of a second instance")
}
