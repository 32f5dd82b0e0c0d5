package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
	"github.com/wattcast/wattcast/streams/kafka"
)

// Scan returns what is left of a partition whose oldest records were
// deleted (retention, DeleteRecords), and does not wait for a partition
// whose records were all deleted: its end offset is > 0 but equals its log
// start.
func TestScanDeletedRecords(t *testing.T) {
	t.Parallel()
	kcfg := brokertest.Start(t)
	cl := brokertest.Client(t, kcfg, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name    string
		deleted int64    // records deleted from the start of partition 0, of 3
		want    []string // values Scan returns
	}{
		{"none deleted", 0, []string{"p0-0", "p0-1", "p0-2", "p1-0"}},
		{"some deleted", 2, []string{"p0-2", "p1-0"}},
		{"all deleted", 3, []string{"p1-0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Partition 0 holds 3 records, partition 1 one, partition 2
			// none.
			topic := "scan-" + fmt.Sprint(tc.deleted)
			if err := kafka.EnsureTopics(ctx, cl, []schemas.TopicSpec{{Name: topic, Partitions: 3, Retention: -1}}, -1); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				r := &kgo.Record{Topic: topic, Partition: 0, Value: fmt.Appendf(nil, "p0-%d", i)}
				if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("p1-0")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if tc.deleted > 0 {
				var offs kadm.Offsets
				offs.AddOffset(topic, 0, tc.deleted, -1)
				resp, err := adm.DeleteRecords(ctx, offs)
				if err == nil {
					err = resp.Error()
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			// Bounds a Scan that waits for an end it cannot reach (the bug
			// this guards against), with room for a loaded CI machine: 5 s
			// once timed out there reading one record.
			sctx, cancel := context.WithTimeout(ctx, 25*time.Second)
			defer cancel()
			var got []string
			if err := kafka.Scan(sctx, kcfg, topic, func(r *kgo.Record) { got = append(got, string(r.Value)) }); err != nil {
				t.Fatalf("Scan: %v (read %v)", err, got)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Scan read %v, want %v", got, tc.want)
			}
		})
	}
}
