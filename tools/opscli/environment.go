package opscli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// Resource is one resource an environment must have, and whether it was
// found where the command looked.
type Resource struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Exists bool   `json:"exists"`
}

// resources are what every command checks before it answers: the tables,
// the queues and their dead-letter queues, the topics. An empty DLQ of a
// queue that does not exist must never read as "healthy".
func (s *session) resources() []Resource {
	n := s.names
	return []Resource{
		{Kind: "table", Name: n.Table()}, {Kind: "table", Name: n.Leases()},
		{Kind: "queue", Name: n.CreateQueue()}, {Kind: "queue", Name: n.CreateDLQ()},
		{Kind: "queue", Name: n.UpdateQueue()}, {Kind: "queue", Name: n.UpdateDLQ()},
		{Kind: "queue", Name: n.DisableQueue()}, {Kind: "queue", Name: n.DisableDLQ()},
		{Kind: "queue", Name: n.SyncQueue()}, {Kind: "queue", Name: n.SyncDLQ()},
		{Kind: "topic", Name: n.FailureTopic()}, {Kind: "topic", Name: n.SuccessTopic()},
	}
}

// survey looks each resource up, concurrently. It starts its goroutines
// with go statements rather than an errgroup: every command runs it, and
// tests/deploy derives each command's IAM grants from a call graph that
// cannot tell apart the functions handed to one errgroup.Go.
func (s *session) survey(ctx context.Context) ([]Resource, error) {
	res := s.resources()
	errs := make([]error, len(res))
	var wg sync.WaitGroup
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i].Exists, errs[i] = s.exists(ctx, res[i])
		}()
	}
	wg.Wait()
	return res, errors.Join(errs...)
}

func (s *session) exists(ctx context.Context, r Resource) (bool, error) {
	switch r.Kind {
	case "table":
		_, err := s.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(r.Name)})
		var nf *ddbtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return false, nil
		}
		return err == nil, err
	case "queue":
		_, err := s.queueURL(ctx, r.Name)
		if errors.Is(err, errQueueMissing) {
			return false, nil
		}
		return err == nil, err
	default:
		topic, err := s.topicARN(ctx, r.Name)
		if err != nil {
			return false, err
		}
		_, err = s.sns.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(topic)})
		var nf *snstypes.NotFoundException
		if errors.As(err, &nf) {
			return false, nil
		}
		return err == nil, err
	}
}

// checkEnvironment fails unless every resource of the environment exists
// in the account and region the command targets: a mistyped prefix, the
// wrong region or profile must not answer "no messages" or "nothing to do".
func (s *session) checkEnvironment(ctx context.Context) error {
	res, err := s.survey(ctx)
	if err != nil {
		return err
	}
	var missing []string
	for _, r := range res {
		if !r.Exists {
			missing = append(missing, r.Kind+" "+r.Name)
		}
	}
	switch {
	case len(missing) == 0:
		return nil
	case len(missing) == len(res):
		return fmt.Errorf("%s does not exist: none of its tables, queues or topics (e.g. %s) were found; check --prefix/--env, the region (--region, AWS_REGION) and the account (AWS_PROFILE)",
			s.where(ctx), missing[0])
	default:
		return fmt.Errorf("%s is incomplete: missing %s (is its stack deployed?)", s.where(ctx), strings.Join(missing, ", "))
	}
}
