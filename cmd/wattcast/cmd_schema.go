package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wattcast/wattcast/schemas"
)

func schemaCommand() *command { return schemaCommandTo(nil) }

// schemaCommandTo writes to w, so that a test can read what it prints; nil
// writes to the run's stdout.
func schemaCommandTo(w io.Writer) *command {
	return &command{
		name:       "schema",
		positional: true,
		summary:    "print the JSON Schema of a topic value, or list them with their topics",
		usage:      "wattcast schema [NAME]   (NAME: price, forecast, ...; none lists them)",
		uses:       sharedKafka,
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			return func(rc *runContext) error {
				out := w
				if out == nil {
					out = rc.stdout
				}
				switch len(rc.args) {
				case 0:
					return listSchemas(out, g.topics())
				case 1:
					b, err := schemas.JSONSchema(rc.args[0])
					if err != nil {
						return err
					}
					_, err = out.Write(b)
					return err
				default:
					return fmt.Errorf("want at most one schema name, got %d: %s", len(rc.args), strings.Join(rc.args, " "))
				}
			}
		},
	}
}

// listSchemas prints each schema name with the topics whose values it
// describes.
func listSchemas(w io.Writer, topics schemas.TopicSet) error {
	byName := map[string][]string{}
	for _, s := range topics.Specs(0, 0) {
		byName[s.Schema] = append(byName[s.Schema], s.Name)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "SCHEMA\tVERSION\tTOPICS\n")
	for _, n := range schemas.JSONSchemaNames() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", n, schemas.SchemaVersion, strings.Join(byName[n], ", "))
	}
	return tw.Flush()
}
