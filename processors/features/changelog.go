package features

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// The changelog's value encoding. The changelog is internal to the
// processor (nothing else reads it), written on every transaction and read
// back only on restore, so it uses a compact binary form rather than JSON:
// encoding the state as JSON cost more than computing the features.
//
// Every value starts with changelogFormat. A record in any other format (the
// JSON of wattcast before format 1, or a later format) is refused with
// ErrChangelogFormat rather than misread.
//
// Layouts, with varint/uvarint as in encoding/binary, floats as 8
// little-endian bytes of their IEEE 754 bits, and strings as a uvarint
// length and the bytes:
//
//	clock ("_meta"):    format, varint clock, varint watermark ×3
//	region ("<r>|m"):   format, string market, string unit, varint first hour,
//	                    varint ready through, varint final through
//	day ("<r>|d|<day>"): format, uvarint n, n strings (the record's names:
//	                    locations and variables), then prices, observations,
//	                    forecasts:
//	  prices:  uvarint hours, per hour: varint hour, uvarint subs, per sub:
//	           varint start, uvarint versions, per version: varint at, float
//	  obs/fcs: uvarint hours, per hour: varint hour, uvarint locations, per
//	           location: uvarint name, uvarint versions, per version: varint
//	           at, uvarint values, per value: uvarint name, float
//
// Keys are written in ascending order, so a state always encodes to the same
// bytes.
const changelogFormat byte = 1

// ErrChangelogFormat is returned by Restore for a changelog record this
// version cannot read: one written by an older wattcast (JSON) or a newer
// one.
var ErrChangelogFormat = errors.New("features: changelog record in an unknown format")

func formatError(key string, value []byte) error {
	got := "JSON (before format 1)"
	if len(value) > 0 && value[0] != '{' {
		got = fmt.Sprintf("format %d", value[0])
	}
	return fmt.Errorf("%w: record %q is %s, this version reads format %d; rebuild the state: stop the processor, delete its changelog topic and reset its consumer group to the start of the inputs (or run the wattcast version that wrote it)",
		ErrChangelogFormat, key, got, changelogFormat)
}

// enc appends the changelog encoding.
type enc struct {
	b     []byte
	names *dayEncoder
}

func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) float(f float64)  { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(f)) }
func (e *enc) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *enc) name(s string) { e.uvarint(uint64(e.names.index(s))) }

// addName adds s to the names of the record being encoded. There are a few
// (locations and variables): a slice is faster than a map.
func (de *dayEncoder) addName(s string) {
	if len(de.byID) > 0 && de.byID[len(de.byID)-1] == s {
		return
	}
	if len(de.byID) < 32 {
		if !slices.Contains(de.byID, s) {
			de.byID = append(de.byID, s)
		}
		return
	}
	if len(de.set) == 0 { // many names: look them up in a map from now on
		if de.set == nil {
			de.set = map[string]bool{}
		}
		for _, n := range de.byID {
			de.set[n] = true
		}
	}
	if !de.set[s] {
		de.set[s] = true
		de.byID = append(de.byID, s)
	}
}

// index returns the index of name s, once the names are sorted.
func (de *dayEncoder) index(s string) int {
	i, _ := slices.BinarySearch(de.byID, s)
	return i
}

func encodeMeta(m meta) []byte {
	e := enc{b: make([]byte, 0, 1+4*binary.MaxVarintLen64)}
	e.b = append(e.b, changelogFormat)
	e.varint(m.Clock)
	for _, w := range m.WM {
		e.varint(w)
	}
	return e.b
}

func encodeRegionMeta(m regionMeta) []byte {
	e := enc{b: make([]byte, 0, 16+len(m.Market)+len(m.Unit)+3*binary.MaxVarintLen64)}
	e.b = append(e.b, changelogFormat)
	e.str(m.Market)
	e.str(m.Unit)
	e.varint(m.FirstHour)
	e.varint(m.ReadyThrough)
	e.varint(m.FinalThrough)
	return e.b
}

// dayEncoder encodes day records; one is reused across the days of a
// Changes call so that its scratch space is allocated once.
type dayEncoder struct {
	e       enc
	byID    []string // the names, sorted: index i is name i
	set     map[string]bool
	hours   []hourAt
	scratch []byte
}

