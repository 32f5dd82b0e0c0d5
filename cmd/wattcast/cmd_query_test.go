package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestQueryCommandFlags(t *testing.T) {
	t.Parallel()
	c := queryCommand()
	fs := flag.NewFlagSet("wattcast query", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g := &globals{}
	g.registerFor(fs, sharedAll)
	runFn := c.setup(fs, g)
	env := map[string]string{
		"WATTCAST_ATHENA_WORKGROUP": "wattcast-prod",
		"WATTCAST_ATHENA_DATABASE":  "wattcast_prod",
	}
	if err := parseFlags(fs, []string{"--max-rows", "5"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"athena-workgroup": "wattcast-prod", "athena-database": "wattcast_prod", "max-rows": "5", "athena": "",
	} {
		if got := fs.Lookup(name).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", name, got, want)
		}
	}
	// Without SQL the command says what to pass, before touching AWS.
	rc := &runContext{Context: context.Background(), log: slog.New(slog.NewTextHandler(io.Discard, nil)), out: io.Discard}
	if err := runFn(rc); err == nil || !strings.Contains(err.Error(), "--athena is required") {
		t.Errorf("run without --athena: %v", err)
	}
}
