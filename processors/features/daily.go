package features

import (
	"cmp"
	"math"
	"slices"

	"github.com/wattcast/wattcast/schemas"
)

// Peak hours of a day, local time: 08:00 to 20:00, the exchanges' peak
// block (EEX, Nord Pool), taken on every day so that a weekend's peak
// and off-peak are comparable with a weekday's.
const (
	peakFrom = 8
	peakTo   = 20
)

// DailyAppend appends the daily windows that the Advance calls since the
// last DailyAppend closed to dst, ordered by the end of their day and then
// region, and forgets them. The processor sends them in the transaction of
// the final feature rows that closed them, so a restart neither loses nor
// repeats one: they are a function of the state and of FinalThrough, which
// the changelog restores together.
func (e *Engine) DailyAppend(dst []schemas.DailyFeatures) []schemas.DailyFeatures {
	n0 := len(dst)
	dst = append(dst, e.daily...)
	clear(e.daily)
	e.daily = e.daily[:0]
	slices.SortStableFunc(dst[n0:], func(a, b schemas.DailyFeatures) int {
		return cmp.Or(a.End.Compare(b.End), cmp.Compare(a.Region, b.Region))
	})
	return dst
}

// closeDay adds the daily window of day d to the windows to send, if any of
// its hours has a price. It is called once per day, when the final row of
// its last hour is due: every hour of the day is final, so no price can
// change it any more (AddPrice rejects those), and the values used are
// those of the final rows: each hour's price and observations as known at
// its end.
func (e *Engine) closeDay(s *regionState, ri *regionInfo, d dayRange) {
	type acc struct {
		name          string
		sum, min, max float64
		n             int
	}
	var (
		n, peakN, offN int
		sum, peak, off float64
		shift, sd, sq  float64 // sums shifted by the first price, for a variance without cancellation
		lo, hi         = math.Inf(1), math.Inf(-1)
		loH, hiH       int64
		obsArr         [8]acc
		obs            = obsArr[:0]
		loc            = ri.cal.Location()
	)
	hours := 0 // the hours starting in the day
	for h := hourCeil(d.start); h < d.next; h += 3600 {
		hours++
		hs := s.at(h)
		if hs == nil {
			continue
		}
		end := h + 3600
		if p, _, ok := hs.price(end); ok {
			if n == 0 {
				shift = p
			}
			n++
			sum += p
			sd += p - shift
			sq += (p - shift) * (p - shift)
			if p < lo {
				lo, loH = p, h
			}
			if p > hi {
				hi, hiH = p, h
			}
			if lh := unix(h).In(loc).Hour(); lh >= peakFrom && lh < peakTo {
				peak += p
				peakN++
			} else {
				off += p
				offN++
			}
		}
		for _, lv := range hs.obs {
			va, ok := latestValues(lv.vs, end)
			if !ok {
				continue
			}
			for _, x := range va.V {
				name := s.name(lv.loc, x.Name)
				i := slices.IndexFunc(obs, func(a acc) bool { return a.name == name })
				if i < 0 {
					obs = append(obs, acc{name: name, min: x.V, max: x.V})
					i = len(obs) - 1
				}
				a := &obs[i]
				a.sum += x.V
				a.min, a.max = math.Min(a.min, x.V), math.Max(a.max, x.V)
				a.n++
			}
		}
	}
	if n == 0 {
		return
	}
	mean := sum / float64(n)
	cf := ri.cal.Fields(unix(d.start))
	row := schemas.DailyFeatures{
		Region:     s.Region,
		Market:     s.Market,
		Unit:       s.Unit,
		LocalDate:  cf.LocalDate,
		Start:      unix(d.start),
		End:        unix(d.next),
		Hours:      hours,
		PriceHours: n,
		PriceMean:  mean,
		PriceStd:   math.Sqrt(math.Max(sq/float64(n)-(sd/float64(n))*(sd/float64(n)), 0)),
		PriceMin:   lo,
		PriceMax:   hi,
		MinHour:    unix(loH),
		MaxHour:    unix(hiH),
		Weekday:    cf.Weekday,
		Month:      cf.Month,
		Weekend:    cf.Weekend,
		Holiday:    cf.Holiday,
	}
	// The mean of values in [lo, hi] can fall a rounding error outside it.
	row.PriceMean = math.Min(math.Max(row.PriceMean, lo), hi)
	if peakN > 0 {
		v := peak / float64(peakN)
		row.PeakMean = &v
	}
	if offN > 0 {
		v := off / float64(offN)
		row.OffPeakMean = &v
	}
	if len(obs) > 0 {
		row.ObservedMean = make(map[string]float64, len(obs))
		row.ObservedMin = make(map[string]float64, len(obs))
		row.ObservedMax = make(map[string]float64, len(obs))
		for _, a := range obs {
			row.ObservedMean[a.name] = a.sum / float64(a.n)
			row.ObservedMin[a.name] = a.min
			row.ObservedMax[a.name] = a.max
		}
	}
	e.daily = append(e.daily, row)
}
