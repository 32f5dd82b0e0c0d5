package monitor

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/wattcast/wattcast/serving/scorer"
	"github.com/wattcast/wattcast/streams/runner"
	"github.com/wattcast/wattcast/training/models"
)

// Metric names, shared by the collectors, docs/serving.md and the Grafana
// dashboard in docs/grafana-dashboard.json.
const (
	MetricForecasts       = "wattcast_forecasts_total"
	MetricErrors          = "wattcast_forecast_errors_total"
	MetricRollingMAE      = "wattcast_rolling_mae"
	MetricRollingRMAE     = "wattcast_rolling_rmae"
	MetricRollingCoverage = "wattcast_rolling_interval_coverage"
	MetricRollingHours    = "wattcast_rolling_hours"
	MetricIntervalLevel   = "wattcast_interval_level"
	MetricRollingCapture  = "wattcast_rolling_window_capture"
	MetricRollingCaptureN = "wattcast_rolling_window_capture_naive"
	MetricLatestHour      = "wattcast_latest_scored_hour_timestamp_seconds"
	MetricMonitorRejected = "wattcast_monitor_rejected_total"
	MetricEmitted         = "wattcast_scorer_forecasts_emitted_total"
	MetricErrorsEmitted   = "wattcast_scorer_errors_emitted_total"
	MetricModelFailures   = "wattcast_scorer_model_failures_total"
	MetricNoModel         = "wattcast_scorer_days_without_model_total"
	MetricNoOfficial      = "wattcast_scorer_days_without_official_total"
	MetricDeadLetters     = "wattcast_dead_letters_total"
	MetricRecordsIn       = "wattcast_stage_records_in_total"
	MetricTransactions    = "wattcast_stage_transactions_total"
	MetricAborts          = "wattcast_stage_aborts_total"
	MetricConsumerLag     = "wattcast_consumer_lag"
	MetricPredictions     = "wattcast_model_predictions_total"
	MetricPredictSeconds  = "wattcast_model_predict_seconds"
)

var modelLabels = []string{"region", "model", "version", "role"}

// Collector exports the monitor's stores to Prometheus, computed at scrape
// time so that a model that leaves production leaves no stale series.
type Collector struct {
	m       *Monitor
	windows []time.Duration

	forecasts, errs, mae, rmae, cov, hours, level, latest, rejected, capture, captureNaive *prometheus.Desc
}

// CaptureHours is the load the exported decision value is measured for:
// a home battery's three-hour charge (WindowValues).
const CaptureHours = 3

