package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/wattcast/wattcast/lake/athena"
)

func queryCommand() *command {
	return &command{
		name:    "query",
		summary: "run SQL on Amazon Athena over the lake and print the result as a table (Athena only)",
		usage: `wattcast query --athena "SELECT ..." [flags]

Athena only; for a local file:// lake use python3 lake/lakesql.py --lake DIR [--sql "SELECT ..."]
(DuckDB over the lake's files; docs/athena.md).`,
		// Athena reads the lake through Glue, so the store flags
		// (--lake, --registry, --s3-*) would do nothing here.
		uses: sharedAWS,
		setup: func(fs *flag.FlagSet, g *globals) func(*runContext) error {
			var (
				sql       = fs.String("athena", "", "SQL to run on Athena (required), e.g. \"SELECT * FROM prices WHERE \\\"date\\\" = '2024-01-01' LIMIT 10\"")
				workgroup = fs.String("athena-workgroup", "primary", "Athena workgroup; Terraform creates wattcast-<env>, which sets the encrypted result location")
				database  = fs.String("athena-database", "", "Glue database of the lake tables, e.g. wattcast_prod (default: tables must be qualified)")
				output    = fs.String("athena-output", "", "s3://BUCKET/PREFIX/ for results, when the workgroup does not enforce its own")
				maxRows   = fs.Int("max-rows", 1000, "print at most this many rows (0: all)")
			)
			return func(rc *runContext) error {
				if *sql == "" {
					return errors.New("query: --athena is required: the SQL to run, e.g. --athena \"SELECT count(*) FROM prices\"")
				}
				c, err := athena.NewFromConfig(rc, g.awsRegion, athena.Options{
					Workgroup:      *workgroup,
					Database:       *database,
					OutputLocation: *output,
					MaxRows:        *maxRows,
				})
				if err != nil {
					return err
				}
				rc.log.Debug("running Athena query", "workgroup", *workgroup, "database", *database)
				res, err := c.Query(rc, *sql)
				if err != nil {
					return err
				}
				if err := res.WriteTable(rc.stdout); err != nil {
					return err
				}
				fmt.Fprintln(rc.out, res.Summary())
				return nil
			}
		},
	}
}
