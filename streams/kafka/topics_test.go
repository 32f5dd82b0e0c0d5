package kafka

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/wattcast/wattcast/schemas"
)

// checkTopics names what is wrong with a topic after creation: missing from
// the metadata, failed (the Kafka error stays in the chain), or a region
// topic with the wrong partition count.
func TestCheckTopics(t *testing.T) {
	t.Parallel()
	spec := schemas.TopicSpec{Name: "wattcast.prices", Schema: "price", Key: "region", Partitions: 3}
	parts := func(n int32) kadm.PartitionDetails {
		ps := kadm.PartitionDetails{}
		for i := range n {
			ps[i] = kadm.PartitionDetail{Topic: spec.Name, Partition: i}
		}
		return ps
	}
	tests := []struct {
		name    string
		details kadm.TopicDetails
		wantIs  error    // errors.Is target, if any
		want    []string // substrings of the error; none: no error
		notWant []string
	}{
		{name: "available", details: kadm.TopicDetails{spec.Name: {Topic: spec.Name, Partitions: parts(3)}}},
		{name: "missing from the metadata", details: kadm.TopicDetails{},
			want: []string{"topic wattcast.prices is missing from the cluster's metadata", "run again"}, notWant: []string{"<nil>"}},
		{name: "failed", details: kadm.TopicDetails{spec.Name: {Topic: spec.Name, Err: kerr.TopicAuthorizationFailed}},
			wantIs: kerr.TopicAuthorizationFailed, want: []string{"topic wattcast.prices is not available after creation", "TOPIC_AUTHORIZATION_FAILED"}},
		{name: "wrong partition count", details: kadm.TopicDetails{spec.Name: {Topic: spec.Name, Partitions: parts(2)}},
			want: []string{"has 2 partitions, want 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkTopics([]schemas.TopicSpec{spec}, tt.details)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("checkTopics: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("checkTopics: nil, want an error with %q", tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.wantIs)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			for _, s := range tt.notWant {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains %q", err, s)
				}
			}
		})
	}
}
