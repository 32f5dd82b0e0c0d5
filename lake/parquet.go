package lake

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/wattcast/wattcast/schemas"
)

// Row is satisfied by pointers to the table row types (*PriceRow,
// *WeatherObservedRow, *WeatherForecastRow, *FeaturesRow, *FeaturesDailyRow,
// *ForecastRow). It lets one generic writer and reader serve every table;
// callers name only the row type, e.g. ReadRows[lake.PriceRow].
type Row[T any] interface {
	*T
	Partition() Partition
	Lineage() Lineage
	table() string
	setRegion(region string)
	eventTime() time.Time
}

// Metadata keys written into every file's footer.
const (
	MetaTable        = "wattcast.table"
	MetaTableVersion = "wattcast.table_version"
)

// Encode writes rows as one Parquet file: zstd-compressed, one row group,
// with the table name and version in the footer's key-value metadata.
//
// zstd rather than snappy: the lake is written once and scanned many times,
// Athena bills by bytes scanned, and zstd files of this data are markedly
// smaller for similar decode speed; Athena (engine v2+), Spark 3, pyarrow and
// DuckDB all read it.
func Encode[T any, PT Row[T]](rows []T) ([]byte, error) {
	return EncodeWith[T, PT](nil, rows)
}

// Encoder reuses Parquet writers between files, which halves the cost of
// encoding the many small files a lake of daily partitions holds. The zero
// value is not usable: call NewEncoder. It is safe for concurrent use.
type Encoder struct {
	pools sync.Map // table name -> *sync.Pool of *parquet.GenericWriter[T]
}

// NewEncoder returns an Encoder.
func NewEncoder() *Encoder { return &Encoder{} }

