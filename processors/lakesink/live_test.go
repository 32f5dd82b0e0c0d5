package lakesink_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/lakesink"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/kafka"
)

// In live operation the feature processor emits a region's final row once
// an hour. How many files a day of it becomes, and how soon each row is in
// the lake, is set by IdleFlush and RollInterval (docs/lake.md, "Live
// operation"): the sink's default closes a batch a minute after the hour's
// rows (a file per hour, fresh); an idle flush longer than the hour with a
// 6 h roll makes four files a day, each closed by the first row of the
// next block; with the 24 h roll, one. The hours are produced one at a
// time, waiting for the stored rows where the setting stores each hour,
// so the count depends on the rules, not on timing.
func TestSinkLiveFilesPerDay(t *testing.T) {
	t.Parallel()
	day := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		idle      time.Duration
		roll      time.Duration
		eachHour  bool // each hour is stored before the next is produced
		wantFiles int
	}{
		{"idle flush: a file per hour", 100 * time.Millisecond, 24 * time.Hour, true, 24},
		{"6 h roll, idle flush past the hour", time.Minute, 6 * time.Hour, false, 4},
		{"24 h roll, idle flush past the hour", time.Minute, 24 * time.Hour, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cfg := e.config(e.lake)
			cfg.StopAtEnd, cfg.MaxRows, cfg.IdleFlush, cfg.RollInterval = false, 50000, tt.idle, tt.roll
			done := make(chan error, 1)
			runCtx, stop := context.WithCancel(ctx)
			t.Cleanup(func() { stop(); <-done })
			s, err := lakesink.New(cfg)
			e.must(err)
			go func() { done <- s.Run(runCtx) }()

			cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
			e.must(err)
			t.Cleanup(cl.Close)
			produceHour := func(h int) {
				hour := day.Add(time.Duration(h) * time.Hour)
				row := &schemas.FeatureRow{Region: "FI", Market: "test-dayahead", Unit: "EUR/MWh", Hour: hour, Final: true,
					LocalDate: hour.Format(time.DateOnly), IssueTime: hour.Truncate(24 * time.Hour).Add(-14 * time.Hour),
					LeadHours: 14 + hour.Hour(), LocalHour: hour.Hour(), Weekday: int(hour.Weekday()), Month: int(hour.Month()),
					DayOfYear: hour.YearDay(), Price: f64(float64(h)), PriceCount: 1}
				r, err := kafka.NewRecord(e.topics.Features, "FI", row, "test")
				e.must(err)
				e.must(cl.ProduceSync(ctx, r).FirstErr())
			}
			stored := func(want int) {
				for {
					rows, _, err := lake.ReadFeatures(ctx, e.lake, lake.Filter{Regions: []string{"FI"}, From: day, To: day.Add(24 * time.Hour)})
					e.must(err)
					if len(rows) >= want {
						return
					}
					if ctx.Err() != nil {
						t.Fatalf("%d of %d rows of the day in the lake after %v", len(rows), want, 90*time.Second)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			for h := range 24 {
				produceHour(h)
				if tt.eachHour {
					stored(h + 1)
				}
			}
			if !tt.eachHour {
				produceHour(24) // the next day's first row closes the last block
			}
			stored(24)

			keys, err := lake.TableFiles(ctx, e.lake, lake.TableFeatures, lake.Filter{Regions: []string{"FI"}, From: day, To: day.Add(24 * time.Hour)})
			e.must(err)
			var files []string
			for _, k := range keys {
				if p, _, err := lake.ParseKey(k); err == nil && p.Date == day.Format(time.DateOnly) {
					files = append(files, k)
				}
			}
			if len(files) != tt.wantFiles {
				t.Errorf("%d files for the day, want %d: %v", len(files), tt.wantFiles, files)
			}
		})
	}
}
