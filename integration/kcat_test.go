package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
)

// TestKcatReadsForecastsAsDocumented runs the kcat command that
// docs/topics.md gives ("Reading the topics"), pointed at the forecasts
// topic the demo wrote, and checks what a Kafka UI or kcat user sees
// against the documentation: every record a read_committed Go consumer
// sees, keyed by its region, on the partition the documented murmur2
// partitioner gives, with exactly the headers of the "Headers" table and
// their documented values, and a JSON value valid against the JSON Schema
// the topic table links to (formats asserted).
func TestKcatReadsForecastsAsDocumented(t *testing.T) {
	s := servers(t)
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat not found: .ci/run installs it (apt-get install kcat)")
		}
		t.Skip("kcat not found: apt-get install kcat")
	}
	d := s.demoRun(t)
	doc, err := os.ReadFile(filepath.Join(s.root, "docs", "topics.md"))
	if err != nil {
		t.Fatal(err)
	}
	topicsDoc := string(doc)
	args := documentedKcat(t, topicsDoc, strings.Join(s.brokers, ","), d.topics.Forecasts)
	headerNames := documentedHeaders(t, topicsDoc)
	schema := documentedSchema(t, s, topicsDoc, "wattcast.forecasts")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, args...).Output()
	if err != nil {
		t.Fatalf("kcat %s: %v", strings.Join(args, " "), err)
	}
	recs := parseKcat(t, out)
	want, err := s.readTopic(ctx, d.topics.Forecasts)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(want) || len(recs) == 0 {
		t.Fatalf("kcat printed %d records, a read_committed Go consumer reads %d", len(recs), len(want))
	}
	seen := map[[2]int64]bool{}
	for _, r := range want {
		seen[[2]int64{int64(r.Partition), r.Offset}] = true
	}
	part := kgo.StickyKeyPartitioner(nil).ForTopic(d.topics.Forecasts)
	producer := regexp.MustCompile(`^wattcast/\S+ scorer$`)
	for _, r := range recs {
		where := fmt.Sprintf("kcat record at partition %d offset %d", r.partition, r.offset)
		if !seen[[2]int64{int64(r.partition), r.offset}] {
			t.Errorf("%s: not a record a read_committed consumer sees", where)
		}
		var names []string
		for _, h := range r.headers {
			names = append(names, h[0])
		}
		if !slices.Equal(sortedStrings(names), headerNames) {
			t.Fatalf("%s: headers %v, docs/topics.md documents %v", where, names, headerNames)
		}
		h := map[string]string{}
		for _, kv := range r.headers {
			h[kv[0]] = kv[1]
		}
		switch {
		case h[schemas.HeaderSchema] != "forecast":
			t.Errorf("%s: %s=%q, want forecast", where, schemas.HeaderSchema, h[schemas.HeaderSchema])
		case h[schemas.HeaderSchemaVersion] != "1":
			t.Errorf("%s: %s=%q, want 1", where, schemas.HeaderSchemaVersion, h[schemas.HeaderSchemaVersion])
		case !producer.MatchString(h[schemas.HeaderProducer]):
			t.Errorf("%s: %s=%q, want wattcast/<version> scorer", where, schemas.HeaderProducer, h[schemas.HeaderProducer])
		case h[schemas.HeaderContentType] != "application/json":
			t.Errorf("%s: %s=%q, want application/json", where, schemas.HeaderContentType, h[schemas.HeaderContentType])
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.value))
		if err != nil {
			t.Fatalf("%s: value is not JSON: %v\n%s", where, err, r.value)
		}
		if err := schema.Validate(inst); err != nil {
			t.Fatalf("%s: value does not validate against the forecast JSON Schema: %v\n%s", where, err, r.value)
		}
		var f schemas.Forecast
		if err := schemas.Decode(r.value, &f); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if r.key != f.Region {
			t.Errorf("%s: key %q, want the region %q", where, r.key, f.Region)
		}
		if p := int32(part.Partition(&kgo.Record{Key: []byte(r.key)}, partitions)); p != r.partition {
			t.Errorf("%s: key %s is on partition %d, murmur2 gives %d", where, r.key, r.partition, p)
		}
	}
	t.Logf("kcat %s\n  printed %d forecasts, each with the %d documented headers and a value valid against the forecast JSON Schema",
		strings.Join(args, " "), len(recs), len(headerNames))
}

