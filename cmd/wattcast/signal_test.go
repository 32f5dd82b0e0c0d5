package main

import (
	"bytes"
	"context"
	"testing"
)

// A signal ends a service (exit 0) but interrupts a command that runs to
// completion (exit 130), so that a scheduler or a CI job never takes a
// backfill or a smoke test that a signal cut short for done. The parent
// context, cancelled before the run, stands for the signal.
func TestSignalExitStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noKafka := "127.0.0.1:1" // nothing listens: every command waits on it until cancelled
	for _, c := range []struct {
		name string
		args []string
		want int
	}{
		{"live producer (a service)", []string{"produce", "--source", "octopus", "--brokers", noKafka, "--octopus-url", "http://127.0.0.1:1"}, 0},
		{"backfill", []string{"produce", "--source", "octopus", "--brokers", noKafka, "--octopus-url", "http://127.0.0.1:1",
			"--backfill-from", "2024-01-01", "--backfill-to", "2024-01-02"}, exitInterrupted},
		{"processing until caught up (returns nil when stopped)", []string{"process", "--brokers", noKafka, "--until-caught-up", "--no-lake"}, exitInterrupted},
		{"processing (a service)", []string{"process", "--brokers", noKafka, "--no-lake"}, 0},
		{"smoke test", []string{"smoke", "--run-id", "r1", "--brokers", noKafka, "--lake", "file://" + dir + "/lake", "--aws-region", "us-east-1"}, exitInterrupted},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var out bytes.Buffer
			if got := runIn(ctx, c.args, &out, &out, func(string) string { return "" }); got != c.want {
				t.Errorf("exit status %d, want %d; output:\n%s", got, c.want, out.String())
			}
		})
	}
}
