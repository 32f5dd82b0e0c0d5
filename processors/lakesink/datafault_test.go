package lakesink_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/lakesink"
)

// A batch's journal is stored, then its data (Parquet) files. When only the
// data files fail (the journal PUTs succeed), the sink must retry them: it
// may not count the batch as stored, nor commit its offsets, until every
// file of it is durable. Afterwards the lake holds every record once and
// the journals are a true manifest of it.
func TestSinkRetriesFailedDataFilesAfterTheirJournal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// pass data files go through before the fault starts.
		pass int64
		// refuse is how many data-file writes are refused before the
		// store recovers by itself; 0 means until the test has checked
		// the committed offsets during the outage.
		refuse int64
	}{
		{name: "first data files refused a few times", pass: 0, refuse: 6},
		{name: "data files refused after some are stored", pass: 4, refuse: 9},
		{name: "data files refused until the offsets are checked", pass: 3, refuse: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.produce(t2024, 2, "FI", "SE3")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			t.Cleanup(cancel)

			var (
				dataWrites, refused, journals atomic.Int64
				over                          atomic.Bool
			)
			fs := &faultStore{inner: e.lake, onWrite: func(_ int, key string) (bool, error) {
				if strings.HasPrefix(key, lakesink.JournalPrefix) {
					journals.Add(1)
					return true, nil // journals always succeed
				}
				if !strings.HasSuffix(key, ".parquet") {
					return true, nil
				}
				if dataWrites.Add(1) <= c.pass || over.Load() {
					return true, nil
				}
				if c.refuse > 0 && refused.Load() >= c.refuse {
					return true, nil
				}
				refused.Add(1)
				return false, errUnavailable
			}}
			cfg := e.config(fs)
			s, err := lakesink.New(cfg)
			e.must(err)
			var runErr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				runErr = s.Run(ctx)
			}()
			t.Cleanup(func() {
				cancel()
				<-done
			})

			if c.refuse == 0 {
				// The outage holds (no data file is written meanwhile,
				// so the lake is stable): whatever the group has
				// committed must be in the lake.
				waitFor(t, 20*time.Second, "20 refused data-file writes", func() bool {
					select {
					case <-done:
						t.Fatalf("sink ended during the data-file outage (%d refused): %v", refused.Load(), runErr)
					default:
					}
					return refused.Load() >= 20
				})
				e.checkCommittedIsStored(ctx, cfg.Group)
				over.Store(true)
			}
			<-done
			if runErr != nil {
				t.Fatal(runErr)
			}
			if ctx.Err() != nil {
				t.Fatalf("sink did not finish: %v", ctx.Err())
			}
			if refused.Load() == 0 || journals.Load() == 0 {
				t.Fatalf("%d data-file writes refused, %d journal writes: the fault did not happen", refused.Load(), journals.Load())
			}
			st := s.Stats()
			if st.StoreRetries < refused.Load() {
				t.Errorf("%d store retries for %d refused data-file writes: a refused file was not retried", st.StoreRetries, refused.Load())
			}
			e.checkCommittedIsStored(ctx, cfg.Group)
			e.checkLake(ctx, e.lake)
			t.Logf("%d data-file writes refused, %d retries, %d journal writes", refused.Load(), st.StoreRetries, journals.Load())
		})
	}
}

// checkCommittedIsStored asserts that every record below the group's
// committed offset of its partition, and meant for the lake, is in it with
// all its rows: the sink commits only what is durable.
func (e *env) checkCommittedIsStored(ctx context.Context, group string) {
	e.t.Helper()
	committed, _ := e.offsets(ctx, group)
	var problems []string
	for _, table := range lake.Tables() {
		ls, _, err := lake.ReadLineage(ctx, e.lake, table, lake.Filter{})
		e.must(err)
		got := make(map[lake.Lineage]int, len(ls))
		for _, l := range ls {
			got[l]++
		}
		for l, n := range e.want[table] {
			at, ok := committed[l.Topic][l.Partition]
			if !ok || l.Offset >= at {
				continue
			}
			if got[l] != n {
				problems = append(problems, fmt.Sprintf("%s[%d]@%d: committed up to %d but %d rows stored, want %d",
					l.Topic, l.Partition, l.Offset, at, got[l], n))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("... and %d more", len(problems)-10))
		}
		e.t.Fatalf("committed offsets pass data that is not stored:\n%s", strings.Join(problems, "\n"))
	}
}