// NewCollector exports m with rolling gauges for each window (default 7 and
// 30 days).
func NewCollector(m *Monitor, windows ...time.Duration) *Collector {
	if len(windows) == 0 {
		windows = []time.Duration{7 * 24 * time.Hour, 30 * 24 * time.Hour}
	}
	rolling := append(slices.Clone(modelLabels), "band", "window")
	return &Collector{m: m, windows: windows,
		forecasts: prometheus.NewDesc(MetricForecasts, "Forecasts on the forecasts topic, per model (cluster-wide, read back from the topic).",
			append(slices.Clone(modelLabels), "official"), nil),
		errs:     prometheus.NewDesc(MetricErrors, "Forecast error records on the error topics, per model.", modelLabels, nil),
		mae:      prometheus.NewDesc(MetricRollingMAE, "Mean absolute error over the window, per model, region and horizon band (band=\"all\": every band).", rolling, nil),
		rmae:     prometheus.NewDesc(MetricRollingRMAE, "MAE over the weekly naive forecast's MAE on the same hours, over the window.", rolling, nil),
		cov:      prometheus.NewDesc(MetricRollingCoverage, "Share of hours whose actual fell inside the prediction interval, over the window.", rolling, nil),
		hours:    prometheus.NewDesc(MetricRollingHours, "Scored hours in the window.", rolling, nil),
		level:    prometheus.NewDesc(MetricIntervalLevel, "Nominal level of the model's prediction interval (compare with the coverage).", modelLabels, nil),
		latest:   prometheus.NewDesc(MetricLatestHour, "Latest scored hour of the region (the end of its rolling windows), as a Unix time.", []string{"region"}, nil),
		rejected: prometheus.NewDesc(MetricMonitorRejected, "Records the monitor could not decode, per reason.", []string{"reason"}, nil),
		capture: prometheus.NewDesc(MetricRollingCapture, "Share of the possible saving a load of `hours` hours a day got by following the model's cheapest window, over the window: (day mean - model's window) / (day mean - best window) at the actual prices.",
			append(slices.Clone(modelLabels), "window", "hours"), nil),
		captureNaive: prometheus.NewDesc(MetricRollingCaptureN, "The same for the weekly naive forecast on the model's days: the reference.",
			append(slices.Clone(modelLabels), "window", "hours"), nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.forecasts, c.errs, c.mae, c.rmae, c.cov, c.hours, c.level, c.latest, c.rejected, c.capture, c.captureNaive} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, n := range c.m.forecasts.Counts() {
		ch <- prometheus.MustNewConstMetric(c.forecasts, prometheus.CounterValue, float64(n.N),
			n.Region, n.ModelID, n.Version, n.Role, strconv.FormatBool(n.Official))
	}
	for _, n := range c.m.acc.Counts() {
		ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(n.N), n.Region, n.ModelID, n.Version, n.Role)
	}
	levels := map[[4]string]float64{}
	for _, w := range c.windows {
		wl := windowLabel(w)
		for _, r := range c.m.acc.Rows(Query{Window: w, ByBand: true}) {
			lv := []string{r.Region, r.ModelID, r.Version, r.Role, r.Band, wl}
			gauge(ch, c.mae, r.MAE, lv)
			gauge(ch, c.rmae, r.RMAE, lv)
			gauge(ch, c.cov, r.Coverage, lv)
			gauge(ch, c.hours, float64(r.N), lv)
			if r.IntervalN > 0 {
				levels[[4]string{r.Region, r.ModelID, r.Version, r.Role}] = r.Level
			}
		}
	}
	hl := strconv.Itoa(CaptureHours)
	for _, w := range c.windows {
		for _, v := range c.m.acc.WindowValues(w, CaptureHours) {
			lv := []string{v.Region, v.ModelID, v.ModelVersion, v.Role, windowLabel(w), hl}
			gauge(ch, c.capture, v.Capture(), lv)
			if v.Naive.Days > 0 {
				gauge(ch, c.captureNaive, v.Naive.Capture(), lv)
			}
		}
	}
	for k, v := range levels {
		ch <- prometheus.MustNewConstMetric(c.level, prometheus.GaugeValue, v, k[:]...)
	}
	for _, r := range c.m.acc.Regions() {
		ch <- prometheus.MustNewConstMetric(c.latest, prometheus.GaugeValue, float64(c.m.acc.Clock(r).Unix()), r)
	}
	for reason, n := range c.m.Stats().Rejected {
		ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(n), reason)
	}
}

// gauge sends v unless it is NaN: an undefined rMAE or coverage is absent,
// not zero, so that a dashboard never shows a made-up value.
func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, lv []string) {
	if math.IsNaN(v) {
		return
	}
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
}

// windowLabel names a window in days ("7d") or, below a day, as a Go
// duration.
func windowLabel(w time.Duration) string {
	if w%(24*time.Hour) == 0 {
		return strconv.Itoa(int(w/(24*time.Hour))) + "d"
	}
	return w.String()
}

// StageCollector exports a stage's process counters: what this instance's
// runner consumed and wrote, its dead letters and, for the scorer, the
// forecasts and errors it emitted. They count committed work only.
type StageCollector struct {
	stage  string
	runner func() runner.Stats
	scorer func() scorer.Stats

	emitted, errorsEmitted, failures, noModel, noOfficial, dead, in, tx, aborts *prometheus.Desc
}

