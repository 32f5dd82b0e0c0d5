// Package octopus reads Octopus Energy's Agile tariff, the GB home tariff
// whose unit rate changes every half hour, from the public REST API
// (https://api.octopus.energy, no key needed for products and rates) and
// turns it into prices.
//
// # Vocabulary
//
// A product is a tariff version, e.g. AGILE-18-02-21, AGILE-FLEX-22-11-25,
// AGILE-24-10-01; they are discovered from the products endpoint (which
// lists the products open to new customers at a given time), never
// hard-coded. A region is a GB grid supply point group, A to P; the price
// series of region A is published as region "GB-A". The tariff code of a
// product in a region is E-1R-<product>-<region>, and its half-hourly rates
// come from .../standard-unit-rates/, newest first, in pages linked by
// `next`.
//
// # Times
//
// Periods are half hours, in UTC on the wire. The Agile day D runs from
// 23:00 on D-1 to 23:00 on D, UK time, so it has 46 periods on the day the
// clocks go forward and 50 on the day they go back. Octopus publishes day D
// at about 16:00 UK time on D-1: that is a price's published_at (see
// PublishedAt).
package octopus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/csvimport"
	"github.com/wattcast/wattcast/streams/source"
)

// DefaultBaseURL is the Octopus Energy API.
const DefaultBaseURL = "https://api.octopus.energy"

// Names written on the prices.
const (
	Market = "octopus-agile"
	Source = "octopus-api"
)

// Regions are the GB grid supply point groups.
const Regions = "ABCDEFGHJKLMNP"

// publication is when Octopus publishes Agile day D.
var publication = csvimport.MustRule("D-1 16:00 Europe/London day-start -01:00")

// London is the tariff's zone.
func London() *time.Location { return publication.Zone }

// Client talks to the API.
type Client struct {
	// BaseURL defaults to DefaultBaseURL. A `next` link is followed on this
	// base (its path and query), so a proxy or a test server works.
	BaseURL string
	HTTP    *source.HTTPClient
	// PageSize asks for this many rates per page, overriding 1500 (the
	// API's maximum).
	PageSize int
}

func (c *Client) base() string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	return DefaultBaseURL
}

func (c *Client) http() *source.HTTPClient {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &source.HTTPClient{}
}

// Product is one entry of the products endpoint.
type Product struct {
	Code          string     `json:"code"`
	Direction     string     `json:"direction"`
	FullName      string     `json:"full_name"`
	DisplayName   string     `json:"display_name"`
	IsVariable    bool       `json:"is_variable"`
	IsPrepay      bool       `json:"is_prepay"`
	IsBusiness    bool       `json:"is_business"`
	AvailableFrom time.Time  `json:"available_from"`
	AvailableTo   *time.Time `json:"available_to"`
	Brand         string     `json:"brand"`
}

type page struct {
	Count    int               `json:"count"`
	Next     *string           `json:"next"`
	Previous *string           `json:"previous"`
	Results  []json.RawMessage `json:"results"`
}

// MalformedError is a response body that is not the JSON we expect.
type MalformedError struct {
	URL  string
	Body []byte
	Err  error
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("octopus: %s: malformed response: %v", e.URL, e.Err)
}

func (e *MalformedError) Unwrap() error { return e.Err }

// rebase keeps the path and query of a `next` link and puts them on our
// base URL.
func (c *Client) rebase(next string) (string, error) {
	u, err := url.Parse(next)
	if err != nil {
		return "", fmt.Errorf("octopus: bad next link %q: %w", next, err)
	}
	b, err := url.Parse(c.base())
	if err != nil {
		return "", fmt.Errorf("octopus: bad base URL %q: %w", c.base(), err)
	}
	b.Path, b.RawQuery = u.Path, u.RawQuery
	return b.String(), nil
}

// pages GETs u and every page after it, calling fn for each. A page that
// is not JSON ends the walk with a *MalformedError; pages before it have
// been handed to fn.
func (c *Client) pages(ctx context.Context, u string, fn func(p *page, url string) error) error {
	for n := 0; u != ""; n++ {
		if n > 10000 {
			return fmt.Errorf("octopus: more than 10000 pages from %s: a `next` loop?", u)
		}
		resp, err := c.http().Get(ctx, u)
		if err != nil {
			return err
		}
		var p page
		if err := json.Unmarshal(resp.Body, &p); err != nil {
			return &MalformedError{URL: u, Body: resp.Body, Err: err}
		}
		if err := fn(&p, u); err != nil {
			return err
		}
		u = ""
		if p.Next != nil && *p.Next != "" {
			if u, err = c.rebase(*p.Next); err != nil {
				return err
			}
		}
	}
	return nil
}

