package schemas

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// validRow returns a feature row that passes Validate, its floats drawn
// from a small pool (so that the encoder's float cache both hits and
// misses) and the awkward ones.
func validRow(r *rand.Rand, pool []float64) FeatureRow {
	f := func() *float64 {
		if r.IntN(5) == 0 {
			return nil
		}
		v := pool[r.IntN(len(pool))]
		if r.IntN(4) == 0 {
			v = awkwardFloats[r.IntN(len(awkwardFloats))]
		}
		return &v
	}
	m := func() map[string]float64 {
		if r.IntN(4) == 0 {
			return nil
		}
		out := map[string]float64{}
		for range r.IntN(4) {
			out[awkwardStrings[r.IntN(len(awkwardStrings))]] = *f2(r, pool)
		}
		return out
	}
	hour := time.Unix(631152000+r.Int64N(3_500_000_000)/3600*3600, 0).UTC()
	issue := hour.Add(-time.Duration(1+r.IntN(40)) * time.Hour)
	last := hour.Add(-30 * time.Hour)
	lead := r.IntN(48)
	row := FeatureRow{Region: []string{"FI", "GB-A", "R001"}[r.IntN(3)], Market: "nordpool-dayahead", Unit: "EUR/MWh",
		Hour: hour, LocalDate: hour.Format(time.DateOnly), IssueTime: issue, LeadHours: LeadHours(issue, hour),
		PriceLag24h: f(), PriceLag48h: f(), PriceLag168h: f(), LastPrice: f(), LastPriceHour: &last,
		Mean24h: f(), Std24h: f(), Min24h: f(), Max24h: f(), Mean168h: f(), Std168h: f(), Min168h: f(), Max168h: f(),
		LocalHour: r.IntN(24), Weekday: 1 + r.IntN(7), Month: 1 + r.IntN(12), DayOfYear: 1 + r.IntN(366),
		Weekend: r.IntN(2) == 0, Holiday: r.IntN(2) == 0, DST: r.IntN(2) == 0,
		KnownAhead: m(), LastObserved: m(), ForecastError: m()}
	if r.IntN(3) > 0 {
		row.KnownAheadIssuedAt, row.KnownAheadLeadHours = &issue, &lead
	}
	if r.IntN(2) == 0 {
		row.Final, row.Price, row.PriceCount, row.Observed = true, f2(r, pool), 1+r.IntN(4), m()
		if *row.Price < MinPrice || *row.Price > MaxPrice {
			*row.Price = 1
		}
	}
	return row
}

func f2(r *rand.Rand, pool []float64) *float64 {
	v := pool[r.IntN(len(pool))]
	return &v
}

// The encoder must be Encode: the same bytes for every row Encode takes,
// the same error for every row it refuses, whatever it remembers from the
// rows before.
func TestFeatureRowEncoderIsEncode(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	pool := make([]float64, 300)
	for i := range pool {
		pool[i] = r.NormFloat64() * math.Pow(10, float64(r.IntN(12)-4))
	}
	var fe FeatureRowEncoder
	nan, inf := math.NaN(), math.Inf(1)
	prefix := []byte("prefix")
	valid := 0
	for i := range 20000 {
		var row FeatureRow
		switch {
		case i%10 == 0:
			fill(r, reflect.ValueOf(&row).Elem()) // mostly invalid, every field awkward
		default:
			row = validRow(r, pool)
			// Break one thing now and then.
			switch r.IntN(40) {
			case 0:
				row.LocalDate = "2024-02-30"
			case 1:
				row.Hour = row.Hour.Add(time.Second)
			case 2:
				row.Price, row.Final = &nan, true
			case 3:
				row.Mean24h = &inf // Validate passes it; encoding/json does not
			case 4:
				row.Hour = row.Hour.In(zones[1+r.IntN(len(zones)-1)])
			case 5:
				row.IssueTime = row.Hour
			case 6:
				row.Hour = time.Date(2201, 1, 1, 0, 0, 0, 0, time.UTC)
			case 7:
				row.Region = "bad region"
			case 8:
				row.Weekday = 0
			case 9:
				row.Hour = time.Date(1989, 12, 31, 23, 0, 0, 0, time.UTC)
			}
		}
		want, wantErr := Encode(&row)
		got, err := fe.AppendJSON(prefix, &row)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("case %d: encoder error %v, Encode %v", i, err, wantErr)
		}
		if !bytes.HasPrefix(got, prefix) {
			t.Fatalf("case %d: the encoder did not append to dst", i)
		}
		if err != nil {
			if len(got) != len(prefix) {
				t.Fatalf("case %d: the encoder failed but left %q after dst", i, got[len(prefix):])
			}
			continue
		}
		valid++
		if !bytes.Equal(got[len(prefix):], want) {
			t.Fatalf("case %d differs:\nencoder %s\nEncode  %s", i, got[len(prefix):], want)
		}
	}
	if valid < 12000 {
		t.Fatalf("only %d valid rows: the generator is off", valid)
	}
}

