// Package csvimport reads day-ahead price history, with optional exogenous
// columns, from CSV files described by a Mapping, and returns wattcast
// values ready to publish. It has no Kafka dependency: `wattcast import`
// publishes its output, `wattcast backtest` reads it directly, and the demo
// replay uses its presets.
//
// # Vocabulary
//
// A CSV row gives the start of a delivery period and its price. What a file
// does not say is when each value became known, so the mapping says it once
// for the whole file:
//
//   - Mapping.Published, a Rule such as "D-1 12:45 Europe/Brussels", gives
//     each price's published_at;
//   - each exogenous column is KnownAhead (a forecast, usable for the hour
//     it forecasts from the issue time its own Rule gives) or Observed
//     (usable once its hour has passed, plus a delay).
//
// Known-ahead values become schemas.WeatherForecast (issued_at, lead_hours),
// observed ones schemas.WeatherObservation (available_at at the end of the
// hour or later), so the declaration travels with the data and no later
// stage can look ahead by mistake.
//
// Local timestamps are resolved in an IANA zone or a fixed offset, with a
// declared policy for clock changes (DSTStrict, DSTEvened). Bad rows are
// *RowError values naming file, line, column and a dead-letter reason.
// docs/import.md documents the JSON form of a Mapping and the presets.
package csvimport
