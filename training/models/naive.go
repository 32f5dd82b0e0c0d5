package models

// NaiveWeekly forecasts each hour with the price 168 hours earlier (the
// same slot a week before): the reference of rMAE.
type NaiveWeekly struct{}

// Kind implements Model.
func (NaiveWeekly) Kind() string { return KindNaiveWeekly }

// HistoryDays implements Model.
func (NaiveWeekly) HistoryDays() int { return 7 }

// Predict implements Model. A missing week-old price falls back to the same
// slot a day earlier still, so a gap does not stop the forecast.
func (NaiveWeekly) Predict(day Day) ([]float64, error) {
	p, t, err := prepare(day, nil, nil, 7)
	if err != nil {
		return nil, err
	}
	var pred [Slots]float64
	for s := range pred {
		pred[s] = nan
		if t >= 7 {
			pred[s] = p.price(t-7, s, t)
		}
	}
	return toRows(pred, day.Target)
}

// NaiveStandard is epftoolbox's naive benchmark (Lago et al. 2021): on
// Mondays, Saturdays and Sundays the price a week earlier, on other days
// the price a day earlier. A yesterday's price not yet known at the issue
// time falls back to the latest known day at that slot.
type NaiveStandard struct{}

// Kind implements Model.
func (NaiveStandard) Kind() string { return KindNaiveStandard }

// HistoryDays implements Model.
func (NaiveStandard) HistoryDays() int { return 7 }

// Predict implements Model.
func (NaiveStandard) Predict(day Day) ([]float64, error) {
	p, t, err := prepare(day, nil, nil, 7)
	if err != nil {
		return nil, err
	}
	lag := 1
	switch p.days[t].weekday {
	case 1, 6, 7:
		lag = 7
	}
	var pred [Slots]float64
	for s := range pred {
		pred[s] = nan
		if t >= lag {
			pred[s] = p.price(t-lag, s, t)
		}
	}
	return toRows(pred, day.Target)
}
