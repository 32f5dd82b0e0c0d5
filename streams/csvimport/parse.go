package csvimport

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// Options tune Parse.
type Options struct {
	// File names the input in errors (default "input").
	File string
	// Lenient collects bad rows in Result.Rejected and goes on; otherwise
	// Parse stops at the first bad row and returns its *RowError.
	Lenient bool
	// From and To, when set, keep only rows whose period starts in
	// [From, To).
	From, To time.Time
}

// Result is what Parse read.
type Result struct {
	Prices []schemas.Price
	// Observations hold the Observed columns, one value per row and location.
	Observations []schemas.WeatherObservation
	// Forecasts hold the KnownAhead columns, one value per row, location and
	// issue rule.
	Forecasts []schemas.WeatherForecast
	// Rejected lists bad rows (Lenient only), in file order.
	Rejected []*RowError
	// Rows counts the data rows read (header excluded, From/To applied).
	Rows int
	// Skipped counts rows dropped on purpose, by reason: "no price" (with
	// SkipRowsWithoutPrice), "dst filler" (DSTEvened).
	Skipped map[string]int
	// MissingPrices counts rows kept without a price.
	MissingPrices int
}

// RowError is a bad row: where it is, which column, and why. Reason is a
// dead-letter reason (schemas.ReasonMalformed, ReasonInvalid,
// ReasonOutOfRange).
type RowError struct {
	File   string
	Line   int
	Column string
	Value  string
	Reason string
	Err    error
	// Raw is the row as read, fields joined by the delimiter.
	Raw string
}

func (e *RowError) Error() string {
	col := ""
	if e.Column != "" {
		col = fmt.Sprintf(" column %q", e.Column)
		if e.Value != "" || e.Reason == schemas.ReasonMalformed {
			col += fmt.Sprintf(" value %q", e.Value)
		}
		col += ":"
	}
	return fmt.Sprintf("csvimport: %s:%d:%s %v", e.File, e.Line, col, e.Err)
}

func (e *RowError) Unwrap() error { return e.Err }

// ParseFile opens path and parses it with m. A ".gz" file is not
// decompressed: pass a gzip.Reader to Parse instead.
func ParseFile(path string, m Mapping, opts Options) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("csvimport: %w", err)
	}
	defer f.Close()
	if opts.File == "" {
		opts.File = filepath.Base(path)
	}
	return Parse(f, m, opts)
}

// Parse reads a CSV of prices and exogenous columns described by m. Values
// are validated with the schemas package, so everything returned can be
// published as is. A structural problem (no such column, unreadable header)
// is returned as an error; a bad row is a *RowError, returned at once or,
// with Options.Lenient, collected in Result.Rejected.
func Parse(r io.Reader, m Mapping, opts Options) (*Result, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if opts.File == "" {
		opts.File = "input"
	}
	p, err := newParser(&m, opts)
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked per row, so that one short row is a row error
	cr.ReuseRecord = true
	if m.Delimiter != "" {
		cr.Comma = []rune(m.Delimiter)[0]
	}
	cr.TrimLeadingSpace = true
	if m.hasHeader() {
		hdr, err := cr.Read()
		if err != nil {
			return nil, fmt.Errorf("csvimport: %s: read header: %w", opts.File, err)
		}
		if err := p.bind(hdr); err != nil {
			return nil, err
		}
	} else if err := p.bind(m.Columns); err != nil {
		return nil, err
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// A broken quote: the csv package cannot resynchronise
				// reliably, so this ends the file even when lenient.
				return p.res, &RowError{File: opts.File, Line: pe.Line, Reason: schemas.ReasonMalformed,
					Err: fmt.Errorf("%w (fix the quoting; rows after it were not read)", pe.Err)}
			}
			return p.res, fmt.Errorf("csvimport: %s: %w", opts.File, err)
		}
		if rerr := p.row(line, rec); rerr != nil {
			rerr.Raw = strings.Join(rec, string(cr.Comma))
			if !opts.Lenient {
				return p.res, rerr
			}
			p.res.Rejected = append(p.res.Rejected, rerr)
		}
	}
	return p.res, nil
}