// A fresh encoder has seen no date: an empty local_date must still be
// refused as Encode refuses it, not written for readers to dead-letter.
func TestFreshFeatureRowEncoderRefusesAnEmptyDate(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(11, 12))
	row := validRow(r, []float64{1.5, -2, 30})
	row.LocalDate = ""
	_, wantErr := Encode(&row)
	var fe FeatureRowEncoder
	if _, err := fe.AppendJSON(nil, &row); wantErr == nil || err == nil || err.Error() != wantErr.Error() {
		t.Fatalf("fresh encoder error %v, Encode %v; want the same refusal", err, wantErr)
	}
}

func TestAppendUTCIsAppendText(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 10))
	secs := []int64{0, 1, 59, 3599, 86399, 86400, 951782400, 951868800, 4107542400, year10000 - 1}
	for range 100000 {
		secs = append(secs, r.Int64N(year10000))
	}
	for _, s := range secs {
		tm := time.Unix(s, 0).UTC()
		want, err := tm.AppendText(nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendUTC(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%d: appendUTC %s, AppendText %s", s, got, want)
		}
	}
}

// parseUTC must read what time.Time's UnmarshalJSON reads, into the same
// value, and leave everything else to it.
func TestParseUTCIsUnmarshalJSON(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(11, 12))
	cases := []string{"0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z",
		"2100-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z", "2024-04-31T00:00:00Z",
		"2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z", "2024-01-01T23:59:60Z", "2024-01-01T00:00:00+00:00", "2024-01-01 00:00:00Z",
		"2024-01-01T00:00:00z", "2024-1-01T00:00:00Z", "+024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z", "1969-12-31T23:59:59Z"}
	for range 50000 {
		tm := time.Unix(r.Int64N(year10000+62135596800)-62135596800, 0).UTC()
		cases = append(cases, tm.Format("2006-01-02T15:04:05Z"))
		b := []byte(tm.Format("2006-01-02T15:04:05Z"))
		b[r.IntN(len(b))] = "0123456789-:TZ "[r.IntN(15)]
		cases = append(cases, string(b))
	}
	taken := 0
	for _, c := range cases {
		var want time.Time
		err := want.UnmarshalJSON([]byte(`"` + c + `"`))
		sec, ok := parseUTC([]byte(c))
		if !ok {
			if err == nil && want.Location() == time.UTC && want.Nanosecond() == 0 && len(c) == 20 {
				t.Fatalf("%s: parseUTC declines a plain UTC time", c)
			}
			continue // declining is always safe
		}
		taken++
		if err != nil {
			t.Fatalf("%s: parseUTC accepts it, UnmarshalJSON says %v", c, err)
		}
		if got := time.Unix(sec, 0).UTC(); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: parseUTC gives %v, UnmarshalJSON %v", c, got, want)
		}
	}
	if taken < 50000 {
		t.Fatalf("parseUTC took only %d times", taken)
	}
}