// Products lists the products open to new customers at t (all pages).
func (c *Client) Products(ctx context.Context, at time.Time) ([]Product, error) {
	q := url.Values{"is_variable": {"true"}, "brand": {"OCTOPUS_ENERGY"}}
	if !at.IsZero() {
		q.Set("available_at", at.UTC().Format(time.RFC3339))
	}
	var out []Product
	err := c.pages(ctx, c.base()+"/v1/products/?"+q.Encode(), func(p *page, u string) error {
		for _, raw := range p.Results {
			var pr Product
			if err := json.Unmarshal(raw, &pr); err != nil {
				return &MalformedError{URL: u, Body: raw, Err: err}
			}
			out = append(out, pr)
		}
		return nil
	})
	return out, err
}

// IsAgileImport reports whether p is an Agile import tariff for homes.
func IsAgileImport(p Product) bool {
	return strings.HasPrefix(p.Code, "AGILE-") && !strings.Contains(p.Code, "OUTGOING") &&
		(p.Direction == "" || p.Direction == "IMPORT") && !p.IsBusiness && !p.IsPrepay
}

// AgileAt returns the Agile import product open to new customers at t: the
// one available most recently.
func (c *Client) AgileAt(ctx context.Context, t time.Time) (Product, error) {
	ps, err := c.Products(ctx, t)
	if err != nil {
		return Product{}, err
	}
	var best *Product
	for i := range ps {
		p := &ps[i]
		if !IsAgileImport(*p) || p.AvailableFrom.After(t) || (p.AvailableTo != nil && !p.AvailableTo.After(t)) {
			continue
		}
		if best == nil || p.AvailableFrom.After(best.AvailableFrom) {
			best = p
		}
	}
	if best == nil {
		return Product{}, &NoProductError{At: t}
	}
	return *best, nil
}

// NoProductError says no Agile product was open to new customers at At.
type NoProductError struct{ At time.Time }

func (e *NoProductError) Error() string {
	return fmt.Sprintf("octopus: no Agile import product was open at %s (Agile started on 2018-02-21)", e.At.UTC().Format(time.RFC3339))
}

// Segment is a product and the part of a range it prices.
type Segment struct {
	Product  Product
	From, To time.Time
}

// maxBridge is how long after a version's close the closed version goes on
// serving while no successor has opened.
const maxBridge = 48 * time.Hour

