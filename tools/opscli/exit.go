package opscli

import (
	"context"
	"errors"
	"fmt"
)

// Exit codes; see the package documentation.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitAttention   = 3
	ExitTimeout     = 4
	ExitInterrupted = 130
)

// exitError carries an exit code other than ExitError up to Main; its
// message (if any) is printed to stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// attention ends a command with ExitAttention after it printed its answer.
func attention(format string, args ...any) error {
	return &exitError{code: ExitAttention, msg: fmt.Sprintf(format, args...)}
}

// usageError is a bad argument: ExitUsage.
func usageError(format string, args ...any) error {
	return &exitError{code: ExitUsage, msg: fmt.Sprintf(format, args...)}
}

// timedOut ends a wait that ran out of time: ExitTimeout.
func timedOut(format string, args ...any) error {
	return &exitError{code: ExitTimeout, msg: fmt.Sprintf(format, args...)}
}

// exitCode maps a command's error to the process exit code.
func exitCode(ctx context.Context, err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return ExitInterrupted
	default:
		return ExitError
	}
}
