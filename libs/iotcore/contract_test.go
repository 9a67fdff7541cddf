package iotcore_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/iotcore/iotcoretest"
	"github.com/simbridge/simbridge/libs/testkit"
)

// The contract the in-memory fake (iotfake) also passes, on the emulator.
func TestClientContract(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testkit.AWSConfig(t)
	api := iot.NewFromConfig(cfg)
	policy := testkit.Name(t)
	if _, err := api.CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(policy), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	k := kms.NewFromConfig(cfg)
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := iotca.NewSigner(ctx, k, aws.ToString(key.KeyMetadata.Arn))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := iotca.Ensure(ctx, signer, api, ssm.NewFromConfig(cfg), iotca.Setup{Name: policy, Parameter: policy})
	if err != nil {
		t.Fatal(err)
	}
	iotcoretest.Run(t, func(t *testing.T) iotcoretest.Subject {
		return iotcoretest.Subject{
			IoT: iotcore.New(api), Policy: policy, ThingType: policy, Name: func(t *testing.T) string { return testkit.Name(t) },
			Status: func(t *testing.T, id string) types.CertificateStatus {
				d, err := api.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
				if err != nil {
					return ""
				}
				return d.CertificateDescription.Status
			},
			Foreign: func(t *testing.T, name string) {
				if _, err := api.CreateThing(ctx, &iot.CreateThingInput{ThingName: aws.String(name)}); err != nil {
					t.Fatal(err)
				}
			},
			Issue: func(t *testing.T) (string, string, string) {
				is, err := ca.Issue(ctx, "8988280666000000001", iotca.KeyECP256, 24*time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				return is.CertPEM, ca.PEM, is.ID
			},
		}
	})
}
