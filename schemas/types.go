package schemas

import (
	"time"
)

// Price is the energy price of one delivery period in one region, as a
// market or a tariff published it. Topic: [TopicSet.Prices], key: Region.
type Price struct {
	// Region is the bidding zone or tariff region, e.g. "FI" or "GB-A".
	Region string `json:"region"`
	// Market names the price series, e.g. "nordpool-dayahead" or
	// "octopus-agile". Features and models never mix markets.
	Market string `json:"market"`
	// Source says where the value came from, e.g. "octopus-api" or
	// "import:nordpool_fi".
	Source string `json:"source"`
	// Tariff is the tariff or product code when there is one, e.g.
	// "AGILE-24-10-01".
	Tariff string `json:"tariff,omitempty"`
	// Start and End bound the delivery period [Start, End), UTC. Periods are
	// 15, 30 or 60 minutes long.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Value is the price in Unit, VAT included when VATIncluded is true.
	Value float64 `json:"value"`
	// ValueExVAT is the price without VAT when the source gives both.
	ValueExVAT *float64 `json:"value_ex_vat,omitempty"`
	// Unit is one of "EUR/MWh", "c/kWh", "p/kWh".
	Unit        string `json:"unit"`
	Currency    string `json:"currency"`
	VATIncluded bool   `json:"vat_included"`
	// PublishedAt is the known-at time: when the price was published.
	PublishedAt time.Time `json:"published_at"`
}

// WeatherObservation is what was observed during one hour at one location:
// weather, and any imported exogenous series declared "observed" (usable only
// once its hour has passed). Topic: [TopicSet.WeatherObserved], key: Region,
// so that a region's prices and weather share a partition.
type WeatherObservation struct {
	Region    string   `json:"region"`
	Location  string   `json:"location"`
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
	Source    string   `json:"source"`
	// Time is the start of the observed hour, UTC.
	Time time.Time `json:"time"`
	// Values maps a variable name (Open-Meteo's, e.g. "temperature_2m", or
	// an imported column's) to its value.
	Values map[string]float64 `json:"values"`
	// AvailableAt is the known-at time: when the observation could first be
	// read. It is never before the end of the observed hour.
	AvailableAt time.Time `json:"available_at"`
}

// WeatherForecast is what a forecast issued at IssuedAt said about one hour
// at one location: weather forecasts, and any imported exogenous series
// declared "known ahead" (a forecast usable for the hour it forecasts).
// Topic: [TopicSet.WeatherForecast], key: Region.
type WeatherForecast struct {
	Region    string   `json:"region"`
	Location  string   `json:"location"`
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
	Source    string   `json:"source"`
	// Model is the weather model, e.g. "best_match", when known.
	Model string `json:"model,omitempty"`
	// IssuedAt is the known-at time: when this forecast was issued.
	IssuedAt time.Time `json:"issued_at"`
	// Time is the start of the forecast hour, UTC.
	Time time.Time `json:"time"`
	// LeadHours is Time minus IssuedAt in whole hours (negative for an
	// hour that had already begun when the forecast was issued).
	LeadHours int                `json:"lead_hours"`
	Values    map[string]float64 `json:"values"`
}

