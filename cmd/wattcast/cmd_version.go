package main

import (
	"flag"
	"fmt"
	"runtime"
)

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "print the version",
		usage:   "wattcast version",
		uses:    sharedNone,
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			return func(rc *runContext) error {
				_, err := fmt.Fprintf(rc.stdout, "wattcast %s %s/%s %s\n", version, runtime.GOOS, runtime.GOARCH, runtime.Version())
				return err
			}
		},
	}
}