// NewStageCollector exports the counters of a stage (e.g. "scorer") from its
// runner's Stats, and, when scorerStats is not nil, the scorer's.
func NewStageCollector(stage string, runnerStats func() runner.Stats, scorerStats func() scorer.Stats) *StageCollector {
	cl := prometheus.Labels{"stage": stage}
	return &StageCollector{stage: stage, runner: runnerStats, scorer: scorerStats,
		emitted:       prometheus.NewDesc(MetricEmitted, "Forecast records this scorer instance emitted (committed).", nil, cl),
		errorsEmitted: prometheus.NewDesc(MetricErrorsEmitted, "Forecast error records this scorer instance emitted (committed).", nil, cl),
		failures:      prometheus.NewDesc(MetricModelFailures, "Forecasts a deployed model failed to make.", nil, cl),
		noModel:       prometheus.NewDesc(MetricNoModel, "Region days with no deployed model.", nil, cl),
		noOfficial:    prometheus.NewDesc(MetricNoOfficial, "Region days forecast by challengers only: no champion serves the region, so no forecast was official.", nil, cl),
		dead:          prometheus.NewDesc(MetricDeadLetters, "Records this instance sent to the dead-letter topic, per reason.", []string{"reason"}, cl),
		in:            prometheus.NewDesc(MetricRecordsIn, "Input records this instance consumed, per topic.", []string{"topic"}, cl),
		tx:            prometheus.NewDesc(MetricTransactions, "Kafka transactions committed.", nil, cl),
		aborts:        prometheus.NewDesc(MetricAborts, "Kafka transactions aborted (rebalances, failures).", nil, cl),
	}
}

// Describe implements prometheus.Collector.
func (c *StageCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.emitted, c.errorsEmitted, c.failures, c.noModel, c.noOfficial, c.dead, c.in, c.tx, c.aborts} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *StageCollector) Collect(ch chan<- prometheus.Metric) {
	if c.scorer != nil {
		s := c.scorer()
		ch <- prometheus.MustNewConstMetric(c.emitted, prometheus.CounterValue, float64(s.Forecasts))
		ch <- prometheus.MustNewConstMetric(c.errorsEmitted, prometheus.CounterValue, float64(s.Errors))
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.ModelErrors))
		ch <- prometheus.MustNewConstMetric(c.noModel, prometheus.CounterValue, float64(s.NoModel))
		ch <- prometheus.MustNewConstMetric(c.noOfficial, prometheus.CounterValue, float64(s.NoOfficial))
	}
	if c.runner == nil {
		return
	}
	r := c.runner()
	for reason, n := range r.DeadLetters {
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.CounterValue, float64(n), reason)
	}
	for topic, n := range r.RecordsIn {
		ch <- prometheus.MustNewConstMetric(c.in, prometheus.CounterValue, float64(n), topic)
	}
	ch <- prometheus.MustNewConstMetric(c.tx, prometheus.CounterValue, float64(r.Transactions))
	ch <- prometheus.MustNewConstMetric(c.aborts, prometheus.CounterValue, float64(r.Aborts))
}

// LagCollector exports consumer-group lag (records behind the end of each
// input partition), asking the brokers at scrape time, as kafka_exporter
// does. A broker that does not answer within the timeout yields no samples
// rather than a stale value; with a logger (WithLagLogger) it says why, at
// most once a minute per distinct problem.
type LagCollector struct {
	adm     *kadm.Client
	groups  []string
	timeout time.Duration
	lag     *prometheus.Desc
	log     *slog.Logger     // nil: missing samples are not logged
	now     func() time.Time // the clock of the rate limit

	mu     sync.Mutex
	warned map[string]time.Time // problem -> when it was last logged
}

// lagWarnEvery is how often a LagCollector logs one problem at most.
const lagWarnEvery = time.Minute

// LagOption configures a LagCollector.
type LagOption func(*LagCollector)

// WithLagLogger logs at Warn why lag samples are missing (the brokers did
// not answer, a group could not be described), at most once a minute per
// distinct problem, so that an outage does not silently empty the metric.
func WithLagLogger(log *slog.Logger) LagOption {
	return func(c *LagCollector) { c.log = log }
}

