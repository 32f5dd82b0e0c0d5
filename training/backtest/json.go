package backtest

import (
	"encoding/json"
	"math"

	"github.com/wattcast/wattcast/training/models"
)

// JSON has no NaN or infinity, and an undefined metric (the rMAE of hours
// where the weekly naive forecast made no error, any metric of no hours)
// is NaN here. Metrics, Interval, ModelResult and DMResult therefore write
// every such value as JSON null, and Metrics, Interval and DMResult read
// null back as NaN, so that a result can always be written out whole.

// jsonFloat is a float64 written as null when it is NaN or infinite, and
// read as NaN from null.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = jsonFloat(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

// metricsJSON is Metrics as written.
type metricsJSON struct {
	N     int       `json:"n"`
	MAE   jsonFloat `json:"mae"`
	RMSE  jsonFloat `json:"rmse"`
	SMAPE jsonFloat `json:"smape"`
	RMAE  jsonFloat `json:"rmae"`
}

// MarshalJSON writes m with null for an undefined (NaN) metric.
func (m Metrics) MarshalJSON() ([]byte, error) {
	return json.Marshal(metricsJSON{N: m.N, MAE: jsonFloat(m.MAE), RMSE: jsonFloat(m.RMSE), SMAPE: jsonFloat(m.SMAPE), RMAE: jsonFloat(m.RMAE)})
}

// UnmarshalJSON reads m, null as NaN.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	var v metricsJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*m = Metrics{N: v.N, MAE: float64(v.MAE), RMSE: float64(v.RMSE), SMAPE: float64(v.SMAPE), RMAE: float64(v.RMAE)}
	return nil
}

// intervalJSON is Interval as written.
type intervalJSON struct {
	Level     jsonFloat `json:"level"`
	Coverage  jsonFloat `json:"coverage"`
	MeanWidth jsonFloat `json:"mean_width"`
	Unbounded int       `json:"unbounded,omitempty"`
}

// MarshalJSON writes iv with null for an undefined (NaN) value.
func (iv Interval) MarshalJSON() ([]byte, error) {
	return json.Marshal(intervalJSON{Level: jsonFloat(iv.Level), Coverage: jsonFloat(iv.Coverage), MeanWidth: jsonFloat(iv.MeanWidth), Unbounded: iv.Unbounded})
}

// UnmarshalJSON reads iv, null as NaN.
func (iv *Interval) UnmarshalJSON(b []byte) error {
	var v intervalJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*iv = Interval{Level: float64(v.Level), Coverage: float64(v.Coverage), MeanWidth: float64(v.MeanWidth), Unbounded: v.Unbounded}
	return nil
}

// dmJSON is DMResult as written.
type dmJSON struct {
	Stat     jsonFloat `json:"stat"`
	PValue   jsonFloat `json:"p_value"`
	N        int       `json:"n"`
	MeanDiff jsonFloat `json:"mean_diff"`
}

// MarshalJSON writes d with null for an undefined (NaN) value.
func (d DMResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(dmJSON{Stat: jsonFloat(d.Stat), PValue: jsonFloat(d.PValue), N: d.N, MeanDiff: jsonFloat(d.MeanDiff)})
}

// UnmarshalJSON reads d, null as NaN.
func (d *DMResult) UnmarshalJSON(b []byte) error {
	var v dmJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*d = DMResult{Stat: float64(v.Stat), PValue: float64(v.PValue), N: v.N, MeanDiff: float64(v.MeanDiff)}
	return nil
}

// fitInfoJSON is a models.FitInfo whose losses are written as null when a
// fit diverged (NaN); zero losses are left out, as before.
type fitInfoJSON struct {
	models.FitInfo
	TrainLoss jsonFloat     `json:"train_loss,omitempty"`
	ValLoss   jsonFloat     `json:"val_loss,omitempty"`
	Members   []fitInfoJSON `json:"members,omitempty"`
}

func toFitInfoJSON(fi models.FitInfo) fitInfoJSON {
	out := fitInfoJSON{FitInfo: fi, TrainLoss: jsonFloat(fi.TrainLoss), ValLoss: jsonFloat(fi.ValLoss)}
	for _, m := range fi.Members {
		out.Members = append(out.Members, toFitInfoJSON(m))
	}
	return out
}

// MarshalJSON writes r; its metrics and intervals write undefined values as
// null (see Metrics.MarshalJSON), and so does its last fit's losses.
func (r ModelResult) MarshalJSON() ([]byte, error) {
	type plain ModelResult // without this method
	return json.Marshal(struct {
		plain
		LastFit fitInfoJSON `json:"last_fit"`
	}{plain(r), toFitInfoJSON(r.LastFit)})
}