// documentedKcat returns the arguments of the kcat command in
// docs/topics.md, with the broker and topic replaced by the test's.
func documentedKcat(t *testing.T, doc, broker, topic string) []string {
	t.Helper()
	i := strings.Index(doc, "\nkcat ")
	if i < 0 {
		t.Fatal("docs/topics.md has no kcat command")
	}
	end := strings.Index(doc[i:], "\n```")
	if end < 0 {
		t.Fatal("docs/topics.md: the kcat command's code block does not end")
	}
	cmd := strings.ReplaceAll(doc[i+1:i+end], "\\\n", " ")
	words := shellWords(t, cmd)
	if len(words) == 0 || words[0] != "kcat" {
		t.Fatalf("docs/topics.md kcat command parsed as %q", words)
	}
	args := words[1:]
	for j := 0; j+1 < len(args); j++ {
		switch args[j] {
		case "-b":
			args[j+1] = broker
		case "-t":
			args[j+1] = topic
		}
	}
	return args
}

// shellWords splits a command line as a POSIX shell would, for the quoting
// the docs use (single and double quotes, no expansions).
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated quote in %q", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

// documentedHeaders returns the header names of the "Headers" table of
// docs/topics.md, sorted.
func documentedHeaders(t *testing.T, doc string) []string {
	t.Helper()
	sec := section(doc, "## Headers")
	re := regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\|")
	var names []string
	for _, m := range re.FindAllStringSubmatch(sec, -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		t.Fatal("docs/topics.md: no header table under ## Headers")
	}
	return sortedStrings(names)
}

// documentedSchema compiles the JSON Schema that the topic table of
// docs/topics.md links to for topic.
func documentedSchema(t *testing.T, s *suiteEnv, doc, topic string) *jsonschema.Schema {
	t.Helper()
	m := regexp.MustCompile("\\| `" + regexp.QuoteMeta(topic) + "` \\| \\[[a-z-]+\\]\\(([^)]+)\\)").FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("docs/topics.md: no schema link for %s", topic)
	}
	path := filepath.Join(s.root, "docs", filepath.FromSlash(m[1]))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	sd, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := c.AddResource("file://"+path, sd); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("file://" + path)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	return sch
}

// section returns the part of a markdown document from heading to the next
// heading of the same level.
func section(doc, heading string) string {
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		return ""
	}
	rest := doc[i+len(heading)+2:]
	level := heading[:strings.Index(heading, " ")+1]
	if j := strings.Index(rest, "\n"+level); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

type kcatRecord struct {
	partition int32
	offset    int64
	key       string
	headers   [][2]string
	value     []byte
}

// parseKcat parses the output of the documented format: "partition %p
// offset %o key %k", "headers %h" (name=value, comma separated), the value,
// and an empty line.
func parseKcat(t *testing.T, out []byte) []kcatRecord {
	t.Helper()
	var recs []kcatRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	for i := 0; i < len(lines); i++ {
		if lines[i] == "" {
			continue
		}
		var r kcatRecord
		if _, err := fmt.Sscanf(lines[i], "partition %d offset %d key %s", &r.partition, &r.offset, &r.key); err != nil || i+2 >= len(lines) {
			t.Fatalf("kcat output line %d: %q is not 'partition P offset O key K' followed by headers and a value", i+1, lines[i])
		}
		hs, ok := strings.CutPrefix(lines[i+1], "headers ")
		if !ok {
			t.Fatalf("kcat output line %d: %q does not start with 'headers '", i+2, lines[i+1])
		}
		for _, kv := range strings.Split(hs, ",") {
			k, v, _ := strings.Cut(kv, "=")
			r.headers = append(r.headers, [2]string{k, v})
		}
		r.value = []byte(lines[i+2])
		recs = append(recs, r)
		i += 2
	}
	return recs
}

func sortedStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