type exoCol struct {
	Exogenous
	idx   int
	group int
}

type group struct {
	location string
	observed bool
	issued   *ruleCache
	delay    time.Duration
}

type parser struct {
	m         *Mapping
	opts      Options
	zone      *time.Location
	layout    string
	tkind     int // 0 layout with offset, 1 local layout, 2 unix, 3 unixms
	timeIdx   int
	priceIdx  int
	ncols     int
	exo       []exoCol
	groups    []group
	missing   map[string]bool
	vatDiv    float64
	scale     float64
	period    time.Duration
	source    string
	prev      time.Time
	seen      map[int64]int // period start (unix) -> line
	published *ruleCache
	res       *Result
	lat, lon  *float64
}

func newParser(m *Mapping, opts Options) (*parser, error) {
	p := &parser{m: m, opts: opts, period: time.Duration(m.Period), source: m.source(), published: &ruleCache{rule: m.Published},
		res: &Result{Skipped: map[string]int{}}, seen: map[int64]int{}, scale: 1,
		missing: map[string]bool{"": true}}
	for _, s := range m.Missing {
		p.missing[s] = true
	}
	if len(m.Missing) == 0 {
		for _, s := range []string{"NA", "NaN", "nan", "null", "NULL", "N/A", "-"} {
			p.missing[s] = true
		}
	}
	if m.Price.Scale != 0 {
		p.scale = m.Price.Scale
	}
	if m.Price.VATRate != nil {
		p.vatDiv = 1 + *m.Price.VATRate
	}
	if m.Time.Zone != "" {
		z, err := LoadZone(m.Time.Zone)
		if err != nil {
			return nil, fmt.Errorf("csvimport: time.zone: %w", err)
		}
		p.zone = z
	} else {
		p.zone = time.UTC
	}
	p.layout = m.Time.Format
	switch strings.ToLower(m.Time.Format) {
	case "rfc3339":
		p.layout = time.RFC3339Nano
	case "unix":
		p.tkind = 2
	case "unixms":
		p.tkind = 3
	default:
		if needsZone(m.Time.Format) {
			p.tkind = 1
		}
	}
	p.lat, p.lon = m.Location.Latitude, m.Location.Longitude
	return p, nil
}

