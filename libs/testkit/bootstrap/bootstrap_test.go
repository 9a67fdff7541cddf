package bootstrap_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/simbridge/simbridge/libs/lease"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func TestEnsureIsIdempotentAndComplete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testkit.AWSConfig(t)
	names := bootstrap.Names{Prefix: testkit.Name(t)}
	first, err := bootstrap.Ensure(ctx, cfg, names, bootstrap.Options{MaxReceiveCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	second, err := bootstrap.Ensure(ctx, cfg, names, bootstrap.Options{MaxReceiveCount: 3})
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if first != second {
		t.Fatalf("second run changed identifiers:\n%+v\n%+v", first, second)
	}

	q := sqs.NewFromConfig(cfg)
	for _, url := range []string{first.CreateQueueURL, first.DisableQueueURL, first.SyncQueueURL} {
		attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		if attrs.Attributes["FifoQueue"] != "true" {
			t.Errorf("%s is not FIFO", url)
		}
		var redrive struct {
			Target string `json:"deadLetterTargetArn"`
			Max    any    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(attrs.Attributes["RedrivePolicy"]), &redrive); err != nil || !strings.Contains(redrive.Target, "-dlq.fifo") {
			t.Errorf("%s has no DLQ: %q (%v)", url, attrs.Attributes["RedrivePolicy"], err)
		}
	}

	pol, err := iot.NewFromConfig(cfg).GetPolicy(ctx, &iot.GetPolicyInput{PolicyName: aws.String(names.Policy())})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(*pol.PolicyDocument, "client/${iot:Connection.Thing.ThingName}") ||
		!strings.Contains(*pol.PolicyDocument, "topicfilter/${iot:Connection.Thing.ThingName}/*") {
		t.Errorf("policy does not restrict to the thing: %s", *pol.PolicyDocument)
	}
	sec, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(names.APIKeySecret())})
	if err != nil || len(*sec.SecretString) < 32 {
		t.Errorf("api key secret missing or weak: %v", err)
	}
	env := strings.Join(first.Env(), "\n")
	if _, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(names.Leases())}); err != nil {
		t.Errorf("lease table: %v", err)
	}
	ttl, err := dynamodb.NewFromConfig(cfg).DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(names.Leases())})
	if err != nil || ttl.TimeToLiveDescription == nil || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != lease.TTLAttribute ||
		ttl.TimeToLiveDescription.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled {
		t.Errorf("lease table's time to live: %+v (%v); want %q enabled, so sync results and dead heartbeats expire", ttl, err, lease.TTLAttribute)
	}
	for _, k := range []string{"SIM_TABLE=", "LEASE_TABLE=", "CREATE_QUEUE=", "SUCCESS_TOPIC_ARN=arn:", "KMS_KEY_ID=arn:", "IOT_POLICY_NAME="} {
		if !strings.Contains(env, k) {
			t.Errorf("env lacks %s: %s", k, env)
		}
	}
}

func TestEnsureRefusesEmptyPrefix(t *testing.T) {
	t.Parallel()
	if _, err := bootstrap.Ensure(context.Background(), aws.Config{}, bootstrap.Names{}, bootstrap.Options{}); err == nil {
		t.Fatal("want error")
	}
}
