package octopus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/source"
)

// Producer builds the source tasks that publish Agile prices, one per
// region.
type Producer struct {
	Client *Client
	// Live picks the product open now for every fetch (cached for
	// ProductTTL); otherwise each fetch splits its window by the product
	// open at each time (AgileVersions), as a backfill must.
	Live bool
	// Lookback is how far back a live poll looks for holes, overriding 48h.
	Lookback time.Duration
	// RetryEvery is the poll interval after 16:00 UK time while tomorrow's
	// prices are not out, overriding 10m.
	RetryEvery time.Duration
	// ProductTTL is how long the live product is cached, overriding 6h.
	ProductTTL time.Duration
	// Now is the clock; nil uses time.Now.
	Now func() time.Time

	mu        sync.Mutex
	product   Product
	productAt time.Time
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

// Series is the price series of region ("A".."P").
func Series(region string) source.Series {
	return source.Series{Kind: source.KindPrice, Source: Source, Region: "GB-" + region, Name: Market}
}

// Task returns the task for region ("A".."P").
func (p *Producer) Task(region string) (source.Task, error) {
	if len(region) != 1 || !containsRune(Regions, rune(region[0])) {
		return source.Task{}, fmt.Errorf("octopus: region %q: want one of %s", region, Regions)
	}
	return source.Task{
		Series: Series(region),
		Fetch: func(ctx context.Context, from, to time.Time) (source.Batch, error) {
			return p.Fetch(ctx, region, from, to)
		},
		LiveWindow: p.LiveWindow,
		NextPoll:   p.NextPoll,
		Chunk:      14 * 24 * time.Hour, // 672 rates: one page
	}, nil
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}

// LiveWindow looks back Lookback (or to the end of what is published, if
// that is older) and forward to the end of tomorrow's Agile day.
func (p *Producer) LiveWindow(now, coveredEnd time.Time) (from, to time.Time) {
	_, today := AgileDay(now)
	_, to = AgileDay(today)
	from = now.Add(-dur(p.Lookback, 48*time.Hour)).Truncate(30 * time.Minute)
	if !coveredEnd.IsZero() && coveredEnd.Before(from) {
		from = coveredEnd
	}
	return from, to
}

// NextPoll waits for the next publication: until 16:00 UK time if
// tomorrow's prices are due then, every RetryEvery after it until they
// appear, and at most 6 hours once they are in.
func (p *Producer) NextPoll(now, coveredEnd time.Time) time.Duration {
	_, today := AgileDay(now)
	tomorrowStart, tomorrowEnd := AgileDay(today)
	due := PublishedAt(tomorrowStart, time.Time{})
	if coveredEnd.Before(tomorrowEnd) {
		if now.Before(due) {
			return due.Sub(now) + time.Minute
		}
		return dur(p.RetryEvery, 10*time.Minute)
	}
	next := PublishedAt(tomorrowEnd, time.Time{}) // when the day after tomorrow is due
	return min(next.Sub(now)+time.Minute, 6*time.Hour)
}

func (p *Producer) liveProduct(ctx context.Context) (Product, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.product.Code != "" && now.Sub(p.productAt) < dur(p.ProductTTL, 6*time.Hour) {
		return p.product, nil
	}
	pr, err := p.Client.AgileAt(ctx, now)
	if err != nil {
		return Product{}, err
	}
	p.product, p.productAt = pr, now
	return pr, nil
}

// Fetch returns region's prices in [from, to). An unreadable entry comes
// back as a dead letter and the window stands; an unreadable page comes
// back as a dead letter with Batch.Incomplete set, so that what was read is
// published and the window fetched again.
func (p *Producer) Fetch(ctx context.Context, region string, from, to time.Time) (source.Batch, error) {
	var segs []Segment
	if p.Live {
		pr, err := p.liveProduct(ctx)
		if err != nil {
			return source.Batch{}, err
		}
		segs = []Segment{{pr, from, to}}
	} else {
		var err error
		if segs, err = p.Client.AgileVersions(ctx, from, to); err != nil {
			return source.Batch{}, err
		}
	}
	var b source.Batch
	complete := true // false when a whole page could not be read
	var last time.Time
	for _, sg := range segs {
		rates, bad, err := p.Client.UnitRates(ctx, sg.Product.Code, region, sg.From, sg.To)
		fetched := p.now()
		var mal *MalformedError
		if errors.As(err, &mal) {
			b.Dead = append(b.Dead, source.Dead{Region: "GB-" + region, Origin: mal.URL, Offset: -1, Value: mal.Body,
				Reason: schemas.ReasonMalformed, Err: mal})
			complete = false
		} else if err != nil {
			return source.Batch{}, err
		}
		// An unreadable entry is dead-lettered once; the rest of the
		// window stands.
		for _, x := range bad {
			b.Dead = append(b.Dead, source.Dead{Region: "GB-" + region, Origin: x.URL, Offset: int64(x.Index), Value: x.Raw,
				Reason: schemas.ReasonMalformed, Err: fmt.Errorf("octopus: rate %d: %w", x.Index, x.Err)})
		}
		prices, invalid := Prices(sg.Product.Code, region, rates, fetched)
		b.Dead = append(b.Dead, invalid...)
		for _, pr := range prices {
			// The API returns periods overlapping the window; keep the
			// window's own.
			if pr.Start.Before(sg.From) || !pr.Start.Before(sg.To) {
				continue
			}
			b.Prices = append(b.Prices, pr)
			if pr.End.After(last) {
				last = pr.End
			}
		}
	}
	if !last.IsZero() {
		if last.After(to) {
			last = to
		}
		b.Through = last
	}
	if !complete {
		// Publish what was read, dead letters included, then fetch the
		// window again: a malformed page may be a glitch.
		b.Through = time.Time{}
		b.Incomplete = errors.New("octopus: a page of rates was malformed (dead-lettered); the window will be fetched again")
	}
	return b, nil
}
