// Package models holds wattcast's day-ahead price models: the weekly and
// standard naive forecasts, a LEAR-style LASSO (as in epftoolbox), a GRU
// trained with backpropagation through time on gonum's BLAS, and an ensemble.
// It imports only the standard library, gonum and schemas, so that the
// trainer and the scorer share it without pulling in Kafka or the lake.
//
// # Vocabulary
//
// A [Day] is one forecasting problem: the final feature rows before the
// target delivery day (History, oldest first) and the rows of the target day
// (Target, as the scorer sees them: ready rows with no price). A [Model]
// returns one value per Target row.
//
// A delivery day is a local date in the market's zone. Models work on 24
// slots per day, slot = the row's LocalHour. A 25-hour day (clocks go back)
// has two rows in one slot: their values are averaged when building inputs,
// and both rows get that slot's forecast. A 23-hour day has an empty slot:
// it is interpolated from its neighbours for inputs, and no row asks for it.
//
// # What a model may see
//
// A model never trusts its caller to have cut History at the issue time:
// prices are used only for hours up to the Target rows' LastPriceHour (the
// latest price known at the issue time), and observed values only for hours
// that ended by the issue time. Training applies the same masks to every
// training day, so what a model learns from is what it will have.
//
// Missing values (gaps, masked hours) fall back to the same slot on the
// previous day, up to a week back, and are otherwise imputed with the
// training median (0 after scaling). Each model's doc says what it does on
// top of that.
//
// # Reproducibility
//
// Randomness is an input: [FitOptions].Seed seeds every random choice
// (weight initialisation, shuffling), so the same rows, spec and seed give
// the same model, bit for bit, on the same machine.
package models
