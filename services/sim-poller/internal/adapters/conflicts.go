package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
)

// ConflictsKey is the lease-table item holding the remembered IP conflicts.
const ConflictsKey = "ip-conflicts"

// maxConflictBytes keeps the item well under DynamoDB's 400 KB (about
// 5,000 conflicts; a 1NCE account with more is corrected in 1NCE first).
const maxConflictBytes = 300 << 10

// conflictWrites bounds the read-modify-write attempts of one change when
// replicas write at once (each attempt is conditional on the version read).
const conflictWrites = 5

// ConflictsAPI is the DynamoDB subset Conflicts calls.
type ConflictsAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Conflicts is app.Conflicts in one item of the lease table (ConflictsKey):
// "conflicts" holds the JSON map IP → claimants, "version" counts writes;
// every write is conditional on the version it read, so replicas never
// lose each other's notes.
type Conflicts struct {
	DB    ConflictsAPI
	Table string
}

var _ app.Conflicts = Conflicts{}

// Claimants returns the remembered conflicts at ips.
func (c Conflicts) Claimants(ctx context.Context, ips []string) (map[string][]string, error) {
	known, _, err := c.read(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, ip := range ips {
		if ids, ok := known[ip]; ok {
			out[ip] = ids
		}
	}
	return out, nil
}

// Note records what a targeted sync saw of checked.
func (c Conflicts) Note(ctx context.Context, checked []string, found map[string][]string) error {
	return c.change(ctx, func(known map[string][]string) map[string][]string {
		return app.MergeConflicts(known, checked, found)
	})
}

// Replace records found as the account's conflicts.
func (c Conflicts) Replace(ctx context.Context, found map[string][]string) error {
	ips := make([]string, 0, len(found))
	for ip := range found {
		ips = append(ips, ip)
	}
	return c.change(ctx, func(map[string][]string) map[string][]string { return app.MergeConflicts(nil, ips, found) })
}

func (c Conflicts) change(ctx context.Context, fn func(map[string][]string) map[string][]string) error {
	for range conflictWrites {
		known, version, err := c.read(ctx)
		if err != nil {
			return err
		}
		next := fn(known)
		if equalConflicts(known, next) {
			return nil
		}
		err = c.write(ctx, next, version)
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return err
		}
	}
	return fmt.Errorf("write %s: changed by other replicas %d times in a row", ConflictsKey, conflictWrites)
}

func (c Conflicts) read(ctx context.Context) (map[string][]string, int64, error) {
	out, err := c.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(c.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"name": &types.AttributeValueMemberS{Value: ConflictsKey}}})
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", ConflictsKey, err)
	}
	known := map[string][]string{}
	if out.Item == nil {
		return known, 0, nil
	}
	if s, ok := out.Item["conflicts"].(*types.AttributeValueMemberS); ok {
		if err := json.Unmarshal([]byte(s.Value), &known); err != nil {
			return nil, 0, fmt.Errorf("decode %s: %w", ConflictsKey, err)
		}
	}
	var version int64
	if n, ok := out.Item["version"].(*types.AttributeValueMemberN); ok {
		version, _ = strconv.ParseInt(n.Value, 10, 64)
	}
	return known, version, nil
}

func (c Conflicts) write(ctx context.Context, conflicts map[string][]string, version int64) error {
	body := bounded(conflicts)
	in := &dynamodb.PutItemInput{TableName: aws.String(c.Table),
		Item: map[string]types.AttributeValue{
			"name":      &types.AttributeValueMemberS{Value: ConflictsKey},
			"conflicts": &types.AttributeValueMemberS{Value: string(body)},
			"version":   &types.AttributeValueMemberN{Value: strconv.FormatInt(version+1, 10)},
		},
		ConditionExpression:       aws.String("attribute_not_exists(#n) OR version = :v"),
		ExpressionAttributeNames:  map[string]string{"#n": "name"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(version, 10)}},
	}
	if _, err := c.DB.PutItem(ctx, in); err != nil {
		return fmt.Errorf("write %s: %w", ConflictsKey, err)
	}
	return nil
}

// bounded encodes conflicts, leaving out the IPs (in order) that would not
// fit maxConflictBytes.
func bounded(conflicts map[string][]string) []byte {
	ips := make([]string, 0, len(conflicts))
	for ip := range conflicts {
		ips = append(ips, ip)
	}
	sort.Strings(ips)
	kept := map[string][]string{}
	size := 2
	for _, ip := range ips {
		b, _ := json.Marshal(map[string][]string{ip: conflicts[ip]})
		if size+len(b) > maxConflictBytes {
			break
		}
		kept[ip], size = conflicts[ip], size+len(b)
	}
	body, _ := json.Marshal(kept)
	return body
}

func equalConflicts(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for ip, ids := range a {
		if fmt.Sprint(ids) != fmt.Sprint(b[ip]) {
			return false
		}
	}
	return true
}
