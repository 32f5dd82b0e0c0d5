package main

import (
	"bytes"
	"strings"
	"testing"
)

// Every subcommand's --help lists the flags it takes: the shared Kafka and
// store flags only where the subcommand uses them, the logging flags
// everywhere, and for each flag its WATTCAST_* variable.
func TestHelpListsTheFlagsASubcommandTakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmd       string
		want, not []string
	}{
		{cmd: "backtest", want: []string{"--data  [WATTCAST_DATA]", "--log-level"}, not: []string{"--brokers", "--lake", "--kafka-tls", "--registry"}},
		{cmd: "version", want: []string{"--log-format"}, not: []string{"--brokers", "--lake"}},
		{cmd: "broker", want: []string{"--port  [WATTCAST_PORT]"}, not: []string{"--brokers", "--lake"}},
		{cmd: "train", want: []string{"--lake  [WATTCAST_LAKE]", "--registry", "--aws-region", "--log-level"}, not: []string{"--brokers", "--kafka-sasl"}},
		{cmd: "models", want: []string{"--registry  [WATTCAST_REGISTRY]"}, not: []string{"--brokers", "--topic-prefix"}},
		{cmd: "produce", want: []string{"--brokers  [WATTCAST_KAFKA_BROKERS]", "--kafka-sasl", "--aws-region"}, not: []string{"--lake", "--registry"}},
		{cmd: "import", want: []string{"--brokers", "--topic-prefix"}, not: []string{"--lake", "--s3-endpoint"}},
		{cmd: "process", want: []string{"--brokers", "--lake", "--s3-endpoint", "--kafka-tls", "--log-format"}},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			if code := run([]string{tt.cmd, "--help"}, &out, &errOut, func(string) string { return "" }); code != 0 {
				t.Fatalf("wattcast %s --help exited %d: %s", tt.cmd, code, errOut.String())
			}
			help := errOut.String() + out.String()
			for _, w := range tt.want {
				if !strings.Contains(help, w) {
					t.Errorf("wattcast %s --help lacks %q:\n%s", tt.cmd, w, help)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(help, n+"  [") {
					t.Errorf("wattcast %s --help lists %s, which it does not use", tt.cmd, n)
				}
			}
		})
	}
}
