package openmeteo

import (
	"context"
	"errors"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/source"
)

// Producer builds the source tasks for the configured locations.
type Producer struct {
	Client    *Client
	Locations []Location
	// ForecastDays is how far ahead forecasts reach, overriding 3.
	ForecastDays int
	// ForecastEvery is the forecast poll interval, overriding 1h (most
	// models update every 1 to 6 hours).
	ForecastEvery time.Duration
	// ArchiveEvery is the archive poll interval, overriding 6h (the
	// archive updates daily).
	ArchiveEvery time.Duration
	// ArchiveLookback is how far back a live archive poll looks for hours
	// it has not published, overriding 10 days.
	ArchiveLookback time.Duration
	// LeadDays are the previous-run offsets fetched, default 1 and 2.
	LeadDays []int
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

func (p *Producer) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func dur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// malformed turns a malformed response into a dead letter and an
// incomplete batch (published, then retried); other errors pass through.
func malformed(err error, region string) (source.Batch, error) {
	var me *MalformedError
	if errors.As(err, &me) {
		return source.Batch{
			Dead:       []source.Dead{{Region: region, Origin: me.URL, Offset: -1, Value: me.Body, Reason: schemas.ReasonMalformed, Err: me}},
			Incomplete: err,
		}, nil
	}
	return source.Batch{}, err
}

// ForecastTasks poll the forecast API: each poll publishes the current run
// if its issue time is new.
func (p *Producer) ForecastTasks() []source.Task {
	var out []source.Task
	for _, loc := range p.Locations {
		out = append(out, source.Task{
			Series: source.Series{Kind: source.KindForecast, Source: SourceForecast, Region: loc.Region, Name: loc.Name},
			Fetch: func(ctx context.Context, from, to time.Time) (source.Batch, error) {
				days := p.ForecastDays
				if days <= 0 {
					days = 3
				}
				fc, issued, err := p.Client.Forecast(ctx, loc, days)
				if err != nil {
					return malformed(err, loc.Region)
				}
				b := source.Batch{Forecasts: fc}
				if !issued.Before(from) {
					// Every issue up to this one has been handled.
					b.Through = issued.Add(time.Second)
				}
				return b, nil
			},
			LiveWindow: func(now, end time.Time) (time.Time, time.Time) {
				if end.IsZero() {
					end = now.Add(-24 * time.Hour)
				}
				return end, now.Add(time.Second)
			},
			NextPoll: func(time.Time, time.Time) time.Duration { return dur(p.ForecastEvery, time.Hour) },
		})
	}
	return out
}

// ArchiveTasks fetch observations, live (looking back ArchiveLookback for
// hours not yet published) or as a backfill.
func (p *Producer) ArchiveTasks() []source.Task {
	var out []source.Task
	for _, loc := range p.Locations {
		out = append(out, source.Task{
			Series: source.Series{Kind: source.KindObservation, Source: SourceArchive, Region: loc.Region, Name: loc.Name},
			Fetch: func(ctx context.Context, from, to time.Time) (source.Batch, error) {
				obs, err := p.Client.Archive(ctx, loc, from, to)
				if err != nil {
					return malformed(err, loc.Region)
				}
				b := source.Batch{Observations: obs}
				// Complete up to the last hour the archive has.
				for _, o := range obs {
					if end := o.Time.Add(time.Hour); end.After(b.Through) {
						b.Through = end
					}
				}
				return b, nil
			},
			LiveWindow: func(now, end time.Time) (time.Time, time.Time) {
				from := now.Add(-dur(p.ArchiveLookback, 10*24*time.Hour)).Truncate(time.Hour)
				if !end.IsZero() && end.Before(from) {
					from = end
				}
				return from, now.Truncate(time.Hour)
			},
			NextPoll: func(time.Time, time.Time) time.Duration { return dur(p.ArchiveEvery, 6*time.Hour) },
			Chunk:    31 * 24 * time.Hour,
		})
	}
	return out
}

// PreviousRunsTasks fetch what past forecasts said, keyed by issue time:
// for backfills (the archive of runs starts in 2024 for most models).
func (p *Producer) PreviousRunsTasks() []source.Task {
	var out []source.Task
	for _, loc := range p.Locations {
		out = append(out, source.Task{
			Series: source.Series{Kind: source.KindForecast, Source: SourcePreviousRuns, Region: loc.Region, Name: loc.Name},
			Fetch: func(ctx context.Context, from, to time.Time) (source.Batch, error) {
				fc, err := p.Client.PreviousRuns(ctx, loc, from, to, p.LeadDays)
				if err != nil {
					return malformed(err, loc.Region)
				}
				// Every issue time up to now exists; later ones do not yet.
				through := to
				if now := p.now().Truncate(time.Hour); now.Before(through) {
					through = now
				}
				return source.Batch{Forecasts: fc, Through: through}, nil
			},
			LiveWindow: func(now, end time.Time) (time.Time, time.Time) {
				from := now.Add(-3 * 24 * time.Hour).Truncate(time.Hour)
				if !end.IsZero() && end.Before(from) {
					from = end
				}
				return from, now.Truncate(time.Hour)
			},
			NextPoll: func(time.Time, time.Time) time.Duration { return dur(p.ArchiveEvery, 6*time.Hour) },
			Chunk:    7 * 24 * time.Hour,
		})
	}
	return out
}
