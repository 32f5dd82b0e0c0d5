package processors

import (
	"cmp"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/processors/features/featurestest"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
	"github.com/wattcast/wattcast/streams/runner"
)

// BenchmarkProcessCPU is the processor's work per input record without
// Kafka: decoding the inputs, the engine, encoding the feature rows as
// records and the changelog, on the input of BenchmarkProcessorVsRawConsume
// split over 6 partitions and handed over 2000 records per transaction, as
// the runner does. It is the part of the processor's CPU this repository's
// code decides; run it with -cpu 1 for a profile of one core's work.
func BenchmarkProcessCPU(b *testing.B) {
	for _, c := range []struct{ regions, days int }{{1, 1200}, {100, 12}} {
		const parts = 6
		ids, fcfg := benchRegions(c.regions)
		topics := schemas.NewTopicSet("cpu.")
		type item struct {
			at  int64
			rec *kgo.Record
		}
		var byPart [][]item
		n := 0
		// The input is built once, outside the measured runs.
		build := func(b *testing.B) {
			if byPart != nil {
				return
			}
			in := featurestest.History(ids, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), c.days)
			byPart = make([][]item, parts)
			part := map[string]int{}
			for i, id := range ids {
				part[id] = i % parts
			}
			add := func(at time.Time, topic, key string, v schemas.Value) {
				r, err := kafka.NewRecord(topic, key, v, "bench")
				if err != nil {
					b.Fatal(err)
				}
				byPart[part[key]] = append(byPart[part[key]], item{at.UnixNano(), r})
			}
			in.Each(topics, add)
			for p := range byPart {
				slices.SortStableFunc(byPart[p], func(x, y item) int { return cmp.Compare(x.at, y.at) })
				n += len(byPart[p])
			}
		}
		b.Run(fmt.Sprintf("regions=%d", c.regions), func(b *testing.B) {
			build(b)
			cfg := &Config{Topics: topics, Features: fcfg, Producer: "bench"}
			behind := runner.Lag{topics.Prices: true, topics.WeatherObserved: true, topics.WeatherForecast: true}
			done := runner.Lag{}
			b.ReportAllocs()
			b.ResetTimer()
			var ru0, ru1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			var rows, bytes, clBytes, clRecs int64
			for range b.N {
				p := &Processor{cfg: *cfg}
				tasks := make([]*task, parts)
				for i := range tasks {
					t, err := p.newTask(int32(i))
					if err != nil {
						b.Fatal(err)
					}
					tasks[i] = t.(*task)
				}
				emit := func(r *kgo.Record) { rows++; bytes += int64(len(r.Value)) }
				dead := func(r *kgo.Record, reason string, err error) { b.Fatalf("dead letter %s: %v", reason, err) }
				per := 2000 / parts
				for lo := 0; ; lo += per {
					more := false
					for i, t := range tasks {
						recs := byPart[i][min(lo, len(byPart[i])):min(lo+per, len(byPart[i]))]
						lag := behind
						if lo+per >= len(byPart[i]) {
							lag = done
						} else {
							more = true
						}
						batch := make([]*kgo.Record, len(recs))
						for j := range recs {
							batch[j] = recs[j].rec
						}
						if err := t.process(batch, lag, emit, dead); err != nil {
							b.Fatal(err)
						}
						kvs, err := t.Changes()
						if err != nil {
							b.Fatal(err)
						}
						for _, kv := range kvs {
							clBytes += int64(len(kv.Value))
							clRecs++
						}
					}
					if !more {
						break
					}
				}
			}
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			// CPU time, not wall time: on a shared machine it is the stabler
			// of the two, and it counts the collector's work on other cores.
			b.ReportMetric((cpuSeconds(&ru1)-cpuSeconds(&ru0))*1e9/float64(b.N*n), "CPU-ns/input")
			b.ReportMetric(float64(rows)/float64(b.N*n), "rows/input")
			b.ReportMetric(float64(bytes)/float64(b.N*n), "row-B/input")
			b.ReportMetric(float64(clBytes)/float64(b.N*n), "changelog-B/input")
			b.ReportMetric(float64(clRecs)/float64(b.N*n), "changelog-rec/input")
		})
	}
}
