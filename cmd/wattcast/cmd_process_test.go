package main

import (
	"context"
	"flag"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/wattcast/wattcast/streams/broker/brokertest"
)

// A lake that cannot be opened fails `wattcast process` before either half
// starts: no feature processor is left running after the command returned.
// Not parallel: it inspects every goroutine.
func TestProcessStartsNothingWhenTheLakeFails(t *testing.T) {
	brokers := brokertest.Start(t).Brokers
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	fs := flag.NewFlagSet("process", flag.ContinueOnError)
	g := &globals{}
	g.registerFor(fs, sharedAll)
	runFn := processCommand().setup(fs, g)
	args := []string{"--brokers", brokers[0], "--topic-prefix", "pf.", "--lake", "nope://lake", "--instance-id", "pf"}
	if err := parseFlags(fs, args, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	err := runFn(&runContext{Context: ctx, log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "open the lake") {
		t.Fatalf("process: %v, want the lake's error", err)
	}
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, st := range strings.Split(stacks, "\n\n") {
		if strings.Contains(st, "processors.(*Processor).Run") || strings.Contains(st, "errgroup.(*Group).Go") {
			t.Errorf("a goroutine of process still runs after it returned %v:\n%s", err, st)
		}
	}
}
