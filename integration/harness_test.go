package integration

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/wattcast/wattcast/processors"
	"github.com/wattcast/wattcast/processors/lakesink"
	"github.com/wattcast/wattcast/schemas"
)

// streamTest is one fault test's world: fresh topics and lake, the paced
// publisher, an S3 proxy in front of the server for the stages, and the
// durability watch on the lake sink's commits.
type streamTest struct {
	s       *suiteEnv
	name    string
	topics  schemas.TopicSet
	lakeURL string
	proxy   *s3Proxy
	pub     *publisher
	watch   *durabilityWatch
	adm     *kadm.Client
	started time.Time
}

// publishEvery is the publisher's pace: a step (30 minutes of known-at
// time of each data set, about 3 records) every 100 ms, so 5 hours of
// history per second: about 30 records and 10 processor transactions a
// second, light enough for a shared 2-core machine.
const publishEvery = 100 * time.Millisecond

func newStreamTest(t *testing.T, s *suiteEnv, word string) *streamTest {
	t.Helper()
	name := s.name(word)
	st := &streamTest{s: s, name: name, lakeURL: s.lakeURL(name, "lake"), adm: s.admin(t), started: time.Now()}
	st.topics = streamTopics(t, s, name)
	s.removeLake(t, st.lakeURL)
	st.proxy = startS3Proxy(t, s.s3)
	st.pub = newPublisher(t, st.topics, publishEvery)
	st.watch = watchDurability(t, s, st.topics, st.lakeURL)
	return st
}

// process starts `wattcast process` (feature processor and lake sink) as a
// child, talking to S3 through the test's proxy. Instances restarted after
// a crash keep their instance id, as a restarted pod keeps its name: the
// new transactional producer then fences the dead one at once.
func (st *streamTest) process(t *testing.T, name, instance string, extra ...string) *child {
	t.Helper()
	args := []string{"process",
		"--brokers", strings.Join(st.s.brokers, ","),
		"--topic-prefix", st.topics.Prefix,
		"--partitions", strconv.Itoa(partitions),
		"--lake", st.lakeURL,
		"--s3-endpoint", st.proxy.URL,
		"--instance-id", instance,
	}
	if st.s.pathStyle {
		args = append(args, "--s3-path-style")
	}
	return startChild(t, st.s, name, append(args, extra...)...)
}

// waitFlowing waits until c's processor has committed a transaction with
// input and its lake sink has stored a batch, both after since.
func (st *streamTest) waitFlowing(ctx context.Context, c *child, since time.Time) error {
	if _, err := c.waitLog(ctx, "a committed transaction with input", func(l logLine) bool {
		return l.Msg == msgTxCommitted && l.Int("records") > 0 && l.Seen.After(since)
	}); err != nil {
		return err
	}
	_, err := c.waitLog(ctx, "a stored lake batch", func(l logLine) bool {
		return l.Msg == msgBatchStored && l.Seen.After(since)
	})
	return err
}

// midStream fails the test if the publisher ran out of data: a fault meant
// to hit a running stream would have hit a finished one.
func (st *streamTest) midStream(t *testing.T, what string) int {
	t.Helper()
	n, end := st.pub.progress()
	if end {
		t.Fatalf("%s: the publisher ran out of data; make the stream windows longer", what)
	}
	return n
}

// finish ends a stream test: it stops the publisher, waits until the
// feature processor has committed every input, stops the running children
// with SIGTERM (they must exit cleanly), runs the lake sink once more with
// --until-caught-up so that it stores the batches still open (rather than
// waiting out its one-minute idle flush), and verifies exactly once.
func (st *streamTest) finish(t *testing.T, ctx context.Context, running ...*child) *outcome {
	t.Helper()
	items := st.pub.items(t)
	// A running processor catches up on a few hundred records in seconds;
	// three minutes means it is stuck, not slow.
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := waitUntil(cctx, "the processor to commit every input", 200*time.Millisecond, func() (bool, error) {
		return processorCaughtUp(cctx, st.adm, st.topics)
	}); err != nil {
		t.Fatalf("%v (group %s)", err, st.processorGroup())
	}
	for _, c := range running {
		if err := c.stop(time.Minute); err != nil {
			t.Error(err)
		}
	}
	drain := st.process(t, "drain", "drain", "--no-features", "--until-caught-up")
	dctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := drain.wait(dctx); err != nil {
		t.Fatalf("the final lake sink run: %v", err)
	}
	o := verifyExactlyOnce(t, st.s, st.topics, st.lakeURL, items, st.watch)
	steps, _ := st.pub.progress()
	o.notes = append(o.notes, fmt.Sprintf("published %d records (%s of history per data set) during the test's %.0f s",
		len(items), time.Duration(steps)*stepSpan, time.Since(st.started).Seconds()))
	return o
}

// processorGroup and sinkGroup are the consumer groups the process command
// derives from the test's topic prefix (schemas.TopicSet.Group): the test
// passes no --group, so it checks the names a user gets too.
func (st *streamTest) processorGroup() string { return st.topics.Group(processors.DefaultGroup) }
func (st *streamTest) sinkGroup() string      { return st.topics.Group(lakesink.DefaultGroup) }
