package steps_test

import (
	"errors"
	"testing"

	"github.com/simbridge/simbridge/libs/steps"
)

func TestWrap(t *testing.T) {
	t.Parallel()
	cause := errors.New("throttled")
	err := steps.Wrap("create certificate", cause)
	var s interface{ Step() string }
	if !errors.As(err, &s) || s.Step() != "create certificate" || !errors.Is(err, cause) {
		t.Fatalf("step lost: %v", err)
	}
	if steps.Wrap("x", nil) != nil {
		t.Fatal("nil must stay nil")
	}
}
