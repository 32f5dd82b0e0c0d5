package lake

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// sample is a small lake with every table: two regions (FI in EUR/MWh,
// GB-A half-hourly in p/kWh), three UTC days, and two models' forecasts.
// Values follow simple formulas so that tests can compute what queries
// over them must return.
type sample struct {
	prices    []PriceRow
	observed  []WeatherObservedRow
	forecast  []WeatherForecastRow
	features  []FeaturesRow
	daily     []FeaturesDailyRow
	forecasts []ForecastRow
}

var sampleDay0 = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

func pf(v float64) *float64 { return &v }

func priceFI(day, h int) float64 { return float64(40 + 10*day + h) }

// linearErr is the sample's linear model's error at hour h.
func linearErr(h int) float64 {
	if h >= 20 && h <= 22 {
		return -40
	}
	return float64(2*(h%2) - 1)
}

func makeSample() *sample {
	s := &sample{}
	off := map[Lineage]int64{} // next offset per topic partition
	lin := func(topic string, p int32) Lineage {
		k := Lineage{Topic: topic, Partition: p}
		l := Lineage{Topic: topic, Partition: p, Offset: off[k]}
		off[k]++
		return l
	}
	for day := range 3 {
		d0 := sampleDay0.Add(time.Duration(day) * 24 * time.Hour)
		for h := range 24 {
			hour := d0.Add(time.Duration(h) * time.Hour)
			p := schemas.Price{Region: "FI", Market: "nordpool-dayahead", Source: "import:nordpool_fi",
				Start: hour, End: hour.Add(time.Hour), Value: priceFI(day, h), Unit: "EUR/MWh", Currency: "EUR",
				PublishedAt: d0.Add(-12 * time.Hour)}
			s.prices = append(s.prices, NewPriceRow(&p, lin("wattcast.prices", 0)))
			for half := range 2 {
				start := hour.Add(time.Duration(half) * 30 * time.Minute)
				g := schemas.Price{Region: "GB-A", Market: "octopus-agile", Source: "octopus-api", Tariff: "AGILE-18-02-21",
					Start: start, End: start.Add(30 * time.Minute), Value: float64(10+h) + 0.5*float64(half),
					ValueExVAT: pf((float64(10+h) + 0.5*float64(half)) / 1.05), Unit: "p/kWh", Currency: "GBP",
					VATIncluded: true, PublishedAt: d0.Add(-8 * time.Hour)}
				s.prices = append(s.prices, NewPriceRow(&g, lin("wattcast.prices", 1)))
			}
			o := schemas.WeatherObservation{Region: "FI", Location: "helsinki", Latitude: pf(60.17), Longitude: pf(24.94),
				Source: "open-meteo", Time: hour, AvailableAt: hour.Add(2 * time.Hour),
				Values: map[string]float64{"temperature_2m": float64(h) - 5, "wind_speed_10m": 3}}
			s.observed = append(s.observed, NewWeatherObservedRow(&o, lin("wattcast.weather.observed", 0)))
			issued := d0.Add(-18 * time.Hour)
			w := schemas.WeatherForecast{Region: "FI", Location: "helsinki", Source: "open-meteo", Model: "best_match",
				IssuedAt: issued, Time: hour, LeadHours: schemas.LeadHours(issued, hour),
				Values: map[string]float64{"temperature_2m": float64(h) - 4}}
			s.forecast = append(s.forecast, NewWeatherForecastRow(&w, lin("wattcast.weather.forecast", 0)))
			lastHour := d0.Add(-13 * time.Hour)
			lead := 14 + h
			f := schemas.FeatureRow{Region: "FI", Market: "nordpool-dayahead", Unit: "EUR/MWh", Hour: hour,
				LocalDate: hour.In(time.FixedZone("EET", 2*3600)).Format(time.DateOnly), IssueTime: d0.Add(-14 * time.Hour),
				LeadHours: lead, Final: true, Price: pf(priceFI(day, h)), PriceCount: 1, LastPrice: pf(50), LastPriceHour: &lastHour,
				Mean24h: pf(51), LocalHour: (h + 2) % 24, Weekday: int(hour.Weekday()+6)%7 + 1, Month: 3,
				DayOfYear: hour.YearDay(), Weekend: hour.Weekday() == time.Saturday || hour.Weekday() == time.Sunday,
				KnownAhead: map[string]float64{"temperature_2m": float64(h) - 4}, KnownAheadIssuedAt: &issued,
				KnownAheadLeadHours: &lead, Observed: map[string]float64{"temperature_2m": float64(h) - 5}}
			if day > 0 {
				f.PriceLag24h = pf(priceFI(day-1, h))
			}
			fr, err := NewFeaturesRow(&f, lin("wattcast.features", 0))
			if err != nil {
				panic(err)
			}
			s.features = append(s.features, fr)
		}
		// FI's daily window of the local day (EET, UTC+2) that starts at
		// 22:00 UTC before this UTC day, priced like it: hour k of the
		// local day costs priceFI(day, k), so the peak hours (08-20 local)
		// average 13.5 above the day's first hour and the others 9.5.
		start := d0.Add(-2 * time.Hour)
		w := schemas.DailyFeatures{Region: "FI", Market: "nordpool-dayahead", Unit: "EUR/MWh",
			LocalDate: d0.Format(time.DateOnly), Start: start, End: start.Add(24 * time.Hour), Hours: 24, PriceHours: 24,
			PriceMean: priceFI(day, 0) + 11.5, PriceStd: math.Sqrt((24*24 - 1) / 12.0), PriceMin: priceFI(day, 0),
			PriceMax: priceFI(day, 23), MinHour: start, MaxHour: start.Add(23 * time.Hour),
			PeakMean: pf(priceFI(day, 0) + 13.5), OffPeakMean: pf(priceFI(day, 0) + 9.5),
			Weekday: int(d0.Weekday()+6)%7 + 1, Month: 3, Weekend: d0.Weekday() == time.Saturday || d0.Weekday() == time.Sunday,
			ObservedMean: map[string]float64{"temperature_2m": 6.5}, ObservedMin: map[string]float64{"temperature_2m": -5},
			ObservedMax: map[string]float64{"temperature_2m": 18}}
		if err := w.Validate(); err != nil {
			panic(err)
		}
		s.daily = append(s.daily, NewFeaturesDailyRow(&w, lin("wattcast.features.daily", 0)))
		// Two models forecast FI's day: naive is off by +2, linear by -1
		// on even hours and +1 on odd ones, but by -40 at 20-22, which
		// makes those (the dearest hours) its cheapest three.
		for _, m := range []struct {
			id, role string
			err      func(h int) float64
		}{
			{"weekly-naive", schemas.RoleChampion, func(int) float64 { return 2 }},
			{"linear", schemas.RoleChallenger, linearErr},
		} {
			fc := schemas.Forecast{ForecastID: fmt.Sprintf("FI/%s/1/%s", m.id, d0.Format(time.DateOnly)), Region: "FI",
				Market: "nordpool-dayahead", Unit: "EUR/MWh", ModelID: m.id, ModelVersion: "1", ModelKind: m.id,
				Role: m.role, Official: m.role == schemas.RoleChampion, IssueTime: d0.Add(-14 * time.Hour),
				LocalDate: d0.Format(time.DateOnly), CreatedAt: d0.Add(-14 * time.Hour)}
			for h := range 24 {
				hour := d0.Add(time.Duration(h) * time.Hour)
				v := priceFI(day, h) + m.err(h)
				fc.Points = append(fc.Points, schemas.ForecastPoint{Hour: hour, LeadHours: 14 + h, Value: v,
					Quantiles: []schemas.Quantile{{Q: 0.1, Value: v - 5}, {Q: 0.9, Value: v + 5}}})
			}
			s.forecasts = append(s.forecasts, NewForecastRows(&fc, lin("wattcast.forecasts", 0))...)
		}
	}
	return s
}

