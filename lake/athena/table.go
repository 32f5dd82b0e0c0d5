package athena

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the result as an aligned text table: a header of column
// names, a rule, then one line per row, with NULL for SQL nulls. Tabs and
// newlines inside values are shown as \t and \n so that every row stays on
// one line.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	names := make([]string, len(r.Columns))
	rules := make([]string, len(r.Columns))
	for i, c := range r.Columns {
		names[i] = cell(c.Name)
		rules[i] = strings.Repeat("-", max(len(names[i]), 4))
	}
	fmt.Fprintln(tw, strings.Join(names, "\t"))
	fmt.Fprintln(tw, strings.Join(rules, "\t"))
	line := make([]string, 0, len(r.Columns))
	for _, row := range r.Rows {
		line = line[:0]
		for _, v := range row {
			if v == nil {
				line = append(line, "NULL")
				continue
			}
			line = append(line, cell(*v))
		}
		fmt.Fprintln(tw, strings.Join(line, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("athena: write table: %w", err)
	}
	return nil
}

var cellEscaper = strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`)

func cell(s string) string { return cellEscaper.Replace(s) }

// Summary is one line about the query: rows, data scanned and engine time.
func (r *Result) Summary() string {
	more := ""
	if r.Truncated {
		more = "+ (truncated)"
	}
	return fmt.Sprintf("%d rows%s, %.2f MB scanned, engine %s, query %s",
		len(r.Rows), more, float64(r.DataScannedBytes)/1e6, r.EngineTime, r.QueryExecutionID)
}
