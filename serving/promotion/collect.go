package promotion

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
	"github.com/wattcast/wattcast/streams/runner"
)

// DayRecord is one model's scored hours of one region's forecast day: the
// value of the decider's internal days topic, written by the collector
// stage once the day is complete.
type DayRecord struct {
	Region  string    `json:"region"`
	Issue   time.Time `json:"issue_time"`
	ModelID string    `json:"model_id"`
	Version string    `json:"model_version"`
	Kind    string    `json:"model_kind"`
	Role    string    `json:"role"`
	Hours   []hourErr `json:"hours"`
}

// Day is the decision day of the record: the UTC date of the forecast's
// issue time (every region's day-ahead forecast for date D is issued on
// D-1).
func (r *DayRecord) Day() string { return r.Issue.UTC().Format(time.DateOnly) }

func (r *DayRecord) modelKey() string { return r.ModelID + "@" + r.Version }

// dayKey is the key of every record of the days topic: one partition, so
// that one decider sees all regions in one order.
const dayKey = "days"

// collector is the first stage: one task per partition of the error topics
// (so per set of regions), turning hourly errors into complete region-days.
type collector struct {
	d       *Decider
	regions map[string]*regionDays
	dirty   map[string]bool
	// warned holds the regions without a zone already logged.
	warned map[string]bool
	// emitted holds the records of the transaction being built (tests
	// read it).
	emitted []DayRecord
}

// regionDays is a region's scored hours not yet sent on.
type regionDays struct {
	days map[string]map[time.Time]*DayRecord // model key -> issue time
	// sent is the issue time of the last day sent: later stragglers of
	// it or earlier days are dropped.
	sent time.Time
}

func (d *Decider) newCollector(int32) (runner.Task, error) {
	return &collector{d: d, regions: map[string]*regionDays{}, dirty: map[string]bool{}, warned: map[string]bool{}}, nil
}

// Changelog keys of the collector: "<region>|d|<model key>|<issue time>" a
// model's hours of a day not yet sent; "<region>|s" the last day sent.
// Region ids cannot hold "|".
func collectKey(region, model string, issue time.Time) string {
	return region + "|d|" + model + "|" + issue.UTC().Format(time.RFC3339)
}

func (c *collector) region(r string) *regionDays {
	s := c.regions[r]
	if s == nil {
		s = &regionDays{days: map[string]map[time.Time]*DayRecord{}}
		c.regions[r] = s
	}
	return s
}

func (c *collector) Restore(key string, value []byte) error {
	parts := strings.Split(key, "|")
	switch {
	case len(parts) == 4 && parts[1] == "d":
		issue, err := time.Parse(time.RFC3339, parts[3])
		if err != nil {
			return fmt.Errorf("promotion: changelog key %q: %w", key, err)
		}
		s := c.region(parts[0])
		if value == nil {
			delete(s.days[parts[2]], issue)
			return nil
		}
		var r DayRecord
		if err := json.Unmarshal(value, &r); err != nil {
			return fmt.Errorf("promotion: restore %s: %w", key, err)
		}
		if s.days[parts[2]] == nil {
			s.days[parts[2]] = map[time.Time]*DayRecord{}
		}
		s.days[parts[2]][issue] = &r
	case len(parts) == 2 && parts[1] == "s":
		s := c.region(parts[0])
		s.sent = time.Time{}
		if value != nil {
			if err := json.Unmarshal(value, &s.sent); err != nil {
				return fmt.Errorf("promotion: restore %s: %w", key, err)
			}
		}
	default:
		return fmt.Errorf("promotion: unknown changelog key %q", key)
	}
	return nil
}

func (c *collector) Changes() ([]runner.KV, error) {
	out, err := runner.JSONChanges(c.dirty, func(k string) any {
		parts := strings.Split(k, "|")
		s := c.regions[parts[0]]
		var v any
		switch parts[1] {
		case "d":
			issue, _ := time.Parse(time.RFC3339, parts[3])
			if r, ok := s.days[parts[2]][issue]; ok {
				v = r
			}
		case "s":
			v = s.sent
		}
		return v
	})
	if err != nil {
		return nil, fmt.Errorf("promotion: %w", err)
	}
	return out, nil
}

// sink is where a stage writes its outputs: the runner's Output, or a
// test's recorder.
type sink interface {
	Emit(r *kgo.Record)
	DeadLetter(orig *kgo.Record, reason string, err error)
}

