package csvimport

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Preset names.
const (
	PresetNordPoolFI   = "nordpool-fi"
	PresetOctopusAgile = "octopus-agile"
)

// entsoeZones maps the ENTSO-E preset suffix (the file name) to the region id.
var entsoeZones = map[string]string{"FI": "FI", "DK_1": "DK1", "SE_3": "SE3", "NO_2": "NO2", "ES": "ES", "PL": "PL"}

// Presets lists the built-in mapping names.
func Presets() []string {
	out := []string{PresetNordPoolFI, PresetOctopusAgile}
	for z := range entsoeZones {
		out = append(out, "entsoe-"+z, "entsoe-"+z+strictSuffix)
	}
	sort.Strings(out)
	return out
}

// Preset returns a built-in mapping. The decisions behind each (what is
// known ahead, publication times) are documented in docs/import.md.
func Preset(name string) (Mapping, error) {
	var m Mapping
	switch {
	case name == PresetNordPoolFI:
		m = nordPoolFI()
	case name == PresetOctopusAgile:
		m = octopusAgile()
	case strings.HasPrefix(name, "entsoe-") && entsoeZones[strings.TrimSuffix(strings.TrimPrefix(name, "entsoe-"), strictSuffix)] != "":
		zone := strings.TrimPrefix(name, "entsoe-")
		m = entsoe(strings.TrimSuffix(zone, strictSuffix), strings.HasSuffix(zone, strictSuffix))
	default:
		return Mapping{}, fmt.Errorf("csvimport: no preset %q (have %s)", name, strings.Join(Presets(), ", "))
	}
	if err := m.Validate(); err != nil {
		panic(err) // a preset is code: a bad one is a programming error
	}
	return m, nil
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// nordPoolFI reads nordpool_fi_price_weather_2023-2024.csv (vividfog's
// nordpool-predict-fi dump): UTC timestamps, Nord Pool FI day-ahead price in
// c/kWh including Finnish VAT (which changed over the period, so no ex-VAT
// value is derived), hourly station weather and grid series.
func nordPoolFI() Mapping {
	m := Mapping{
		Name:   "nordpool_fi",
		Header: yes(),
		Time:   TimeColumn{Column: "timestamp", Format: "2006-01-02 15:04:05Z07:00"},
		Period: Duration(time.Hour),
		Price:  PriceColumn{Column: "Price_cpkWh", Unit: "c/kWh", Currency: "EUR", VATIncluded: true},
		Region: "FI", Market: "nordpool-dayahead",
		// SDAC publishes the day-ahead results for the CET delivery day at
		// about 12:45 CET on D-1.
		Published: MustRule("D-1 12:45 Europe/Brussels"),
		// The last 94 rows have no price: they were the source project's
		// forecast horizon, and their "observations" are its forecasts.
		SkipRowsWithoutPrice: true,
		Location:             Location{Name: "FI-stations"},
	}
	for _, c := range []string{"ws_101256", "ws_101267", "ws_101673", "ws_101846", "t_101118", "t_101339", "t_101786", "t_100968"} {
		m.Exogenous = append(m.Exogenous, Exogenous{Column: c, Kind: Observed})
	}
	// Conservative choices (docs/import.md explains each): realised wind,
	// nuclear output and the wind capacity series are observations; only
	// the import capacity, which TSOs publish before the day-ahead auction,
	// is known ahead, and then only from 11:00 CET on D-1, after the
	// latest time capacities are published.
	m.Exogenous = append(m.Exogenous,
		Exogenous{Column: "WindPowerCapacityMW", Kind: Observed, Location: "FI-grid"},
		Exogenous{Column: "NuclearPowerMW", Kind: Observed, Location: "FI-grid"},
		Exogenous{Column: "WindPowerMW", Kind: Observed, Location: "FI-grid"},
		Exogenous{Column: "ImportCapacityMW", Kind: KnownAhead, Issued: MustRule("D-1 11:00 Europe/Brussels"), Location: "FI-grid"},
	)
	return m
}

// octopusAgile reads the energy-stats.uk Agile export (no header: utc_start,
// local HH:MM, region letter, region name, price in p/kWh incl. 5% VAT).
// The region defaults to GB-A; set Region for another region's file.
func octopusAgile() Mapping {
	vat := 0.05
	return Mapping{
		Name:    "octopus_agile",
		Header:  no(),
		Columns: []string{"utc_start", "local_time", "region_letter", "region_name", "price"},
		Time:    TimeColumn{Column: "utc_start", Format: "rfc3339"},
		Period:  Duration(30 * time.Minute),
		Price: PriceColumn{Column: "price", Unit: "p/kWh", Currency: "GBP", VATIncluded: true, VATRate: &vat,
			Tariff: "AGILE-18-02-21"},
		Region: "GB-A", Market: "octopus-agile",
		// Octopus publishes the rates for 23:00 D-1 .. 23:00 D (UK time)
		// at about 16:00 UK time on D-1.
		Published: MustRule("D-1 16:00 Europe/London day-start -01:00"),
	}
}

// strictSuffix names the ENTSO-E presets that date each forecast by its
// regulatory deadline instead of by when it is out in practice.
const strictSuffix = "-strict"

// entsoe reads the Deepforkit ENTSO-E Transparency zone files: the first
// column (no name) is local CET/CEST time with 24 rows a day (the 02:00 row
// on the spring clock-change day repeats 01:00; the one 02:00 row in
// autumn averages both), Price_DA in EUR/MWh, and the TSOs' day-ahead
// forecasts of load, scheduled generation and wind and solar output. 0 marks
// a gap in those columns.
//
// When are those forecasts known? Regulation 543/2013 sets deadlines: total
// load two hours before the 12:00 CET gate closure (Art. 6.1.b), generation
// and wind/solar by 18:00 CET on D-1 (Art. 14.1.c/d), i.e. possibly after
// the auction. In practice TSOs publish all of them in the morning of D-1
// for the auction, and the electricity price forecasting literature and
// epftoolbox use them as inputs for day D. The default presets follow
// practice: every day-ahead forecast issued at 09:00 CET on D-1. The
// "-strict" presets follow the deadlines (load 10:00, the rest 18:00), so a
// forecast issued at 10:00 local time cannot use the generation and
// wind/solar forecasts for its day. docs/backtest.md reports both.
func entsoe(zone string, strict bool) Mapping {
	load, gen := "D-1 09:00 Europe/Brussels", "D-1 09:00 Europe/Brussels"
	name := "entsoe_" + zone
	if strict {
		load, gen = "D-1 10:00 Europe/Brussels", "D-1 18:00 Europe/Brussels"
		name += "_strict"
	}
	m := Mapping{
		Name:      name,
		Header:    yes(),
		Time:      TimeColumn{Column: "#0", Format: "1/2/2006 15:04", Zone: "Europe/Brussels", DST: DSTEvened},
		Period:    Duration(time.Hour),
		Price:     PriceColumn{Column: "Price_DA", Unit: "EUR/MWh", Currency: "EUR"},
		Region:    entsoeZones[zone],
		Market:    "entsoe-dayahead",
		Published: MustRule("D-1 12:45 Europe/Brussels"),
		Location:  Location{Name: entsoeZones[zone]},
		Exogenous: []Exogenous{
			{Column: "Load_DA", Kind: KnownAhead, Issued: MustRule(load), ZeroMissing: true},
			{Column: "Gen_SC", Kind: KnownAhead, Issued: MustRule(gen), ZeroMissing: true},
			{Column: "Sol_DA", Kind: KnownAhead, Issued: MustRule(gen), ZeroMissing: true},
			{Column: "Won_DA", Kind: KnownAhead, Issued: MustRule(gen), ZeroMissing: true},
			{Column: "Woff_DA", Kind: KnownAhead, Issued: MustRule(gen), ZeroMissing: true, Optional: true},
			// Actual load is published within an hour after the hour
			// (Art. 6.1.a).
			{Column: "Load_AC", Kind: Observed, Delay: Duration(time.Hour), ZeroMissing: true},
		},
	}
	return m
}
