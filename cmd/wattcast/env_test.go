package main

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

// Every shared flag can come from its WATTCAST_* variable (--brokers from
// WATTCAST_KAFKA_BROKERS); a flag on the command line wins over its
// variable; a variable that does not parse is an error naming it.
func TestFlagsFromTheEnvironment(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		// What the globals hold afterwards, when err is empty.
		brokers    []string
		partitions int
		logLevel   string
		prefix     string
		tls        bool
		pos        []string
		err        []string // substrings of the error; none for no error
	}{
		{name: "defaults", partitions: 3, logLevel: "info", prefix: "wattcast."},
		{name: "environment only",
			env: map[string]string{"WATTCAST_KAFKA_BROKERS": "a:9092,b:9092", "WATTCAST_PARTITIONS": "6",
				"WATTCAST_LOG_LEVEL": "debug", "WATTCAST_TOPIC_PREFIX": "env.", "WATTCAST_KAFKA_TLS": "true"},
			brokers: []string{"a:9092", "b:9092"}, partitions: 6, logLevel: "debug", prefix: "env.", tls: true},
		{name: "command line wins over the environment",
			args: []string{"--brokers", "flag:1", "--partitions", "12", "--log-level=warn", "--kafka-tls=false"},
			env: map[string]string{"WATTCAST_KAFKA_BROKERS": "env:1", "WATTCAST_PARTITIONS": "6",
				"WATTCAST_LOG_LEVEL": "debug", "WATTCAST_KAFKA_TLS": "true"},
			brokers: []string{"flag:1"}, partitions: 12, logLevel: "warn", prefix: "wattcast."},
		{name: "some from each",
			args:    []string{"pos", "--partitions", "2"},
			env:     map[string]string{"WATTCAST_KAFKA_BROKERS": "env:1", "WATTCAST_PARTITIONS": "x"},
			brokers: []string{"env:1"}, partitions: 2, logLevel: "info", prefix: "wattcast.", pos: []string{"pos"}},
		{name: "the old variable name is not --brokers'",
			env:        map[string]string{"WATTCAST_BROKERS": "old:1"},
			partitions: 3, logLevel: "info", prefix: "wattcast."},
		{name: "invalid environment value",
			env: map[string]string{"WATTCAST_PARTITIONS": "x"},
			err: []string{`WATTCAST_PARTITIONS="x"`}},
		{name: "two invalid values, both named",
			env: map[string]string{"WATTCAST_PARTITIONS": "x", "WATTCAST_KAFKA_TLS": "maybe"},
			err: []string{`WATTCAST_PARTITIONS="x"`, `WATTCAST_KAFKA_TLS="maybe"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			g := &globals{}
			g.registerFor(fs, sharedAll)
			err := parseFlags(fs, c.args, func(k string) string { return c.env[k] })
			if len(c.err) > 0 {
				for _, want := range c.err {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("parseFlags: %v, want an error naming %s", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags: %v", err)
			}
			if !slices.Equal(g.brokers, c.brokers) || g.partitions != c.partitions || g.logLevel != c.logLevel ||
				g.topicPrefix != c.prefix || g.kafkaTLS != c.tls || !slices.Equal(fs.Args(), c.pos) {
				t.Errorf("brokers %q partitions %d log level %q prefix %q tls %v args %q; want %q %d %q %q %v %q",
					g.brokers, g.partitions, g.logLevel, g.topicPrefix, g.kafkaTLS, fs.Args(),
					c.brokers, c.partitions, c.logLevel, c.prefix, c.tls, c.pos)
			}
		})
	}
}

// The same through run: an invalid variable stops the command with exit
// status 2 and a message naming it, before anything runs.
func TestRunRefusesAnInvalidEnvironmentValue(t *testing.T) {
	t.Parallel()
	var stdout, stderr strings.Builder
	env := map[string]string{"WATTCAST_PARTITIONS": "x"}
	code := run([]string{"schema", "list"}, &stdout, &stderr, func(k string) string { return env[k] })
	if code != 2 || !strings.Contains(stderr.String(), `WATTCAST_PARTITIONS="x"`) || stdout.Len() != 0 {
		t.Fatalf("exit %d, stderr %q, stdout %q; want 2 and a message naming WATTCAST_PARTITIONS", code, stderr.String(), stdout.String())
	}
}