// EncodeWith is Encode with writers taken from e (nil: a new writer).
func EncodeWith[T any, PT Row[T]](e *Encoder, rows []T) ([]byte, error) {
	var zero T
	name := PT(&zero).table()
	var pool *sync.Pool
	var w *parquet.GenericWriter[T]
	buf := new(bytes.Buffer)
	if e != nil {
		p, _ := e.pools.LoadOrStore(name, new(sync.Pool))
		pool = p.(*sync.Pool)
		w, _ = pool.Get().(*parquet.GenericWriter[T])
	}
	if w == nil {
		w = parquet.NewGenericWriter[T](buf,
			parquet.Compression(&parquet.Zstd),
			parquet.PageBufferSize(16*1024),
			parquet.CreatedBy("wattcast", TableVersion, ""),
			parquet.KeyValueMetadata(MetaTable, name),
			parquet.KeyValueMetadata(MetaTableVersion, TableVersion),
		)
	} else {
		w.Reset(buf)
	}
	if _, err := w.Write(rows); err != nil {
		return nil, fmt.Errorf("lake: encode %s rows: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("lake: encode %s rows: %w", name, err)
	}
	if pool != nil {
		pool.Put(w) // only a writer that closed cleanly is reused
	}
	return buf.Bytes(), nil
}

// Decode reads a file written by Encode (or by an earlier version of the
// same table: columns it lacks read as zero values) and sets each row's
// Region from p.
func Decode[T any, PT Row[T]](data []byte, p Partition) ([]T, error) {
	rows, err := parquet.Read[T](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("lake: decode %s file in %s: %w", p.Table, p.Dir(), err)
	}
	for i := range rows {
		PT(&rows[i]).setRegion(p.Region)
	}
	return rows, nil
}

// Object is one encoded file, ready to store.
type Object struct {
	Key       string
	Partition Partition
	Data      []byte
	Rows      int
}

// FileSet collects the rows of one batch, grouped by hive partition, and
// encodes one file per partition. Rows keep the order they were added in.
// The zero value is ready to use; it is not safe for concurrent use.
type FileSet struct {
	groups map[Partition]encoder
	rows   int
}

type encoder interface {
	encode(e *Encoder) ([]byte, error)
	len() int
}

type group[T any, PT Row[T]] struct{ rows []T }

func (g *group[T, PT]) encode(e *Encoder) ([]byte, error) { return EncodeWith[T, PT](e, g.rows) }
func (g *group[T, PT]) len() int                          { return len(g.rows) }

// Add adds rows to s, each to its hive partition.
func Add[T any, PT Row[T]](s *FileSet, rows ...T) {
	if s.groups == nil {
		s.groups = make(map[Partition]encoder)
	}
	for _, r := range rows {
		p := PT(&r).Partition()
		g, ok := s.groups[p].(*group[T, PT])
		if !ok {
			g = &group[T, PT]{}
			s.groups[p] = g
		}
		g.rows = append(g.rows, r)
		s.rows++
	}
}

// Rows returns how many rows were added.
func (s *FileSet) Rows() int { return s.rows }

// Partitions returns how many hive partitions (and so files) the rows span.
func (s *FileSet) Partitions() int { return len(s.groups) }

// Objects encodes one object per hive partition, each named
// Partition.Dir() + name, sorted by key, with writers from enc (nil: new
// writers).
func (s *FileSet) Objects(enc *Encoder, name string) ([]Object, error) {
	out := make([]Object, 0, len(s.groups))
	for p, g := range s.groups {
		data, err := g.encode(enc)
		if err != nil {
			return nil, err
		}
		out = append(out, Object{Key: p.Dir() + name, Partition: p, Data: data, Rows: g.len()})
	}
	slices.SortFunc(out, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Reader is what the lake readers need from a store; *Bucket satisfies it.
type Reader interface {
	List(ctx context.Context, prefix string) ([]string, error)
	Get(ctx context.Context, key string) ([]byte, error)
}

// Filter selects rows by region and by event time in [From, To). Empty
// Regions means every region; a zero From or To leaves that side open.
// Date partitions outside the range are not read at all.
type Filter struct {
	Regions []string
	From    time.Time
	To      time.Time
}

// FeatureFilter selects feature rows; see Filter.
type FeatureFilter = Filter

func (f Filter) keepDate(date string) bool {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return false
	}
	return (f.From.IsZero() || d.Add(24*time.Hour).After(f.From)) && (f.To.IsZero() || d.Before(f.To))
}

func (f Filter) keepTime(t time.Time) bool {
	return (f.From.IsZero() || !t.Before(f.From)) && (f.To.IsZero() || t.Before(f.To))
}

// readConcurrency bounds parallel Gets: enough to hide S3 latency, few
// enough to keep memory to a handful of files.
const readConcurrency = 8

// ReadRows reads the rows of T's table that f selects, sorted by region,
// event time, then lineage (topic, partition, offset). It also returns the
// keys of the files it read, for lineage.
func ReadRows[T any, PT Row[T]](ctx context.Context, r Reader, f Filter) ([]T, []string, error) {
	var zero T
	table := PT(&zero).table()
	keys, err := TableFiles(ctx, r, table, f)
	if err != nil {
		return nil, nil, err
	}
	parts := make([][]T, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readConcurrency)
	for i, key := range keys {
		g.Go(func() error {
			p, _, err := ParseKey(key)
			if err != nil {
				return err
			}
			data, err := r.Get(gctx, key)
			if err != nil {
				return err
			}
			rows, err := Decode[T, PT](data, p)
			if err != nil {
				return fmt.Errorf("%w (file %s)", err, key)
			}
			kept := rows[:0]
			for _, row := range rows {
				if f.keepTime(PT(&row).eventTime()) {
					kept = append(kept, row)
				}
			}
			parts[i] = kept
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var out []T
	for _, p := range parts {
		out = append(out, p...)
	}
	slices.SortStableFunc(out, func(a, b T) int {
		pa, pb := PT(&a), PT(&b)
		la, lb := pa.Lineage(), pb.Lineage()
		return cmp.Or(
			strings.Compare(pa.Partition().Region, pb.Partition().Region),
			pa.eventTime().Compare(pb.eventTime()),
			strings.Compare(la.Topic, lb.Topic),
			cmp.Compare(la.Partition, lb.Partition),
			cmp.Compare(la.Offset, lb.Offset),
		)
	})
	return out, keys, nil
}

// TableFiles lists the data files of table in the regions and date
// partitions that f selects, sorted by key.
func TableFiles(ctx context.Context, r Reader, table string, f Filter) ([]string, error) {
	prefixes := []string{table + "/"}
	if len(f.Regions) > 0 {
		prefixes = prefixes[:0]
		for _, reg := range slices.Sorted(slices.Values(f.Regions)) {
			prefixes = append(prefixes, table+"/region="+reg+"/")
		}
		prefixes = slices.Compact(prefixes)
	}
	var keys []string
	for _, pre := range prefixes {
		listed, err := r.List(ctx, pre)
		if err != nil {
			return nil, err
		}
		for _, k := range listed {
			p, _, err := ParseKey(k)
			if err != nil {
				continue // not a data file of ours (e.g. a marker another tool left)
			}
			if f.keepDate(p.Date) {
				keys = append(keys, k)
			}
		}
	}
	return keys, nil
}

// ReadFeatures reads the final feature rows that f selects, sorted by region
// and hour, and the keys of the files read. The trainer builds its data set
// from these rows and records the keys as lineage.
func ReadFeatures(ctx context.Context, r Reader, f FeatureFilter) ([]schemas.FeatureRow, []string, error) {
	return readAs(ctx, r, f, (*FeaturesRow).FeatureRow)
}

// ReadPrices reads the prices that f selects (by delivery start), sorted by
// region and start.
func ReadPrices(ctx context.Context, r Reader, f Filter) ([]schemas.Price, []string, error) {
	return readAs(ctx, r, f, (*PriceRow).Price)
}

// ReadWeatherObserved reads the observations that f selects (by observed
// hour), sorted by region and hour.
func ReadWeatherObserved(ctx context.Context, r Reader, f Filter) ([]schemas.WeatherObservation, []string, error) {
	return readAs(ctx, r, f, (*WeatherObservedRow).Observation)
}

// ReadWeatherForecast reads the weather forecasts that f selects (by
// forecast hour), sorted by region and hour.
func ReadWeatherForecast(ctx context.Context, r Reader, f Filter) ([]schemas.WeatherForecast, []string, error) {
	return readAs(ctx, r, f, (*WeatherForecastRow).Forecast)
}

// readAs is ReadRows with each row converted to the topic's value type.
func readAs[T any, PT Row[T], V any](ctx context.Context, r Reader, f Filter, conv func(PT) V) ([]V, []string, error) {
	rows, files, err := ReadRows[T, PT](ctx, r, f)
	if err != nil {
		return nil, nil, err
	}
	out := make([]V, len(rows))
	for i := range rows {
		out[i] = conv(&rows[i])
	}
	return out, files, nil
}

// TableStats counts one table's files, rows and bytes.
type TableStats struct {
	Files int
	Rows  int
	Bytes int64
}

// Stats counts the files, rows and bytes of every table, reading each
// file's footer. Tables without files are present with zero counts.
func Stats(ctx context.Context, r Reader) (map[string]TableStats, error) {
	out := make(map[string]TableStats)
	for _, table := range Tables() {
		keys, err := TableFiles(ctx, r, table, Filter{})
		if err != nil {
			return nil, err
		}
		counts := make([]TableStats, len(keys))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(readConcurrency)
		for i, key := range keys {
			g.Go(func() error {
				data, err := r.Get(gctx, key)
				if err != nil {
					return err
				}
				pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
				if err != nil {
					return fmt.Errorf("lake: read footer of %s: %w", key, err)
				}
				counts[i] = TableStats{Files: 1, Rows: int(pf.NumRows()), Bytes: int64(len(data))}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		var s TableStats
		for _, c := range counts {
			s.Files += c.Files
			s.Rows += c.Rows
			s.Bytes += c.Bytes
		}
		out[table] = s
	}
	return out, nil
}

// lineageRow reads only the lineage columns of any table.
type lineageRow struct {
	KafkaTopic     string `parquet:"kafka_topic"`
	KafkaPartition int32  `parquet:"kafka_partition"`
	KafkaOffset    int64  `parquet:"kafka_offset"`
}

// ReadLineage returns the lineage (topic, partition, offset) of every row
// of table that f selects by region and date partition, reading only those
// three columns, in file order. Exactly-once checks count how often each
// record appears.
func ReadLineage(ctx context.Context, r Reader, table string, f Filter) ([]Lineage, []string, error) {
	keys, err := TableFiles(ctx, r, table, f)
	if err != nil {
		return nil, nil, err
	}
	parts := make([][]Lineage, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readConcurrency)
	for i, key := range keys {
		g.Go(func() error {
			data, err := r.Get(gctx, key)
			if err != nil {
				return err
			}
			rows, err := parquet.Read[lineageRow](bytes.NewReader(data), int64(len(data)))
			if err != nil {
				return fmt.Errorf("lake: read lineage of %s: %w", key, err)
			}
			ls := make([]Lineage, len(rows))
			for j, row := range rows {
				ls[j] = Lineage{row.KafkaTopic, row.KafkaPartition, row.KafkaOffset}
			}
			parts[i] = ls
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var out []Lineage
	for _, p := range parts {
		out = append(out, p...)
	}
	return out, keys, nil
}