// Process implements runner.Task.
func (c *collector) Process(ctx context.Context, recs []*kgo.Record, lag runner.Lag, out *runner.Output) error {
	return c.process(ctx, recs, lag, out)
}

func (c *collector) process(_ context.Context, recs []*kgo.Record, lag runner.Lag, out sink) error {
	c.emitted = c.emitted[:0]
	for _, rec := range recs {
		var e schemas.ForecastError
		if err := schemas.Decode(rec.Value, &e); err != nil {
			out.DeadLetter(rec, schemas.ReasonOf(err), err)
			continue
		}
		c.add(&e)
	}
	// Days are sent only when every error committed so far has been read:
	// the scorer writes an hour's errors of all models in one transaction,
	// so a complete day then holds all it will ever hold, whichever of the
	// two topics a fetch returned first. While catching up the days wait.
	if lag.Behind() {
		return nil
	}
	regions := make([]string, 0, len(c.regions))
	for r := range c.regions {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	for _, region := range regions {
		if err := c.send(region, out); err != nil {
			return err
		}
	}
	return nil
}

func (c *collector) add(e *schemas.ForecastError) {
	s := c.region(e.Region)
	issue := e.IssueTime.UTC()
	if !issue.After(s.sent) {
		return // a day already sent: a duplicate
	}
	k := e.ModelID + "@" + e.ModelVersion
	m := s.days[k]
	if m == nil {
		m = map[time.Time]*DayRecord{}
		s.days[k] = m
	}
	r := m[issue]
	if r == nil {
		r = &DayRecord{Region: e.Region, Issue: issue, ModelID: e.ModelID, Version: e.ModelVersion, Kind: e.ModelKind, Role: e.Role}
		m[issue] = r
	}
	h := e.Hour.Unix()
	for _, x := range r.Hours {
		if x.H == h {
			return
		}
	}
	naive := -1.0
	if e.NaiveWeekly != nil {
		naive = abs(*e.NaiveWeekly - e.Actual)
	}
	r.Hours = append(r.Hours, hourErr{H: h, E: e.AbsError, N: naive})
	sortHours(r.Hours)
	c.dirty[collectKey(e.Region, k, issue)] = true
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// send writes the region's complete days, in order, to the days topic.
func (c *collector) send(region string, out sink) error {
	s := c.regions[region]
	if c.d.zones[region] == nil && !c.warned[region] {
		c.warned[region] = true
		c.d.cfg.Logger.Warn("promotion: region has no configured zone; its days count 24 hours (a clock-change day completes only when the next day is scored)", "region", region)
	}
	for _, d := range s.pending() {
		if !s.complete(d, func(h int64) int { return c.d.dayHours(region, h) }) {
			return nil
		}
		keys := make([]string, 0)
		for k, m := range s.days {
			if m[d] != nil {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			r := s.days[k][d]
			b, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("promotion: encode day %s %s: %w", region, k, err)
			}
			out.Emit(&kgo.Record{Topic: c.d.daysTopic, Key: []byte(dayKey), Value: b})
			c.emitted = append(c.emitted, *r)
			delete(s.days[k], d)
			if len(s.days[k]) == 0 {
				delete(s.days, k)
			}
			c.dirty[collectKey(region, k, d)] = true
		}
		s.sent = d
		c.dirty[region+"|s"] = true
	}
	return nil
}

// pending returns the issue times held, in order.
func (s *regionDays) pending() []time.Time {
	seen := map[time.Time]bool{}
	var out []time.Time
	for _, m := range s.days {
		for t := range m {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// complete reports whether the region's day issued at d is complete: a
// model has scored a later day, or every model that scored d has every
// hour of its local day; hours(h) is the length of the local day holding
// hour h. Counting the local day's hours (not a fixed 24) keeps the 25th
// hour of an autumn day from arriving after the day was sent, and sends a
// spring day's 23 at once: live polls and a replay of the whole day then
// send the same hours.
func (s *regionDays) complete(d time.Time, hours func(h int64) int) bool {
	full := true
	for _, m := range s.days {
		for t, x := range m {
			if t.After(d) {
				return true
			}
			// Every hour of a record is of the same local day, so any
			// one of them gives its length.
			if t.Equal(d) && (len(x.Hours) == 0 || len(x.Hours) < hours(x.Hours[0].H)) {
				full = false
			}
		}
	}
	return full
}
