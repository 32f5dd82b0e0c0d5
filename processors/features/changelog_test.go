package features

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// encodeChunk encodes c, a day of state, as Changes does.
func encodeChunk(t *testing.T, day int64, c *dayChunk) []byte {
	t.Helper()
	s := newRegionState("R")
	s.setChunk(day, c)
	var de dayEncoder
	b, ok := de.encodeDay(s, day)
	if !ok {
		t.Fatal("a day with state encodes as empty")
	}
	return b
}

// randomChunk is a day of state with several sub-periods, locations,
// versions and variables, and awkward floats.
func randomChunk(r *rand.Rand) (int64, *dayChunk) {
	floats := []float64{0, math.Copysign(0, -1), -12.5, 1e-300, math.MaxFloat64, math.Inf(1), 43.21793646474573}
	f := func() float64 {
		if r.IntN(2) == 0 {
			return floats[r.IntN(len(floats))]
		}
		return r.NormFloat64() * 100
	}
	day := int64(19000 + r.IntN(100))
	c := &dayChunk{}
	hours := func() []int64 {
		var hs []int64
		for h := range 24 {
			if r.IntN(3) > 0 {
				hs = append(hs, day*86400+int64(h)*3600)
			}
		}
		return hs
	}
	if r.IntN(4) > 0 {
		c.Prices = map[int64]map[int64][]version{}
		for _, h := range hours() {
			subs := map[int64][]version{}
			for s := range 1 + r.IntN(4) {
				for v := range 1 + r.IntN(3) {
					subs[h+int64(s)*900] = append(subs[h+int64(s)*900], version{At: h - 86400 + int64(v)*60, V: f()})
				}
			}
			c.Prices[h] = subs
		}
	}
	values := func() map[int64]map[string][]valuesAt {
		if r.IntN(4) == 0 {
			return nil
		}
		m := map[int64]map[string][]valuesAt{}
		for _, h := range hours() {
			locs := map[string][]valuesAt{}
			for _, loc := range []string{"FI", "Helsinki", "é-loc", ""}[:1+r.IntN(4)] {
				for v := range 1 + r.IntN(3) {
					vals := map[string]float64{}
					for _, k := range []string{"temperature_2m", "wind_speed_10m", "x"}[:1+r.IntN(3)] {
						vals[k] = f()
					}
					locs[loc] = append(locs[loc], valuesAt{At: h - int64(v)*3600, V: valuesOf(vals)})
				}
			}
			m[h] = locs
		}
		return m
	}
	c.Obs, c.Fcs = values(), values()
	if c.Prices == nil && c.Obs == nil && c.Fcs == nil {
		c.Prices = map[int64]map[int64][]version{day * 86400: {day * 86400: {{At: 1, V: 2}}}}
	}
	return day, c
}

func TestChangelogEncodingRoundTrips(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 300 {
		day, c := randomChunk(r)
		b := encodeChunk(t, day, c)
		got, err := decodeChunk("R|d|1", b)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("case %d: chunk changed in the round trip:\n got %+v\nwant %+v", i, got, c)
		}
		// The encoding of a state does not depend on map order.
		if again := encodeChunk(t, day, got); string(again) != string(b) {
			t.Fatalf("case %d: the same chunk encodes to different bytes", i)
		}
	}
	m := meta{Clock: 1700000000, WM: [numKinds]int64{1, -2, 1 << 40}}
	if got, err := decodeMeta("_meta", encodeMeta(m)); err != nil || got != m {
		t.Fatalf("meta round trip: %+v, %v", got, err)
	}
	rm := regionMeta{Market: "nordpool-dayahead", Unit: "EUR/MWh", FirstHour: 3600, ReadyThrough: -7200, FinalThrough: 1 << 35}
	if got, err := decodeRegionMeta("FI|m", encodeRegionMeta(rm)); err != nil || got != rm {
		t.Fatalf("region meta round trip: %+v, %v", got, err)
	}
}

// A changelog written by an older wattcast (JSON values) or a newer one
// must stop the restore with an error that says what to do, not be misread
// as empty or wrong state.
func TestRestoreRefusesRecordsInAnotherFormat(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, key, value, says string
	}{
		{"JSON clock", "_meta", `{"clock":1700000000,"watermarks":[1,2,3]}`, "JSON"},
		{"JSON region", "FI|m", `{"market":"m","unit":"EUR/MWh","first_hour":0,"ready_through":0,"final_through":0}`, "JSON"},
		{"JSON day", "FI|d|19000", `{"p":{"1641600000":{"1641600000":[{"at":1,"v":2}]}}}`, "JSON"},
		{"a later format", "FI|d|19000", "\x02\x00\x00\x00\x00", "format 2"},
		{"empty", "FI|m", "", "JSON"},
	} {
		e, _ := NewEngine(Config{})
		err := e.Restore(c.key, []byte(c.value))
		if !errors.Is(err, ErrChangelogFormat) || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), "delete its changelog topic") {
			t.Errorf("%s: %v; want ErrChangelogFormat naming %q and the way out", c.name, err, c.says)
		}
	}
}

// Corrupt or truncated records are errors, never a panic or a huge
// allocation.
func TestRestoreRejectsCorruptRecords(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(2, 2))
	day, c := randomChunk(r)
	full := encodeChunk(t, day, c)
	for n := 1; n < len(full); n++ {
		e, _ := NewEngine(Config{})
		if err := e.Restore("FI|d|19000", full[:n]); err == nil {
			t.Fatalf("a record cut to %d of %d bytes was accepted", n, len(full))
		}
	}
	huge := []byte{changelogFormat, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}
	e, _ := NewEngine(Config{})
	if err := e.Restore("FI|d|19000", huge); err == nil {
		t.Fatal("a record claiming 2^63 names was accepted")
	}
	withTail := append(encodeRegionMeta(regionMeta{Market: "m"}), 0)
	if err := e.Restore("FI|m", withTail); err == nil {
		t.Fatal("a record with trailing bytes was accepted")
	}
}

// The binary changelog is several times smaller than the JSON it replaced,
// so a day record stays far below Kafka's 1 MB default record limit.
func TestChangelogDayRecordIsCompact(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "2023-10-10T00:00:00Z", 20)
	e, _ := NewEngine(Config{})
	f.feed(t, e)
	kvs, err := e.Changes()
	if err != nil {
		t.Fatal(err)
	}
	biggest := 0
	for _, kv := range kvs {
		biggest = max(biggest, len(kv.Value))
	}
	// A day here: 24 prices, 24 observations and 48 forecasts of one
	// variable (two issues cover each hour).
	if biggest == 0 || biggest > 3000 {
		t.Fatalf("largest day record %d bytes; want a few KB", biggest)
	}
}