// bind resolves column names against the header.
func (p *parser) bind(hdr []string) error {
	p.ncols = len(hdr)
	idx := map[string]int{}
	for i, h := range hdr {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := idx[h]; !dup {
			idx[h] = i
		}
	}
	find := func(field, col string) (int, error) {
		if strings.HasPrefix(col, "#") {
			n, err := strconv.Atoi(col[1:])
			if err != nil || n < 0 || n >= len(hdr) {
				return -1, fmt.Errorf("csvimport: %s: %s %q: the file has columns #0..#%d", p.opts.File, field, col, len(hdr)-1)
			}
			return n, nil
		}
		i, ok := idx[col]
		if !ok {
			return -1, fmt.Errorf("csvimport: %s: %s %q is not a column (have %s; use \"#N\" for the N-th column from 0)",
				p.opts.File, field, col, quoteAll(hdr))
		}
		return i, nil
	}
	var err error
	if p.timeIdx, err = find("time.column", p.m.Time.Column); err != nil {
		return err
	}
	if p.priceIdx, err = find("price.column", p.m.Price.Column); err != nil {
		return err
	}
	groups := map[string]int{}
	for _, x := range p.m.Exogenous {
		i, err := find("exogenous column", x.Column)
		if err != nil {
			if x.Optional {
				continue
			}
			return err
		}
		g := group{location: x.Location, observed: x.Kind == Observed, issued: &ruleCache{rule: x.Issued}, delay: time.Duration(x.Delay)}
		if g.location == "" {
			g.location = p.m.Location.Name
		}
		if g.location == "" {
			g.location = p.m.Region
		}
		key := fmt.Sprintf("%s|%t|%s|%s", g.location, g.observed, x.Issued.String(), g.delay)
		gi, ok := groups[key]
		if !ok {
			gi = len(p.groups)
			groups[key] = gi
			p.groups = append(p.groups, g)
		}
		p.exo = append(p.exo, exoCol{Exogenous: x, idx: i, group: gi})
	}
	return nil
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func (p *parser) rowErr(line int, col, val, reason string, err error) *RowError {
	return &RowError{File: p.opts.File, Line: line, Column: col, Value: val, Reason: reason, Err: err}
}

// row turns one CSV row into values.
func (p *parser) row(line int, rec []string) *RowError {
	if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
		return nil // a blank line
	}
	// p.prev is the start of the last row whose time reads, accepted or
	// not: a repeated autumn wall-clock time is told apart by where the
	// row stands in the file, not by what became of the rows before it.
	if len(rec) < p.ncols {
		if p.timeIdx < len(rec) {
			if start, _, err := p.parseTime(strings.TrimSpace(rec[p.timeIdx])); err == nil {
				p.prev = start
			}
		}
		return p.rowErr(line, "", "", schemas.ReasonMalformed,
			fmt.Errorf("has %d fields, want %d", len(rec), p.ncols))
	}
	tcell := strings.TrimSpace(rec[p.timeIdx])
	start, skip, err := p.parseTime(tcell)
	if err != nil {
		return p.rowErr(line, p.m.Time.Column, tcell, schemas.ReasonMalformed, err)
	}
	p.prev = start
	if (!p.opts.From.IsZero() && start.Before(p.opts.From)) || (!p.opts.To.IsZero() && !start.Before(p.opts.To)) {
		return nil
	}
	p.res.Rows++
	if skip != "" {
		p.res.Skipped[skip]++
		return nil
	}
	if first, dup := p.seen[start.Unix()]; dup {
		return p.rowErr(line, p.m.Time.Column, tcell, schemas.ReasonInvalid,
			fmt.Errorf("period %s repeats the one at line %d", start.Format(time.RFC3339), first))
	}
	pcell := strings.TrimSpace(rec[p.priceIdx])
	var price *schemas.Price
	if !p.missing[pcell] {
		v, err := strconv.ParseFloat(pcell, 64)
		if err != nil {
			return p.rowErr(line, p.m.Price.Column, pcell, schemas.ReasonMalformed, errors.New("not a number"))
		}
		price = &schemas.Price{
			Region: p.m.Region, Market: p.m.Market, Source: p.source, Tariff: p.m.Price.Tariff,
			Start: start, End: start.Add(p.period), Value: round(v * p.scale),
			Unit: p.m.Price.Unit, Currency: p.m.Price.Currency, VATIncluded: p.m.Price.VATIncluded,
			PublishedAt: p.published.time(start),
		}
		if p.vatDiv != 0 {
			ex := round(price.Value / p.vatDiv)
			price.ValueExVAT = &ex
		}
		if err := price.Validate(); err != nil {
			return p.rowErr(line, p.m.Price.Column, pcell, schemas.ReasonOf(err), err)
		}
	} else if p.m.SkipRowsWithoutPrice {
		p.res.Skipped["no price"]++
		return nil
	}
	// Read every exogenous cell before appending anything, so that a bad
	// row contributes nothing.
	vals := make([]map[string]float64, len(p.groups))
	for _, x := range p.exo {
		cell := strings.TrimSpace(rec[x.idx])
		if p.missing[cell] {
			continue
		}
		v, err := strconv.ParseFloat(cell, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return p.rowErr(line, x.Column, cell, schemas.ReasonMalformed, errors.New("not a finite number"))
		}
		if v == 0 && x.ZeroMissing {
			continue
		}
		if vals[x.group] == nil {
			vals[x.group] = map[string]float64{}
		}
		vals[x.group][x.variable()] = v
	}
	var obs []schemas.WeatherObservation
	var fcs []schemas.WeatherForecast
	for gi, g := range p.groups {
		if vals[gi] == nil {
			continue
		}
		if g.observed {
			o := schemas.WeatherObservation{Region: p.m.Region, Location: g.location, Latitude: p.lat, Longitude: p.lon,
				Source: p.source, Time: start, Values: vals[gi], AvailableAt: start.Add(p.period + g.delay)}
			if err := o.Validate(); err != nil {
				return p.rowErr(line, "", "", schemas.ReasonOf(err), err)
			}
			obs = append(obs, o)
			continue
		}
		issued := g.issued.time(start)
		f := schemas.WeatherForecast{Region: p.m.Region, Location: g.location, Latitude: p.lat, Longitude: p.lon,
			Source: p.source, IssuedAt: issued, Time: start, LeadHours: schemas.LeadHours(issued, start), Values: vals[gi]}
		if err := f.Validate(); err != nil {
			return p.rowErr(line, "", "", schemas.ReasonOf(err), err)
		}
		fcs = append(fcs, f)
	}
	p.seen[start.Unix()] = line
	if price != nil {
		p.res.Prices = append(p.res.Prices, *price)
	} else {
		p.res.MissingPrices++
	}
	p.res.Observations = append(p.res.Observations, obs...)
	p.res.Forecasts = append(p.res.Forecasts, fcs...)
	return nil
}

