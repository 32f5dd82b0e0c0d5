// Package featurestest builds synthetic inputs for tests of the stages
// downstream of the feature engine. The values are smooth functions of time
// with a distinct value every hour, so a wrong lag or a shifted hour cannot
// pass a test by coincidence.
package featurestest

import (
	"math"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// Inputs are the three input streams of the feature engine.
type Inputs struct {
	Prices []schemas.Price
	Obs    []schemas.WeatherObservation
	Fcs    []schemas.WeatherForecast
}

// Price is the synthetic price of region number ri at hour h.
func Price(ri int, h time.Time) float64 {
	return 40 + 30*math.Sin(float64(h.Unix())/7000) + 10*math.Sin(float64(h.Hour())/24*2*math.Pi) + float64(ri)
}

// History returns days of hourly prices (published 11:45 UTC the day before
// delivery), hourly observations (available at the end of their hour) and a
// 36-hour forecast issued at 05:00 UTC every day, for each region, all
// ending at the same instant so that every partition's clock ends at the
// same time. Regions must be known to features.DefaultRegions or
// configured.
func History(regions []string, from time.Time, days int) Inputs {
	var in Inputs
	for ri, region := range regions {
		end := from.AddDate(0, 0, days)
		for h := from; h.Before(end); h = h.Add(time.Hour) {
			day := h.Truncate(24 * time.Hour)
			pub := day.Add(-24*time.Hour + 11*time.Hour + 45*time.Minute)
			in.Prices = append(in.Prices, schemas.Price{Region: region, Market: "test-dayahead", Source: "test", Start: h, End: h.Add(time.Hour),
				Value: Price(ri, h), Unit: "EUR/MWh", Currency: "EUR", PublishedAt: pub})
			in.Obs = append(in.Obs, schemas.WeatherObservation{Region: region, Location: "x", Source: "test", Time: h,
				Values: map[string]float64{"wind": float64(h.Hour()) + float64(ri)}, AvailableAt: h.Add(time.Hour)})
		}
		for d := 0; d < days; d++ {
			iss := from.AddDate(0, 0, d).Add(5 * time.Hour)
			for k := 0; k < 36; k++ {
				h := iss.Add(time.Duration(k) * time.Hour)
				in.Fcs = append(in.Fcs, schemas.WeatherForecast{Region: region, Location: "x", Source: "test", IssuedAt: iss,
					Time: h, LeadHours: k, Values: map[string]float64{"wind": float64(k + d)}})
			}
		}
	}
	return in
}

// Each calls fn with every input, its topic in topics, its key (the region)
// and its known-at time: prices, then observations, then forecasts, each in
// the order of the slices. Callers that produce the inputs sort by at.
func (in *Inputs) Each(topics schemas.TopicSet, fn func(at time.Time, topic, key string, v schemas.Value)) {
	for i := range in.Prices {
		fn(in.Prices[i].PublishedAt, topics.Prices, in.Prices[i].Region, &in.Prices[i])
	}
	for i := range in.Obs {
		fn(in.Obs[i].AvailableAt, topics.WeatherObserved, in.Obs[i].Region, &in.Obs[i])
	}
	for i := range in.Fcs {
		fn(in.Fcs[i].IssuedAt, topics.WeatherForecast, in.Fcs[i].Region, &in.Fcs[i])
	}
}
