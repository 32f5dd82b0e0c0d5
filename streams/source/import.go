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

// Import publishes a parsed CSV through sink in known-at order, in
// transactions of ChunkSize records, each with its checkpoints: importing
// the same file twice publishes nothing the second time, a file that grew
// publishes only its new rows, and a crashed import resumes. Rows the
// parser rejected go to the dead-letter topic with their reason.
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
		items = append(items, importItem{v.IssuedAt, v.Time, ForecastSeries(v), 2, i, v.IssuedAt, v.IssuedAt.Add(time.Second)})
	}
	sort.SliceStable(items, func(a, b int) bool {
		if !items[a].knownAt.Equal(items[b].knownAt) {
			return items[a].knownAt.Before(items[b].knownAt)
		}
		return items[a].event.Before(items[b].event)
	})
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
		// Records known at the same instant stay together: a forecast
		// run (one issue time) must be published whole, because a
		// published issue time is what marks the run done.
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
				b.Forecasts = append(b.Forecasts, res.Forecasts[it.i])
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
