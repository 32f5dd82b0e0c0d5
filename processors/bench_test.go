package processors

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/processors/features/featurestest"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/runner"
)

// BenchmarkProcessorVsRawConsume measures the feature processor's
// throughput from pre-filled topics next to a plain franz-go group consume
// of the same topics in the same run, at 1 region (1200 days) and 100
// regions (12 days), about 100 000 input records each, and the processor's
// peak memory.
//
// Three processes take part, so that each number is what it says:
//   - the broker (`wattcast broker`, in memory) runs in a child process, so
//     its memory is not counted;
//   - this process builds the input and produces it, in known-at order per
//     topic as a replay or a live producer does, then consumes it raw;
//   - the processor runs in a second child process (this test binary,
//     re-executed; see TestMain), so that its peak RSS (VmHWM) is the
//     processor's alone: the Go runtime, the franz-go clients and the
//     feature state, not the input built here.
//
// The processor's rate is input records over the wall time from New to the
// return of Run (StopAtEnd): it includes joining the group, restoring (an
// empty) state, every transaction, and the feature rows and changelog
// records produced. The raw rate is a new consumer group reading the same
// topics, read_committed, doing nothing with the records. Both CPU times
// are reported too (the processor child's, and this process's during the
// raw consume): on a shared machine they vary less than the rates. The run
// fails if the processor dead-letters anything or misses an input, so a
// fast wrong run cannot pass.
//
// Run it with `make bench` or
//
//	go test -run '^$' -bench ProcessorVsRawConsume -benchtime 1x -count 3 ./processors/
//
// WATTCAST_BENCH_CPUPROFILE=file writes the processor child's CPU profile;
// WATTCAST_BENCH_BROKER_BIN=path runs that wattcast binary as the broker
// instead of building one.
func BenchmarkProcessorVsRawConsume(b *testing.B) {
	for _, c := range []struct {
		regions, days int
	}{{1, 1200}, {100, 12}} {
		b.Run(fmt.Sprintf("regions=%d", c.regions), func(b *testing.B) {
			for range b.N {
				benchOnce(b, "processor", c.regions, c.days)
			}
		})
	}
}

// BenchmarkIOFloorVsRawConsume is BenchmarkProcessorVsRawConsume with the
// feature processor replaced by the least a processor of these topics
// must do: a task on the same runner, in the same transactions, that
// decodes and checks every input (schemas.Decoder) and produces the same
// feature rows, encoded before the clock starts, at the same rate (about
// 0.57 per input), and a changelog record of 100 bytes per input and
// transaction. No engine, no encoding: what is left is fetching, decoding,
// producing, the changelog and the transactions. The processor's rate can
// come near this, not above it; the ratio of this floor to the raw consume
// is the best the processor's ratio can be with JSON on the wire.
func BenchmarkIOFloorVsRawConsume(b *testing.B) {
	for _, c := range []struct {
		regions, days int
	}{{1, 1200}, {100, 12}} {
		b.Run(fmt.Sprintf("regions=%d", c.regions), func(b *testing.B) {
			for range b.N {
				benchOnce(b, "floor", c.regions, c.days)
			}
		})
	}
}

// benchChildEnv carries the processor child's job (a benchJob as JSON).
const benchChildEnv = "WATTCAST_BENCH_PROCESSOR_CHILD"

// benchJob is what the processor child runs.
type benchJob struct {
	Mode       string   `json:"mode"` // "processor" or "floor"
	Brokers    []string `json:"brokers"`
	Prefix     string   `json:"prefix"`
	Regions    int      `json:"regions"`
	Days       int      `json:"days"`
	CPUProfile string   `json:"cpu_profile,omitempty"`
}

// benchResult is what the processor child reports on its last stdout line.
type benchResult struct {
	Seconds     float64          `json:"seconds"`
	CPUSeconds  float64          `json:"cpu_seconds"` // from New to the return of Run
	PeakRSSMB   float64          `json:"peak_rss_mb"`
	RecordsIn   int64            `json:"records_in"`
	Rows        int64            `json:"rows"`
	DeadLetters map[string]int64 `json:"dead_letters"`
	Aborts      int64            `json:"aborts"`
	Txns        int64            `json:"transactions"`
	Err         string           `json:"error,omitempty"`
}

