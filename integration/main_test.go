package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
)

// suite is what every test shares: where the servers are, the binary under
// test and this run's id. TestMain sets it once, before any test runs, and
// nothing changes it afterwards.
var suite *suiteEnv

type suiteEnv struct {
	// requested is whether the suite was asked for (WATTCAST_INTEGRATION=1,
	// as make integration sets it); missing is why it cannot run (servers
	// not configured), "" when it can.
	requested bool
	missing   string

	brokers   []string
	s3        string // S3 endpoint URL, e.g. http://127.0.0.1:7070
	pathStyle bool
	bucket    string
	root      string // the repository root
	runID     string // prefix of this run's topics and lake keys
	logDir    string // children's logs, kept after a run that failed

	binOnce sync.Once
	bin     string
	binErr  error
	tmp     string // removed by TestMain

	demoOnce sync.Once
	demo     *demoRun
	demoErr  error

	cleanMu  sync.Mutex
	cleanups []func(failed bool)
}

func TestMain(m *testing.M) {
	s, err := newSuite()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	suite = s
	code := m.Run()
	s.cleanMu.Lock()
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i](code != 0)
	}
	s.cleanMu.Unlock()
	if s.tmp != "" {
		_ = os.RemoveAll(s.tmp)
	}
	if code == 0 && s.logDir != "" {
		_ = os.RemoveAll(s.logDir)
	} else if _, err := os.Stat(s.logDir); err == nil {
		fmt.Fprintf(os.Stderr, "integration: the stages' logs are in %s\n", s.logDir)
	}
	os.Exit(code)
}

func newSuite() (*suiteEnv, error) {
	s := &suiteEnv{bucket: "wattcast-lake", requested: os.Getenv("WATTCAST_INTEGRATION") == "1"}
	if b := os.Getenv("WATTCAST_S3_BUCKET"); b != "" {
		s.bucket = b
	}
	var unset []string
	for _, k := range []string{"WATTCAST_KAFKA_BROKERS", "WATTCAST_S3_ENDPOINT"} {
		if os.Getenv(k) == "" {
			unset = append(unset, k)
		}
	}
	if len(unset) > 0 {
		s.missing = strings.Join(unset, " and ") + " not set: start the servers with `make kafka-up s3-up` and " +
			"eval \"$(scripts/kafka/kafka-local.sh env)\"; eval \"$(scripts/s3/s3-local.sh env)\" (or point them at your own servers)"
		return s, nil
	}
	for _, b := range strings.Split(os.Getenv("WATTCAST_KAFKA_BROKERS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			s.brokers = append(s.brokers, b)
		}
	}
	s.s3 = strings.TrimRight(os.Getenv("WATTCAST_S3_ENDPOINT"), "/")
	// versitygw and most S3-compatible servers need path-style addressing;
	// s3-local.sh env exports WATTCAST_S3_PATH_STYLE=true.
	s.pathStyle = os.Getenv("WATTCAST_S3_PATH_STYLE") != "false"
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return nil, fmt.Errorf("run the suite from the repository (go test ./integration/): no go.mod in %s", root)
	}
	s.root = root
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	s.runID = fmt.Sprintf("itest-%s-%s", time.Now().UTC().Format("0102-1504"), hex.EncodeToString(b))
	// Made by the first child that logs; removed after a run that passed.
	s.logDir = filepath.Join(os.TempDir(), "wattcast-"+s.runID)
	return s, nil
}

// servers returns the suite's environment. The suite runs only when asked
// for (WATTCAST_INTEGRATION=1): `go test ./...` (make test) skips it even
// where the servers are configured, as in CI, where make integration runs
// it on its own. Asked for, it skips when the servers are not configured,
// or fails when CI=true: CI must never pass by skipping.
func servers(t *testing.T) *suiteEnv {
	t.Helper()
	if !suite.requested {
		t.Skip("integration suite: run it with make integration (or WATTCAST_INTEGRATION=1 go test ./integration/)")
	}
	if suite.missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s", suite.missing)
		}
		t.Skipf("integration test skipped: %s", suite.missing)
	}
	return suite
}

