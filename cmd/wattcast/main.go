// Command wattcast forecasts home energy prices from a Kafka stream of prices
// and weather. Each pipeline stage is a subcommand; `wattcast demo` runs them
// all on embedded defaults.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // market time zones must resolve in a scratch image
)

// version is set at build time by -ldflags "-X main.version=...".
var version = "dev"

func commands() []*command {
	return []*command{
		demoCommand(),
		brokerCommand(),
		produceCommand(),
		importCommand(),
		processCommand(),
		trainCommand(),
		scoreCommand(),
		forecastCommand(),
		backtestCommand(),
		modelsCommand(),
		queryCommand(),
		schemaCommand(),
		smokeCommand(),
		versionCommand(),
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return runIn(context.Background(), args, stdout, stderr, getenv)
}

// runIn is run under parent: its cancellation acts as a signal (tests).
func runIn(parent context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printTopUsage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var c *command
	for _, x := range cmds {
		if x.name == args[0] {
			c = x
		}
	}
	if c == nil {
		fmt.Fprintf(stderr, "wattcast: unknown command %q\n\n", args[0])
		printTopUsage(stderr, cmds)
		return 2
	}
	fs := flag.NewFlagSet("wattcast "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	g := &globals{}
	g.registerFor(fs, c.uses)
	runFn := c.setup(fs, g)
	fs.Usage = usageFunc(fs, c)
	if err := parseFlags(fs, args[1:], getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "wattcast %s: %v\n", c.name, err)
		return 2
	}
	if !c.positional && fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wattcast %s: takes no arguments besides flags, got %q (a list flag takes commas: --regions FI,GB-A)\n", c.name, fs.Args())
		return 2
	}
	log, err := newLogger(stderr, g.logLevel, g.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "wattcast %s: %v\n", c.name, err)
		return 2
	}
	// SIGINT or SIGTERM cancels the context: every stage stops cleanly,
	// committing only what is durable. A second signal exits at once.
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore default handling: a second signal kills
	}()
	rc := &runContext{Context: ctx, log: log.With("cmd", c.name), out: stderr, stdout: stdout, args: fs.Args()}
	err = runFn(rc)
	signalled := ctx.Err() != nil
	switch {
	case signalled && rc.service && (err == nil || errors.Is(err, context.Canceled)):
		log.Info("stopped by signal")
		return 0
	case signalled && !rc.service && (err == nil || errors.Is(err, context.Canceled)):
		// Stages stop cleanly and may return nil: a run cut short still
		// did not finish, even if a signal and the end came together
		// (running it again is safe: every stage resumes).
		fmt.Fprintf(stderr, "wattcast %s: interrupted before it finished (run it again to complete it)\n", c.name)
		return exitInterrupted
	case err == nil:
		return 0
	}
	fmt.Fprintf(stderr, "wattcast %s: %v\n", c.name, err)
	return 1
}

// exitInterrupted is the status of a command a signal cut short, as a
// shell reports a command killed by SIGINT.
const exitInterrupted = 130

func printTopUsage(w io.Writer, cmds []*command) {
	fmt.Fprintf(w, "wattcast %s: forecasts home energy prices from Kafka streams of prices and weather.\n\nUsage:\n  wattcast <command> [flags]\n\nCommands:\n", version)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun `wattcast <command> --help` for a command's flags and their WATTCAST_* environment variables.\n")
}
