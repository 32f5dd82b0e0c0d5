package lakesink

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/wattcast/wattcast/data"
	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/processors/features"
	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/csvimport"
)

// BenchmarkJSONToParquet measures, per table, the bytes MaxBytes counts (the
// key and value of every record the sink reads) against the Parquet bytes it
// writes for them and the heap an open batch holds, on the real Nord Pool FI
// history (data.NordPoolFI, 2023-01 .. 2024-09) turned into records as the
// importer, the feature processor (ready and final rows) and the scorer (one
// forecast per day, 24 points with a 90% interval) make them. Records go
// through the sink's own decode path (newRoutes), and files are cut as the
// sink cuts them with daily rolling: one per region and day. It reports
// read/parquet per table, features-rows-json/parquet (the final rows' own
// JSON, without the ready rows the lake does not keep),
// features-json/parquet-one-file (the same rows in a single file: how much
// the one-region-day files cost in per-file overhead) and
// <table>-open-batch-heap/read (heap of the decoded rows per byte read).
//
//	go test ./processors/lakesink -run XXX -bench JSONToParquet -benchtime 1x
func BenchmarkJSONToParquet(b *testing.B) {
	m, err := csvimport.Preset(csvimport.PresetNordPoolFI)
	if err != nil {
		b.Fatal(err)
	}
	rc, err := data.Open(data.NordPoolFI)
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	in, err := csvimport.Parse(rc, m, csvimport.Options{File: data.NordPoolFI, Lenient: true})
	if err != nil {
		b.Fatal(err)
	}
	fr, err := features.Batch(features.Config{}, in.Prices, in.Observations, in.Forecasts)
	if err != nil {
		b.Fatal(err)
	}
	topics := schemas.NewTopicSet("")
	routes := newRoutes(topics)

	type rec struct{ key, value []byte }
	type table struct {
		topic            string
		recs             []rec
		read, rows       int64
		parquet, files   int64
		heap             uint64
		finalJSON, final int64 // features: the final rows' own bytes, and how many
	}
	var tables []*table
	add := func(t *table, key string, v schemas.Value) {
		enc, err := schemas.Encode(v)
		if err != nil {
			b.Fatal(err)
		}
		t.recs = append(t.recs, rec{[]byte(key), enc})
		t.read += int64(len(key) + len(enc))
	}
	newTable := func(topic string) *table {
		t := &table{topic: topic}
		tables = append(tables, t)
		return t
	}
	t := newTable(topics.Prices)
	for i := range in.Prices {
		add(t, in.Prices[i].Region, &in.Prices[i])
	}
	t = newTable(topics.WeatherObserved)
	for i := range in.Observations {
		add(t, in.Observations[i].Region, &in.Observations[i])
	}
	t = newTable(topics.WeatherForecast)
	for i := range in.Forecasts {
		add(t, in.Forecasts[i].Region, &in.Forecasts[i])
	}
	// The features topic in emission order is ready rows at each issue
	// time and final rows as hours pass; only the order of batches would
	// change with it, not the bytes, the rows or the files.
	ft := newTable(topics.Features)
	for i := range fr.Ready {
		add(ft, fr.Ready[i].Region, &fr.Ready[i])
	}
	for i := range fr.Final {
		n := ft.read
		add(ft, fr.Final[i].Region, &fr.Final[i])
		ft.finalJSON += ft.read - n
		ft.final++
	}
	t = newTable(topics.Forecasts)
	var f *schemas.Forecast
	for i, r := range fr.Final {
		if f == nil {
			f = &schemas.Forecast{ForecastID: r.Region + "/gru/3/" + r.IssueTime.Format(time.RFC3339), Region: r.Region,
				Market: r.Market, Unit: r.Unit, ModelID: "gru", ModelVersion: "3", ModelKind: "gru", Role: schemas.RoleChampion,
				Official: true, IssueTime: r.IssueTime, LocalDate: r.LocalDate, CreatedAt: r.IssueTime}
		}
		// A model's output has full float precision, as here.
		v := *r.Price * 1.0371
		if r.Mean24h != nil {
			v = *r.Mean24h * 0.9713
		}
		f.Points = append(f.Points, schemas.ForecastPoint{Hour: r.Hour, LeadHours: r.LeadHours, Value: v,
			Quantiles: []schemas.Quantile{{Q: 0.05, Value: v - 0.5483*math.Abs(v)}, {Q: 0.95, Value: v + 0.5483*math.Abs(v)}}})
		if i+1 == len(fr.Final) || fr.Final[i+1].LocalDate != r.LocalDate {
			add(t, f.Region, f)
			f = nil
		}
	}

	// decode is what the sink does with a batch's records before it
	// encodes them.
	decode := func(t *table) *lake.FileSet {
		var fs lake.FileSet
		rt := routes[t.topic]
		for i, r := range t.recs {
			if d := rt.decode(r.value, lake.Lineage{Topic: t.topic, Offset: int64(i)}); d.add != nil {
				d.add(&fs)
			}
		}
		return &fs
	}
	for _, t := range tables {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		fs := decode(t)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		t.heap = m1.HeapAlloc - m0.HeapAlloc
		t.rows = int64(fs.Rows())
		runtime.KeepAlive(fs)
	}
	var oneFile int64
	enc := lake.NewEncoder()
	for b.Loop() {
		for _, t := range tables {
			objs, err := decode(t).Objects(enc, "bench.parquet")
			if err != nil {
				b.Fatal(err)
			}
			t.parquet, t.files = 0, int64(len(objs))
			for _, o := range objs {
				t.parquet += int64(len(o.Data))
			}
		}
		var rows []lake.FeaturesRow
		for i := range fr.Final {
			r, err := lake.NewFeaturesRow(&fr.Final[i], lake.Lineage{Topic: topics.Features, Offset: int64(i)})
			if err != nil {
				b.Fatal(err)
			}
			rows = append(rows, r)
		}
		one, err := lake.EncodeWith(enc, rows)
		if err != nil {
			b.Fatal(err)
		}
		oneFile = int64(len(one))
	}
	for _, t := range tables {
		table := routes[t.topic].table
		b.ReportMetric(float64(t.read)/float64(t.parquet), table+"-read/parquet")
		b.ReportMetric(float64(t.heap)/float64(t.read), table+"-open-batch-heap/read")
		b.Logf("%-16s %6d records, %6d rows, %9d bytes read (%4.0f per record), %8d Parquet bytes in %3d files (%3.0f per row), open batch heap %8d",
			table, len(t.recs), t.rows, t.read, float64(t.read)/float64(len(t.recs)), t.parquet, t.files,
			float64(t.parquet)/float64(t.rows), t.heap)
	}
	b.ReportMetric(float64(ft.finalJSON)/float64(ft.parquet), "features-rows-json/parquet")
	b.ReportMetric(float64(ft.finalJSON)/float64(oneFile), "features-json/parquet-one-file")
	b.Logf("features: %d final rows of %.0f JSON bytes each; in one file %d Parquet bytes (%.0f per row)",
		ft.final, float64(ft.finalJSON)/float64(ft.final), oneFile, float64(oneFile)/float64(ft.final))
}
