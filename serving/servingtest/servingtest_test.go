package servingtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wattcast/wattcast/serving/catalog"
	"github.com/wattcast/wattcast/training/models"
)

// recordingTB is a testing.TB whose Fatal records the message and ends the
// goroutine, as testing's does, without failing the real test.
type recordingTB struct {
	testing.TB
	mu    sync.Mutex
	fatal string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recordingTB) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// run calls f with a recordingTB on its own goroutine (Fatal ends it) and
// returns what was fatal, "" if nothing.
func (r *recordingTB) run(f func(testing.TB)) string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fatal
}

// Stage and History fail the test when they cannot answer, instead of
// returning "" or the error's text as if it were data.
func TestStageAndHistoryFailTheTest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name      string
		corrupt   bool // a stage record that is not JSON
		call      func(t testing.TB, r *Registry) any
		want      any    // the answer when nothing is fatal
		wantFatal string // substring of the fatal message; "" none
	}{
		{name: "stage", call: func(t testing.TB, r *Registry) any { return r.Stage(t, ctx, "champ@1") }, want: catalog.StageChampion},
		{name: "stage of a bad reference", call: func(t testing.TB, r *Registry) any { return r.Stage(t, ctx, "no version") },
			wantFatal: `stage of "no version"`},
		{name: "stage, unreadable registry", corrupt: true, call: func(t testing.TB, r *Registry) any { return r.Stage(t, ctx, "champ@1") },
			wantFatal: "stage of champ@1"},
		{name: "history", call: func(t testing.TB, r *Registry) any { return r.History(t, ctx) },
			want: []string{"champ@1 candidate->champion"}},
		{name: "history, unreadable registry", corrupt: true, call: func(t testing.TB, r *Registry) any { return r.History(t, ctx) },
			wantFatal: "read the stage log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r, err := NewRegistry(ctx, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Add(ctx, "champ", []string{"FI"}, catalog.StageChampion, models.NaiveWeekly{}); err != nil {
				t.Fatal(err)
			}
			if tt.corrupt {
				if err := os.WriteFile(filepath.Join(dir, "stages", "9999999999.json"), []byte("not json"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var got any
			fatal := (&recordingTB{TB: t}).run(func(tb testing.TB) { got = tt.call(tb, r) })
			switch {
			case tt.wantFatal == "" && fatal != "":
				t.Fatalf("fatal %q, want %v", fatal, tt.want)
			case tt.wantFatal != "" && !strings.Contains(fatal, tt.wantFatal):
				t.Fatalf("fatal %q (answer %v), want a fatal with %q", fatal, got, tt.wantFatal)
			case tt.wantFatal != "":
				return
			}
			if s, ok := tt.want.([]string); ok {
				if g, _ := got.([]string); !slices.Equal(g, s) {
					t.Errorf("got %q, want %q", got, s)
				}
			} else if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