// FeatureRow is the model input for one (region, delivery hour): everything
// known at IssueTime about that hour, and, once the hour has passed, what
// actually happened. Topic: [TopicSet.Features], key: Region. A row is sent
// twice: first when its inputs are known (Final false, Price nil), then once
// the hour has passed (Final true). The lake keeps final rows only.
type FeatureRow struct {
	Region string `json:"region"`
	Market string `json:"market"`
	Unit   string `json:"unit"`
	// Hour is the start of the delivery hour [Hour, Hour+1h), UTC.
	Hour time.Time `json:"hour"`
	// LocalDate is the delivery day in the market's time zone, YYYY-MM-DD.
	LocalDate string `json:"local_date"`
	// IssueTime is when the day-ahead forecast for LocalDate is issued. No
	// field below except Price, PriceCount and Observed uses a value that was
	// not known at IssueTime.
	IssueTime time.Time `json:"issue_time"`
	// LeadHours is Hour minus IssueTime in whole hours.
	LeadHours int  `json:"lead_hours"`
	Final     bool `json:"final"`

	// Price is the hour's mean price (the target); nil until Final.
	Price *float64 `json:"price"`
	// PriceCount is how many sub-hourly prices Price averages (2 for a
	// half-hourly tariff).
	PriceCount int `json:"price_count"`

	// Lags of the price at the same local hour 1, 2 and 7 local days
	// earlier (24, 48, 168 hours except across a clock change); nil for an
	// hour that did not exist that day.
	PriceLag24h  *float64 `json:"price_lag_24h"`
	PriceLag48h  *float64 `json:"price_lag_48h"`
	PriceLag168h *float64 `json:"price_lag_168h"`
	// LastPrice is the latest hourly price known at IssueTime, for LastPriceHour.
	LastPrice     *float64   `json:"last_price"`
	LastPriceHour *time.Time `json:"last_price_hour"`
	// Rolling statistics over the 24 and 168 hours up to LastPriceHour.
	Mean24h  *float64 `json:"mean_24h"`
	Std24h   *float64 `json:"std_24h"`
	Min24h   *float64 `json:"min_24h"`
	Max24h   *float64 `json:"max_24h"`
	Mean168h *float64 `json:"mean_168h"`
	Std168h  *float64 `json:"std_168h"`
	Min168h  *float64 `json:"min_168h"`
	Max168h  *float64 `json:"max_168h"`

	// Calendar of Hour in the market's time zone. Weekday is ISO: Monday 1
	// to Sunday 7.
	LocalHour int  `json:"local_hour"`
	Weekday   int  `json:"weekday"`
	Month     int  `json:"month"`
	DayOfYear int  `json:"day_of_year"`
	Weekend   bool `json:"weekend"`
	Holiday   bool `json:"holiday"`
	DST       bool `json:"dst"`

	// KnownAhead holds, for this hour, the latest weather forecast and
	// known-ahead exogenous values issued no later than IssueTime.
	KnownAhead map[string]float64 `json:"known_ahead"`
	// KnownAheadIssuedAt is the issue time of the forecast used for
	// KnownAhead, and KnownAheadLeadHours its lead time to Hour.
	KnownAheadIssuedAt  *time.Time `json:"known_ahead_issued_at"`
	KnownAheadLeadHours *int       `json:"known_ahead_lead_hours"`
	// LastObserved holds the latest observed value of each variable known
	// at IssueTime, looking back up to 8 days (archives publish late).
	LastObserved map[string]float64 `json:"last_observed"`
	// ForecastError holds, per weather variable, the mean of (forecast minus
	// observed) over the 168 hours up to IssueTime, from values known then.
	ForecastError map[string]float64 `json:"forecast_error"`
	// Observed holds the values observed during this hour; nil until Final.
	Observed map[string]float64 `json:"observed"`
}

// DailyFeatures is the daily tumbling window of one region's delivery day:
// the day's hourly prices and observed weather, aggregated once its last hour
// has passed, in the transaction that sends that hour's final FeatureRow.
// Topic: [TopicSet.FeaturesDaily], key: Region. Sent once per delivery day
// that has at least one price.
type DailyFeatures struct {
	Region string `json:"region"`
	Market string `json:"market"`
	Unit   string `json:"unit"`
	// LocalDate is the delivery day in the market's time zone, YYYY-MM-DD.
	LocalDate string `json:"local_date"`
	// Start and End bound the day [Start, End) in UTC; Hours is the span in
	// hours: 23 or 25 on clock-change days, else 24.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Hours int       `json:"hours"`
	// PriceHours is how many of the day's hours have a price (the hourly
	// mean of their sub-hourly prices, as FeatureRow.Price); every price
	// statistic is over those hours.
	PriceHours int     `json:"price_hours"`
	PriceMean  float64 `json:"price_mean"`
	PriceStd   float64 `json:"price_std"`
	PriceMin   float64 `json:"price_min"`
	PriceMax   float64 `json:"price_max"`
	// MinHour and MaxHour are the start of the cheapest and of the dearest
	// hour (the earlier of equal ones), UTC.
	MinHour time.Time `json:"min_hour"`
	MaxHour time.Time `json:"max_hour"`
	// PeakMean is the mean price of the hours from 08:00 to 20:00 local
	// time (the exchanges' peak hours, on every day), OffPeakMean that of the
	// other hours; nil when none of those hours has a price.
	PeakMean    *float64 `json:"peak_mean"`
	OffPeakMean *float64 `json:"off_peak_mean"`
	// Calendar of the day in the market's time zone; Weekday is ISO.
	Weekday int  `json:"weekday"`
	Month   int  `json:"month"`
	Weekend bool `json:"weekend"`
	Holiday bool `json:"holiday"`
	// ObservedMean, ObservedMin and ObservedMax hold, per variable, the
	// mean, minimum and maximum of the values observed during the day's
	// hours (available by each hour's end, as FeatureRow.Observed); nil when
	// nothing was observed.
	ObservedMean map[string]float64 `json:"observed_mean"`
	ObservedMin  map[string]float64 `json:"observed_min"`
	ObservedMax  map[string]float64 `json:"observed_max"`
}

// Quantile is one quantile of a probabilistic forecast.
type Quantile struct {
	// Q is the probability level in (0, 1), e.g. 0.1 or 0.9.
	Q     float64 `json:"q"`
	Value float64 `json:"value"`
}

// ForecastPoint is a forecast for one target hour.
type ForecastPoint struct {
	Hour      time.Time  `json:"hour"`
	LeadHours int        `json:"lead_hours"`
	Value     float64    `json:"value"`
	Quantiles []Quantile `json:"quantiles,omitempty"`
}

// Model roles on the forecasts and error topics.
const (
	RoleChampion   = "champion"
	RoleChallenger = "challenger"
)

