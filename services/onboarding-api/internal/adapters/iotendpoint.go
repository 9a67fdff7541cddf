package adapters

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// EndpointDescriber is the IoT Core call IoTEndpoint makes.
type EndpointDescriber interface {
	DescribeEndpoint(ctx context.Context, in *iot.DescribeEndpointInput, opts ...func(*iot.Options)) (*iot.DescribeEndpointOutput, error)
}

// IoTEndpoint returns the configured endpoint, or asks IoT Core once for the
// account's ATS data endpoint: every answer carries it, so it is looked up
// at start, never per request.
func IoTEndpoint(ctx context.Context, client EndpointDescriber, configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	out, err := client.DescribeEndpoint(ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Data-ATS")})
	if err != nil {
		return "", fmt.Errorf("describe IoT endpoint (or set IOT_ENDPOINT): %w", err)
	}
	return aws.ToString(out.EndpointAddress), nil
}
