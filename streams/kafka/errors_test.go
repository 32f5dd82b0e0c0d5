package kafka

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Only errors no retry can fix are refusals, wrapped or not; each comes
// with what to change.
func TestRefusal(t *testing.T) {
	cases := []struct {
		err     error
		refusal bool
	}{
		{kerr.InvalidSessionTimeout, true},
		{kerr.GroupAuthorizationFailed, true},
		{kerr.TopicAuthorizationFailed, true},
		{kerr.TransactionalIDAuthorizationFailed, true},
		{kerr.InvalidGroupID, true},
		{fmt.Errorf("unable to join group session: %w", kerr.GroupAuthorizationFailed), true},
		{kerr.NotCoordinator, false},
		{kerr.UnknownTopicOrPartition, false},
		{kerr.RebalanceInProgress, false},
		{context.DeadlineExceeded, false},
		{errors.New("dial tcp 127.0.0.1:9092: connect: connection refused"), false},
	}
	for _, c := range cases {
		t.Run(c.err.Error(), func(t *testing.T) {
			if got := Refusal(c.err); (got != "") != c.refusal {
				t.Fatalf("Refusal(%v) = %q, want a refusal: %v", c.err, got, c.refusal)
			}
		})
	}
}
