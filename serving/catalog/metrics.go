package catalog

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names of the catalog's collector.
const (
	MetricModelAge   = "wattcast_model_age_seconds"
	MetricModelStage = "wattcast_model_stage"
	MetricRefreshed  = "wattcast_catalog_refreshed_timestamp_seconds"
)

// Collector exports the age and stage of every model version in the
// registry, from the catalog's last refresh.
type Collector struct {
	c                 *Catalog
	age, stage, fresh *prometheus.Desc
}

// NewCollector exports c.
func NewCollector(c *Catalog) *Collector {
	l := []string{"model", "version", "kind", "stage"}
	return &Collector{c: c,
		age:   prometheus.NewDesc(MetricModelAge, "Seconds since the model version was registered.", l, nil),
		stage: prometheus.NewDesc(MetricModelStage, "1 for each model version at its current registry stage.", l, nil),
		fresh: prometheus.NewDesc(MetricRefreshed, "When the catalog last read the registry, as a Unix time.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.age
	ch <- m.stage
	ch <- m.fresh
}

// Collect implements prometheus.Collector.
func (m *Collector) Collect(ch chan<- prometheus.Metric) {
	now := m.c.opts.Now()
	for _, v := range m.c.Versions() {
		lv := []string{v.ID, v.Version, v.Kind, v.Stage}
		if !v.CreatedAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(m.age, prometheus.GaugeValue, now.Sub(v.CreatedAt).Seconds(), lv...)
		}
		ch <- prometheus.MustNewConstMetric(m.stage, prometheus.GaugeValue, 1, lv...)
	}
	if t := m.c.Refreshed(); !t.IsZero() {
		ch <- prometheus.MustNewConstMetric(m.fresh, prometheus.GaugeValue, float64(t.Unix()))
	}
}
