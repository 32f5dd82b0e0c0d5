package main

import (
	"flag"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The README's Configuration section is what an operator reads instead of
// --help. These tests hold it to the flags the binary really registers, so
// that renaming a flag, changing a default or moving a shared flag off a
// command fails here rather than misleading a user.

// readmeSection returns the lines of README.md's "## <title>" section.
func readmeSection(t *testing.T, title string) []string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "## ") {
			in = line == "## "+title
			continue
		}
		if in {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		t.Fatalf("README.md has no %q section", "## "+title)
	}
	return out
}

// tableRows returns the cells of the rows of every Markdown table in lines
// whose header's first cell is first, without the header and separator.
func tableRows(lines []string, first string) [][]string {
	var rows [][]string
	in := false
	for _, line := range lines {
		if !strings.HasPrefix(line, "|") {
			in = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case cells[0] == first:
			in = true
		case !in, strings.HasPrefix(cells[0], "---"):
		default:
			rows = append(rows, cells)
		}
	}
	return rows
}

// commandFlags registers c's flags on a new FlagSet, as run does.
func commandFlags(t *testing.T, name string) *flag.FlagSet {
	t.Helper()
	for _, c := range commands() {
		if c.name == name {
			fs := flag.NewFlagSet("wattcast "+c.name, flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			(&globals{}).registerFor(fs, c.uses)
			c.setup(fs, &globals{})
			return fs
		}
	}
	t.Fatalf("README.md names command %q, which wattcast does not have", name)
	return nil
}

var (
	flagName = regexp.MustCompile("`--([a-z0-9-]+)`")
	backtick = regexp.MustCompile("^`([^`]*)`$")
)

// The shared settings' table: every shared flag is in it, with its
// environment variable and, where the README gives a plain value, the
// flag's real default.
func TestREADMESharedFlagsTable(t *testing.T) {
	t.Parallel()
	rows := tableRows(readmeSection(t, "Configuration"), "flag")
	all := commandFlags(t, "process") // takes every shared flag
	var shared []string
	g := &globals{}
	fs := flag.NewFlagSet("shared", flag.ContinueOnError)
	g.registerFor(fs, sharedAll)
	fs.VisitAll(func(f *flag.Flag) { shared = append(shared, f.Name) })

	listed := map[string]bool{}
	for _, row := range rows {
		if len(row) != 4 {
			continue // the per-command table: its own test
		}
		m := flagName.FindStringSubmatch(row[0])
		if m == nil {
			continue
		}
		name := m[1]
		listed[name] = true
		f := all.Lookup(name)
		if f == nil {
			t.Errorf("README.md lists shared flag --%s, which no command registers", name)
			continue
		}
		if env := strings.Trim(row[1], "`"); env != envName(name) {
			t.Errorf("README.md says --%s is %s; the binary reads %s", name, env, envName(name))
		}
		// A default written as a plain value (`x` or a bare word) must be
		// the flag's; prose like "(none; ...)" or "AWS" describes instead.
		def := row[2]
		if b := backtick.FindStringSubmatch(def); b != nil {
			def = b[1]
		} else if strings.ContainsAny(def, " ()") || def == "AWS" {
			continue
		}
		if def == "none" {
			def = ""
		}
		if def != f.DefValue {
			t.Errorf("README.md gives --%s the default %q; the flag's is %q", name, def, f.DefValue)
		}
	}
	for _, name := range shared {
		if !listed[name] {
			t.Errorf("shared flag --%s is not in README.md's Configuration table", name)
		}
	}
}

// The per-command table: every flag it names exists on that command, and
// where the defaults column gives one plain value per flag ("0.05; 28"),
// each is that flag's default.
func TestREADMECommandFlagsTable(t *testing.T) {
	t.Parallel()
	rows := tableRows(readmeSection(t, "Configuration"), "command")
	if len(rows) < 5 {
		t.Fatalf("README.md's per-command table has %d rows; the test cannot find it", len(rows))
	}
	for _, row := range rows {
		cmd := strings.Trim(row[0], "`")
		fs := commandFlags(t, cmd)
		names := flagName.FindAllStringSubmatch(row[1], -1)
		if len(names) == 0 {
			t.Errorf("README.md row %q names no flag", strings.Join(row, " | "))
		}
		for _, m := range names {
			if fs.Lookup(m[1]) == nil {
				t.Errorf("README.md lists `wattcast %s --%s`, which that command does not take", cmd, m[1])
			}
		}
		defs := regexp.MustCompile(`; | / `).Split(row[2], -1)
		if len(defs) != len(names) {
			continue // one description for several flags
		}
		for i, m := range names {
			f := fs.Lookup(m[1])
			if f == nil || !plainDefault(defs[i]) {
				continue
			}
			if !sameDefault(defs[i], f.DefValue) {
				t.Errorf("README.md gives `wattcast %s --%s` the default %q; the flag's is %q", cmd, m[1], defs[i], f.DefValue)
			}
		}
	}
}

// plainDefault reports whether a README default is a value rather than a
// description ("(required)", "64 MiB", "once", "live").
func plainDefault(s string) bool {
	return s != "" && !strings.ContainsAny(s, " ()") && s != "once" && s != "live"
}

// sameDefault compares a README default with a flag's DefValue, reading
// durations as durations ("1h" is "1h0m0s").
func sameDefault(readme, def string) bool {
	if readme == def {
		return true
	}
	a, errA := time.ParseDuration(readme)
	b, errB := time.ParseDuration(def)
	return errA == nil && errB == nil && a == b
}

// The README says which commands take which shared flags; the commands'
// registrations must agree.
func TestREADMESharedFlagsPerCommand(t *testing.T) {
	t.Parallel()
	text := strings.Join(readmeSection(t, "Configuration"), " ")
	claims := []struct {
		phrase string
		has    []string // flags the commands take
		not    []string // flags they must not take
	}{
		{"only the logging flags", []string{"log-level", "log-format"}, []string{"brokers", "lake", "aws-region"}},
		{"no Kafka flags", []string{"lake", "aws-region"}, []string{"brokers", "kafka-tls", "topic-prefix"}},
		{"no store flags", []string{"brokers", "aws-region"}, []string{"lake", "registry", "s3-endpoint"}},
	}
	for _, c := range claims {
		// "`backtest`, `broker` and `version` only the logging flags"
		re := regexp.MustCompile("((?:`[a-z]+`(?:, | and )?)+) " + regexp.QuoteMeta(c.phrase))
		m := re.FindStringSubmatch(text)
		if m == nil {
			t.Errorf("README.md no longer says which commands take %s", c.phrase)
			continue
		}
		for _, cm := range regexp.MustCompile("`([a-z]+)`").FindAllStringSubmatch(m[1], -1) {
			fs := commandFlags(t, cm[1])
			for _, f := range c.has {
				if fs.Lookup(f) == nil {
					t.Errorf("README.md: %s takes %s, so --%s; it does not", cm[1], c.phrase, f)
				}
			}
			for _, f := range c.not {
				if fs.Lookup(f) != nil {
					t.Errorf("README.md: %s takes %s, but it registers --%s", cm[1], c.phrase, f)
				}
			}
		}
	}
}
