package monitor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
)

// CaughtUp turns true once the monitor has read everything the topics held
// when it started, and not before: when it first reports true the stores
// hold every record. Records written in transactions (as the scorer writes
// them) end each partition with a transaction marker, which must count as
// read; empty topics are caught up with at once.
func TestMonitorCaughtUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		forecasts     int // forecasts written, across regions
		errs          int // champion error records written
		transactional bool
	}{
		{"empty topics", 0, 0, false},
		{"plain records", 6, 48, false},
		{"transactional records", 6, 48, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kc := brokertest.Start(t)
			topics := schemas.NewTopicSet(fmt.Sprintf("caught%d.", i))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			t.Cleanup(cancel)
			if err := kafka.EnsureTopics(ctx, brokertest.Client(t, kc), topics.Specs(3, 0), 1); err != nil {
				t.Fatal(err)
			}
			var opts []kgo.Opt
			if tt.transactional {
				opts = append(opts, kgo.TransactionalID("caught-up-test"))
			}
			cl := brokertest.Client(t, kc, opts...)
			if tt.transactional {
				if err := cl.BeginTransaction(); err != nil {
					t.Fatal(err)
				}
			}
			regions := []string{"FI", "SE3", "GB-A"}
			produce := func(topic, key string, v schemas.Value) {
				rec, err := kafka.NewRecord(topic, key, v, "test")
				if err != nil {
					t.Fatal(err)
				}
				if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			for n := range tt.forecasts {
				region := regions[n%len(regions)]
				issue := t0.AddDate(0, 0, n/len(regions)).Add(-14 * time.Hour)
				produce(topics.Forecasts, region, &schemas.Forecast{ForecastID: fmt.Sprintf("%s/m/1/%d", region, n), Region: region, Market: "m",
					Unit: "EUR/MWh", ModelID: "m", ModelVersion: "1", ModelKind: "k", Role: schemas.RoleChampion, Official: true,
					IssueTime: issue, LocalDate: issue.Add(14 * time.Hour).Format(time.DateOnly),
					Points: []schemas.ForecastPoint{{Hour: issue.Add(14 * time.Hour), LeadHours: 14, Value: 50}}})
			}
			for n := range tt.errs {
				region := regions[n%len(regions)]
				produce(topics.ErrorsChampion, region, errRec(region, "m", schemas.RoleChampion, t0.Add(time.Duration(n)*time.Hour), 14, 50, 2, 4, 0))
			}
			if tt.transactional {
				if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
					t.Fatal(err)
				}
			}

			m, err := New(Config{Kafka: kc, Topics: topics})
			if err != nil {
				t.Fatal(err)
			}
			if m.CaughtUp() {
				t.Fatal("caught up before running")
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- m.Run(runCtx) }()
			t.Cleanup(func() {
				stop()
				if err := <-done; err != nil {
					t.Error(err)
				}
			})
			for !m.CaughtUp() {
				if ctx.Err() != nil {
					t.Fatalf("not caught up after 30 s; read %v", m.Stats().Read)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if s := m.Stats(); s.Read[topics.Forecasts] != int64(tt.forecasts) || s.Read[topics.ErrorsChampion] != int64(tt.errs) {
				t.Errorf("caught up having read %d forecasts and %d errors, want %d and %d", s.Read[topics.Forecasts],
					s.Read[topics.ErrorsChampion], tt.forecasts, tt.errs)
			}
			if tt.forecasts > 0 && len(m.Forecasts().Regions()) != len(regions) {
				t.Errorf("caught up with forecasts of %v, want all of %v", m.Forecasts().Regions(), regions)
			}
		})
	}
}