// write stores the sample the way the lake sink does: one file per hive
// partition per batch, batches of one UTC day per table.
func (s *sample) write(t *testing.T, b *Bucket) {
	t.Helper()
	ctx := context.Background()
	enc := NewEncoder() // reused writers, as the sink uses them
	var set FileSet
	flush := func(name string) {
		objs, err := set.Objects(enc, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if err := b.Put(ctx, o.Key, o.Data); err != nil {
				t.Fatal(err)
			}
		}
		set = FileSet{}
	}
	Add(&set, s.prices...)
	flush(FileName("wattcast.prices", 0, 0, 215))
	Add(&set, s.observed...)
	flush(FileName("wattcast.weather.observed", 0, 0, 71))
	Add(&set, s.forecast...)
	flush(FileName("wattcast.weather.forecast", 0, 0, 71))
	Add(&set, s.features...)
	flush(FileName("wattcast.features", 0, 0, 71))
	Add(&set, s.daily...)
	flush(FileName("wattcast.features.daily", 0, 0, 2))
	Add(&set, s.forecasts...)
	flush(FileName("wattcast.forecasts", 0, 0, 5))
}

func newSampleLake(t *testing.T) (*Bucket, *sample, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := Open(context.Background(), "file://"+dir, WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	s := makeSample()
	s.write(t, b)
	return b, s, dir
}
