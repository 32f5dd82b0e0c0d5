package promotion

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/wattcast/wattcast/schemas"
)

// hourErr is one scored hour: its start (Unix seconds), the absolute error
// and the weekly naive forecast's absolute error (-1 when unknown).
type hourErr struct {
	H int64   `json:"h"`
	E float64 `json:"e"`
	N float64 `json:"n"`
}

// dayErrs are one model's scored hours of one forecast (one issue time).
type dayErrs struct {
	Kind  string    `json:"kind"`
	Hours []hourErr `json:"hours"`
}

// fullDay is how many scored hours complete a day at once; a shorter day
// (23 hours, or a gap) is complete when the model's next day is scored.
const fullDay = 24

// decision is the promotion test state of one challenger.
type decision struct {
	// Champion is the champion key the counts are against; a new
	// champion starts them again.
	Champion string `json:"champion"`
	// Count is the number of paired days evaluated; NextAt the count at
	// which the next test runs.
	Count   int `json:"count"`
	NextAt  int `json:"next_at"`
	Denials int `json:"denials"`
}

// probation follows a new champion after its promotion.
type probation struct {
	// New is the promoted champion's key; Prev the archived one's.
	New      string `json:"new"`
	Prev     string `json:"prev"`
	PrevID   string `json:"prev_id"`
	PrevVer  string `json:"prev_version"`
	PrevKind string `json:"prev_kind"`
	// Since is the issue time of the last day of promotion evidence; days
	// after it count.
	Since    time.Time `json:"since"`
	PrevMAE  num       `json:"prev_mae"`
	PrevRMAE num       `json:"prev_rmae"`
	Count    int       `json:"count"`
	NextAt   int       `json:"next_at"`
}

// retrainState remembers the champion's degradation checks.
type retrainState struct {
	LastRequested time.Time `json:"last_requested"` // issue time of the day that triggered the last request
}

// stageMove is a registry stage change decided and committed but perhaps
// not yet written to the registry.
type stageMove struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	From    string `json:"from"`
	To      string `json:"to"`
	Reason  string `json:"reason"`
}

// regionState is the decider's state for one region.
type regionState struct {
	// intent holds the stage changes of the last decision until they are
	// in the registry.
	intent    []stageMove
	days      map[string]map[time.Time]*dayErrs // model key -> issue time -> hours
	decisions map[string]*decision              // challenger key
	probation *probation
	retrain   *retrainState
	// evaluated is the issue time of the latest day evaluated: days are
	// evaluated once, in order, when complete.
	evaluated time.Time
}

func newRegionState() *regionState {
	return &regionState{days: map[string]map[time.Time]*dayErrs{}, decisions: map[string]*decision{}}
}

// dayComplete reports whether the region's day issued at d is complete: a
// model has scored a later day, or every model that scored d has a full
// day of hours. (Read when every committed error has been read, so no
// model's hours of d are still on their way.)
func (s *regionState) dayComplete(d time.Time) bool {
	full := true
	for _, m := range s.days {
		for t, x := range m {
			if t.After(d) {
				return true
			}
			if t.Equal(d) && len(x.Hours) < fullDay {
				full = false
			}
		}
	}
	return full
}