// binary returns the wattcast binary under test: WATTCAST_BIN (make
// integration sets it to the freshly built bin/wattcast), or one built from
// this tree into a temporary directory, so that a plain `go test
// ./integration/` never runs a stale binary.
func (s *suiteEnv) binary(t *testing.T) string {
	t.Helper()
	s.binOnce.Do(func() {
		if b := os.Getenv("WATTCAST_BIN"); b != "" {
			if _, err := os.Stat(b); err != nil {
				s.binErr = fmt.Errorf("WATTCAST_BIN=%s: %w (run make build)", b, err)
			}
			s.bin = b
			return
		}
		dir, err := os.MkdirTemp("", "wattcast-bin-")
		if err != nil {
			s.binErr = err
			return
		}
		s.tmp = dir
		s.bin = filepath.Join(dir, "wattcast")
		cmd := exec.Command("go", "build", "-o", s.bin, "./cmd/wattcast")
		cmd.Dir = s.root
		if out, err := cmd.CombinedOutput(); err != nil {
			s.binErr = fmt.Errorf("go build ./cmd/wattcast: %w\n%s", err, out)
		}
	})
	if s.binErr != nil {
		t.Fatal(s.binErr)
	}
	return s.bin
}

// atExit registers fn to run once every test has finished (topics and lake
// prefixes that several tests read); failed says whether any test failed.
func (s *suiteEnv) atExit(fn func(failed bool)) {
	s.cleanMu.Lock()
	defer s.cleanMu.Unlock()
	s.cleanups = append(s.cleanups, fn)
}

// kafkaConfig is the configuration of the test's own Kafka clients.
func (s *suiteEnv) kafkaConfig() kafka.Config {
	return kafka.Config{Brokers: s.brokers, ClientID: "wattcast-itest"}
}

// admin returns an admin client, closed when the test ends.
func (s *suiteEnv) admin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := s.kafkaConfig().NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// name returns a fresh name for a test's topics and lake: the run id and
// the test's own word, so that tests never read each other's data.
func (s *suiteEnv) name(word string) string { return s.runID + "-" + word }

// lakeURL is the s3:// URL of a test's lake.
func (s *suiteEnv) lakeURL(name, what string) string {
	return "s3://" + s.bucket + "/" + name + "/" + what
}

// lakeOptions are the options that reach the S3 server directly (not
// through a test's proxy).
func (s *suiteEnv) lakeOptions() []lake.Option {
	opts := []lake.Option{lake.WithEndpoint(s.s3)}
	if s.pathStyle {
		opts = append(opts, lake.WithPathStyle())
	}
	return opts
}

// openLake opens a lake (or registry) URL on the S3 server, directly.
func (s *suiteEnv) openLake(t *testing.T, url string) *lake.Bucket {
	t.Helper()
	b, err := lake.Open(context.Background(), url, s.lakeOptions()...)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return b
}

// removeLake deletes every object under url when the test ends, unless it
// failed: then it is kept for inspection.
func (s *suiteEnv) removeLake(t *testing.T, url string) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept the lake %s for inspection", url)
			return
		}
		s.deleteObjects(url)
	})
}

// deleteObjects deletes every object under url.
func (s *suiteEnv) deleteObjects(url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := lake.Open(ctx, url, s.lakeOptions()...)
	if err != nil {
		return
	}
	keys, err := b.List(ctx, "")
	if err != nil {
		return
	}
	var g errgroup.Group
	g.SetLimit(16)
	for _, k := range keys {
		g.Go(func() error { return b.Delete(ctx, k) })
	}
	_ = g.Wait()
}

// createTopics creates the topics of specs with kafka.EnsureTopics, as the
// stages do, before any stage starts; they are deleted when the test ends,
// unless it failed.
func (s *suiteEnv) createTopics(t *testing.T, specs []schemas.TopicSpec) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := s.kafkaConfig().NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := kafka.EnsureTopics(ctx, cl, specs, -1); err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(specs))
	for i, sp := range specs {
		names[i] = sp.Name
	}
	s.deleteTopicsAfter(t, names)
}

// deleteTopicsAfter deletes topics when the test ends, unless it failed.
func (s *suiteEnv) deleteTopicsAfter(t *testing.T, names []string) {
	t.Helper()
	adm := s.admin(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept topics %s... for inspection", names[0])
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, names...)
	})
}

// readTopic reads every record of topic, read_committed, up to the end
// offsets it has when called.
func (s *suiteEnv) readTopic(ctx context.Context, topic string) ([]*kgo.Record, error) {
	cl, err := s.kafkaConfig().NewClient()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil, nil
	}
	rd, err := s.kafkaConfig().NewClient(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var out []*kgo.Record
	for len(want) > 0 {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w (still waiting for partitions %v)", topic, err, want)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil && !errors.Is(ferr, context.DeadlineExceeded) {
			return nil, fmt.Errorf("read %s: %w", topic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	return out, nil
}