// round drops float noise from scaling (0.1*100 = 10.000000000000002).
func round(v float64) float64 { return math.Round(v*1e9) / 1e9 }

// parseTime reads a period start. skip is non-empty for a row to drop on
// purpose (a DST filler).
func (p *parser) parseTime(s string) (t time.Time, skip string, err error) {
	switch p.tkind {
	case 2, 3:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, "", p.timeFormatErr()
		}
		if p.tkind == 3 {
			return time.UnixMilli(n).UTC(), "", nil
		}
		return time.Unix(n, 0).UTC(), "", nil
	case 0:
		t, err := time.Parse(p.layout, s)
		if err != nil {
			return time.Time{}, "", p.timeFormatErr()
		}
		return t.UTC(), "", nil
	}
	// A local wall-clock time: parse it as if UTC, then find the instants
	// in the zone that show that wall clock (none, one or two).
	w, err := time.Parse(p.layout, s)
	if err != nil {
		return time.Time{}, "", p.timeFormatErr()
	}
	cands := wallInstants(w, p.zone)
	switch len(cands) {
	case 0:
		if p.m.Time.DST == DSTEvened {
			// Place the filler where the clock was before the change, so
			// that From/To apply to it like to any row.
			_, off := w.Add(-26 * time.Hour).In(p.zone).Zone()
			return w.Add(-time.Duration(off) * time.Second), "dst filler", nil
		}
		return time.Time{}, "", fmt.Errorf("local time %s does not exist in %s (clocks went forward); if the file fills that hour, set time.dst to %q",
			w.Format("2006-01-02 15:04"), p.m.Time.Zone, DSTEvened)
	case 1:
		return cands[0], "", nil
	}
	if p.m.Time.DST != DSTEvened && !p.prev.IsZero() && !p.prev.Before(cands[0]) {
		return cands[1], "", nil
	}
	return cands[0], "", nil
}

// timeFormatErr says that a time cell does not match the format, and shows
// what a time in that format looks like.
func (p *parser) timeFormatErr() error {
	ex := time.Date(2024, 1, 31, 13, 0, 0, 0, time.UTC)
	var eg string
	switch p.tkind {
	case 2:
		eg = strconv.FormatInt(ex.Unix(), 10)
	case 3:
		eg = strconv.FormatInt(ex.UnixMilli(), 10)
	default:
		eg = ex.Format(p.layout)
	}
	return fmt.Errorf("does not match format %q (time.format; 2024-01-31 13:00 UTC in it reads %q)", p.m.Time.Format, eg)
}

// wallInstants returns the instants, in order, at which the clock in loc
// reads the wall time w (given as a UTC time with the same fields).
func wallInstants(w time.Time, loc *time.Location) []time.Time {
	offs := map[int]bool{}
	for _, d := range []time.Duration{-26 * time.Hour, 0, 26 * time.Hour} {
		_, off := w.Add(d).In(loc).Zone()
		offs[off] = true
	}
	var out []time.Time
	for off := range offs {
		t := w.Add(-time.Duration(off) * time.Second)
		l := t.In(loc)
		if l.Year() == w.Year() && l.YearDay() == w.YearDay() && l.Hour() == w.Hour() && l.Minute() == w.Minute() && l.Second() == w.Second() {
			out = append(out, t.UTC())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}
