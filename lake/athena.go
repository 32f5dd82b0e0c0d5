package lake

import (
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Column is one column of a table as Athena (Hive DDL) declares it.
type Column struct {
	Name string
	Type string // Athena type: string, double, int, bigint, boolean, timestamp, map<...>, array<...>
}

// PartitionColumns returns the hive partition columns of every table, in
// path order. Both are strings: date is "YYYY-MM-DD". Each call returns a
// new slice, which the caller may change.
func PartitionColumns() []Column {
	return []Column{{"region", "string"}, {"date", "string"}}
}

// AthenaColumns returns the data columns of table, in file order, with the
// Athena types that read them. It is derived from the row types, so the
// Glue tables in terraform/ and the DDL in docs/athena.md can be checked
// against what the sink writes.
func AthenaColumns(table string) ([]Column, error) {
	var model any
	switch table {
	case TablePrices:
		model = PriceRow{}
	case TableWeatherObserved:
		model = WeatherObservedRow{}
	case TableWeatherForecast:
		model = WeatherForecastRow{}
	case TableFeatures:
		model = FeaturesRow{}
	case TableFeaturesDaily:
		model = FeaturesDailyRow{}
	case TableForecasts:
		model = ForecastRow{}
	default:
		return nil, fmt.Errorf("lake: unknown table %q; want one of %s", table, strings.Join(Tables(), ", "))
	}
	var cols []Column
	for _, f := range parquet.SchemaOf(model).Fields() {
		typ, err := athenaType(f)
		if err != nil {
			return nil, fmt.Errorf("lake: table %s column %s: %w", table, f.Name(), err)
		}
		cols = append(cols, Column{f.Name(), typ})
	}
	return cols, nil
}

func athenaType(n parquet.Node) (string, error) {
	var lt format.LogicalTypeValue
	if l := n.Type().LogicalType(); l != nil {
		lt = l.Value
	}
	if n.Leaf() {
		switch lt.(type) {
		case *format.TimestampType:
			return "timestamp", nil
		case *format.StringType:
			return "string", nil
		}
		switch n.Type().Kind() {
		case parquet.Boolean:
			return "boolean", nil
		case parquet.Int32:
			return "int", nil
		case parquet.Int64:
			return "bigint", nil
		case parquet.Double:
			return "double", nil
		case parquet.Float:
			return "float", nil
		}
		return "", fmt.Errorf("no Athena type for Parquet %s", n.Type())
	}
	switch lt.(type) {
	case *format.MapType:
		kv := n.Fields()[0].Fields() // key_value: key, value
		k, err := athenaType(kv[0])
		if err != nil {
			return "", err
		}
		v, err := athenaType(kv[1])
		if err != nil {
			return "", err
		}
		return "map<" + k + "," + v + ">", nil
	case *format.ListType:
		elem := n.Fields()[0].Fields()[0] // list.element
		e, err := athenaType(elem)
		if err != nil {
			return "", err
		}
		return "array<" + e + ">", nil
	}
	var parts []string
	for _, f := range n.Fields() {
		t, err := athenaType(f)
		if err != nil {
			return "", err
		}
		parts = append(parts, f.Name()+":"+t)
	}
	return "struct<" + strings.Join(parts, ",") + ">", nil
}

// ProjectionStart is the first date partition Athena projects by default
// (terraform/modules/catalog's date_range_start): the ENTSO-E history
// reaches back to 2015. Rows of earlier dates are invisible to Athena.
const ProjectionStart = "2015-01-01"

// AthenaDDL returns a CREATE EXTERNAL TABLE statement for table in
// database, stored under root (an s3:// URL of the lake, without the table
// name), with partition projection: region from the regions listed, date
// as yyyy-MM-dd from 2015-01-01 to ProjectionEnd(table). It is what
// docs/athena.md shows and what the Glue tables in terraform/ must match.
func AthenaDDL(table, database, root string, regions []string) (string, error) {
	cols, err := AthenaColumns(table)
	if err != nil {
		return "", err
	}
	root = strings.TrimSuffix(root, "/")
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE %s.%s (\n", database, table)
	for i, c := range cols {
		sep := ","
		if i == len(cols)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  `%s` %s%s\n", c.Name, c.Type, sep)
	}
	b.WriteString(")\nPARTITIONED BY (")
	for i, c := range PartitionColumns() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "`%s` %s", c.Name, c.Type)
	}
	b.WriteString(")\nSTORED AS PARQUET\n")
	fmt.Fprintf(&b, "LOCATION '%s/%s/'\nTBLPROPERTIES (\n", root, table)
	props := [][2]string{
		{"projection.enabled", "true"},
		{"projection.region.type", "enum"},
		{"projection.region.values", strings.Join(regions, ",")},
		{"projection.date.type", "date"},
		{"projection.date.format", "yyyy-MM-dd"},
		{"projection.date.range", ProjectionStart + "," + ProjectionEnd(table)},
		{"projection.date.interval", "1"},
		{"projection.date.interval.unit", "DAYS"},
		{"storage.location.template", root + "/" + table + "/" + locationTemplate() + "/"},
		{"parquet.compression", "ZSTD"},
		{MetaTableVersion, TableVersion},
	}
	for i, p := range props {
		sep := ","
		if i == len(props)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  '%s' = '%s'%s\n", p[0], p[1], sep)
	}
	b.WriteString(");")
	return b.String(), nil
}

// locationTemplate is the partition part of a table's storage location
// template: "region=${region}/date=${date}".
func locationTemplate() string {
	var parts []string
	for _, c := range PartitionColumns() {
		parts = append(parts, c.Name+"=${"+c.Name+"}")
	}
	return strings.Join(parts, "/")
}

// ProjectionEnd is the last date partition projection offers for table,
// relative to today: tables whose event time lies ahead (forecasts for
// tomorrow, weather forecasts up to 16 days out, Open-Meteo's horizon) need
// future dates, or Athena silently skips their partitions.
func ProjectionEnd(table string) string {
	switch table {
	case TableWeatherForecast:
		return "NOW+16DAYS"
	default:
		return "NOW+2DAYS"
	}
}
