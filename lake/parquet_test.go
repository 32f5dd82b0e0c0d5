package lake

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/wattcast/wattcast/schemas"
)

func TestTablesRoundTrip(t *testing.T) {
	t.Parallel()
	b, s, _ := newSampleLake(t)
	ctx := context.Background()
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read back differs from what was written", name)
		}
	}
	prices, _, err := ReadRows[PriceRow](ctx, b, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	check("prices", prices, sorted(s.prices))
	obs, _, err := ReadRows[WeatherObservedRow](ctx, b, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	check("weather_observed", obs, sorted(s.observed))
	wf, _, err := ReadRows[WeatherForecastRow](ctx, b, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	check("weather_forecast", wf, sorted(s.forecast))
	feats, _, err := ReadRows[FeaturesRow](ctx, b, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	check("features", feats, sorted(s.features))
	fcs, _, err := ReadRows[ForecastRow](ctx, b, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	check("forecasts", fcs, sorted(s.forecasts))

	// And back to the topic values, as the trainer sees them.
	got, _, err := ReadFeatures(ctx, b, FeatureFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range got {
		want := s.features[i].FeatureRow()
		if err := f.Validate(); err != nil {
			t.Fatalf("feature row %d does not validate after the trip: %v", i, err)
		}
		if !reflect.DeepEqual(f, want) || !f.Final || f.Region != "FI" {
			t.Fatalf("feature row %d = %+v, want %+v", i, f, want)
		}
	}
	ps, _, err := ReadPrices(ctx, b, Filter{Regions: []string{"GB-A"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 144 || ps[0].Tariff != "AGILE-18-02-21" || ps[0].ValueExVAT == nil || ps[0].Region != "GB-A" {
		t.Fatalf("GB-A prices: %d, first %+v", len(ps), ps[0])
	}
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			t.Fatalf("price does not validate after the trip: %v", err)
		}
	}
}

// sorted orders rows as the readers promise: region, event time, lineage.
func sorted[T any, PT Row[T]](rows []T) []T {
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(a, b T) int {
		pa, pb := PT(&a), PT(&b)
		if c := strings.Compare(pa.Partition().Region, pb.Partition().Region); c != 0 {
			return c
		}
		if c := pa.eventTime().Compare(pb.eventTime()); c != 0 {
			return c
		}
		return int(pa.Lineage().Offset - pb.Lineage().Offset)
	})
	return out
}

func TestLayoutAndFileNames(t *testing.T) {
	t.Parallel()
	b, _, _ := newSampleLake(t)
	ctx := context.Background()
	keys, err := b.List(ctx, "prices/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"prices/region=FI/date=2024-03-01/wattcast.prices+p0+0000000000-0000000215.parquet",
		"prices/region=FI/date=2024-03-02/wattcast.prices+p0+0000000000-0000000215.parquet",
		"prices/region=FI/date=2024-03-03/wattcast.prices+p0+0000000000-0000000215.parquet",
		"prices/region=GB-A/date=2024-03-01/wattcast.prices+p0+0000000000-0000000215.parquet",
		"prices/region=GB-A/date=2024-03-02/wattcast.prices+p0+0000000000-0000000215.parquet",
		"prices/region=GB-A/date=2024-03-03/wattcast.prices+p0+0000000000-0000000215.parquet",
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("price files:\n%s\nwant\n%s", strings.Join(keys, "\n"), strings.Join(want, "\n"))
	}
	p, name, err := ParseKey(keys[3])
	if err != nil || p != (Partition{TablePrices, "GB-A", "2024-03-01"}) || !strings.HasPrefix(name, "wattcast.prices+p0+") {
		t.Fatalf("ParseKey(%s) = %+v, %q, %v", keys[3], p, name, err)
	}
	for _, bad := range []string{"prices/region=FI/x.parquet", "prices/FI/2024-03-01/x.parquet",
		"prices/region=FI/date=2024-3-1/x.parquet", "prices/region=FI/date=2024-03-01/x.json"} {
		if _, _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted a key outside the layout", bad)
		}
	}
}

// A row goes to the UTC date of its event time: a forecast for one local
// day spans two UTC dates and so two files.
func TestFileSetSplitsByUTCDate(t *testing.T) {
	t.Parallel()
	issue := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	fc := schemas.Forecast{ForecastID: "x", Region: "FI", ModelID: "m", ModelVersion: "1", Role: schemas.RoleChampion,
		IssueTime: issue}
	// Helsinki's 2024-03-02 is 22:00 UTC on the 1st to 22:00 on the 2nd.
	for h := range 24 {
		fc.Points = append(fc.Points, schemas.ForecastPoint{Hour: time.Date(2024, 3, 1, 22+h, 0, 0, 0, time.UTC), Value: 1})
	}
	var s FileSet
	Add(&s, NewForecastRows(&fc, Lineage{"t", 0, 7})...)
	objs, err := s.Objects(nil, FileName("t", 0, 7, 7))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].Rows != 2 || objs[1].Rows != 22 ||
		objs[0].Key != "forecasts/region=FI/date=2024-03-01/t+p0+0000000007-0000000007.parquet" ||
		objs[1].Partition.Date != "2024-03-02" {
		t.Fatalf("objects %+v", objs)
	}
	if s.Rows() != 24 || s.Partitions() != 2 {
		t.Fatalf("Rows %d Partitions %d", s.Rows(), s.Partitions())
	}
}

// Readers prune by region and date partition before reading a file, then
// filter rows by event time.
func TestReadFeaturesFilters(t *testing.T) {
	t.Parallel()
	b, _, _ := newSampleLake(t)
	ctx := context.Background()
	from := sampleDay0.Add(24*time.Hour + 6*time.Hour)
	to := sampleDay0.Add(48 * time.Hour)
	rows, files, err := ReadFeatures(ctx, b, FeatureFilter{Regions: []string{"FI"}, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 18 || !rows[0].Hour.Equal(from) || !rows[17].Hour.Equal(to.Add(-time.Hour)) {
		t.Fatalf("got %d rows from %v to %v; want 18 from %v", len(rows), rows[0].Hour, rows[len(rows)-1].Hour, from)
	}
	for i := 1; i < len(rows); i++ {
		if !rows[i].Hour.After(rows[i-1].Hour) {
			t.Fatalf("rows not sorted by hour at %d", i)
		}
	}
	if len(files) != 1 || !strings.Contains(files[0], "date=2024-03-02/") {
		t.Fatalf("read files %v; want only the 2024-03-02 partition", files)
	}
	none, files, err := ReadFeatures(ctx, b, FeatureFilter{Regions: []string{"GB-A"}})
	if err != nil || len(none) != 0 || len(files) != 0 {
		t.Fatalf("GB-A has no features: got %d rows from %v, %v", len(none), files, err)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	b, s, _ := newSampleLake(t)
	// Something that is not a table file must not be counted.
	if err := b.Put(context.Background(), "_lakesink/batches/x.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	st, err := Stats(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{
		TablePrices: {6, len(s.prices)}, TableWeatherObserved: {3, len(s.observed)},
		TableWeatherForecast: {3, len(s.forecast)}, TableFeatures: {3, len(s.features)}, TableForecasts: {3, len(s.forecasts)},
	}
	for table, w := range want {
		if got := st[table]; got.Files != w[0] || got.Rows != w[1] || got.Bytes <= 0 {
			t.Errorf("%s: %+v, want %d files, %d rows", table, got, w[0], w[1])
		}
	}
}

// Schema evolution within v1 adds optional columns only. A file written
// before a column existed reads with today's row type: the new column is
// null (nil), every other column intact.
func TestOlderFilesReadWithNewerRowType(t *testing.T) {
	t.Parallel()
	type priceRowBefore struct { // PriceRow without tariff and value_ex_vat
		Market         string    `parquet:"market"`
		Source         string    `parquet:"source"`
		StartTime      time.Time `parquet:"start_time,timestamp(microsecond)"`
		EndTime        time.Time `parquet:"end_time,timestamp(microsecond)"`
		Value          float64   `parquet:"value"`
		Unit           string    `parquet:"unit"`
		Currency       string    `parquet:"currency"`
		VATIncluded    bool      `parquet:"vat_included"`
		PublishedAt    time.Time `parquet:"published_at,timestamp(microsecond)"`
		KafkaTopic     string    `parquet:"kafka_topic"`
		KafkaPartition int32     `parquet:"kafka_partition"`
		KafkaOffset    int64     `parquet:"kafka_offset"`
	}
	h := sampleDay0
	var buf bytes.Buffer
	old := []priceRowBefore{{Market: "m", Source: "s", StartTime: h, EndTime: h.Add(time.Hour), Value: 12.5, Unit: "EUR/MWh",
		Currency: "EUR", PublishedAt: h.Add(-time.Hour), KafkaTopic: "t", KafkaPartition: 2, KafkaOffset: 9}}
	if err := parquet.Write(&buf, old); err != nil {
		t.Fatal(err)
	}
	rows, err := Decode[PriceRow](buf.Bytes(), Partition{TablePrices, "FI", "2024-03-01"})
	if err != nil {
		t.Fatal(err)
	}
	want := PriceRow{Region: "FI", Market: "m", Source: "s", StartTime: h, EndTime: h.Add(time.Hour), Value: 12.5,
		Unit: "EUR/MWh", Currency: "EUR", PublishedAt: h.Add(-time.Hour), KafkaTopic: "t", KafkaPartition: 2, KafkaOffset: 9}
	if len(rows) != 1 || !reflect.DeepEqual(rows[0], want) {
		t.Fatalf("old file reads as %+v, want %+v", rows, want)
	}
}

func TestEncodedFilesCarryTableMetadataAndZstd(t *testing.T) {
	t.Parallel()
	s := makeSample()
	data, err := Encode(s.features[:3])
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Lookup(MetaTable); v != TableFeatures {
		t.Errorf("%s = %q", MetaTable, v)
	}
	if v, _ := f.Lookup(MetaTableVersion); v != TableVersion {
		t.Errorf("%s = %q", MetaTableVersion, v)
	}
	for _, rg := range f.Metadata().RowGroups {
		for _, c := range rg.Columns {
			if c.MetaData.Codec.String() != "ZSTD" {
				t.Fatalf("column %v compressed with %s, want ZSTD", c.MetaData.PathInSchema, c.MetaData.Codec)
			}
		}
	}
}
