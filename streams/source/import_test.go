package source

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/csvimport"
)

// A file imported in parts (it grew, or was sliced with From/To, in any
// order, overlapping or not) ends up in the topics exactly once: the parts
// of a forecast run that share an issue time with rows already published
// are published too, and nothing is doubled. Every part runs in a new
// publisher, so the checkpoints are read back in between.
func TestImportInParts(t *testing.T) {
	t.Parallel()
	in, err := os.ReadFile("../csvimport/testdata/entsoe_DK_1_2015-10-24_26.csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(in), "\n")
	// A part is the file's first rows (rows > 0) or a From/To slice given
	// as row indexes (-1: open).
	type part struct{ rows, from, to int }
	grown := func(rows int) part { return part{rows, -1, -1} }
	slice := func(from, to int) part { return part{0, from, to} }
	tests := []struct {
		name   string
		preset string
		chunk  int
		parts  []part
	}{
		{"the file grew mid-day", "entsoe-DK_1", 0, []part{grown(36), grown(0)}},
		{"the file grew twice, small chunks", "entsoe-DK_1", 7, []part{grown(20), grown(36), grown(0)}},
		{"From/To split mid-day", "entsoe-DK_1", 0, []part{slice(-1, 36), slice(36, -1)}},
		{"From/To split, later part first", "entsoe-DK_1", 0, []part{slice(36, -1), slice(-1, 36)}},
		{"overlapping slices", "entsoe-DK_1", 0, []part{slice(-1, 42), slice(30, -1)}},
		{"a slice inside an imported one", "entsoe-DK_1", 0, []part{slice(10, 60), slice(-1, -1)}},
		// Two issue times per hour (load at 10:00, the rest at 18:00 on
		// D-1), and chunks that split an hour's forecasts.
		{"two issue times per hour, grown, small chunks", "entsoe-DK_1-strict", 5, []part{grown(36), grown(47), grown(0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := csvimport.Preset(tc.preset)
			if err != nil {
				t.Fatal(err)
			}
			parse := func(text string, o csvimport.Options) *csvimport.Result {
				o.File, o.Lenient = "DK_1.csv", true
				res, err := csvimport.Parse(strings.NewReader(text), m, o)
				if err != nil || len(res.Rejected) > 0 {
					t.Fatalf("parse: %v %v", err, res.Rejected)
				}
				return res
			}
			full := parse(string(in), csvimport.Options{})
			start := func(row int) time.Time {
				if row < 0 {
					return time.Time{}
				}
				return full.Prices[row].Start
			}
			kcfg, ts := testBroker(t)
			ctx := context.Background()
			for i, pt := range tc.parts {
				text := string(in)
				if pt.rows > 0 {
					text = strings.Join(lines[:1+pt.rows], "")
				}
				res := parse(text, csvimport.Options{From: start(pt.from), To: start(pt.to)})
				p := newPublisher(t, kcfg, ts, "import-parts")
				st, err := Import(ctx, p, res, ImportOptions{File: "DK_1.csv", Region: "DK1", ChunkSize: tc.chunk})
				if err != nil {
					t.Fatalf("part %d: %v", i+1, err)
				}
				t.Logf("part %d %+v: %+v", i+1, pt, st)
				p.Close()
			}
			want := map[string]int{}
			for _, f := range full.Forecasts {
				want[forecastID(&f)]++
			}
			got := map[string]int{}
			for _, r := range readTopic(t, kcfg, ts.WeatherForecast) {
				var f schemas.WeatherForecast
				if err := schemas.Decode(r.Value, &f); err != nil {
					t.Fatal(err)
				}
				got[forecastID(&f)]++
			}
			for id, n := range got {
				if n != 1 {
					t.Errorf("forecast %s published %d times", id, n)
				}
			}
			for id := range want {
				if got[id] == 0 {
					t.Errorf("forecast %s never published", id)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d distinct forecasts published, want %d", len(got), len(want))
			}
			if n := distinctStarts(t, readTopic(t, kcfg, ts.Prices)); n != len(full.Prices) {
				t.Errorf("%d prices, want %d once each", n, len(full.Prices))
			}
			if n := len(readTopic(t, kcfg, ts.WeatherObserved)); n != len(full.Observations) {
				t.Errorf("%d observations, want %d", n, len(full.Observations))
			}
		})
	}
}

func forecastID(f *schemas.WeatherForecast) string {
	return f.Location + "@" + f.IssuedAt.UTC().Format(time.RFC3339) + "/" + f.Time.UTC().Format(time.RFC3339)
}

// distinctStarts returns the number of prices, failing on a doubled one.
func distinctStarts(t *testing.T, recs []*kgo.Record) int {
	t.Helper()
	seen := map[time.Time]bool{}
	for _, r := range recs {
		var p schemas.Price
		if err := schemas.Decode(r.Value, &p); err != nil {
			t.Fatal(err)
		}
		if seen[p.Start] {
			t.Errorf("price %s published twice", p.Start)
		}
		seen[p.Start] = true
	}
	return len(recs)
}

// forecasts returns hours [from, from+n) of the run issued at hour issued.
func forecasts(issued, from, n int) []schemas.WeatherForecast {
	var out []schemas.WeatherForecast
	for h := from; h < from+n; h++ {
		out = append(out, schemas.WeatherForecast{Region: "XX", Location: "loc", Source: "test", IssuedAt: at(issued),
			Time: at(h), LeadHours: h - issued, Values: map[string]float64{"t": float64(h)}})
	}
	return out
}

var forecastSeries = Series{KindForecast, "test", "XX", "loc"}

// The publisher identifies a forecast by its issue time and hour: a run
// published in part (no Through) is completed by a later batch, across a
// restart, with nothing doubled; a run published whole (Through) is done.
// Checkpoints written before hours were tracked (issue times only) still
// load, their issue times counting as whole runs.
func TestPublisherForecastRunsInParts(t *testing.T) {
	t.Parallel()
	type step struct {
		restart bool
		from    int // the poll's from and Through, as hours; 0 and 0: none
		through int
		fc      []schemas.WeatherForecast
		want    PublishStats // Forecasts and Duplicates
	}
	tests := []struct {
		name string
		old  string // a checkpoint in the format before hours and runs
		// steps publish batches in order
		steps []step
	}{
		{"a run in two parts, then again after a restart", "", []step{
			{fc: forecasts(10, 12, 6), want: PublishStats{Forecasts: 6}},
			{fc: forecasts(10, 12, 12), want: PublishStats{Forecasts: 6, Duplicates: 6}},
			{restart: true, fc: forecasts(10, 12, 12), want: PublishStats{Duplicates: 12}},
			{fc: forecasts(11, 12, 12), want: PublishStats{Forecasts: 12}}, // another run, same hours
		}},
		{"a run published whole is done", "", []step{
			{from: 1, through: 11, fc: forecasts(10, 12, 6), want: PublishStats{Forecasts: 6}},
			{restart: true, fc: forecasts(10, 12, 12), want: PublishStats{Duplicates: 12}},
		}},
		{"a checkpoint of the old format", fmt.Sprintf(`{"series":{"kind":"weather-forecast","source":"test","region":"XX","name":"loc"},`+
			`"covered":[{"from":%q,"to":%q}],"updated_at":"2024-01-02T00:00:00Z"}`,
			at(0).Format(time.RFC3339), at(10).Add(time.Second).Format(time.RFC3339)), []step{
			{fc: append(forecasts(10, 12, 6), forecasts(11, 12, 6)...), want: PublishStats{Forecasts: 6, Duplicates: 6}},
			{restart: true, fc: append(forecasts(5, 6, 6), forecasts(11, 12, 12)...), want: PublishStats{Forecasts: 6, Duplicates: 12}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kcfg, ts := testBroker(t)
			ctx := context.Background()
			if tc.old != "" {
				cl, err := kcfg.NewClient()
				if err != nil {
					t.Fatal(err)
				}
				err = cl.ProduceSync(ctx, &kgo.Record{Topic: CheckpointTopic(ts), Key: []byte(forecastSeries.Key()), Value: []byte(tc.old)}).FirstErr()
				cl.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			p := newPublisher(t, kcfg, ts, "runs")
			total := 0
			for i, s := range tc.steps {
				if s.restart {
					p.Close()
					p = newPublisher(t, kcfg, ts, "runs")
				}
				b := Batch{Forecasts: s.fc}
				var from time.Time
				if s.through > 0 {
					from, b.Through = at(s.from), at(s.through)
				}
				st, err := p.Publish(ctx, forecastSeries, from, b)
				if err != nil || st.Forecasts != s.want.Forecasts || st.Duplicates != s.want.Duplicates {
					t.Fatalf("step %d: %+v %v, want %d forecasts and %d duplicates", i+1, st, err, s.want.Forecasts, s.want.Duplicates)
				}
				total += st.Forecasts
			}
			if n := len(readTopic(t, kcfg, ts.WeatherForecast)); n != total {
				t.Errorf("%d forecasts in the topic, want %d", n, total)
			}
			// The last checkpoint is readable and keeps what was covered.
			ck := readTopic(t, kcfg, CheckpointTopic(ts))
			var c checkpoint
			if err := json.Unmarshal(ck[len(ck)-1].Value, &c); err != nil {
				t.Fatal(err)
			}
			if tc.old != "" && (len(c.Covered) != 1 || !c.Covered[0].From.Equal(at(0))) {
				t.Errorf("the old checkpoint's issue times were not kept: %+v", c)
			}
		})
	}
}
