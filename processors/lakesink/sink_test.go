package lakesink_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/lakesink"
	"github.com/wattcast/wattcast/schemas"
)

// The base case: every valid record of every input lands in its table
// exactly once, skipped records are counted and never block, aborted
// transactions stay out, and StopAtEnd commits up to the end offsets, the
// transaction marker at the end of the features topic included.
func TestSinkStoresEveryRecordOnceAndStopsAtEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.produce(t2024, 2, "FI", "SE3", "GB-A")
	ctx := context.Background()

	st := runSink(t, e.config(e.lake), 30*time.Second)
	e.checkLake(ctx, e.lake)
	e.checkPrices(ctx, e.lake)

	if got := st.SkippedNotFinal; got != int64(e.notFinal) {
		t.Errorf("skipped %d non-final feature rows, want %d", got, e.notFinal)
	}
	var invalid int64
	for _, n := range st.SkippedInvalid {
		invalid += n
	}
	if invalid != int64(e.invalid) || st.SkippedInvalid[schemas.ReasonMalformed] == 0 || st.SkippedInvalid[schemas.ReasonInvalid] == 0 ||
		st.SkippedInvalid[schemas.ReasonUnknown] == 0 {
		t.Errorf("skipped invalid records %v, want %d in total, malformed, invalid and unknown_schema", st.SkippedInvalid, e.invalid)
	}
	var wantRows int64
	for _, table := range lake.Tables() {
		n := int64(0)
		for _, rows := range e.want[table] {
			n += int64(rows)
		}
		if st.Rows[table] != n {
			t.Errorf("stats say %d rows written to %s, want %d", st.Rows[table], table, n)
		}
		wantRows += n
	}

	committed, ends := e.offsets(ctx, "lakesink-test")
	for topic, parts := range ends {
		for p, end := range parts {
			if committed[topic][p] != end {
				t.Errorf("%s[%d]: committed %d, want the end offset %d", topic, p, committed[topic][p], end)
			}
		}
	}

	// Every file is listed in exactly one batch journal, and journals
	// name only files that exist: the journal is the lake's manifest.
	files := map[string]bool{}
	for _, table := range lake.Tables() {
		keys, err := lake.TableFiles(ctx, e.lake, table, lake.Filter{})
		e.must(err)
		for _, k := range keys {
			files[k] = false
		}
	}
	journals, err := e.lake.List(ctx, lakesink.JournalPrefix)
	e.must(err)
	if int64(len(journals)) != st.Batches {
		t.Errorf("%d journals for %d batches", len(journals), st.Batches)
	}
	for _, jk := range journals {
		data, err := e.lake.Get(ctx, jk)
		e.must(err)
		var j struct{ Files []struct{ Key string } }
		e.must(json.Unmarshal(data, &j))
		for _, f := range j.Files {
			seen, ok := files[f.Key]
			if !ok || seen {
				t.Fatalf("journal %s lists %s: exists %v, listed before %v", jk, f.Key, ok, seen)
			}
			files[f.Key] = true
		}
	}
	for k, seen := range files {
		if !seen {
			t.Errorf("file %s is in no journal", k)
		}
	}

	// A second run finds nothing new: it stores nothing and stops.
	st2 := runSink(t, e.config(e.lake), 20*time.Second)
	if st2.Batches != 0 || st2.RecordsIn != 0 {
		t.Errorf("second run stored %d batches from %d records; want nothing", st2.Batches, st2.RecordsIn)
	}
	e.checkLake(ctx, e.lake)
	t.Logf("%d rows in %d files from %d batches", wantRows, st.Files, st.Batches)
}

// Batches follow the rules: a time roll at each UTC day of known-at time,
// and MaxRows. With day-ahead prices published at noon the day before, a
// daily roll puts each delivery day in one file per region.
func TestSinkCutsBatchesByKnownAtDayAndMaxRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.produce(t2024, 2, "FI")
	ctx := context.Background()
	cfg := e.config(e.lake)
	cfg.MaxRows = 1000
	runSink(t, cfg, 30*time.Second)
	e.checkLake(ctx, e.lake)

	keys, err := lake.TableFiles(ctx, e.lake, lake.TablePrices, lake.Filter{})
	e.must(err)
	perDate := map[string]int{}
	for _, k := range keys {
		p, name, err := lake.ParseKey(k)
		e.must(err)
		perDate[p.Date]++
		if !strings.HasPrefix(name, e.topics.Prices+"+p") {
			t.Errorf("file %s is not named after its topic and partition", k)
		}
	}
	if len(perDate) != 2 {
		t.Fatalf("prices in %d date partitions, want 2: %v", len(perDate), keys)
	}
	for d, n := range perDate {
		if n != 1 {
			t.Errorf("date %s has %d price files, want 1 (one batch per publication day)", d, n)
		}
	}

	// MaxRows 10 on a fresh lake and group: more, smaller batches, the
	// same rows.
	e2 := newEnv(t)
	e2.produce(t2024, 2, "FI")
	cfg2 := e2.config(e2.lake)
	cfg2.MaxRows = 10
	st := runSink(t, cfg2, 30*time.Second)
	e2.checkLake(ctx, e2.lake)
	keys2, err := lake.TableFiles(ctx, e2.lake, lake.TablePrices, lake.Filter{})
	e2.must(err)
	if len(keys2) < 48/10 {
		t.Errorf("MaxRows 10 cut 48 prices into %d files, want at least 4", len(keys2))
	}
	t.Logf("max rows 10: %d batches, %d price files", st.Batches, len(keys2))
}

// The same contract through the S3 API (gofakes3 in-process, the real AWS
// SDK client, path-style): journals use S3 conditional writes.
func TestSinkOnS3(t *testing.T) {
	t.Parallel()
	be := s3mem.New()
	if err := be.CreateBucket("lake"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	store, err := lake.Open(ctx, "s3://lake/wattcast", lake.WithEndpoint(srv.URL), lake.WithPathStyle(),
		lake.WithRegion("us-east-1"), lake.WithStaticCredentials("k", "s"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.produce(t2024, 1, "FI", "GB-A")
	st := runSink(t, e.config(store), 30*time.Second)
	e.checkLake(ctx, store)
	journals, err := store.List(ctx, lakesink.JournalPrefix)
	e.must(err)
	if int64(len(journals)) != st.Batches || st.Files == 0 {
		t.Fatalf("%d journals, %d batches, %d files", len(journals), st.Batches, st.Files)
	}
}

// A configuration the broker refuses for good stops the sink with the
// broker's error and what to change, instead of a warning repeated for ever.
func TestSinkFailsOnAConfigurationTheBrokerRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config(e.lake)
	cfg.StopAtEnd = false
	cfg.SessionTimeout = time.Second // below the broker's group.min.session.timeout.ms
	s, err := lakesink.New(cfg)
	e.must(err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = s.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("the sink kept retrying a session timeout the broker refuses")
	}
	if !errors.Is(err, kerr.InvalidSessionTimeout) || !strings.Contains(err.Error(), "group.min.session.timeout.ms") {
		t.Fatalf("Run: %v, want INVALID_SESSION_TIMEOUT with what to change", err)
	}
}
