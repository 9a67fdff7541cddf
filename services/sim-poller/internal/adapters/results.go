package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// ResultTTL is how long a request's result is kept.
const ResultTTL = 24 * time.Hour

// maxSummaryBytes keeps a result item well under DynamoDB's 400 KB.
const maxSummaryBytes = 300 << 10

// ResultPutter is the DynamoDB call Results makes.
type ResultPutter interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Results writes each request's result to the lease table, as
// events.SyncResultKey documents: "name" = sync-result/<id>, "status",
// "summary" (JSON), "finished_at" (RFC 3339), "expires_at" (Unix ms, a
// day later); "ttl" (Unix seconds, the same time) lets DynamoDB's TTL
// delete it.
type Results struct {
	DB    ResultPutter
	Table string
}

// Put writes r under id, replacing an earlier result of the same request.
func (s Results) Put(ctx context.Context, id string, r app.Result) error {
	summary, err := json.Marshal(r.Summary)
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	if len(summary) > maxSummaryBytes {
		summary, _ = json.Marshal(map[string]string{"error": "summary too large to store", "status": r.Status})
	}
	expires := r.FinishedAt.Add(ResultTTL)
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table),
		Item: map[string]types.AttributeValue{
			"name":        &types.AttributeValueMemberS{Value: events.SyncResultKey(id)},
			"status":      &types.AttributeValueMemberS{Value: r.Status},
			"summary":     &types.AttributeValueMemberS{Value: string(summary)},
			"finished_at": &types.AttributeValueMemberS{Value: r.FinishedAt.UTC().Format(time.RFC3339)},
			"expires_at":  &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.UnixMilli(), 10)},
			"ttl":         &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.Unix(), 10)},
		},
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", events.SyncResultKey(id), err)
	}
	return nil
}