// encodeDay returns the changelog value of the state of one UTC day of s,
// and false when the day holds nothing.
func (de *dayEncoder) encodeDay(s *regionState, day int64) ([]byte, bool) {
	first, end := day*86400, (day+1)*86400
	de.byID = de.byID[:0]
	clear(de.set)
	de.hours = de.hours[:0]
	nPrices, nObs, nFcs := 0, 0, 0
	for h := first; h < end; h += 3600 {
		hs := s.at(h)
		if hs == nil {
			continue
		}
		de.hours = append(de.hours, hourAt{h, hs})
		if len(hs.prices) > 0 {
			nPrices++
		}
		if len(hs.obs) > 0 {
			nObs++
		}
		if len(hs.fcs) > 0 {
			nFcs++
		}
		for _, ls := range [2][]locValues{hs.obs, hs.fcs} {
			for _, lv := range ls {
				de.addName(lv.loc)
				for _, v := range lv.vs {
					for _, x := range v.V {
						de.addName(x.Name)
					}
				}
			}
		}
	}
	if nPrices+nObs+nFcs == 0 {
		return nil, false
	}
	de.e = enc{b: append(de.scratch[:0], changelogFormat), names: de}
	e := &de.e
	slices.Sort(de.byID)
	e.uvarint(uint64(len(de.byID)))
	for _, n := range de.byID {
		e.str(n)
	}
	e.uvarint(uint64(nPrices))
	for _, x := range de.hours {
		if len(x.hs.prices) == 0 {
			continue
		}
		e.varint(x.h)
		e.uvarint(uint64(len(x.hs.prices)))
		for _, sp := range x.hs.prices { // sorted by start
			e.varint(sp.start)
			e.uvarint(uint64(len(sp.vs)))
			for _, v := range sp.vs {
				e.varint(v.At)
				e.float(v.V)
			}
		}
	}
	for kind, n := range [2]int{nObs, nFcs} {
		e.uvarint(uint64(n))
		for _, x := range de.hours {
			ls := x.hs.obs
			if kind == 1 {
				ls = x.hs.fcs
			}
			if len(ls) == 0 {
				continue
			}
			e.varint(x.h)
			e.uvarint(uint64(len(ls)))
			for _, lv := range ls { // sorted by location
				e.name(lv.loc)
				e.uvarint(uint64(len(lv.vs)))
				for _, v := range lv.vs {
					e.varint(v.At)
					e.uvarint(uint64(len(v.V)))
					// Values are sorted by name, and so are the names'
					// indexes.
					for _, x := range v.V {
						e.name(x.Name)
						e.float(x.V)
					}
				}
			}
		}
	}
	de.scratch = e.b
	return slices.Clone(e.b), true
}

type hourAt struct {
	h  int64
	hs *hourState
}

// dec reads the changelog encoding; the first error sticks.
type dec struct {
	b     []byte
	err   error
	names []string
}

var errTruncated = errors.New("features: changelog record is truncated or corrupt")

func (d *dec) fail() {
	if d.err == nil {
		d.err = errTruncated
	}
	d.b = nil
}

func (d *dec) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must fit in what is left (each element takes
// at least one byte), so corrupt input cannot make us allocate much.
func (d *dec) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *dec) float() float64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return f
}

func (d *dec) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *dec) name() string {
	i := d.uvarint()
	if i >= uint64(len(d.names)) {
		d.fail()
		return ""
	}
	return d.names[i]
}

// open checks the format byte of value.
func open(key string, value []byte) (*dec, error) {
	if len(value) == 0 || value[0] != changelogFormat {
		return nil, formatError(key, value)
	}
	return &dec{b: value[1:]}, nil
}

func (d *dec) close(key string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errTruncated
	}
	if d.err != nil {
		return fmt.Errorf("%w (key %q)", d.err, key)
	}
	return nil
}

func decodeMeta(key string, value []byte) (meta, error) {
	var m meta
	d, err := open(key, value)
	if err != nil {
		return m, err
	}
	m.Clock = d.varint()
	for i := range m.WM {
		m.WM[i] = d.varint()
	}
	return m, d.close(key)
}

func decodeRegionMeta(key string, value []byte) (regionMeta, error) {
	var m regionMeta
	d, err := open(key, value)
	if err != nil {
		return m, err
	}
	m.Market, m.Unit = d.str(), d.str()
	m.FirstHour, m.ReadyThrough, m.FinalThrough = d.varint(), d.varint(), d.varint()
	return m, d.close(key)
}

func decodeChunk(key string, value []byte) (*dayChunk, error) {
	d, err := open(key, value)
	if err != nil {
		return nil, err
	}
	d.names = make([]string, d.count())
	for i := range d.names {
		d.names[i] = d.str()
	}
	c := &dayChunk{}
	if n := d.count(); n > 0 {
		c.Prices = make(map[int64]map[int64][]version, n)
		for range n {
			h := d.varint()
			subs := make(map[int64][]version, 1)
			for range d.count() {
				s := d.varint()
				vs := make([]version, d.count())
				for i := range vs {
					vs[i] = version{At: d.varint(), V: d.float()}
				}
				subs[s] = vs
			}
			c.Prices[h] = subs
		}
	}
	c.Obs = d.values()
	c.Fcs = d.values()
	return c, d.close(key)
}

func (d *dec) values() map[int64]map[string][]valuesAt {
	n := d.count()
	if n == 0 {
		return nil
	}
	m := make(map[int64]map[string][]valuesAt, n)
	for range n {
		h := d.varint()
		nl := d.count()
		locs := make(map[string][]valuesAt, nl)
		for range nl {
			loc := d.name()
			vs := make([]valuesAt, d.count())
			for i := range vs {
				vs[i].At = d.varint()
				vs[i].V = make(values, d.count())
				for j := range vs[i].V {
					vs[i].V[j] = namedValue{d.name(), d.float()}
				}
			}
			locs[loc] = vs
		}
		m[h] = locs
	}
	return m
}
