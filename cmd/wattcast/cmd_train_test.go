package main

import (
	"context"
	"strings"
	"testing"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/streams/csvimport"
	"github.com/wattcast/wattcast/training/dataset"
	"github.com/wattcast/wattcast/training/registry"
)

// writeFeatureLake writes the shipped Finland slice's feature rows as the
// lake sink does: Parquet files per hive partition, named by topic,
// partition and offset range.
func writeFeatureLake(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	m, err := csvimport.Preset("entsoe-FI")
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := dataset.Load("../../training/testdata/entsoe_FI_2021H1.csv.gz", dataset.Options{Mapping: m,
		Region: &features.Region{Zone: "Europe/Helsinki", Country: "FI", IssueTime: "10:00"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := lake.Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	var fs lake.FileSet
	for i := range rows {
		fr, err := lake.NewFeaturesRow(&rows[i], lake.Lineage{Topic: "wattcast.features", Partition: 0, Offset: int64(i)})
		if err != nil {
			t.Fatal(err)
		}
		lake.Add(&fs, fr)
	}
	objs, err := fs.Objects(nil, lake.FileName("wattcast.features", 0, 0, int64(len(rows)-1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := b.Put(ctx, o.Key, o.Data); err != nil {
			t.Fatal(err)
		}
	}
}

// wattcast train reads the Parquet lake, registers the models with their
// lineage, bootstraps the champion, and models list shows them.
func TestTrainCommandFromLake(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFeatureLake(t, dir+"/lake")
	log, err := runWithArgs(t, trainCommand(), "--lake", "file://"+dir+"/lake", "--registry", "file://"+dir+"/registry",
		"--preset", "demo", "--holdout-days", "14", "--recalibrate-every", "14")
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if !strings.Contains(log, "is now champion") {
		t.Errorf("train did not report the bootstrap:\n%s", log)
	}
	b, err := lake.Open(context.Background(), "file://"+dir+"/registry")
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(b)
	card, err := reg.Card(context.Background(), registry.Ref{ID: "lear"})
	if err != nil {
		t.Fatal(err)
	}
	if len(card.LakeFiles) == 0 || len(card.KafkaOffsets) != 1 || card.KafkaOffsets[0].First != 0 || card.Rows == 0 {
		t.Errorf("card lineage: files %d, offsets %v, rows %d", len(card.LakeFiles), card.KafkaOffsets, card.Rows)
	}
	st, err := reg.Stages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ch, ok := st.Champion(); !ok || ch.ID != "lear" {
		t.Errorf("champion %v; want lear (better backtest rMAE than the weekly naive)", ch)
	}
}
