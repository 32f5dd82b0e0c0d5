package backtest_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/training/backtest"
	"github.com/wattcast/wattcast/training/models"
)

// Undefined values (NaN, and infinities) are written as JSON null and read
// back as NaN; defined ones are written as numbers, as before.
func TestUndefinedValuesAreJSONNull(t *testing.T) {
	t.Parallel()
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name string
		v    any
		want []string
	}{
		{"metrics defined", backtest.Metrics{N: 2, MAE: 1.5, RMSE: 2, SMAPE: 10, RMAE: 0.5},
			[]string{`{"n":2,"mae":1.5,"rmse":2,"smape":10,"rmae":0.5}`}},
		{"metrics rMAE undefined", backtest.Metrics{N: 2, MAE: 0, RMSE: 0, SMAPE: 0, RMAE: nan},
			[]string{`{"n":2,"mae":0,"rmse":0,"smape":0,"rmae":null}`}},
		{"metrics of no hours", backtest.Metrics{MAE: nan, RMSE: nan, SMAPE: nan, RMAE: nan},
			[]string{`{"n":0,"mae":null,"rmse":null,"smape":null,"rmae":null}`}},
		{"metrics infinite", backtest.Metrics{N: 1, MAE: inf, RMSE: -inf, SMAPE: 1, RMAE: 1},
			[]string{`{"n":1,"mae":null,"rmse":null,"smape":1,"rmae":1}`}},
		{"interval", backtest.Interval{Level: 0.9, Coverage: 0.95, MeanWidth: 12.5, Unbounded: 3},
			[]string{`{"level":0.9,"coverage":0.95,"mean_width":12.5,"unbounded":3}`}},
		{"interval undefined", backtest.Interval{Level: 0.9, Coverage: nan, MeanWidth: nan},
			[]string{`{"level":0.9,"coverage":null,"mean_width":null}`}},
		{"dm undefined", backtest.DMResult{Stat: nan, PValue: nan, N: 1, MeanDiff: 0.5},
			[]string{`{"stat":null,"p_value":null,"n":1,"mean_diff":0.5}`}},
		{"by region", map[string]backtest.Metrics{"FI": {N: 1, MAE: 1, RMSE: 1, SMAPE: 1, RMAE: nan}},
			[]string{`{"FI":{"n":1,"mae":1,"rmse":1,"smape":1,"rmae":null}}`}},
		{"fit losses", backtest.ModelResult{Name: "gru", LastFit: models.FitInfo{TrainLoss: nan, ValLoss: 0.25,
			Members: []models.FitInfo{{ValLoss: inf}}}}, []string{`"train_loss":null,"val_loss":0.25,`, `"members":[{"kind":"","from":"","to":"","days":0,"duration_ns":0,"val_loss":null}]`}},
	}
	for _, tc := range tests {
		b, err := json.Marshal(tc.v)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s: wrote %s, want %s in it", tc.name, b, w)
			}
		}
	}
	var m backtest.Metrics
	if err := json.Unmarshal([]byte(`{"n":2,"mae":1.5,"rmse":2,"smape":10,"rmae":null}`), &m); err != nil {
		t.Fatal(err)
	}
	if m.N != 2 || m.MAE != 1.5 || m.RMSE != 2 || m.SMAPE != 10 || !math.IsNaN(m.RMAE) {
		t.Errorf("read back %+v; want rMAE NaN and the rest as written", m)
	}
	var iv backtest.Interval
	if err := json.Unmarshal([]byte(`{"level":0.9,"coverage":null,"mean_width":3}`), &iv); err != nil {
		t.Fatal(err)
	}
	if iv.Level != 0.9 || !math.IsNaN(iv.Coverage) || iv.MeanWidth != 3 {
		t.Errorf("read back %+v; want coverage NaN", iv)
	}
}

// An hour of day whose price repeats every week has a weekly naive MAE of
// 0 and so an undefined rMAE: the whole result is still written, with that
// rMAE as null.
func TestResultWithZeroNaiveMAEHourIsJSON(t *testing.T) {
	t.Parallel()
	rows := append([]schemas.FeatureRow(nil), shipped(t)...)
	for i := range rows {
		if rows[i].LocalHour == 18 {
			p := 50.0
			rows[i].Price = &p
		}
	}
	res, err := backtest.Run(context.Background(), rows, []models.Spec{{Kind: models.KindNaiveWeekly}, {Kind: models.KindNaiveStandard}},
		backtest.Config{TestStart: "2021-06-01", TestEnd: "2021-06-07", RecalibrateEvery: 7, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	naive := res.Model(models.KindNaiveWeekly)
	if h := naive.ByHour[18]; h.MAE != 0 || !math.IsNaN(h.RMAE) {
		t.Fatalf("hour 18: %+v; want MAE 0 and rMAE NaN (the test needs such an hour)", h)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatalf("the result with an undefined rMAE is not JSON: %v", err)
	}
	var back backtest.Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if h := back.Model(models.KindNaiveWeekly).ByHour[18]; !math.IsNaN(h.RMAE) || h.N != 7 {
		t.Errorf("hour 18 read back as %+v; want rMAE NaN over 7 hours", h)
	}
	if o := back.Model(models.KindNaiveStandard).Overall; o.N != naive.Overall.N || math.IsNaN(o.RMAE) {
		t.Errorf("overall read back as %+v", o)
	}
}