// TestMain runs the benchmark's processor child when this binary is
// re-executed for it, and the package's tests otherwise.
func TestMain(m *testing.M) {
	if job := os.Getenv(benchChildEnv); job != "" {
		res := runBenchChild(job)
		_ = json.NewEncoder(os.Stdout).Encode(res)
		if res.Err != "" {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func benchRegions(n int) (ids []string, cfg features.Config) {
	cfg = features.Config{Regions: map[string]features.Region{}}
	for i := range n {
		id := fmt.Sprintf("R%03d", i)
		ids = append(ids, id)
		cfg.Regions[id] = features.Region{Zone: "Europe/Helsinki", Country: "FI", IssueTime: "10:00"}
	}
	return ids, cfg
}

func benchLogLevel() slog.Level {
	if os.Getenv("WATTCAST_BENCH_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

func runBenchChild(jobJSON string) (res benchResult) {
	var job benchJob
	if err := json.Unmarshal([]byte(jobJSON), &job); err != nil {
		return benchResult{Err: err.Error()}
	}
	if job.CPUProfile != "" {
		f, err := os.Create(job.CPUProfile)
		if err != nil {
			return benchResult{Err: err.Error()}
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return benchResult{Err: err.Error()}
		}
		defer pprof.StopCPUProfile()
	}
	if path := os.Getenv("WATTCAST_BENCH_MEMPROFILE"); path != "" {
		stop := make(chan struct{})
		defer close(stop)
		go peakHeapProfile(path, stop)
	}
	_, cfg := benchRegions(job.Regions)
	topics := schemas.NewTopicSet(job.Prefix)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: benchLogLevel()}))
	type stage interface {
		Run(context.Context) error
		Stats() runner.Stats
	}
	var p stage
	var floor *ioFloor
	if job.Mode == "floor" {
		var err error
		if floor, err = newIOFloor(job, cfg, topics); err != nil {
			return benchResult{Err: err.Error()}
		}
	}
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	if floor != nil {
		r, err := runner.New(runner.Config{Kafka: kafka.Config{Brokers: job.Brokers}, Group: DefaultGroup,
			Inputs:    []string{topics.Prices, topics.WeatherObserved, topics.WeatherForecast},
			Changelog: ChangelogTopic(topics), DeadLetters: topics.DeadLetters, Stage: "floor", Producer: "bench",
			NewTask: floor.newTask, StopAtEnd: true, MaxPollRecords: DefaultMaxPollRecords,
			Concurrency: runtime.GOMAXPROCS(0), Logger: logger})
		if err != nil {
			return benchResult{Err: err.Error()}
		}
		p = r
	} else {
		proc, err := New(Config{Kafka: kafka.Config{Brokers: job.Brokers}, Topics: topics, Features: cfg, Producer: "bench", StopAtEnd: true,
			Logger: logger})
		if err != nil {
			return benchResult{Err: err.Error()}
		}
		p = proc
	}
	if err := p.Run(context.Background()); err != nil {
		return benchResult{Err: err.Error()}
	}
	res.Seconds = time.Since(start).Seconds()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	res.CPUSeconds = cpuSeconds(&ru1) - cpuSeconds(&ru0)
	if os.Getenv("WATTCAST_BENCH_DEBUG") != "" {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(os.Stderr, "go runtime: heap spans %d MB (%d MB returned to the OS), %d MB from the OS in all, %d collections\n",
			ms.HeapSys>>20, ms.HeapReleased>>20, ms.Sys>>20, ms.NumGC)
	}
	peak, err := peakRSSMB()
	if err != nil {
		return benchResult{Err: err.Error()}
	}
	st := p.Stats()
	res.PeakRSSMB, res.RecordsIn, res.Rows = peak, sum(st.RecordsIn), st.RecordsOut[topics.Features]
	res.DeadLetters, res.Aborts, res.Txns = st.DeadLetters, st.Aborts, st.Transactions
	return res
}

// peakHeapProfile writes a heap profile to path whenever the heap in use
// reaches a new high, until stop is closed: the profile of the peak.
func peakHeapProfile(path string, stop chan struct{}) {
	var peak uint64
	for {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak+peak/20 {
			peak = ms.HeapInuse
			if f, err := os.Create(path); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
	}
}

// ioFloor is the I/O floor's work: the feature rows to produce, encoded
// in advance, shared by its tasks, which produce them in turn.
type ioFloor struct {
	topics schemas.TopicSet
	keys   []string
	values [][]byte
	next   atomic.Int64 // the next row to produce
	perIn  float64      // rows per input
	inputs atomic.Int64 // inputs decoded so far
}

// newIOFloor computes and encodes the rows the processor would produce for
// the benchmark's input, before the clock starts.
func newIOFloor(job benchJob, cfg features.Config, topics schemas.TopicSet) (*ioFloor, error) {
	ids, _ := benchRegions(job.Regions)
	in := featurestest.History(ids, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), job.Days)
	res, err := features.Batch(cfg, in.Prices, in.Obs, in.Fcs)
	if err != nil {
		return nil, err
	}
	f := &ioFloor{topics: topics}
	var enc schemas.FeatureRowEncoder
	var buf []byte
	var ends []int
	for _, rows := range [][]schemas.FeatureRow{res.Ready, res.Final} {
		for i := range rows {
			if buf, err = enc.AppendJSON(buf, &rows[i]); err != nil {
				return nil, err
			}
			ends = append(ends, len(buf))
			f.keys = append(f.keys, rows[i].Region)
		}
	}
	start := 0
	for _, end := range ends {
		f.values = append(f.values, buf[start:end:end])
		start = end
	}
	f.perIn = float64(len(f.values)) / float64(len(in.Prices)+len(in.Obs)+len(in.Fcs))
	return f, nil
}

func (f *ioFloor) newTask(int32) (runner.Task, error) {
	return &floorTask{f: f, headers: kafka.RecordHeaders(schemas.SchemaFeatureRow, "bench")}, nil
}

type floorTask struct {
	f       *ioFloor
	dc      schemas.Decoder
	headers []kgo.RecordHeader
	decoded int
}

func (t *floorTask) Restore(string, []byte) error { return nil }

func (t *floorTask) Process(_ context.Context, recs []*kgo.Record, _ runner.Lag, out *runner.Output) error {
	tp := t.f.topics
	for _, rec := range recs {
		var v schemas.Value
		switch rec.Topic {
		case tp.Prices:
			v = new(schemas.Price)
		case tp.WeatherObserved:
			v = new(schemas.WeatherObservation)
		default:
			v = new(schemas.WeatherForecast)
		}
		if err := t.dc.Decode(rec.Value, v); err != nil {
			return err
		}
	}
	t.decoded = len(recs)
	// The rows due for the inputs decoded so far, over all tasks.
	due := int64(float64(t.f.inputs.Add(int64(len(recs)))) * t.f.perIn)
	for {
		i := t.f.next.Load()
		if i >= due || i >= int64(len(t.f.values)) {
			break
		}
		if t.f.next.CompareAndSwap(i, i+1) {
			out.Emit(&kgo.Record{Topic: tp.Features, Key: []byte(t.f.keys[i]), Value: t.f.values[i], Headers: t.headers})
		}
	}
	return nil
}

func (t *floorTask) Changes() ([]runner.KV, error) {
	if t.decoded == 0 {
		return nil, nil
	}
	kv := []runner.KV{{Key: "floor", Value: make([]byte, 100*t.decoded)}}
	t.decoded = 0
	return kv, nil
}

func benchOnce(b *testing.B, mode string, nRegions, days int) {
	b.StopTimer()
	var kc kafka.Config
	brokerPID := 0 // an external broker's CPU is not measured
	if ext := os.Getenv("WATTCAST_BENCH_BROKERS"); ext != "" {
		kc.Brokers = strings.Split(ext, ",")
	} else {
		var addr string
		addr, brokerPID = startBrokerProcess(b)
		kc.Brokers = []string{addr}
	}
	prefix := fmt.Sprintf("bench%d.", time.Now().UnixNano())
	topics := schemas.NewTopicSet(prefix)
	n := produceBenchInput(b, kc, topics, nRegions, days)

	job, err := json.Marshal(benchJob{Mode: mode, Brokers: kc.Brokers, Prefix: prefix, Regions: nRegions, Days: days, CPUProfile: os.Getenv("WATTCAST_BENCH_CPUPROFILE")})
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	broker0 := processCPU(brokerPID)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchChildEnv+"="+string(job))
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	var res benchResult
	if lines := strings.Split(strings.TrimSpace(string(outb)), "\n"); len(lines) > 0 {
		_ = json.Unmarshal([]byte(lines[len(lines)-1]), &res)
	}
	if err != nil || res.Err != "" {
		b.Fatalf("processor child: %v %s", err, res.Err)
	}
	if res.RecordsIn != int64(n) || len(res.DeadLetters) != 0 || res.Aborts != 0 {
		b.Fatalf("processor consumed %d of %d records, dead letters %v, aborts %d: the benchmark input must be processed cleanly",
			res.RecordsIn, n, res.DeadLetters, res.Aborts)
	}

	// The child's CPU from New to the return of Run (the I/O floor's setup,
	// which encodes its rows, is not part of it).
	procCPU := res.CPUSeconds
	brokerProc := processCPU(brokerPID) - broker0

	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	broker0 = processCPU(brokerPID)
	start := time.Now()
	raw := rawConsume(b, kc, prefix+"raw", []string{topics.Prices, topics.WeatherObserved, topics.WeatherForecast}, n)
	rawDur := time.Since(start)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	brokerRaw := processCPU(brokerPID) - broker0
	b.StopTimer()
	rawCPU := cpuSeconds(&ru1) - cpuSeconds(&ru0)

	procRate := float64(n) / res.Seconds
	rawRate := float64(raw) / rawDur.Seconds()
	ratio := procRate / rawRate
	b.ReportMetric(procRate, "proc-rec/s")
	b.ReportMetric(rawRate, "raw-rec/s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(res.PeakRSSMB, "peak-RSS-MB")
	b.ReportMetric(procCPU*1e6/float64(n), "proc-CPU-µs/rec")
	b.ReportMetric(rawCPU*1e6/float64(n), "raw-CPU-µs/rec")
	// The broker serves both on the same machine: its CPU is part of what
	// each costs the machine (the processor's transactions and outputs are
	// work for it too).
	b.ReportMetric(brokerProc*1e6/float64(n), "broker-CPU-µs/rec-proc")
	b.ReportMetric(brokerRaw*1e6/float64(n), "broker-CPU-µs/rec-raw")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	b.Logf("%s: %d regions, %d records: processor %.0f rec/s (%d feature rows, %d transactions, %.2f CPU-s, broker %.2f CPU-s), raw consume %.0f rec/s (%.2f CPU-s, broker %.2f CPU-s); ratio %.3f (floor 0.5 %s); processor peak RSS %.0f MB (floor 200 MB %s)",
		mode, nRegions, n, procRate, res.Rows, res.Txns, procCPU, brokerProc, rawRate, rawCPU, brokerRaw, ratio, verdict(ratio >= 0.5), res.PeakRSSMB, verdict(res.PeakRSSMB < 200))
}

// cpuSeconds is the user plus system CPU time of a rusage.
func cpuSeconds(u any) float64 {
	ru, ok := u.(*syscall.Rusage)
	if !ok || ru == nil {
		return 0
	}
	return time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime)).Seconds()
}

