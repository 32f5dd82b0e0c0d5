package source

import (
	"os"
	"regexp"
	"testing"
)

// The CloudWatch metric filter behind the freshness alarms matches the
// message a live poll logs when it published: a renamed message would make
// every freshness alarm fire (missing data breaches) for no reason.
func TestFreshnessAlarmMatchesTheLogLine(t *testing.T) {
	tf, err := os.ReadFile("../../terraform/modules/observability/alarms.tf")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)resource "aws_cloudwatch_log_metric_filter" "published" \{.*?\n\}`).Find(tf)
	if block == nil {
		t.Fatal("alarms.tf has no published metric filter")
	}
	m := regexp.MustCompile(`pattern\s*=\s*"\{ \$\.msg = \\"([^\\]+)\\" \}"`).FindSubmatch(block)
	if m == nil || string(m[1]) != MsgPublished {
		t.Errorf("the freshness metric filter matches msg %q, a live poll logs %q", m, MsgPublished)
	}
}
