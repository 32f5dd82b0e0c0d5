package lakesink

import (
	"time"

	"github.com/wattcast/wattcast/lake"
	"github.com/wattcast/wattcast/schemas"
)

// decoded is one record turned into lake rows.
type decoded struct {
	// knownAt is the time the topic is ordered by, which the roll rule
	// reads: when the value became known (a price's published_at, a
	// forecast's issue time), or the event hour where that is known a fixed
	// lag later (observations, final feature rows). Zero for a skipped
	// record, which never moves a batch boundary.
	knownAt time.Time
	// add adds the record's rows to a batch's files; nil when skipped.
	add func(*lake.FileSet)
	// skip is "" for a row, skipNotFinal, or a schemas.Reason* code.
	skip string
}

const skipNotFinal = "not_final"

// route decodes the values of one topic into one table.
type route struct {
	table  string
	decode func(value []byte, l lake.Lineage) decoded
	// schema is the topic's (schemas.TopicSet.Specs): a record whose
	// headers name another schema or version is skipped as
	// schemas.ReasonUnknown, as the topic's own reader dead-letters it.
	schema string
}

func invalid(err error) decoded { return decoded{skip: schemas.ReasonOf(err)} }

func newRoutes(t schemas.TopicSet) map[string]route {
	all := map[string]route{
		t.Prices: {table: lake.TablePrices, decode: func(v []byte, l lake.Lineage) decoded {
			var p schemas.Price
			if err := schemas.Decode(v, &p); err != nil {
				return invalid(err)
			}
			row := lake.NewPriceRow(&p, l)
			return decoded{knownAt: p.PublishedAt, add: func(fs *lake.FileSet) { lake.Add(fs, row) }}
		}},
		t.WeatherObserved: {table: lake.TableWeatherObserved, decode: func(v []byte, l lake.Lineage) decoded {
			var w schemas.WeatherObservation
			if err := schemas.Decode(v, &w); err != nil {
				return invalid(err)
			}
			row := lake.NewWeatherObservedRow(&w, l)
			// Rolls on the observed hour, not available_at (a fixed lag
			// later): then a UTC day of observations is one batch and one
			// file, instead of two with the last hour alone in the second.
			return decoded{knownAt: w.Time, add: func(fs *lake.FileSet) { lake.Add(fs, row) }}
		}},
		t.WeatherForecast: {table: lake.TableWeatherForecast, decode: func(v []byte, l lake.Lineage) decoded {
			var w schemas.WeatherForecast
			if err := schemas.Decode(v, &w); err != nil {
				return invalid(err)
			}
			row := lake.NewWeatherForecastRow(&w, l)
			return decoded{knownAt: w.IssuedAt, add: func(fs *lake.FileSet) { lake.Add(fs, row) }}
		}},
		t.Features: {table: lake.TableFeatures, decode: func(v []byte, l lake.Lineage) decoded {
			var f schemas.FeatureRow
			if err := schemas.Decode(v, &f); err != nil {
				return invalid(err)
			}
			row, err := lake.NewFeaturesRow(&f, l)
			if err != nil {
				return decoded{skip: skipNotFinal}
			}
			// A final row is known once its hour has passed (Hour+1h), and
			// arrives in hour order; rolling on Hour itself keeps a UTC day
			// of rows in one batch and one file, as for observations.
			return decoded{knownAt: f.Hour, add: func(fs *lake.FileSet) { lake.Add(fs, row) }}
		}},
		t.FeaturesDaily: {table: lake.TableFeaturesDaily, decode: func(v []byte, l lake.Lineage) decoded {
			var d schemas.DailyFeatures
			if err := schemas.Decode(v, &d); err != nil {
				return invalid(err)
			}
			row := lake.NewFeaturesDailyRow(&d, l)
			// A daily window is sent when its day has ended, in that order.
			return decoded{knownAt: d.End, add: func(fs *lake.FileSet) { lake.Add(fs, row) }}
		}},
		t.Forecasts: {table: lake.TableForecasts, decode: func(v []byte, l lake.Lineage) decoded {
			var f schemas.Forecast
			if err := schemas.Decode(v, &f); err != nil {
				return invalid(err)
			}
			rows := lake.NewForecastRows(&f, l)
			return decoded{knownAt: f.IssueTime, add: func(fs *lake.FileSet) { lake.Add(fs, rows...) }}
		}},
	}
	delete(all, "")
	for _, sp := range t.Specs(0, 0) {
		if rt, ok := all[sp.Name]; ok {
			rt.schema = sp.Schema
			all[sp.Name] = rt
		}
	}
	return all
}
