package source

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/wattcast/wattcast/streams/csvimport"
)

// ImportOptions configure Import.
type ImportOptions struct {
	// File names the input in dead letters.
	File string
	// Region keys the dead letters of rejected rows.
	Region string
	// ChunkSize is the number of records per transaction, overriding 5000.
	ChunkSize int
	// Progress, if set, is called after each chunk with the records done
	// and the total.
	Progress func(done, total int)
}

type importItem struct {
	knownAt, event time.Time
	series         Series
	kind           int // 0 price, 1 observation, 2 forecast
	i              int
	keyFrom, keyTo time.Time
}

// forecastHours tracks, for one forecast series of an import, which hours
// have all their forecasts published. A file holds rows, i.e. hours, not
// whole runs: a run can go on in rows the file does not have yet (it grew
// mid-day, or was sliced with From/To), so an import marks hours complete,
// never issue times.
type forecastHours struct {
	series Series
	hours  []time.Time   // distinct, in order
	last   map[int64]int // hour (UnixNano) -> index of its last item
	done   int           // hours[:done] are published
}

// mark advances past the hours whose items all lie before item hi and
// returns the mark for hours[0] up to the first hour still to come (the
// file's hours without a forecast in between included, like the gaps of
// the other series), or false when none is complete.
func (f *forecastHours) mark(hi int) (Mark, bool) {
	for f.done < len(f.hours) && f.last[f.hours[f.done].UnixNano()] < hi {
		f.done++
	}
	if f.done == 0 {
		return Mark{}, false
	}
	to := f.hours[len(f.hours)-1].Add(time.Hour)
	if f.done < len(f.hours) {
		to = f.hours[f.done]
	}
	return Mark{Series: f.series, From: f.hours[0], To: to, ValidTime: true}, true
}

// Import publishes a parsed CSV through sink in known-at order, in
// transactions of ChunkSize records, each with its checkpoints: importing
// the same file twice publishes nothing the second time, a file that grew
// (or the next From/To slice of it) publishes only its new rows, also when
// they continue a forecast run already published in part, and a crashed
// import resumes. Rows the parser rejected go to the dead-letter topic with
// their reason.
func Import(ctx context.Context, sink Sink, res *csvimport.Result, opts ImportOptions) (PublishStats, error) {
	var items []importItem
	for i := range res.Prices {
		v := &res.Prices[i]
		items = append(items, importItem{v.PublishedAt, v.Start, PriceSeries(v), 0, i, v.Start, v.End})
	}
	for i := range res.Observations {
		v := &res.Observations[i]
		items = append(items, importItem{v.AvailableAt, v.Time, ObservationSeries(v), 1, i, v.Time, v.Time.Add(time.Hour)})
	}
	for i := range res.Forecasts {
		v := &res.Forecasts[i]
		items = append(items, importItem{v.IssuedAt, v.Time, ForecastSeries(v), 2, i, v.Time, v.Time.Add(time.Hour)})
	}
	sort.SliceStable(items, func(a, b int) bool {
		if !items[a].knownAt.Equal(items[b].knownAt) {
			return items[a].knownAt.Before(items[b].knownAt)
		}
		return items[a].event.Before(items[b].event)
	})
	fcs := map[string]*forecastHours{}
	var fkeys []string // in order, for deterministic marks
	for idx, it := range items {
		if it.kind != 2 {
			continue
		}
		k := it.series.Key()
		f, ok := fcs[k]
		if !ok {
			f = &forecastHours{series: it.series, last: map[int64]int{}}
			fcs[k] = f
			fkeys = append(fkeys, k)
		}
		h := it.keyFrom.UnixNano()
		if _, ok := f.last[h]; !ok {
			f.hours = append(f.hours, it.keyFrom)
		}
		f.last[h] = idx // items are in order: the last one wins
	}
	for _, f := range fcs {
		sort.Slice(f.hours, func(a, b int) bool { return f.hours[a].Before(f.hours[b]) })
	}
	size := opts.ChunkSize
	if size <= 0 {
		size = 5000
	}
	var total PublishStats
	markEnd := map[string]time.Time{}
	var dead []Dead
	for _, re := range res.Rejected {
		dead = append(dead, Dead{Region: opts.Region, Origin: "file:" + opts.File, Offset: int64(re.Line),
			Value: []byte(re.Raw), Reason: re.Reason, Err: re})
	}
	for lo, hi := 0, 0; ; lo = hi {
		hi = min(lo+size, len(items))
		// Records known at the same instant stay together, so that a
		// forecast run is in one transaction: a run split across
		// transactions would be tracked hour by hour in the checkpoint
		// until its hours are complete, which is correct but larger.
		for hi < len(items) && hi > 0 && items[hi].knownAt.Equal(items[hi-1].knownAt) {
			hi++
		}
		b := Batch{Dead: dead}
		dead = nil
		spans := map[string]*Mark{}
		for _, it := range items[lo:hi] {
			switch it.kind {
			case 0:
				b.Prices = append(b.Prices, res.Prices[it.i])
			case 1:
				b.Observations = append(b.Observations, res.Observations[it.i])
			case 2:
				// Forecasts are marked by hour below, once complete.
				b.Forecasts = append(b.Forecasts, res.Forecasts[it.i])
				continue
			}
			k := it.series.Key()
			m, ok := spans[k]
			if !ok {
				from := it.keyFrom
				if e, ok := markEnd[k]; ok {
					from = e // contiguous with the previous chunk
				}
				m = &Mark{Series: it.series, From: from, To: it.keyTo}
				spans[k] = m
			}
			if it.keyFrom.Before(m.From) {
				m.From = it.keyFrom
			}
			if it.keyTo.After(m.To) {
				m.To = it.keyTo
			}
		}
		for k, m := range spans {
			b.Marks = append(b.Marks, *m)
			if m.To.After(markEnd[k]) {
				markEnd[k] = m.To
			}
		}
		for _, k := range fkeys {
			if m, ok := fcs[k].mark(hi); ok {
				b.Marks = append(b.Marks, m)
			}
		}
		st, err := sink.Publish(ctx, Series{}, time.Time{}, b)
		if err != nil {
			return total, fmt.Errorf("source: import %s: records %d..%d (run it again to resume): %w", opts.File, lo, hi, err)
		}
		total.Add(st)
		if opts.Progress != nil {
			opts.Progress(hi, len(items))
		}
		if hi >= len(items) {
			break
		}
	}
	return total, nil
}
