package csvimport

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wattcast/wattcast/data"
	"github.com/wattcast/wattcast/schemas"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func parseEmbedded(t *testing.T, name string, m Mapping) *Result {
	t.Helper()
	rc, err := data.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	res, err := Parse(rc, m, Options{File: name})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestNordPoolFIPreset(t *testing.T) {
	t.Parallel()
	m, err := Preset(PresetNordPoolFI)
	if err != nil {
		t.Fatal(err)
	}
	res := parseEmbedded(t, data.NordPoolFI, m)
	// 14,756 rows, the last 94 without a price (the source's forecast horizon).
	if res.Rows != 14756 || res.Skipped["no price"] != 94 || len(res.Prices) != 14662 {
		t.Fatalf("rows %d, skipped %v, prices %d; want 14756, 94 without price, 14662", res.Rows, res.Skipped, len(res.Prices))
	}
	p := res.Prices[0]
	if !p.Start.Equal(mustTime(t, "2023-01-01T00:00:00Z")) || p.Value != 0.152 || p.Unit != "c/kWh" || !p.VATIncluded {
		t.Errorf("first price %+v", p)
	}
	// 00:00 UTC on 1 Jan is 01:00 CET on 1 Jan: CET delivery day 1 Jan,
	// published 31 Dec 12:45 CET = 11:45 UTC.
	if want := mustTime(t, "2022-12-31T11:45:00Z"); !p.PublishedAt.Equal(want) {
		t.Errorf("published %s, want %s", p.PublishedAt, want)
	}
	// 23:00 UTC on 1 Jan is 00:00 CET on 2 Jan: published 1 Jan.
	for _, q := range res.Prices[:48] {
		if q.Start.Equal(mustTime(t, "2023-01-01T23:00:00Z")) && !q.PublishedAt.Equal(mustTime(t, "2023-01-01T11:45:00Z")) {
			t.Errorf("23:00Z published %s, want 2023-01-01T11:45Z", q.PublishedAt)
		}
	}
	minV := math.Inf(1)
	for _, q := range res.Prices {
		minV = math.Min(minV, q.Value)
		if !q.PublishedAt.Before(q.Start) {
			t.Fatalf("price for %s published at %s, not before delivery", q.Start, q.PublishedAt)
		}
	}
	if minV != -61.968 && math.Round(minV) != -62 {
		t.Errorf("min price %g, want the real -62 c/kWh event", minV)
	}
	// Two observation groups per row (stations, grid) and one forecast
	// (import capacity) per priced row.
	if len(res.Observations) != 2*14662 || len(res.Forecasts) != 14662 {
		t.Errorf("observations %d, forecasts %d; want %d and %d", len(res.Observations), len(res.Forecasts), 2*14662, 14662)
	}
	for _, o := range res.Observations {
		if o.AvailableAt.Before(o.Time.Add(time.Hour)) {
			t.Fatalf("observation for %s available at %s, before the hour ended", o.Time, o.AvailableAt)
		}
		if _, ok := o.Values["ImportCapacityMW"]; ok {
			t.Fatal("known-ahead ImportCapacityMW published as an observation")
		}
	}
	f := res.Forecasts[0]
	if f.Values["ImportCapacityMW"] != 3471 || len(f.Values) != 1 {
		t.Errorf("first forecast values %v, want only ImportCapacityMW 3471", f.Values)
	}
	// Issued D-1 11:00 CET = 10:00 UTC on 31 Dec; lead to 00:00 UTC 1 Jan is 14 h.
	if !f.IssuedAt.Equal(mustTime(t, "2022-12-31T10:00:00Z")) || f.LeadHours != 14 {
		t.Errorf("forecast issued %s lead %d, want 2022-12-31T10:00Z lead 14", f.IssuedAt, f.LeadHours)
	}
}

func TestOctopusAgilePreset(t *testing.T) {
	t.Parallel()
	m, _ := Preset(PresetOctopusAgile)
	res := parseEmbedded(t, data.OctopusAgileA, m)
	if len(res.Prices) != 61532 || len(res.Rejected) != 0 || len(res.Observations)+len(res.Forecasts) != 0 {
		t.Fatalf("prices %d rejected %d obs %d fc %d", len(res.Prices), len(res.Rejected), len(res.Observations), len(res.Forecasts))
	}
	byStart := map[time.Time]schemas.Price{}
	for _, p := range res.Prices {
		byStart[p.Start] = p
		if p.End.Sub(p.Start) != 30*time.Minute || p.Region != "GB-A" || p.Tariff != "AGILE-18-02-21" {
			t.Fatalf("price %+v", p)
		}
		if p.ValueExVAT == nil || math.Abs(*p.ValueExVAT*1.05-p.Value) > 1e-6 {
			t.Fatalf("value_ex_vat %v for value %g", p.ValueExVAT, p.Value)
		}
	}
	tests := []struct{ start, published string }{
		{"2018-02-19T00:00:00Z", "2018-02-18T16:00:00Z"}, // winter: day D = 19 Feb
		{"2018-02-19T22:30:00Z", "2018-02-18T16:00:00Z"}, // 22:30 GMT is still day 19 Feb
		{"2018-02-19T23:00:00Z", "2018-02-19T16:00:00Z"}, // 23:00 GMT starts day 20 Feb
		{"2018-06-01T21:30:00Z", "2018-05-31T15:00:00Z"}, // 22:30 BST: day 1 Jun, 16:00 BST = 15:00Z
		{"2018-06-01T22:00:00Z", "2018-06-01T15:00:00Z"}, // 23:00 BST starts day 2 Jun
	}
	for _, tc := range tests {
		p, ok := byStart[mustTime(t, tc.start)]
		if !ok {
			t.Errorf("no price for %s", tc.start)
			continue
		}
		if !p.PublishedAt.Equal(mustTime(t, tc.published)) {
			t.Errorf("price for %s published %s, want %s", tc.start, p.PublishedAt.Format(time.RFC3339), tc.published)
		}
	}
	if p := byStart[mustTime(t, "2018-02-19T00:00:00Z")]; p.Value != 9.2715 {
		t.Errorf("first value %g, want 9.2715", p.Value)
	}
}

func TestENTSOEPresetSpringClockChange(t *testing.T) {
	t.Parallel()
	m, _ := Preset("entsoe-FI")
	res, err := ParseFile("testdata/entsoe_FI_2015-03.csv", m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 2,400 rows = 100 days x 24; the 02:00 filler row of 29 March is skipped.
	if res.Rows != 2400 || res.Skipped["dst filler"] != 1 || len(res.Prices) != 2399 {
		t.Fatalf("rows %d skipped %v prices %d", res.Rows, res.Skipped, len(res.Prices))
	}
	at := map[time.Time]schemas.Price{}
	for _, p := range res.Prices {
		at[p.Start] = p
	}
	tests := []struct {
		utc   string
		price float64
	}{
		{"2015-01-01T00:00:00Z", 23.37}, // 1/1/2015 1:00 CET
		{"2015-03-29T00:00:00Z", 22.37}, // 3/29 1:00 CET
		{"2015-03-29T01:00:00Z", 21.94}, // 3/29 3:00 CEST: the 2:00 row was a copy of 1:00
		{"2015-04-01T10:00:00Z", 46.58}, // 4/1 12:00 CEST (a fixed +01:00 would say 11:00Z)
	}
	for _, tc := range tests {
		if p, ok := at[mustTime(t, tc.utc)]; !ok || p.Value != tc.price {
			t.Errorf("price at %s = %+v, want %g", tc.utc, p.Value, tc.price)
		}
	}
	if _, ok := at[mustTime(t, "2014-12-31T23:00:00Z")]; !ok {
		t.Error("1/1/2015 0:00 CET should be 2014-12-31T23:00Z")
	}
	// Won_DA is 0 at 3/29 1:00 (a gap): not published; Load_DA 8770 is.
	for _, f := range res.Forecasts {
		if f.Time.Equal(mustTime(t, "2015-03-29T00:00:00Z")) {
			if _, ok := f.Values["Won_DA"]; ok {
				t.Error("Won_DA 0 published, want it read as missing")
			}
			if v, ok := f.Values["Load_DA"]; ok && (v != 8770 || !f.IssuedAt.Equal(mustTime(t, "2015-03-28T08:00:00Z"))) {
				t.Errorf("Load_DA %g issued %s, want 8770 issued 09:00 CET on 28 Mar (in practice, before the auction)", v, f.IssuedAt)
			}
		}
	}
	for _, o := range res.Observations {
		if _, ok := o.Values["Load_AC"]; !ok || !o.AvailableAt.Equal(o.Time.Add(2*time.Hour)) {
			t.Fatalf("observation %+v: want Load_AC available an hour after its hour ends", o)
		}
	}
}

func TestENTSOEPresetAutumnClockChange(t *testing.T) {
	t.Parallel()
	m, _ := Preset("entsoe-DK_1")
	res, err := ParseFile("testdata/entsoe_DK_1_2015-10-24_26.csv", m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Prices) != 72 || len(res.Rejected) != 0 {
		t.Fatalf("prices %d rejected %d, want 72 and 0", len(res.Prices), len(res.Rejected))
	}
	at := map[time.Time]float64{}
	for _, p := range res.Prices {
		at[p.Start] = p.Value
	}
	// 10/25 2:00 (the one row for the repeated hour) is its first
	// occurrence, 00:00 UTC; 3:00 CET is 02:00 UTC; 01:00 UTC is missing.
	if at[mustTime(t, "2015-10-25T00:00:00Z")] != 20.795 || at[mustTime(t, "2015-10-25T02:00:00Z")] != 20.11 {
		t.Errorf("clock-change prices %v", at)
	}
	if _, ok := at[mustTime(t, "2015-10-25T01:00:00Z")]; ok {
		t.Error("a price at 01:00Z: the file has no row for the second 02:00")
	}
	var woff bool
	for _, f := range res.Forecasts {
		if _, ok := f.Values["Woff_DA"]; ok {
			woff = true
		}
	}
	if !woff {
		t.Error("DK1 offshore wind forecast (Woff_DA) not read")
	}
}

// A strict local-time file that lists both occurrences of the repeated
// hour: the second must map to the later instant, not collide.
func TestStrictDSTRepeatedHour(t *testing.T) {
	t.Parallel()
	m := Mapping{
		Time:   TimeColumn{Column: "t", Format: "2006-01-02 15:04", Zone: "Europe/Helsinki"},
		Period: Duration(time.Hour), Price: PriceColumn{Column: "p", Unit: "EUR/MWh", Currency: "EUR"},
		Region: "FI", Market: "m", Published: MustRule("D-1 12:45 Europe/Brussels"),
	}
	in := "t,p\n2023-10-29 02:00,1\n2023-10-29 03:00,2\n2023-10-29 03:00,3\n2023-10-29 04:00,4\n"
	res, err := Parse(strings.NewReader(in), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Helsinki: 02:00 EEST = 23:00Z; 03:00 EEST = 00:00Z; 03:00 EET = 01:00Z; 04:00 EET = 02:00Z.
	want := "2023-10-28T23:00:00Z 2023-10-29T00:00:00Z 2023-10-29T01:00:00Z 2023-10-29T02:00:00Z"
	var got []string
	for _, p := range res.Prices {
		got = append(got, p.Start.Format(time.RFC3339))
	}
	if strings.Join(got, " ") != want {
		t.Errorf("starts %v, want %s", got, want)
	}
	// The skipped hour of spring does not exist: strict rejects it.
	_, err = Parse(strings.NewReader("t,p\n2023-03-26 03:30,1\n"), m, Options{File: "spring.csv"})
	var re *RowError
	if !errors.As(err, &re) || re.Line != 2 || !strings.Contains(re.Error(), "does not exist") {
		t.Errorf("spring gap: %v", err)
	}
}

// The first of the two autumn 02:00 rows of a strict file is rejected,
// skipped or filtered out: the second is still the second occurrence
// (01:00Z), by its place in the file.
func TestStrictDSTRepeatedHourAfterDroppedRow(t *testing.T) {
	t.Parallel()
	m := Mapping{
		Time:   TimeColumn{Column: "t", Format: "2006-01-02 15:04", Zone: "Europe/Brussels", DST: DSTStrict},
		Period: Duration(time.Hour), Price: PriceColumn{Column: "p", Unit: "EUR/MWh", Currency: "EUR"},
		Region: "BE", Market: "m", Published: MustRule("D-1 12:45 Europe/Brussels"),
		Exogenous: []Exogenous{{Column: "temp", Kind: Observed}},
	}
	// Brussels on 2015-10-25: 01:00 CEST = 23:00Z, 02:00 CEST = 00:00Z,
	// 02:00 CET = 01:00Z, 03:00 CET = 02:00Z.
	for _, tc := range []struct {
		name, first02 string // the first 02:00 row
		skip          bool   // SkipRowsWithoutPrice
		from          string
		want          string
	}{
		{name: "bad price", first02: "2015-10-25 02:00,bad,5", want: "2015-10-24T23:00:00Z=10 2015-10-25T01:00:00Z=12 2015-10-25T02:00:00Z=13"},
		{name: "bad exogenous", first02: "2015-10-25 02:00,11,x", want: "2015-10-24T23:00:00Z=10 2015-10-25T01:00:00Z=12 2015-10-25T02:00:00Z=13"},
		{name: "short row", first02: "2015-10-25 02:00,11", want: "2015-10-24T23:00:00Z=10 2015-10-25T01:00:00Z=12 2015-10-25T02:00:00Z=13"},
		{name: "skipped without price", first02: "2015-10-25 02:00,,5", skip: true, want: "2015-10-24T23:00:00Z=10 2015-10-25T01:00:00Z=12 2015-10-25T02:00:00Z=13"},
		{name: "before From", first02: "2015-10-25 02:00,11,5", from: "2015-10-25T01:00:00Z", want: "2015-10-25T01:00:00Z=12 2015-10-25T02:00:00Z=13"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := m
			m.SkipRowsWithoutPrice = tc.skip
			in := "t,p,temp\n2015-10-25 01:00,10,5\n" + tc.first02 + "\n2015-10-25 02:00,12,5\n2015-10-25 03:00,13,5\n"
			opts := Options{Lenient: true}
			if tc.from != "" {
				opts.From = mustTime(t, tc.from)
			}
			res, err := Parse(strings.NewReader(in), m, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range res.Prices {
				got = append(got, fmt.Sprintf("%s=%v", p.Start.Format(time.RFC3339), p.Value))
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("prices %v, want %s (rejected %v)", got, tc.want, res.Rejected)
			}
		})
	}
}

func baseMapping() Mapping {
	return Mapping{
		Name:   "t",
		Time:   TimeColumn{Column: "time", Format: "rfc3339"},
		Period: Duration(time.Hour),
		Price:  PriceColumn{Column: "price", Unit: "EUR/MWh", Currency: "EUR"},
		Region: "XX", Market: "test", Published: MustRule("D-1 12:45 Europe/Brussels"),
		Exogenous: []Exogenous{
			{Column: "temp", Kind: Observed},
			{Column: "load_fc", Kind: KnownAhead, Issued: MustRule("D-1 10:00 UTC")},
		},
	}
}

func TestBadRows(t *testing.T) {
	t.Parallel()
	const hdr = "time,price,temp,load_fc\n"
	good := "2024-01-01T00:00:00Z,10,1.5,100\n"
	tests := []struct {
		name   string
		row    string
		line   int
		column string
		reason string
		msg    string
	}{
		{"price not a number", "2024-01-01T01:00:00Z,abc,1,1\n", 3, "price", schemas.ReasonMalformed, "not a number"},
		{"time in another format", "01/01/2024 01:00,10,1,1\n", 3, "time", schemas.ReasonMalformed, "does not match format"},
		{"short row", "2024-01-01T01:00:00Z,10\n", 3, "", schemas.ReasonMalformed, "has 2 fields, want 4"},
		{"repeated period", "2024-01-01T00:00:00Z,11,1,1\n", 3, "time", schemas.ReasonInvalid, "repeats the one at line 2"},
		{"implausible price", "2024-01-01T01:00:00Z,99999,1,1\n", 3, "price", schemas.ReasonOutOfRange, "outside the plausible range"},
		{"period off the quarter hour", "2024-01-01T01:07:00Z,10,1,1\n", 3, "price", schemas.ReasonInvalid, "not on a quarter hour"},
		{"exogenous not a number", "2024-01-01T01:00:00Z,10,warm,1\n", 3, "temp", schemas.ReasonMalformed, "not a finite number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := hdr + good + tc.row + "2024-01-01T02:00:00Z,12,2,102\n"
			_, err := Parse(strings.NewReader(in), baseMapping(), Options{File: "prices.csv"})
			var re *RowError
			if !errors.As(err, &re) {
				t.Fatalf("strict: err %v, want a *RowError", err)
			}
			if re.File != "prices.csv" || re.Line != tc.line || re.Column != tc.column || re.Reason != tc.reason || !strings.Contains(re.Error(), tc.msg) {
				t.Errorf("got %q (line %d column %q reason %s), want line %d column %q reason %s containing %q",
					re.Error(), re.Line, re.Column, re.Reason, tc.line, tc.column, tc.reason, tc.msg)
			}
			// Lenient: the bad row is collected, nothing of it is kept,
			// and the rows around it are.
			res, err := Parse(strings.NewReader(in), baseMapping(), Options{File: "prices.csv", Lenient: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rejected) != 1 || len(res.Prices) != 2 || len(res.Observations) != 2 || len(res.Forecasts) != 2 {
				t.Errorf("lenient: rejected %d prices %d obs %d fc %d; want 1, 2, 2, 2",
					len(res.Rejected), len(res.Prices), len(res.Observations), len(res.Forecasts))
			}
			if len(res.Rejected) == 1 && res.Rejected[0].Raw != strings.TrimSuffix(tc.row, "\n") {
				t.Errorf("raw %q, want %q", res.Rejected[0].Raw, tc.row)
			}
		})
	}
}

func TestExogenousKindsAndMissing(t *testing.T) {
	t.Parallel()
	in := "time,price,temp,load_fc\n2024-01-01T00:00:00Z,10,,100\n2024-01-01T01:00:00Z,,NA,\n"
	res, err := Parse(strings.NewReader(in), baseMapping(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Row 1: no temp -> no observation; a forecast issued 31 Dec 10:00 UTC.
	// Row 2: nothing but the time -> no price (counted), no values.
	if len(res.Prices) != 1 || res.MissingPrices != 1 || len(res.Observations) != 0 || len(res.Forecasts) != 1 {
		t.Fatalf("prices %d missing %d obs %d fc %d", len(res.Prices), res.MissingPrices, len(res.Observations), len(res.Forecasts))
	}
	f := res.Forecasts[0]
	if !f.IssuedAt.Equal(mustTime(t, "2023-12-31T10:00:00Z")) || f.LeadHours != 14 || f.Values["load_fc"] != 100 {
		t.Errorf("forecast %+v", f)
	}
}

func TestRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule, start, want string
	}{
		{"D-1 12:45 Europe/Brussels", "2024-07-01T21:59:00Z", "2024-06-30T10:45:00Z"},
		{"D-1 12:45 Europe/Brussels", "2024-07-01T22:00:00Z", "2024-07-01T10:45:00Z"}, // 00:00 CEST 2 Jul
		{"D-1 10:00 Europe/Helsinki", "2024-01-10T21:00:00Z", "2024-01-09T08:00:00Z"},
		{"D-2 00:00 +02:00", "2024-01-10T21:00:00Z", "2024-01-07T22:00:00Z"}, // 23:00 on 10 Jan at +02:00
		{"D 06:00 UTC", "2024-01-10T21:00:00Z", "2024-01-10T06:00:00Z"},
		{"D-1 16:00 Europe/London day-start -01:00", "2024-03-30T23:00:00Z", "2024-03-30T16:00:00Z"},
		// 31 March 2024 is 23 h long in London: 23:00 BST (22:00Z) starts 1 April.
		{"D-1 16:00 Europe/London day-start -01:00", "2024-03-31T21:30:00Z", "2024-03-30T16:00:00Z"},
		{"D-1 16:00 Europe/London day-start -01:00", "2024-03-31T22:00:00Z", "2024-03-31T15:00:00Z"},
	}
	for _, tc := range tests {
		r, err := ParseRule(tc.rule)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Time(mustTime(t, tc.start)).Format(time.RFC3339); got != tc.want {
			t.Errorf("%q at %s = %s, want %s", tc.rule, tc.start, got, tc.want)
		}
	}
	for _, bad := range []string{"", "D-1", "D-1 25:00 UTC", "D-1 12:45 Mars/Olympus", "X 12:45 UTC", "D-1 12:45 UTC day-start 30:00"} {
		if _, err := ParseRule(bad); err == nil {
			t.Errorf("ParseRule(%q) succeeded", bad)
		}
	}
}

func TestMappingValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want string
	}{
		{"unknown field", `{"tyme":{}}`, "unknown field"},
		{"undeclared kind", `{"time":{"column":"t","format":"rfc3339"},"period":"1h","price":{"column":"p","unit":"EUR/MWh","currency":"EUR"},"region":"X","market":"m","published":"D-1 12:45 UTC","exogenous":[{"column":"wind"}]}`, `declare "known_ahead"`},
		{"known ahead without issue rule", `{"time":{"column":"t","format":"rfc3339"},"period":"1h","price":{"column":"p","unit":"EUR/MWh","currency":"EUR"},"region":"X","market":"m","published":"D-1 12:45 UTC","exogenous":[{"column":"wind","kind":"known_ahead"}]}`, "needs issued"},
		{"local format without zone", `{"time":{"column":"t","format":"2006-01-02 15:04"},"period":"1h","price":{"column":"p","unit":"EUR/MWh","currency":"EUR"},"region":"X","market":"m","published":"D-1 12:45 UTC"}`, "time.zone is required"},
		{"bad unit", `{"time":{"column":"t","format":"rfc3339"},"period":"1h","price":{"column":"p","unit":"EUR/kWh","currency":"EUR"},"region":"X","market":"m","published":"D-1 12:45 UTC"}`, "price.unit"},
		{"bad period", `{"time":{"column":"t","format":"rfc3339"},"period":"2h","price":{"column":"p","unit":"EUR/MWh","currency":"EUR"},"region":"X","market":"m","published":"D-1 12:45 UTC"}`, "period 2h0m0s"},
		{"no publication rule", `{"time":{"column":"t","format":"rfc3339"},"period":"1h","price":{"column":"p","unit":"EUR/MWh","currency":"EUR"},"region":"X","market":"m"}`, "published is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeMapping([]byte(tc.json), "m.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// A column that is not in the file names the file and the columns.
	m := baseMapping()
	m.Price.Column = "Price"
	_, err := Parse(strings.NewReader("time,price,temp,load_fc\n"), m, Options{File: "x.csv"})
	if err == nil || !strings.Contains(err.Error(), `x.csv: price.column "Price" is not a column (have "time", "price"`) {
		t.Errorf("missing column: %v", err)
	}
}

// Every preset survives a JSON round trip and reads the same values, so the
// JSON written in docs/import.md can express everything a preset does.
func TestPresetJSONRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range Presets() {
		m, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeMapping(b, name)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, b)
		}
		if !strings.HasPrefix(name, "entsoe-FI") {
			continue
		}
		a, err := ParseFile("testdata/entsoe_FI_2015-03.csv", m, Options{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseFile("testdata/entsoe_FI_2015-03.csv", back, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ja, _ := json.Marshal(a)
		jc, _ := json.Marshal(c)
		if string(ja) != string(jc) {
			t.Errorf("%s: parse results differ after a JSON round trip", name)
		}
	}
}

func TestFromTo(t *testing.T) {
	t.Parallel()
	m, _ := Preset("entsoe-FI")
	res, err := ParseFile("testdata/entsoe_FI_2015-03.csv", m, Options{From: mustTime(t, "2015-03-28T23:00:00Z"), To: mustTime(t, "2015-03-30T22:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	// 29 March CET is 23 hours long (the filler row is skipped), 30 March 24.
	if len(res.Prices) != 47 || res.Rows != 48 || res.Skipped["dst filler"] != 1 {
		t.Errorf("%d prices from %d rows (skipped %v), want 47 from 48", len(res.Prices), res.Rows, res.Skipped)
	}
	for _, p := range res.Prices {
		if p.Start.Before(mustTime(t, "2015-03-28T23:00:00Z")) || !p.Start.Before(mustTime(t, "2015-03-30T22:00:00Z")) {
			t.Errorf("price at %s outside the slice", p.Start)
		}
	}
}

// The strict presets date each TSO forecast by its regulatory deadline:
// load 10:00 CET, generation and wind/solar 18:00 CET on D-1.
func TestENTSOEStrictPresetUsesTheDeadlines(t *testing.T) {
	t.Parallel()
	m, err := Preset("entsoe-FI-strict")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ParseFile("testdata/entsoe_FI_2015-03.csv", m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range res.Forecasts {
		if !f.Time.Equal(mustTime(t, "2015-03-10T12:00:00Z")) {
			continue
		}
		for k := range f.Values {
			seen[k] = true
			want := mustTime(t, "2015-03-09T17:00:00Z") // 18:00 CET
			if k == "Load_DA" {
				want = mustTime(t, "2015-03-09T09:00:00Z") // 10:00 CET
			}
			if !f.IssuedAt.Equal(want) {
				t.Errorf("%s issued %s, want %s", k, f.IssuedAt, want)
			}
		}
	}
	if !seen["Load_DA"] || !seen["Won_DA"] {
		t.Fatalf("forecast values seen for the hour: %v", seen)
	}
}
