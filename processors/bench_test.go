package processors

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/processors/features/featurestest"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
)

// BenchmarkProcessorVsRawConsume measures the feature processor's
// throughput from pre-filled topics next to a plain franz-go group consume
// of the same topics in the same run, at 1 and 100 regions, and the
// processor's peak memory. The broker runs in its own process (`wattcast
// broker`) so that its memory is not counted; the processor runs in this
// one, first, so that the process's peak RSS (VmHWM) is the processor's.
//
// Run it with `make bench` or
//
//	go test -run '^$' -bench ProcessorVsRawConsume -benchtime 1x ./processors/
func BenchmarkProcessorVsRawConsume(b *testing.B) {
	for _, c := range []struct {
		regions, days int
	}{{1, 1200}, {100, 12}} {
		b.Run(fmt.Sprintf("regions=%d", c.regions), func(b *testing.B) {
			for range b.N {
				benchOnce(b, c.regions, c.days)
			}
		})
	}
}

func benchOnce(b *testing.B, nRegions, days int) {
	addr := startBrokerProcess(b)
	kc := kafka.Config{Brokers: []string{addr}}
	prefix := fmt.Sprintf("bench%d.", time.Now().UnixNano())
	topics := schemas.NewTopicSet(prefix)
	regions := make([]string, nRegions)
	cfg := features.Config{Regions: map[string]features.Region{}}
	for i := range regions {
		regions[i] = fmt.Sprintf("R%03d", i)
		cfg.Regions[regions[i]] = features.Region{Zone: "Europe/Helsinki", Country: "FI", IssueTime: "10:00"}
	}
	in := featurestest.History(regions, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), days)
	ctx := context.Background()
	cl, err := kc.NewClient(kgo.ProducerLinger(5 * time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	if err := kafka.EnsureTopics(ctx, cl, Topics(topics, 6), 1); err != nil {
		b.Fatal(err)
	}
	var recs []*kgo.Record
	add := func(topic, key string, v schemas.Value) {
		r, err := kafka.NewRecord(topic, key, v, "bench")
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, r)
	}
	for i := range in.Prices {
		add(topics.Prices, in.Prices[i].Region, &in.Prices[i])
	}
	for i := range in.Obs {
		add(topics.WeatherObserved, in.Obs[i].Region, &in.Obs[i])
	}
	for i := range in.Fcs {
		add(topics.WeatherForecast, in.Fcs[i].Region, &in.Fcs[i])
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	cl.Close()
	n := len(recs)
	recs, in = nil, featurestest.Inputs{}
	runtime.GC()

	b.ResetTimer()
	start := time.Now()
	p, err := New(Config{Kafka: kc, Topics: topics, Features: cfg, Producer: "bench", StopAtEnd: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Run(ctx); err != nil {
		b.Fatal(err)
	}
	procDur := time.Since(start)
	peakMB := peakRSSMB(b)
	st := p.Stats()
	if got := sum(st.RecordsIn); got != int64(n) {
		b.Fatalf("processor consumed %d of %d records", got, n)
	}

	start = time.Now()
	raw := rawConsume(b, kc, prefix+"raw", []string{topics.Prices, topics.WeatherObserved, topics.WeatherForecast}, n)
	rawDur := time.Since(start)
	b.StopTimer()

	procRate := float64(n) / procDur.Seconds()
	rawRate := float64(raw) / rawDur.Seconds()
	b.ReportMetric(procRate, "proc-rec/s")
	b.ReportMetric(rawRate, "raw-rec/s")
	b.ReportMetric(procRate/rawRate, "ratio")
	b.ReportMetric(peakMB, "peak-RSS-MB")
	b.Logf("%d regions: %d records; processor %.0f rec/s (%d feature rows), raw consume %.0f rec/s, ratio %.2f; peak RSS %.0f MB",
		nRegions, n, procRate, st.RecordsOut[topics.Features], rawRate, procRate/rawRate, peakMB)
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

// peakRSSMB is this process's peak resident set size so far.
func peakRSSMB(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status: peak RSS needs Linux")
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// startBrokerProcess builds wattcast and runs `wattcast broker` on a free
// port in a child process.
func startBrokerProcess(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "wattcast")
	build := exec.Command("go", "build", "-o", bin, "../cmd/wattcast")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("build wattcast: %v", err)
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
			return addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatal("broker did not start")
	return ""
}

func freePort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
