package features

import (
	"cmp"
	"slices"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// BatchResult is what Batch computed.
type BatchResult struct {
	// Ready holds the rows as they would be sent at each day's issue time;
	// Final the rows with their actual prices, in emission order.
	Ready, Final []schemas.FeatureRow
	// Daily holds the daily windows, in emission order.
	Daily []schemas.DailyFeatures
	// Rejected holds the inputs the engine refused, with the reason.
	Rejected []error
}

// Batch runs the engine over complete history, as the streaming processor
// would if every input arrived in known-at order, and returns every row.
// The backtest and the trainer's tests use it; its rows are the rows the
// processor writes to the lake for the same inputs.
func Batch(cfg Config, prices []schemas.Price, obs []schemas.WeatherObservation, fcs []schemas.WeatherForecast) (BatchResult, error) {
	e, err := NewEngine(cfg)
	if err != nil {
		return BatchResult{}, err
	}
	type ev struct {
		at   int64
		kind Kind
		i    int
	}
	evs := make([]ev, 0, len(prices)+len(obs)+len(fcs))
	for i := range prices {
		evs = append(evs, ev{prices[i].PublishedAt.Unix(), KindPrice, i})
	}
	for i := range obs {
		evs = append(evs, ev{obs[i].AvailableAt.Unix(), KindObservation, i})
	}
	for i := range fcs {
		evs = append(evs, ev{fcs[i].IssuedAt.Unix(), KindForecast, i})
	}
	slices.SortStableFunc(evs, func(a, b ev) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.kind, b.kind), cmp.Compare(a.i, b.i))
	})
	var res BatchResult
	collect := func(rows []schemas.FeatureRow) {
		for _, r := range rows {
			if r.Final {
				res.Final = append(res.Final, r)
			} else {
				res.Ready = append(res.Ready, r)
			}
		}
		res.Daily = e.DailyAppend(res.Daily)
	}
	var last int64
	for _, x := range evs {
		if x.at != last && last != 0 {
			// Every input known before x.at has been added.
			collect(e.Advance(time.Unix(last, 0)))
		}
		last = x.at
		var err error
		switch x.kind {
		case KindPrice:
			err = e.AddPrice(&prices[x.i])
		case KindObservation:
			err = e.AddObservation(&obs[x.i])
		case KindForecast:
			err = e.AddForecast(&fcs[x.i])
		}
		if err != nil {
			res.Rejected = append(res.Rejected, err)
		}
	}
	if last != 0 {
		// Let time run on until every hour with a known price is final.
		collect(e.Advance(time.Unix(last, 0).Add(72*time.Hour + e.cfg.AllowedLateness)))
	}
	return res, nil
}