// WithLagTimeout sets how long a scrape waits for the brokers (default 5s).
func WithLagTimeout(d time.Duration) LagOption {
	return func(c *LagCollector) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// NewLagCollector exports the lag of groups through adm (a kadm client the
// caller closes).
func NewLagCollector(adm *kadm.Client, groups []string, opts ...LagOption) *LagCollector {
	c := &LagCollector{adm: adm, groups: groups, timeout: 5 * time.Second, now: time.Now, warned: map[string]time.Time{},
		lag: prometheus.NewDesc(MetricConsumerLag, "Records a consumer group has yet to consume, per topic partition.",
			[]string{"group", "topic", "partition"}, nil)}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.lag }

// Collect implements prometheus.Collector.
func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	lags, err := c.adm.Lag(ctx, c.groups...)
	if err != nil {
		c.warn("lag: "+err.Error(), "consumer lag: the brokers did not answer; "+MetricConsumerLag+" has no samples until they do (check the brokers and the network)",
			"groups", c.groups, "timeout", c.timeout, "err", err)
		return
	}
	lags.Each(func(l kadm.DescribedGroupLag) {
		if err := l.Error(); err != nil {
			c.warn("group: "+l.Group+": "+err.Error(), "consumer lag: cannot read the group's lag; its "+MetricConsumerLag+" samples are missing (check the brokers and this client's DESCRIBE permission on the group and its topics)",
				"group", l.Group, "err", err)
			return
		}
		for _, ps := range l.Lag {
			for _, m := range ps {
				if m.Err != nil {
					c.warn("partition: "+l.Group+": "+m.End.Topic+": "+m.Err.Error(), "consumer lag: cannot read a partition's lag; its "+MetricConsumerLag+" sample is missing",
						"group", l.Group, "topic", m.End.Topic, "partition", m.End.Partition, "err", m.Err)
					continue
				}
				if m.Lag < 0 {
					continue
				}
				ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(m.Lag),
					l.Group, m.End.Topic, strconv.Itoa(int(m.End.Partition)))
			}
		}
	})
}

// warn logs msg unless problem was logged less than lagWarnEvery ago.
// Collect may run concurrently (several scrapers): the record of what was
// logged when is guarded by c.mu.
func (c *LagCollector) warn(problem, msg string, args ...any) {
	if c.log == nil {
		return
	}
	now := c.now()
	c.mu.Lock()
	for p, at := range c.warned {
		if now.Sub(at) >= lagWarnEvery {
			delete(c.warned, p) // forget old problems: the map stays small
		}
	}
	_, recent := c.warned[problem]
	if !recent {
		c.warned[problem] = now
	}
	c.mu.Unlock()
	if !recent {
		c.log.Warn(msg, args...)
	}
}

// ModelMetrics counts the predictions of deployed models and times them.
// Wrap gives the champion and every challenger the same wrapper, so their
// series carry the same labels and line up on a dashboard.
type ModelMetrics struct {
	predictions *prometheus.CounterVec
	seconds     *prometheus.HistogramVec
}

// NewModelMetrics registers the prediction metrics with reg.
func NewModelMetrics(reg prometheus.Registerer) (*ModelMetrics, error) {
	m := &ModelMetrics{
		predictions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricPredictions,
			Help: "Day forecasts asked of a deployed model, per result (ok or error)."}, append(slices.Clone(modelLabels), "result")),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricPredictSeconds,
			Help: "Time to forecast one region day.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)},
			[]string{"model", "role"}),
	}
	for _, c := range []prometheus.Collector{m.predictions, m.seconds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Wrap returns d with its model wrapped to record every prediction.
func (m *ModelMetrics) Wrap(d scorer.Deployed) scorer.Deployed {
	d.Model = &observed{next: d.Model, m: m, id: d.ID, version: d.Version, role: d.Role}
	return d
}

type observed struct {
	next              scorer.Predictor
	m                 *ModelMetrics
	id, version, role string
}

func (o *observed) HistoryDays() int { return o.next.HistoryDays() }

func (o *observed) Predict(day models.Day) ([]float64, error) {
	start := time.Now()
	out, err := o.next.Predict(day)
	o.m.seconds.WithLabelValues(o.id, o.role).Observe(time.Since(start).Seconds())
	region := ""
	if len(day.Target) > 0 {
		region = day.Target[0].Region
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	o.m.predictions.WithLabelValues(region, o.id, o.version, o.role, result).Inc()
	return out, err
}

// Unwrap returns the wrapped predictor.
func (o *observed) Unwrap() scorer.Predictor { return o.next }

var _ scorer.Predictor = (*observed)(nil)
