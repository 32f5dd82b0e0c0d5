package backtest

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wattcast/wattcast/training/models"
)

// WriteTable prints the overall metrics of every model, with interval
// coverage, the decision value of its cheapest window (capNh: the share of
// the possible saving a load of N hours a day got by following it) and
// timings, as an aligned text table.
func WriteTable(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "%s %s (%s), %d test days %s..%s", r.Region, r.Market, r.Unit, len(r.Days), r.From, r.To)
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, ", %d skipped", len(r.Skipped))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := "model\tMAE\tRMSE\tsMAPE%\trMAE\t"
	if len(r.Models) > 0 {
		for _, iv := range r.Models[0].Intervals {
			hdr += fmt.Sprintf("cov%.0f\t", 100*iv.Level)
		}
	}
	if len(r.Models) > 0 {
		hdr += fmt.Sprintf("cap%dh\t", r.Models[0].Window.Hours)
	}
	hdr += "fits\tfit s\tepoch s\tpredict ms\t"
	fmt.Fprintln(tw, hdr)
	for _, m := range r.Models {
		o := m.Overall
		line := fmt.Sprintf("%s\t%.2f\t%.2f\t%.1f\t%.3f\t", m.Name, o.MAE, o.RMSE, o.SMAPE, o.RMAE)
		for _, iv := range m.Intervals {
			line += fmt.Sprintf("%.3f\t", iv.Coverage)
		}
		line += fmt.Sprintf("%.3f\t", m.Window.Capture())
		ep := "-"
		if m.EpochTime > 0 {
			ep = fmt.Sprintf("%.2f", m.EpochTime.Seconds())
		}
		line += fmt.Sprintf("%d\t%.1f\t%s\t%.2f\t", m.Fits, m.FitTime.Seconds(), ep, float64(m.PredictTime.Microseconds())/1000)
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// WriteHourly prints each model's MAE (and rMAE) per hour of day.
func WriteHourly(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	var b strings.Builder
	b.WriteString("hour\t")
	for _, m := range r.Models {
		b.WriteString(m.Name + " MAE\trMAE\t")
	}
	fmt.Fprintln(tw, b.String())
	for h := 0; h < models.Slots; h++ {
		b.Reset()
		fmt.Fprintf(&b, "%02d\t", h)
		for _, m := range r.Models {
			fmt.Fprintf(&b, "%.2f\t%.3f\t", m.ByHour[h].MAE, m.ByHour[h].RMAE)
		}
		fmt.Fprintln(tw, b.String())
	}
	return tw.Flush()
}
