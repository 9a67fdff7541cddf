package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names of a lease item.
const (
	attrName    = "name"
	attrOwner   = "owner"
	attrToken   = "token"
	attrExpires = "expires_at" // Unix milliseconds
)

// The lease table holds three kinds of items, all keyed by "name": leases
// (this package), the results of sync requests ("sync-result/<id>", one per
// request, kept a day) and the quota heartbeats of the consumer tasks
// (package quota). Only heartbeats carry HeartbeatGroupAttribute, so only
// they appear in HeartbeatIndex: the heartbeat read, every few seconds on
// every task, is a Query on that sparse index whose cost follows the number
// of live tasks, never the number of sync results or leases.
const (
	// HeartbeatIndex is the sparse global secondary index of heartbeats.
	HeartbeatIndex = "heartbeats"
	// HeartbeatGroupAttribute is the index's partition key: the group a
	// heartbeat belongs to (e.g. "quota/iot").
	HeartbeatGroupAttribute = "heartbeat_group"
	// TTLAttribute is the table's time-to-live attribute (Unix seconds):
	// DynamoDB deletes expired sync results and heartbeats left by crashed
	// tasks by itself. Leases never carry it: their holders delete them.
	TTLAttribute = "ttl"
)

// TableDefinition is the table leases live in: one item per lease name,
// on-demand billing, and the sparse HeartbeatIndex (all attributes
// projected: heartbeats are a few hundred bytes). The bootstrap and the
// infrastructure code create it, with TTLAttribute as its time to live.
func TableDefinition(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrName), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(HeartbeatGroupAttribute), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String(attrName), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(HeartbeatIndex),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(HeartbeatGroupAttribute), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrName), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

// errNotOwner means the item no longer carries this holder's token.
var errNotOwner = errors.New("lease item has another holder")

// acquire writes the lease item unless an unexpired one exists, and returns
// the token that proves this acquisition (a restarted holder with the same
// owner name is still another holder).
func (l *Lease) acquire(ctx context.Context) (token string, at time.Time, err error) {
	token, err = newToken()
	if err != nil {
		return "", at, err
	}
	now := l.now()
	_, err = l.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(l.cfg.Table),
		Item: map[string]types.AttributeValue{
			attrName:    str(l.cfg.Name),
			attrOwner:   str(l.cfg.Owner),
			attrToken:   str(token),
			attrExpires: millis(now.Add(l.cfg.TTL)),
		},
		ConditionExpression:                 aws.String("attribute_not_exists(#name) OR #exp < :now"),
		ExpressionAttributeNames:            map[string]string{"#name": attrName, "#exp": attrExpires},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": millis(now)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return "", at, fmt.Errorf("%w: %s%s", ErrHeld, l.cfg.Name, holder(ccf.Item))
	}
	if err != nil {
		return "", at, fmt.Errorf("acquire lease %s: %w", l.cfg.Name, err)
	}
	return token, now, nil
}

// renew sets the expiry to sent+TTL if the item still carries token; the
// call is abandoned at giveUp.
func (l *Lease) renew(ctx context.Context, token string, sent, giveUp time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, giveUp)
	defer cancel()
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.cfg.Table),
		Key:                       map[string]types.AttributeValue{attrName: str(l.cfg.Name)},
		UpdateExpression:          aws.String("SET #exp = :exp"),
		ConditionExpression:       aws.String("#tok = :tok"),
		ExpressionAttributeNames:  map[string]string{"#exp": attrExpires, "#tok": attrToken},
		ExpressionAttributeValues: map[string]types.AttributeValue{":exp": millis(sent.Add(l.cfg.TTL)), ":tok": str(token)},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return errNotOwner
	}
	if err != nil {
		return fmt.Errorf("renew lease %s: %w", l.cfg.Name, err)
	}
	return nil
}

// release deletes the item if it still carries token, so the next run need
// not wait for the TTL; a failure only delays the next holder, so it is logged.
func (l *Lease) release(ctx context.Context, token string) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.TTL)
	defer cancel()
	_, err := l.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(l.cfg.Table),
		Key:                       map[string]types.AttributeValue{attrName: str(l.cfg.Name)},
		ConditionExpression:       aws.String("#tok = :tok"),
		ExpressionAttributeNames:  map[string]string{"#tok": attrToken},
		ExpressionAttributeValues: map[string]types.AttributeValue{":tok": str(token)},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		l.cfg.Logger.Warn("lease not released; it expires on its own", "lease", l.cfg.Name, "ttl", l.cfg.TTL, "error", err)
	}
}

// holder describes the current holder from the item a failed condition returned.
func holder(item map[string]types.AttributeValue) string {
	owner, _ := item[attrOwner].(*types.AttributeValueMemberS)
	exp, _ := item[attrExpires].(*types.AttributeValueMemberN)
	if owner == nil || exp == nil {
		return ""
	}
	ms, err := strconv.ParseInt(exp.Value, 10, 64)
	if err != nil {
		return " (held by " + owner.Value + ")"
	}
	return fmt.Sprintf(" (held by %s until %s)", owner.Value, time.UnixMilli(ms).UTC().Format(time.RFC3339))
}

func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("lease token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func millis(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.UnixMilli(), 10)}
}
