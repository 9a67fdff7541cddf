package sqsstub_test

import (
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// TestBootstrapQueuesOnStub runs the bootstrap the way devstack's FastSQS
// does — queues on the stub, everything else on moto — twice, since the
// second run takes the other path (GetQueueUrl, SetQueueAttributes).
func TestBootstrapQueuesOnStub(t *testing.T) {
	t.Parallel()
	s := startStub(t)
	moto := testkit.AWSConfig(t)
	names := bootstrap.Names{Prefix: testkit.Name(t)}
	var res bootstrap.Resources
	for range 2 {
		var err error
		res, err = bootstrap.Ensure(s.ctx, moto, names, bootstrap.Options{SQSEndpoint: s.endpoint})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasPrefix(res.CreateQueueURL, s.endpoint) {
		t.Errorf("create queue %s is not on the stub %s", res.CreateQueueURL, s.endpoint)
	}
	redrive := s.attrs(res.CreateQueueURL, types.QueueAttributeNameRedrivePolicy)["RedrivePolicy"]
	if !strings.Contains(redrive, names.CreateDLQ()) || !strings.Contains(redrive, `"maxReceiveCount":5`) {
		t.Errorf("RedrivePolicy %s", redrive)
	}
	_, err := sqs.NewFromConfig(moto).GetQueueUrl(s.ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(names.CreateQueue())})
	if !as[*types.QueueDoesNotExist](err) {
		t.Errorf("the queue must not be on moto too: %v", err)
	}
}
