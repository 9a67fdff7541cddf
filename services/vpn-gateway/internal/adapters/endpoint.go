// Package adapters connects vpn-gateway to what it calls: the SSM parameter
// that publishes its device-facing endpoint and the SNS topics operators
// watch (through libs/messaging's notifier).
package adapters

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// SSM is the API subset used here.
type SSM interface {
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, opts ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

// EndpointParameter publishes where devices reach the gateway, as the
// reference's openvpn-onboarding-proxy-server parameter did, so operators
// and device configuration tooling read it instead of asking the instance.
type EndpointParameter struct {
	client SSM
	name   string
}

// NewEndpointParameter writes to the parameter called name.
func NewEndpointParameter(client SSM, name string) *EndpointParameter {
	return &EndpointParameter{client: client, name: name}
}

// Name is the parameter's name.
func (e *EndpointParameter) Name() string { return e.name }

// Publish overwrites the parameter with endpoint (host:port/path).
func (e *EndpointParameter) Publish(ctx context.Context, endpoint string) error {
	_, err := e.client.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(e.name), Value: aws.String(endpoint), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
		Description: aws.String("Device-facing onboarding endpoint of vpn-gateway (tunnel address)"),
	})
	if err != nil {
		return fmt.Errorf("publish endpoint to SSM parameter %s: %w", e.name, err)
	}
	return nil
}