// Forecast is one model's day-ahead forecast for one region, issued at
// IssueTime. Topic: [TopicSet.Forecasts], key: Region.
type Forecast struct {
	// ForecastID identifies the forecast: region/model/version/issue time.
	ForecastID   string `json:"forecast_id"`
	Region       string `json:"region"`
	Market       string `json:"market"`
	Unit         string `json:"unit"`
	ModelID      string `json:"model_id"`
	ModelVersion string `json:"model_version"`
	ModelKind    string `json:"model_kind"`
	// Role is RoleChampion or RoleChallenger.
	Role string `json:"role"`
	// Official is true for the forecast users should act on: the champion's,
	// or a challenger's for regions routed to it in split A/B mode.
	Official  bool            `json:"official"`
	IssueTime time.Time       `json:"issue_time"`
	LocalDate string          `json:"local_date"`
	CreatedAt time.Time       `json:"created_at"`
	Points    []ForecastPoint `json:"points"`
}

// ForecastError is one model's error for one target hour, sent once the
// actual price is known. Topics: [TopicSet.ErrorsChampion] and
// [TopicSet.ErrorsChallenger] by Role, key: Region.
type ForecastError struct {
	ForecastID   string    `json:"forecast_id"`
	Region       string    `json:"region"`
	Market       string    `json:"market"`
	Unit         string    `json:"unit"`
	ModelID      string    `json:"model_id"`
	ModelVersion string    `json:"model_version"`
	ModelKind    string    `json:"model_kind"`
	Role         string    `json:"role"`
	Official     bool      `json:"official"`
	IssueTime    time.Time `json:"issue_time"`
	Hour         time.Time `json:"hour"`
	LeadHours    int       `json:"lead_hours"`
	Forecast     float64   `json:"forecast"`
	Actual       float64   `json:"actual"`
	// Error is Forecast minus Actual; AbsError its absolute value.
	Error    float64 `json:"error"`
	AbsError float64 `json:"abs_error"`
	// NaiveWeekly is the weekly naive forecast for Hour (the price 168 hours
	// earlier), so that rMAE can be computed from this topic alone.
	NaiveWeekly *float64 `json:"naive_weekly"`
	// Lower and Upper bound the forecast's central prediction interval at
	// level IntervalLevel, and Covered says whether Actual fell inside.
	Lower         *float64 `json:"lower,omitempty"`
	Upper         *float64 `json:"upper,omitempty"`
	IntervalLevel *float64 `json:"interval_level,omitempty"`
	Covered       *bool    `json:"covered,omitempty"`
}

// Model event types.
const (
	EventRegistered       = "registered"
	EventStageChanged     = "stage_changed"
	EventPromoted         = "promoted"
	EventPromotionDenied  = "promotion_denied"
	EventRolledBack       = "rolled_back"
	EventRetrainRequested = "retrain_requested"
)

// ModelEvent records a change in the model registry or a decision about it,
// with its evidence. Topic: [TopicSet.ModelEvents], key: ModelID.
type ModelEvent struct {
	EventID      string    `json:"event_id"`
	Time         time.Time `json:"time"`
	Type         string    `json:"type"`
	ModelID      string    `json:"model_id"`
	ModelVersion string    `json:"model_version"`
	ModelKind    string    `json:"model_kind,omitempty"`
	FromStage    string    `json:"from_stage,omitempty"`
	ToStage      string    `json:"to_stage,omitempty"`
	Reason       string    `json:"reason"`
	// Evidence holds the numbers behind a decision, e.g. "dm_stat",
	// "p_value", "days", "champion_mae", "challenger_mae".
	Evidence map[string]float64 `json:"evidence,omitempty"`
	// Actor names the component and instance that decided.
	Actor string `json:"actor,omitempty"`
}

// Dead-letter reasons. Reason is a stable code; DeadLetter.Error says more.
const (
	ReasonMalformed    = "malformed"     // not JSON, or not the schema's shape
	ReasonInvalid      = "invalid"       // well-formed but fails validation
	ReasonOutOfRange   = "out_of_range"  // a value outside its plausible range
	ReasonLate         = "late"          // older than the watermark minus allowed lateness
	ReasonWindowClosed = "window_closed" // its window was already emitted
	ReasonUnknown      = "unknown_schema"
)

// DeadLetter is an input record that a stage could not use, with the
// reason. Nothing is dropped silently: every rejected record lands here and
// is counted. Topic: [TopicSet.DeadLetters], key: the original key.
type DeadLetter struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	// Value is the original value as text, or base64 when ValueEncoding
	// is "base64" (the value was not valid UTF-8).
	Value         string            `json:"value"`
	ValueEncoding string            `json:"value_encoding"`
	Headers       map[string]string `json:"headers,omitempty"`
	Reason        string            `json:"reason"`
	Error         string            `json:"error"`
	// Stage is the component that rejected the record, e.g. "processor".
	Stage string    `json:"stage"`
	Time  time.Time `json:"time"`
}
