package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/streams/broker/brokertest"
)

// lakePrices counts price rows in a local lake, standing in for Athena,
// which cannot run here: the same files, read by our own reader.
type lakePrices struct{ b *lake.Bucket }

func (l lakePrices) CountPrices(ctx context.Context, region, source string) (int, error) {
	rows, _, err := lake.ReadPrices(ctx, l.b, lake.Filter{Regions: []string{region}})
	n := 0
	for _, r := range rows {
		if r.Source == source {
			n++
		}
	}
	return n, err
}

// The smoke test of a deployment must pass against a working cluster and
// lake, and leave the deployment's own topics alone.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline: skipped with -short")
	}
	kc := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lb, err := lake.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = runSmoke(ctx, smokeConfig{kafka: kc, prefix: "wattcast.", runID: "t1", lake: lb, prices: lakePrices{lb}, out: &out,
		now: func() time.Time { return time.Date(2025, 1, 15, 15, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatalf("smoke failed: %v\n%s", err, out.String())
	}
	t.Log(out.String())
	n, err := countRecords(ctx, kc, "wattcast.prices")
	if err != nil || n != 0 {
		t.Fatalf("the smoke test wrote %d records to the deployment's own prices topic (err %v)", n, err)
	}
}