// daysOf returns model k's days issued in (from, to], in order.
func (s *regionState) daysOf(k string, from, to time.Time) []time.Time {
	var out []time.Time
	for t := range s.days[k] {
		if t.After(from) && !t.After(to) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// pending returns the issue times after the last evaluated day, in order.
func (s *regionState) pending() []time.Time {
	seen := map[time.Time]bool{}
	var out []time.Time
	for _, m := range s.days {
		for t := range m {
			if t.After(s.evaluated) && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// pairedDay holds two models' absolute errors on the hours both scored on
// one day, in hour order, and the weekly naive forecast's (-1 when unknown).
type pairedDay struct {
	Issue    time.Time
	A, B     []float64
	Naive    []float64
	LastHour time.Time
}

// paired returns the days issued in (from, to] that both models a and b
// scored, in issue order, with the hours both scored.
func (s *regionState) paired(a, b string, from, to time.Time) []pairedDay {
	var out []pairedDay
	for t, da := range s.days[a] {
		db := s.days[b][t]
		if db == nil || !t.After(from) || t.After(to) {
			continue
		}
		bh := map[int64]hourErr{}
		for _, h := range db.Hours {
			bh[h.H] = h
		}
		p := pairedDay{Issue: t}
		for _, h := range da.Hours {
			hb, ok := bh[h.H]
			if !ok {
				continue
			}
			p.A = append(p.A, h.E)
			p.B = append(p.B, hb.E)
			p.Naive = append(p.Naive, h.N)
			if t := time.Unix(h.H, 0).UTC(); t.After(p.LastHour) {
				p.LastHour = t
			}
		}
		if len(p.A) > 0 {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(x, y pairedDay) int { return x.Issue.Compare(y.Issue) })
	return out
}

// summary is a model's MAE and rMAE over a set of days.
type summary struct {
	MAE, RMAE float64
	Hours     int
}

// summarise returns the MAE and rMAE of abs errors e with the naive
// forecast's abs errors naive (-1 where unknown: those hours count in the
// MAE, not in the rMAE).
func summarise(e, naive []float64) summary {
	var n, nn int
	var abs, absN, nv float64
	for i, v := range e {
		n++
		abs += v
		if naive[i] >= 0 {
			nn++
			absN += v
			nv += naive[i]
		}
	}
	s := summary{MAE: math.NaN(), RMAE: math.NaN(), Hours: n}
	if n > 0 {
		s.MAE = abs / float64(n)
	}
	if nn > 0 && nv > 0 {
		s.RMAE = absN / nv
	}
	return s
}

// add records one error record; it reports false for an hour already held.
func (s *regionState) add(e *schemas.ForecastError) (key string, added bool) {
	k := e.ModelID + "@" + e.ModelVersion
	issue := e.IssueTime.UTC()
	m := s.days[k]
	if m == nil {
		m = map[time.Time]*dayErrs{}
		s.days[k] = m
	}
	if !issue.After(s.evaluated) {
		// The day was evaluated already: a straggler cannot change a
		// decision made (a replayed one is a duplicate anyway).
		return "", false
	}
	d := m[issue]
	if d == nil {
		d = &dayErrs{Kind: e.ModelKind}
		m[issue] = d
	}
	h := e.Hour.Unix()
	for _, x := range d.Hours {
		if x.H == h {
			return dayKey(e.Region, k, issue), false
		}
	}
	naive := -1.0
	if e.NaiveWeekly != nil {
		naive = math.Abs(*e.NaiveWeekly - e.Actual)
	}
	d.Hours = append(d.Hours, hourErr{H: h, E: e.AbsError, N: naive})
	slices.SortFunc(d.Hours, func(a, b hourErr) int { return int(a.H - b.H) })
	return dayKey(e.Region, k, issue), true
}

// prune drops the days issued more than keep days before the last
// evaluated day and returns their changelog keys. Days not yet evaluated are
// kept however old.
func (s *regionState) prune(region string, keep int) []string {
	if s.evaluated.IsZero() {
		return nil
	}
	cut := s.evaluated.AddDate(0, 0, -keep)
	var dropped []string
	for k, m := range s.days {
		for t := range m {
			if !t.After(cut) {
				delete(m, t)
				dropped = append(dropped, dayKey(region, k, t))
			}
		}
		if len(m) == 0 {
			delete(s.days, k)
		}
	}
	slices.Sort(dropped)
	return dropped
}

// Changelog keys: "<region>|d|<model key>|<issue time>" one model's scored
// hours of one day; "<region>|c|<challenger key>" a challenger's test state;
// "<region>|p" the probation of a new champion; "<region>|r" the retraining
// trigger's state; "<region>|i" stage changes not yet in the registry;
// "<region>|e" the last evaluated day.
// Region ids cannot hold "|".
func dayKey(region, model string, issue time.Time) string {
	return region + "|d|" + model + "|" + issue.Format(time.RFC3339)
}

func decisionKey(region, challenger string) string { return region + "|c|" + challenger }

func probationKey(region string) string { return region + "|p" }

func retrainKey(region string) string { return region + "|r" }

func evaluatedKey(region string) string { return region + "|e" }

func intentKey(region string) string { return region + "|i" }

// restore applies one changelog record.
func restore(regions map[string]*regionState, key string, value []byte) error {
	parts := strings.Split(key, "|")
	if len(parts) < 2 {
		return fmt.Errorf("promotion: unknown changelog key %q", key)
	}
	s := regions[parts[0]]
	if s == nil {
		s = newRegionState()
		regions[parts[0]] = s
	}
	switch {
	case parts[1] == "d" && len(parts) == 4:
		issue, err := time.Parse(time.RFC3339, parts[3])
		if err != nil {
			return fmt.Errorf("promotion: changelog key %q: %w", key, err)
		}
		if value == nil {
			delete(s.days[parts[2]], issue)
			return nil
		}
		var d dayErrs
		if err := json.Unmarshal(value, &d); err != nil {
			return fmt.Errorf("promotion: restore %s: %w", key, err)
		}
		if s.days[parts[2]] == nil {
			s.days[parts[2]] = map[time.Time]*dayErrs{}
		}
		s.days[parts[2]][issue] = &d
	case parts[1] == "c" && len(parts) == 3:
		if value == nil {
			delete(s.decisions, parts[2])
			return nil
		}
		var d decision
		if err := json.Unmarshal(value, &d); err != nil {
			return fmt.Errorf("promotion: restore %s: %w", key, err)
		}
		s.decisions[parts[2]] = &d
	case parts[1] == "p" && len(parts) == 2:
		s.probation = nil
		if value != nil {
			s.probation = &probation{}
			if err := json.Unmarshal(value, s.probation); err != nil {
				return fmt.Errorf("promotion: restore %s: %w", key, err)
			}
		}
	case parts[1] == "e" && len(parts) == 2:
		s.evaluated = time.Time{}
		if value != nil {
			if err := json.Unmarshal(value, &s.evaluated); err != nil {
				return fmt.Errorf("promotion: restore %s: %w", key, err)
			}
		}
	case parts[1] == "i" && len(parts) == 2:
		s.intent = nil
		if value != nil {
			if err := json.Unmarshal(value, &s.intent); err != nil {
				return fmt.Errorf("promotion: restore %s: %w", key, err)
			}
		}
	case parts[1] == "r" && len(parts) == 2:
		s.retrain = nil
		if value != nil {
			s.retrain = &retrainState{}
			if err := json.Unmarshal(value, s.retrain); err != nil {
				return fmt.Errorf("promotion: restore %s: %w", key, err)
			}
		}
	default:
		return fmt.Errorf("promotion: unknown changelog key %q", key)
	}
	return nil
}

// value returns the changelog value of key (nil for a tombstone).
func value(regions map[string]*regionState, key string) ([]byte, error) {
	parts := strings.Split(key, "|")
	s := regions[parts[0]]
	var v any
	switch {
	case s == nil:
	case parts[1] == "d":
		issue, _ := time.Parse(time.RFC3339, parts[3])
		if d, ok := s.days[parts[2]][issue]; ok {
			v = d
		}
	case parts[1] == "c":
		if d, ok := s.decisions[parts[2]]; ok {
			v = d
		}
	case parts[1] == "p":
		if s.probation != nil {
			v = s.probation
		}
	case parts[1] == "r":
		if s.retrain != nil {
			v = s.retrain
		}
	case parts[1] == "i":
		if len(s.intent) > 0 {
			v = s.intent
		}
	case parts[1] == "e":
		if !s.evaluated.IsZero() {
			v = s.evaluated
		}
	}
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("promotion: encode state %s: %w", key, err)
	}
	return b, nil
}

// num is a float64 that encodes NaN as JSON null (encoding/json refuses
// NaN), for metrics that can be undefined.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

func (n *num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = num(f)
	return nil
}
