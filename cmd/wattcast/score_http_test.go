package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// /readyz is ready only once the registry has been read and the monitor has
// caught up with the topics: before that the API serves partial accuracy.
func TestScoreReadiness(t *testing.T) {
	t.Parallel()
	read := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		refreshed time.Time
		caughtUp  bool
		wantErr   string // "" for ready
	}{
		{"nothing yet", time.Time{}, false, "registry"},
		{"registry read, monitor reading", read, false, "monitor"},
		{"monitor caught up, registry not read", time.Time{}, true, "registry"},
		{"both", read, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := readiness(func() time.Time { return tt.refreshed }, func() bool { return tt.caughtUp })()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("not ready: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want one naming the %s", err, tt.wantErr)
			}
		})
	}
}

// The API's server times out idle connections and stuck writes, not only
// slow request headers.
func TestScoreHTTPServerTimeouts(t *testing.T) {
	t.Parallel()
	srv := newHTTPServer(":0", http.NotFoundHandler())
	for _, tt := range []struct {
		name     string
		got, min time.Duration
	}{
		{"ReadHeaderTimeout", srv.ReadHeaderTimeout, time.Second},
		{"WriteTimeout", srv.WriteTimeout, 30 * time.Second},
		{"IdleTimeout", srv.IdleTimeout, time.Minute},
	} {
		if tt.got < tt.min {
			t.Errorf("%s %v, want at least %v", tt.name, tt.got, tt.min)
		}
	}
}