// produceBenchInput fills the input topics with days of history for
// nRegions regions and returns the number of records. Each topic is in
// known-at order, as a replay publishes it and as live producers do.
func produceBenchInput(b *testing.B, kc kafka.Config, topics schemas.TopicSet, nRegions, days int) int {
	b.Helper()
	ids, _ := benchRegions(nRegions)
	in := featurestest.History(ids, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), days)
	ctx := context.Background()
	cl, err := kc.NewClient(kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if err := kafka.EnsureTopics(ctx, cl, Topics(topics, 6), 1); err != nil {
		b.Fatal(err)
	}
	type item struct {
		at  time.Time
		rec *kgo.Record
	}
	items := make([]item, 0, len(in.Prices)+len(in.Obs)+len(in.Fcs))
	add := func(at time.Time, topic, key string, v schemas.Value) {
		r, err := kafka.NewRecord(topic, key, v, "bench")
		if err != nil {
			b.Fatal(err)
		}
		items = append(items, item{at, r})
	}
	in.Each(topics, add)
	slices.SortStableFunc(items, func(x, y item) int { return cmp.Compare(x.at.UnixNano(), y.at.UnixNano()) })
	recs := make([]*kgo.Record, len(items))
	for i := range items {
		recs[i] = items[i].rec
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	return len(recs)
}

func sum(m map[string]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

// rawConsume reads every record of topics in a new consumer group, doing
// nothing with them: the ceiling the processor is compared with.
func rawConsume(b *testing.B, kc kafka.Config, group string, topics []string, want int) int {
	cl, err := kc.NewClient(kgo.ConsumerGroup(group), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	got := 0
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for got < want {
		fs := cl.PollRecords(ctx, 20000)
		if ctx.Err() != nil {
			b.Fatalf("raw consume got %d of %d", got, want)
		}
		got += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		b.Fatal(err)
	}
	return got
}

// peakRSSMB is this process's peak resident set size so far (VmHWM).
func peakRSSMB() (float64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS needs Linux's /proc/self/status: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// processCPU is the user plus system CPU time of process pid so far, in
// seconds (0 if /proc cannot tell).
func processCPU(pid int) float64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) in parentheses:
	// utime and stime are the 14th and 15th of the line.
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTicks
}

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's times.
const clockTicks = 100

// startBrokerProcess builds wattcast and runs `wattcast broker` on a free
// port in a child process, and returns its address and process id.
func startBrokerProcess(b *testing.B) (string, int) {
	b.Helper()
	bin := os.Getenv("WATTCAST_BENCH_BROKER_BIN")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "wattcast")
		build := exec.Command("go", "build", "-o", bin, "../cmd/wattcast")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			b.Fatalf("build wattcast: %v", err)
		}
	}
	port := freePort(b)
	cmd := exec.Command(bin, "broker", "--port", strconv.Itoa(port), "--data-dir", "", "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	kc := kafka.Config{Brokers: []string{addr}}
	cl, err := kc.NewClient()
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if cl.Ping(ctx) == nil {
			return addr, cmd.Process.Pid
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatal("broker did not start")
	return "", 0
}

func freePort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
