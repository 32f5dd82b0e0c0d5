package athena

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"
)

// WriteTable writes the result as an aligned text table: a header of column
// names, a rule, then one line per row, with NULL for SQL nulls. Control
// characters inside values are shown escaped (\t, \n, \r, \x0c) so that
// every row stays on one line and in its columns.
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

// cell shows a value's control characters as escapes: tabwriter takes \t
// and \v as column breaks and \n and \f as line breaks, and a terminal
// obeys the others (ESC).
func cell(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case unicode.IsControl(r): // C0, DEL and C1: all below U+0100
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Summary is one line about the query: rows, data scanned and engine time.
func (r *Result) Summary() string {
	more := ""
	if r.Truncated {
		more = "+ (truncated)"
	}
	return fmt.Sprintf("%d rows%s, %.2f MB scanned, engine %s, query %s",
		len(r.Rows), more, float64(r.DataScannedBytes)/1e6, r.EngineTime, r.QueryExecutionID)
}
