package schemas

import "testing"

func TestTopicSetGroup(t *testing.T) {
	tests := []struct {
		prefix, base, want string
	}{
		{"", "wattcast-processor", "wattcast-processor"},
		{DefaultTopicPrefix, "wattcast-processor", "wattcast-processor"},
		{"staging.", "wattcast-processor", "wattcast-processor.staging"},
		{"itest-1-kills.", "wattcast-lakesink", "wattcast-lakesink.itest-1-kills"},
		{"dev", "wattcast-scorer", "wattcast-scorer.dev"},
	}
	for _, tt := range tests {
		if got := NewTopicSet(tt.prefix).Group(tt.base); got != tt.want {
			t.Errorf("NewTopicSet(%q).Group(%q) = %q, want %q", tt.prefix, tt.base, got, tt.want)
		}
	}
	// Two topic sets on one cluster must never share a group.
	if a, b := NewTopicSet("a.").Group("g"), NewTopicSet("b.").Group("g"); a == b {
		t.Errorf("prefixes a. and b. share group %q", a)
	}
}
