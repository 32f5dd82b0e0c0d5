package kafka

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Refused returns the first error of fs that no retry can fix, naming the
// partition and saying what to do (Refusal), or nil.
func Refused(fs kgo.Fetches) error {
	var refused error
	fs.EachError(func(t string, p int32, err error) {
		if hint := Refusal(err); hint != "" && refused == nil {
			refused = fmt.Errorf("read %s[%d]: %w (%s)", t, p, err, hint)
		}
	})
	return refused
}

// Refusal returns what to do about an error no retry can fix (the broker
// refuses this configuration or these credentials), or "" for any other.
// Consumers stop on these rather than log a warning for ever.
func Refusal(err error) string {
	switch {
	case errors.Is(err, kerr.InvalidSessionTimeout):
		return "the session timeout is outside the broker's group.min.session.timeout.ms .. group.max.session.timeout.ms"
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return "the credentials may not use this consumer group: grant it (on MSK with IAM, kafka-cluster:AlterGroup and DescribeGroup on the group)"
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return "the credentials may not read these topics: grant it (on MSK with IAM, kafka-cluster:ReadData and DescribeTopic)"
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return "the credentials may not use this transactional id: grant it (on MSK with IAM, kafka-cluster:DescribeTransactionalId and AlterTransactionalId on the transactional id)"
	case errors.Is(err, kerr.InvalidGroupID):
		return "the group id is empty or invalid"
	}
	return ""
}