// A Decoder, used for many values in turn, must give what Decode gives:
// the same values, the same errors.
func TestDecoderIsDecode(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(13, 14))
	types := fastDecoded()
	var dc Decoder
	same := 0
	for i := range 600 {
		newV := types[i%len(types)]
		src := newV()
		fill(r, reflect.ValueOf(src).Elem())
		b, err := json.Marshal(src)
		if err != nil {
			continue
		}
		for _, in := range mutate(r, b) {
			want, got := newV(), newV()
			// Now and then decode into a value holding an empty map, as a
			// reader reusing its maps does (left with whatever a failed
			// decode put there, emptied).
			reused := r.IntN(2) == 0
			if reused {
				switch v := got.(type) {
				case *WeatherObservation:
					v.Values = map[string]float64{}
				case *WeatherForecast:
					v.Values = map[string]float64{}
				}
			}
			wantErr, err := Decode(in, want), dc.Decode(in, got)
			if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
				t.Fatalf("%q: Decoder says %v, Decode %v", in, err, wantErr)
			}
			// A failed decode's value is not used, and with a reused map it
			// may hold an empty map where a fresh one holds none.
			if (err == nil || !reused) && !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: Decoder gives %+v, Decode %+v", in, got, want)
			}
			same++
		}
	}
	if same < 10000 {
		t.Fatalf("only %d values compared", same)
	}
}

// Rows of one region and day share their statistics and their last
// observations and forecast errors, which the encoder remembers: rows that
// share them, and rows that differ from them in a single value, a key, a
// zone or the sign of a zero, must all be written as Encode writes them.
func TestFeatureRowEncoderRemembersOnlyEqualBlocks(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(15, 16))
	pool := []float64{0, math.Copysign(0, -1), 1.5, -2.25, 43.21793646474573, 1e-7, 1e21, 7}
	var fe FeatureRowEncoder
	hits := 0
	for day := range 300 {
		shared := validRow(r, pool)
		for h := range 24 {
			row := validRow(r, pool)
			row.Region = []string{"FI", "GB-A", "R001", "R002"}[day%4]
			row.LastPrice, row.LastPriceHour = shared.LastPrice, shared.LastPriceHour
			row.Mean24h, row.Std24h, row.Min24h, row.Max24h = shared.Mean24h, shared.Std24h, shared.Min24h, shared.Max24h
			row.Mean168h, row.Std168h, row.Min168h, row.Max168h = shared.Mean168h, shared.Std168h, shared.Min168h, shared.Max168h
			row.LastObserved, row.ForecastError = shared.LastObserved, shared.ForecastError
			switch r.IntN(12) {
			case 0: // one value differs
				v := 1 + float64(h)
				row.Max168h = &v
			case 1: // a zero of the other sign
				z := math.Copysign(0, -1)
				if row.Mean24h != nil && math.Signbit(*row.Mean24h) {
					z = 0
				}
				row.Mean24h = &z
			case 2: // the same instant in another zone
				if row.LastPriceHour != nil {
					x := row.LastPriceHour.In(zones[1])
					row.LastPriceHour = &x
				}
			case 3: // an extra key, a changed value, nil against empty
				m := map[string]float64{"x": 1}
				for k, v := range row.LastObserved {
					m[k] = v
				}
				row.LastObserved = m
			case 4:
				m := map[string]float64{}
				for k, v := range row.ForecastError {
					m[k] = v + 1
				}
				row.ForecastError = m
			case 5:
				if row.LastObserved == nil {
					row.LastObserved = map[string]float64{}
				} else if len(row.LastObserved) == 0 {
					row.LastObserved = nil
				}
			default:
				hits++
			}
			want, wantErr := Encode(&row)
			got, err := fe.AppendJSON(nil, &row)
			if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
				t.Fatalf("day %d hour %d: encoder error %v, Encode %v", day, h, err, wantErr)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("day %d hour %d differs:\nencoder %s\nEncode  %s", day, h, got, want)
			}
		}
	}
	if hits < 3000 {
		t.Fatalf("only %d rows shared their day's blocks", hits)
	}
}
