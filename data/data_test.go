package data

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestEmbeddedMatchesSource checks that each embedded file decompresses to
// exactly the shared original (when the shared folder is there, as in a
// developer's checkout), and otherwise that it has the documented row count.
func TestEmbeddedMatchesSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		lines int
	}{
		{NordPoolFI, 14757},    // header + 14,756 rows
		{OctopusAgileA, 61532}, // no header
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc, err := Open(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rc.Close() })
			h := sha256.New()
			n := 0
			sc := bufio.NewScanner(io.TeeReader(rc, h))
			for sc.Scan() {
				n++
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if n != tc.lines {
				t.Errorf("%s has %d lines, want %d", tc.name, n, tc.lines)
			}
			orig, err := os.ReadFile(filepath.Join("..", "..", "shared", "data", "prices", tc.name))
			if err != nil {
				t.Logf("shared original not found (%v): checked the line count only", err)
				return
			}
			want := sha256.Sum256(orig)
			if got := hex.EncodeToString(h.Sum(nil)); got != hex.EncodeToString(want[:]) {
				t.Errorf("%s: embedded copy differs from the shared original", tc.name)
			}
		})
	}
}

func TestOpenUnknown(t *testing.T) {
	t.Parallel()
	if _, err := Open("nope.csv"); err == nil {
		t.Fatal("Open of an unknown name succeeded")
	}
	if got := len(Names()); got != 2 {
		t.Errorf("Names() has %d entries, want 2: %v", got, Names())
	}
}
