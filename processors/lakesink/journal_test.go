package lakesink

import "testing"

// journalStart must read back exactly the offsets journalKey writes and
// nothing else that may sit in a journal folder.
func TestJournalStart(t *testing.T) {
	t.Parallel()
	prefix := journalPrefix("wattcast.prices", 2)
	for _, c := range []struct {
		key  string
		want int64
		ok   bool
	}{
		{journalKey("wattcast.prices", 2, 0), 0, true},
		{journalKey("wattcast.prices", 2, 1234567), 1234567, true},
		{journalKey("wattcast.prices", 2, 1<<62), 1 << 62, true},
		{journalKey("wattcast.prices", 21, 5), 0, false}, // partition 21, not 2
		{journalKey("wattcast.prices.x", 2, 5), 0, false},
		{prefix + "00000000000000000005.json.tmp", 0, false},
		{prefix + "5.json", 0, false},
		{prefix + "-0000000000000000005.json", 0, false},
		{prefix + "0000000000000000000x.json", 0, false},
	} {
		got, ok := journalStart(prefix, c.key)
		if ok != c.ok || got != c.want {
			t.Errorf("journalStart(%q) = %d, %v; want %d, %v", c.key, got, ok, c.want, c.ok)
		}
	}
}