// AgileVersions splits [from, to) by the Agile product open at each time,
// following each version's available_to to its successor. Between a
// version's close and its successor's opening (it happens: an hour here and
// there) the closed version, whose existing customers still get rates, goes
// on, probed hour by hour for up to maxBridge. A range that starts inside
// such a gap is bridged by the same closed version, found by probing back
// from its start, so that a gap hour gets the same product whichever chunk
// of a backfill it falls in.
func (c *Client) AgileVersions(ctx context.Context, from, to time.Time) ([]Segment, error) {
	var out []Segment
	for t := from; t.Before(to); {
		p, err := c.AgileAt(ctx, t)
		var none *NoProductError
		if errors.As(err, &none) {
			if len(out) == 0 {
				prev, ok, perr := c.closedBefore(ctx, t)
				if perr != nil {
					return nil, perr
				}
				if ok {
					out = append(out, Segment{prev, t, t})
				}
			}
			if n := len(out); n > 0 && bridges(out[n-1].Product, t) {
				// Probe on whole hours after the close, as when the range
				// reached the gap from before it, so that a range starting
				// mid-hour does not step past the successor's opening.
				closed := *out[n-1].Product.AvailableTo
				end := closed.Add((t.Sub(closed)/time.Hour + 1) * time.Hour)
				if end.After(to) {
					end = to
				}
				out[n-1].To = end
				t = end
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		end := to
		if p.AvailableTo != nil && p.AvailableTo.Before(to) {
			end = *p.AvailableTo
		}
		if !end.After(t) {
			return nil, fmt.Errorf("octopus: product %s ends at %s, not after %s", p.Code, end, t)
		}
		if n := len(out); n > 0 && out[n-1].Product.Code == p.Code && out[n-1].To.Equal(t) {
			out[n-1].To = end
		} else {
			out = append(out, Segment{p, t, end})
		}
		t = end
	}
	return out, nil
}

// bridges reports whether p, closed, still serves t, which no version is
// open at: p closed at or before t, less than maxBridge before.
func bridges(p Product, t time.Time) bool {
	return p.AvailableTo != nil && !p.AvailableTo.After(t) && t.Before(p.AvailableTo.Add(maxBridge))
}

// closedBefore finds the version that bridges t when no version is open at
// t, probing hour by hour back from t for up to maxBridge (the mirror of
// the forward probing in AgileVersions). It reports false when there is none,
// e.g. before Agile existed.
func (c *Client) closedBefore(ctx context.Context, t time.Time) (Product, bool, error) {
	for back := time.Hour; back <= maxBridge; back += time.Hour {
		p, err := c.AgileAt(ctx, t.Add(-back))
		var none *NoProductError
		if errors.As(err, &none) {
			continue
		}
		if err != nil {
			return Product{}, false, err
		}
		return p, bridges(p, t), nil
	}
	return Product{}, false, nil
}

// TariffCode is the single-register electricity tariff code of product in
// region, e.g. E-1R-AGILE-24-10-01-C.
func TariffCode(product, region string) string { return "E-1R-" + product + "-" + region }

// Rate is one entry of standard-unit-rates.
type Rate struct {
	ValueExcVAT float64    `json:"value_exc_vat"`
	ValueIncVAT float64    `json:"value_inc_vat"`
	ValidFrom   time.Time  `json:"valid_from"`
	ValidTo     *time.Time `json:"valid_to"`
}

// rateJSON decodes strictly: a rate without its numbers is malformed, not 0.
type rateJSON struct {
	ValueExcVAT *float64   `json:"value_exc_vat"`
	ValueIncVAT *float64   `json:"value_inc_vat"`
	ValidFrom   *time.Time `json:"valid_from"`
	ValidTo     *time.Time `json:"valid_to"`
}

// Bad is a result entry that could not be read.
type Bad struct {
	URL   string
	Index int
	Raw   []byte
	Err   error
}

// UnitRates returns the rates of product in region whose periods overlap
// [from, to), following pagination; entries it cannot read are returned in
// bad. A page that is not JSON returns the rates read so far with a
// *MalformedError.
func (c *Client) UnitRates(ctx context.Context, product, region string, from, to time.Time) (rates []Rate, bad []Bad, err error) {
	q := url.Values{}
	q.Set("period_from", from.UTC().Format(time.RFC3339))
	q.Set("period_to", to.UTC().Format(time.RFC3339))
	ps := c.PageSize
	if ps <= 0 {
		ps = 1500
	}
	q.Set("page_size", strconv.Itoa(ps))
	u := fmt.Sprintf("%s/v1/products/%s/electricity-tariffs/%s/standard-unit-rates/?%s",
		c.base(), url.PathEscape(product), url.PathEscape(TariffCode(product, region)), q.Encode())
	err = c.pages(ctx, u, func(p *page, u string) error {
		for i, raw := range p.Results {
			var r rateJSON
			err := json.Unmarshal(raw, &r)
			if err == nil && (r.ValueIncVAT == nil || r.ValueExcVAT == nil || r.ValidFrom == nil) {
				err = errors.New("missing value_inc_vat, value_exc_vat or valid_from")
			}
			if err != nil {
				bad = append(bad, Bad{URL: u, Index: i, Raw: raw, Err: err})
				continue
			}
			rates = append(rates, Rate{*r.ValueExcVAT, *r.ValueIncVAT, r.ValidFrom.UTC(), r.ValidTo})
		}
		return nil
	})
	return rates, bad, err
}

// PublishedAt is when the rate for the period starting at start was known:
// Octopus's schedule (16:00 UK time on the day before the Agile day), or,
// when we fetched it within a day after that and later than the schedule,
// the fetch time, since a late publication cannot be ruled out.
func PublishedAt(start, fetched time.Time) time.Time {
	p := publication.Time(start)
	if !fetched.IsZero() && fetched.After(p) && fetched.Before(p.Add(24*time.Hour)) {
		return fetched.UTC().Truncate(time.Second)
	}
	return p
}

// AgileDay returns the Agile day that contains t: [23:00 D-1, 23:00 D) UK
// time, as UTC instants.
func AgileDay(t time.Time) (start, end time.Time) {
	d := publication.DeliveryDay(t)
	lon := London()
	start = time.Date(d.Year(), d.Month(), d.Day()-1, 23, 0, 0, 0, lon).UTC()
	end = time.Date(d.Year(), d.Month(), d.Day(), 23, 0, 0, 0, lon).UTC()
	return start, end
}

// Prices turns rates into prices of region ("A".."P"), dropping none: a
// rate that fails validation (e.g. a fixed tariff's open-ended period) is
// returned in bad with the reason.
func Prices(product, region string, rates []Rate, fetched time.Time) (out []schemas.Price, bad []source.Dead) {
	for _, r := range rates {
		p := schemas.Price{Region: "GB-" + region, Market: Market, Source: Source, Tariff: product,
			Start: r.ValidFrom, Value: r.ValueIncVAT, Unit: "p/kWh", Currency: "GBP", VATIncluded: true,
			PublishedAt: PublishedAt(r.ValidFrom, fetched)}
		ex := r.ValueExcVAT
		p.ValueExVAT = &ex
		var err error
		if r.ValidTo == nil {
			err = &schemas.ValidationError{Schema: schemas.SchemaPrice, Field: "end", Reason: schemas.ReasonInvalid,
				Msg: "valid_to is null: an open-ended rate is not a half-hourly price (is this an Agile product?)"}
		} else {
			p.End = r.ValidTo.UTC()
			err = p.Validate()
		}
		if err != nil {
			raw, _ := json.Marshal(r)
			bad = append(bad, source.Dead{Region: p.Region, Origin: "octopus:" + TariffCode(product, region), Offset: -1,
				Value: raw, Reason: schemas.ReasonOf(err), Err: err})
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, bad
}
