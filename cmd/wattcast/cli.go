package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
)

// command is one subcommand. Each lives in its own file, cmd_<name>.go, and
// is listed in commands() in main.go.
type command struct {
	name    string
	summary string
	// usage is printed under "Usage:" by --help, e.g. "wattcast train [flags]".
	usage string
	// setup registers the subcommand's flags on fs and returns the function
	// that runs it once flags (and their WATTCAST_* variables) are parsed.
	setup func(fs *flag.FlagSet, g *globals) func(ctx *runContext) error
	// uses says which shared flags the subcommand takes (zero: all).
	uses sharedFlags
	// positional says the subcommand takes arguments besides flags; one
	// that does not refuses them (`--regions FI GB-A` would otherwise
	// drop GB-A without a word).
	positional bool
}

// runContext is what a subcommand's run function gets.
type runContext struct {
	context.Context
	log *slog.Logger
	out io.Writer // progress and summaries for humans (stderr)
	// stdout receives a command's results (tables, JSON) that a script
	// may read or a pipe carry: the run's stdout, never os.Stdout directly.
	stdout io.Writer
	args   []string // positional arguments left after the flags
	// service is set by commands that run until stopped: a signal is how
	// they end, so it exits 0. A command that runs to completion (a
	// backfill, a smoke test, --until-caught-up) exits 130 when a signal
	// cuts it short, so that a scheduler never takes it for done.
	service bool
}

// envName is the environment variable bound to a flag: WATTCAST_ followed by
// the flag name in upper case with dashes as underscores. --brokers is the
// exception: WATTCAST_KAFKA_BROKERS, the name the rest of the Kafka world
// recognises.
func envName(flagName string) string {
	if flagName == "brokers" {
		return "WATTCAST_KAFKA_BROKERS"
	}
	return "WATTCAST_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args into fs, then fills every flag not given on the
// command line from its environment variable. Command-line flags win.
// Flags may come after positional arguments (`models list --json`): Go's
// flag package stops at the first of them and would leave the rest
// unparsed, silently. After "--", everything is positional. fs.Args() is
// the positional arguments.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var positional []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, positional = args[:i], slices.Clone(args[i+1:])
	}
	var between []string // positional arguments before the last flag
	for rest := args; len(rest) > 0; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if rest = fs.Args(); len(rest) > 0 {
			between, rest = append(between, rest[0]), rest[1:]
		}
	}
	positional = append(between, positional...)
	if err := fs.Parse(append([]string{"--"}, positional...)); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// usageFunc prints a subcommand's help: its summary, usage line and every
// flag with its environment variable and default.
func usageFunc(fs *flag.FlagSet, c *command) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "%s\n\nUsage:\n  %s\n\nFlags (each can also be set by the environment variable shown):\n", c.summary, c.usage)
		var fl []*flag.Flag
		fs.VisitAll(func(f *flag.Flag) { fl = append(fl, f) })
		sort.Slice(fl, func(i, j int) bool { return fl[i].Name < fl[j].Name })
		for _, f := range fl {
			def := ""
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "[]" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%s  [%s]\n      %s%s\n", f.Name, envName(f.Name), f.Usage, def)
		}
	}
}

// listFlag is a comma-separated list flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = nil
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func newLogger(w io.Writer, level string, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
