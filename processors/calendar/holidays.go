package calendar

import (
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/aa"
	"github.com/rickar/cal/v2/de"
	"github.com/rickar/cal/v2/nl"
	"github.com/rickar/cal/v2/se"
)

// additions are the holidays each country's list gets on top of
// github.com/rickar/cal's (or, for FI, finland's): days the library lacks,
// with the law that makes each a holiday. All are public holidays here,
// whatever type the library gives them.
//
// Eves follow one rule: an eve is a holiday when the country's law treats
// it as a Sunday or public holiday for working time or annual leave, which
// is also how the markets see them (demand like a Sunday's):
//
//   - FI: Midsummer Eve, Christmas Eve and Easter Saturday (Annual Holidays
//     Act, vuosilomalaki 162/2005, section 4). New Year's Eve is an ordinary
//     working day and is not one.
//   - SE: Midsummer Eve, Christmas Eve and New Year's Eve (Annual Leave Act,
//     semesterlagen 1977:480, section 3 a: "likställas med söndag"). The
//     library has them as ObservanceOther, so they are retyped.
//   - NO, DK: no eve. Christmas Eve and New Year's Eve are afternoons off by
//     collective agreement only, and not holidays in law (NO: lov om
//     helligdager og helligdagsfred 1995; DK: helligdagsloven).
//   - PL: Christmas Eve from 2025, when it became a statutory holiday.
//   - Other countries: none.
//
// Holidays that always fall on a Sunday (Easter Sunday, Whit Sunday) are
// included where the law names them, as FI's list does; the library leaves
// them out for SE, NO, DK and PL.
var additions = map[string][]*cal.Holiday{
	"FI": {
		// Friday between 19 and 25 June.
		public(&cal.Holiday{Name: "Juhannusaatto", Month: time.June, Day: 19,
			Weekday: time.Friday, Offset: 1, Func: cal.CalcWeekdayFrom}),
		public(&cal.Holiday{Name: "Jouluaatto", Month: time.December, Day: 24, Func: cal.CalcDayOfMonth}),
		public(&cal.Holiday{Name: "Pääsiäislauantai", Offset: -1, Func: cal.CalcEasterOffset}),
	},
	"SE": {
		// Lag (1989:253) om allmänna helgdagar.
		public(aa.Easter.Clone(&cal.Holiday{Name: "Påskdagen"})),
		public(aa.Pentecost.Clone(&cal.Holiday{Name: "Pingstdagen"})),
		// Semesterlagen (1977:480) 3 a §.
		public(se.Midsommarafton),
		public(se.Julafton),
		public(se.Nyarsafton),
	},
	"NO": {
		// Lov om helligdager og helligdagsfred (1995) § 2.
		public(aa.Easter.Clone(&cal.Holiday{Name: "Første påskedag"})),
		public(aa.Pentecost.Clone(&cal.Holiday{Name: "Første pinsedag"})),
	},
	"DK": {
		// Helligdagsloven § 1.
		public(aa.Easter.Clone(&cal.Holiday{Name: "Påskedag"})),
		public(aa.Pentecost.Clone(&cal.Holiday{Name: "Pinsedag"})),
	},
	"PL": {
		// Ustawa z dnia 18 stycznia 1951 r. o dniach wolnych od pracy,
		// art. 1.
		public(aa.Easter.Clone(&cal.Holiday{Name: "pierwszy dzień Wielkiej Nocy"})),
		public(aa.Pentecost.Clone(&cal.Holiday{Name: "pierwszy dzień Zielonych Świątek"})),
		// Wigilia Bożego Narodzenia: added to art. 1 of the same act by its
		// amendment of December 2024, first a day off on 24 December 2025.
		public(&cal.Holiday{Name: "Wigilia Bożego Narodzenia", Month: time.December, Day: 24,
			Func: cal.CalcDayOfMonth, StartYear: 2025}),
	},
	"GB": {
		// Bank Holiday for the State Funeral of Queen Elizabeth II,
		// Monday 19 September 2022, in all of the UK: Royal Proclamation of
		// 12 September 2022 under the Banking and Financial Dealings Act
		// 1971, s. 1(3). (The Coronation bank holiday of 8 May 2023 is in
		// the library.)
		public(&cal.Holiday{Name: "State Funeral of Queen Elizabeth II", Month: time.September, Day: 19,
			Func: cal.CalcDayOfMonth, StartYear: 2022, EndYear: 2022}),
	},
	"DE": {
		// Reformation Day 2017, the 500th anniversary of the Reformation:
		// a one-off public holiday in all 16 Länder, each enacting it in
		// its holiday law (it is a yearly holiday in some Länder only, so
		// the library's nationwide list lacks it).
		public(de.Reformationstag.Clone(&cal.Holiday{StartYear: 2017, EndYear: 2017})),
	},
	"NL": {
		// Koningsdag, 27 April (26 April when the 27th is a Sunday), since
		// 2014; a general holiday under the Algemene termijnenwet, art. 3.
		// The library gives it no type. Bevrijdingsdag (5 May) is a day
		// off only every fifth year for most, and is left out.
		public(nl.Koningsdag.Clone(&cal.Holiday{StartYear: 2014})),
	},
}

// public returns a copy of h typed as a public holiday.
func public(h *cal.Holiday) *cal.Holiday {
	return h.Clone(&cal.Holiday{Type: cal.ObservancePublic})
}
