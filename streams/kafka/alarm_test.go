package kafka

import (
	"os"
	"regexp"
	"testing"
)

// The CloudWatch metric filter behind the dead-letter alarm matches the
// message LogDeadLetters writes and sums its count: a renamed message or
// field would silence the alarm without any other test noticing.
func TestDeadLetterAlarmMatchesTheLogLine(t *testing.T) {
	tf, err := os.ReadFile("../../terraform/modules/observability/alarms.tf")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)resource "aws_cloudwatch_log_metric_filter" "dead_letters" \{.*?\n\}`).Find(tf)
	if block == nil {
		t.Fatal("alarms.tf has no dead_letters metric filter")
	}
	pattern := regexp.MustCompile(`pattern\s*=\s*"\{ \$\.msg = \\"([^\\]+)\\" \}"`).FindSubmatch(block)
	if pattern == nil || string(pattern[1]) != MsgDeadLetters {
		t.Errorf("the dead-letter metric filter's pattern matches msg %q, the stages log %q", pattern, MsgDeadLetters)
	}
	if !regexp.MustCompile(`value\s*=\s*"\$\.count"`).Match(block) {
		t.Errorf("the dead-letter metric filter does not sum $.count:\n%s", block)
	}
}
