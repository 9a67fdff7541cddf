package adapters_test

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/adapters"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// TestIoTEndpoint: a configured endpoint is used as is (the emulator gives
// a different host per call, so tests and local runs configure it);
// otherwise IoT Core is asked once.
func TestIoTEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if got, err := adapters.IoTEndpoint(ctx, nil, "ep.example"); err != nil || got != "ep.example" {
		t.Fatalf("configured: %q %v", got, err)
	}
	got, err := adapters.IoTEndpoint(ctx, iot.NewFromConfig(testkit.AWSConfig(t)), "")
	if err != nil || got == "" {
		t.Fatalf("described: %q %v", got, err)
	}
}
