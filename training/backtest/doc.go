// Package backtest evaluates day-ahead models as epftoolbox does (Lago,
// Marcjasz, De Schutter and Weron 2021): each day D of a test period is
// forecast from what was known at D's issue time (the feature rows carry
// that cut; the models enforce it again), the models are recalibrated every
// k days on the data before D, and the errors are summarised as MAE, RMSE,
// sMAPE and rMAE (MAE over the MAE of the weekly naive forecast, the price
// 168 hours earlier, on the same hours), overall and per hour of day.
//
// Prediction intervals are split-conformal from a rolling calibration set:
// the absolute errors of the latest CalibrationDays out-of-sample forecasts
// per hour of day. The run starts CalibrationDays before the test period
// so that the first test day already has a calibration set; those warm-up
// days are not scored. Coverage is measured on the test days.
//
// The Diebold-Mariano test compares two models' paired errors; the scorer's
// promotion logic uses the same function. This package imports no Kafka
// and no storage.
package backtest
