package lake

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// IsRetryable reports whether err is a failure that may go away if the same
// request is tried again later: S3 throttling and 5xx answers, request
// timeouts, refused or reset connections, and a full or failing local disk.
// Errors that need an operator (access denied, no such bucket, a bad key),
// missing objects and cancellation of the caller's own context are not.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, errBadKey) {
		return false
	}
	switch st := httpStatus(err); {
	case st == 429 || st >= 500:
		return true
	case st == 409 && apiCode(err) == "ConditionalRequestConflict":
		// Another conditional write to the same key is in flight.
		return true
	case st != 0:
		return false
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary ||
		retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
		return true
	}
	// The SDK gives up with a wrapped DeadlineExceeded when its own
	// per-attempt timeout fires; our caller's deadline is checked by the
	// caller, so a timeout here means the store was slow.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	for _, errno := range []syscall.Errno{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, syscall.ETIMEDOUT,
		syscall.ENOSPC, syscall.EIO, syscall.EAGAIN, syscall.EBUSY, syscall.EINTR, syscall.EDQUOT,
	} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}
