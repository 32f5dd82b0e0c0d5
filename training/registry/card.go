package registry

import (
	"strconv"
	"strings"
	"time"

	"github.com/wattcast/wattcast/training/backtest"
	"github.com/wattcast/wattcast/training/decision"
	"github.com/wattcast/wattcast/training/models"
)

// Card is a model card: what a model version is, what it was built from,
// and how well it did. It is stored as JSON next to the weights.
type Card struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
	// Spec holds the hyperparameters.
	Spec      models.Spec `json:"spec"`
	CreatedAt time.Time   `json:"created_at"`
	// Regions the model forecasts (one fitted model per region).
	Regions []string `json:"regions"`
	// Features names the model's inputs.
	Features []string `json:"features,omitempty"`
	// TrainingWindow is the local dates of the training rows.
	TrainingWindow Window `json:"training_window"`
	// Rows is how many feature rows training read.
	Rows int `json:"rows"`
	// LakeFiles are the lake objects the rows came from; KafkaOffsets the
	// offset ranges of the features topic those files hold.
	LakeFiles    []string      `json:"lake_files,omitempty"`
	KafkaOffsets []OffsetRange `json:"kafka_offsets,omitempty"`
	// CodeVersion is the wattcast version that trained it; Seed its seed.
	CodeVersion string `json:"code_version"`
	Seed        uint64 `json:"seed"`
	// Fits reports each region's final fit.
	Fits map[string]models.FitInfo `json:"fits,omitempty"`
	// Backtest is the held-out evaluation of the same training procedure.
	Backtest *Backtest `json:"backtest,omitempty"`
	// Calibration holds, per region, the conformal calibration residuals
	// (from the backtest's last days) that turn forecasts into intervals.
	Calibration map[string]*models.Conformal `json:"calibration,omitempty"`
	// Blob is the weights' key, SHA256 their hash, Size their length.
	Blob   string `json:"blob"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

// Ref returns the card's reference.
func (c Card) Ref() Ref { return Ref{ID: c.ID, Version: c.Version} }

// Window is a range of local dates, both included.
type Window struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// OffsetRange is a range of Kafka offsets of one topic partition.
type OffsetRange struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	First     int64  `json:"first"`
	Last      int64  `json:"last"`
}

// Backtest summarises a model's backtest.
type Backtest struct {
	From string `json:"from"`
	To   string `json:"to"`
	Days int    `json:"days"`
	// RecalibrateEvery is the refit interval in days.
	RecalibrateEvery int `json:"recalibrate_every"`
	// Overall is pooled over regions; ByRegion per region.
	Overall   backtest.Metrics               `json:"overall"`
	ByRegion  map[string]backtest.Metrics    `json:"by_region"`
	Intervals map[string][]backtest.Interval `json:"intervals,omitempty"`
	// Windows is, per region, what following the model's cheapest window
	// each day was worth at the actual prices (package decision).
	Windows map[string]decision.Value `json:"windows,omitempty"`
}

// OffsetsFromFiles derives Kafka offset ranges from lake file names, which
// end in <topic>+p<partition>+<first>-<last>.parquet (lake.FileName):
// for each topic partition, the smallest first and the largest last offset.
// Names in another form are skipped.
func OffsetsFromFiles(files []string) []OffsetRange {
	type tp struct {
		topic string
		part  int32
	}
	ranges := map[tp]*OffsetRange{}
	var order []tp
	for _, f := range files {
		base := f[strings.LastIndex(f, "/")+1:]
		base, ok := strings.CutSuffix(base, ".parquet")
		if !ok {
			continue
		}
		parts := strings.Split(base, "+")
		if len(parts) != 3 || !strings.HasPrefix(parts[1], "p") {
			continue
		}
		p, err := strconv.ParseInt(parts[1][1:], 10, 32)
		if err != nil {
			continue
		}
		a, b, ok := strings.Cut(parts[2], "-")
		if !ok {
			continue
		}
		first, err1 := strconv.ParseInt(a, 10, 64)
		last, err2 := strconv.ParseInt(b, 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		k := tp{parts[0], int32(p)}
		if r := ranges[k]; r != nil {
			r.First, r.Last = min(r.First, first), max(r.Last, last)
			continue
		}
		ranges[k] = &OffsetRange{Topic: k.topic, Partition: k.part, First: first, Last: last}
		order = append(order, k)
	}
	out := make([]OffsetRange, 0, len(order))
	for _, k := range order {
		out = append(out, *ranges[k])
	}
	return out
}
