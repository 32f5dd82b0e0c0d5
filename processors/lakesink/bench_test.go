package lakesink_test

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/lake"
)

// BenchmarkSinkVsRawConsume stores a year of hourly data for two regions
// (about 100 000 records, fsynced files) and, in the same process, reads the
// same topics with a bare franz-go consumer. It reports both rates and their
// ratio, the peak heap seen while the sink ran and the heap before it (the
// embedded broker keeps the topics in this process's heap), and the CPU the
// process used while the sink ran (broker included).
//
//	go test ./processors/lakesink -run XXX -bench SinkVsRaw -benchtime 1x
func BenchmarkSinkVsRawConsume(b *testing.B) {
	e := newEnv(b)
	e.produce(t2024, 365, "FI", "GB-A")
	var records int
	for _, m := range e.want {
		records += len(m)
	}
	records += e.notFinal + e.invalid
	topics := []string{e.topics.Prices, e.topics.WeatherObserved, e.topics.WeatherForecast, e.topics.Features, e.topics.Forecasts}
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topics...),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for n < records {
			cl.PollFetches(ctx).EachRecord(func(*kgo.Record) { n++ })
		}
		cl.Close()
		raw := time.Since(start)

		store, err := lake.Open(ctx, "file://"+b.TempDir()) // fsynced, as in production
		if err != nil {
			b.Fatal(err)
		}
		cfg := e.config(store)
		cfg.Group = fmt.Sprintf("bench-%d", i)
		cfg.Logger = nil
		cfg.MaxRows = 0 // defaults, as in production
		cfg.ClientOpts = nil
		var base runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&base) // the embedded broker's copy of the topics is in this heap too
		var peak uint64
		stop := make(chan struct{})
		go func() {
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}
			}
		}()
		var ru0, ru1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		start = time.Now()
		st := runSink(b, cfg, 10*time.Minute)
		sink := time.Since(start)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
		close(stop)
		b.ReportMetric(float64(records)/raw.Seconds(), "raw-records/s")
		b.ReportMetric(float64(records)/sink.Seconds(), "sink-records/s")
		b.ReportMetric(raw.Seconds()/sink.Seconds(), "sink/raw")
		b.ReportMetric(float64(st.Files), "files")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(base.HeapInuse)/(1<<20), "heap-before-sink-MB")
		b.ReportMetric(cpu.Seconds(), "sink-cpu-s")
	}
}
