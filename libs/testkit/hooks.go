package testkit

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// BeforeSending returns a copy of cfg whose clients call hook each time an
// operation named op (e.g. "ReceiveMessage") is about to go on the wire,
// after signing and retries: a test learns that a call is under way (a long
// poll waiting in the emulator) without waiting for time to pass.
func BeforeSending(cfg aws.Config, op string, hook func()) aws.Config {
	out := cfg.Copy()
	mw := middleware.DeserializeMiddlewareFunc("testkitBeforeSending", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
		if awsmiddleware.GetOperationName(ctx) == op {
			hook()
		}
		return next.HandleDeserialize(ctx, in)
	})
	out.APIOptions = append(append([]func(*middleware.Stack) error(nil), cfg.APIOptions...),
		func(s *middleware.Stack) error { return s.Deserialize.Add(mw, middleware.After) })
	return out
}
