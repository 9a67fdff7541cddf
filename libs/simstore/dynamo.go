package simstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/simbridge/simbridge/libs/simip"
)

// IPIndex is the global secondary index on the ip attribute.
const IPIndex = "ip-index"

// item is the DynamoDB shape of a Record; the ip attribute is omitted when
// empty so the index stays sparse.
type item struct {
	ICCID        string       `dynamodbav:"iccid"`
	IP           string       `dynamodbav:"ip,omitempty"`
	Active       bool         `dynamodbav:"active"`
	State        State        `dynamodbav:"state,omitempty"`
	Status       string       `dynamodbav:"status,omitempty"`
	ThingName    string       `dynamodbav:"thing_name,omitempty"`
	Cert         *Credentials `dynamodbav:"cert,omitempty"`
	Next         *Credentials `dynamodbav:"next,omitempty"`
	Retiring     []string     `dynamodbav:"retiring,omitempty"`
	LastCommand  string       `dynamodbav:"last_command,omitempty"`
	ClaimedBy    string       `dynamodbav:"claimed_by,omitempty"`
	ClaimedUntil time.Time    `dynamodbav:"claimed_until,omitempty"`
	LastFailure  *Failure     `dynamodbav:"last_failure,omitempty"`
	LastFetchAt  time.Time    `dynamodbav:"last_fetch_at,omitempty"`
	CreatedAt    time.Time    `dynamodbav:"created_at"`
	UpdatedAt    time.Time    `dynamodbav:"updated_at"`
	Version      int64        `dynamodbav:"version"`
}

func toItem(r Record) item   { return item(r) }
func fromItem(i item) Record { return Record(i) }

// DynamoDB is the API subset the store uses.
type DynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Dynamo is the store on a DynamoDB table created by TableDefinition.
type Dynamo struct {
	db    DynamoDB
	table string
	now   func() time.Time
}

// NewDynamo returns a store on table.
func NewDynamo(db DynamoDB, table string) *Dynamo {
	return &Dynamo{db: db, table: table, now: time.Now}
}

// Get reads one record by ICCID with a strongly consistent read.
func (s *Dynamo) Get(ctx context.Context, iccid string) (Record, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{"iccid": &types.AttributeValueMemberS{Value: iccid}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Record{}, fmt.Errorf("get sim %s: %w", iccid, err)
	}
	if out.Item == nil {
		return Record{}, fmt.Errorf("get sim %s: %w", iccid, ErrNotFound)
	}
	var it item
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return Record{}, fmt.Errorf("decode sim %s: %w", iccid, err)
	}
	return fromItem(it), nil
}

// FindByIP returns every record holding ip (normally one; more means two SIMs
// claim the address and the caller must refuse to choose).
func (s *Dynamo) FindByIP(ctx context.Context, ip string) ([]Record, error) {
	ip, err := simip.Normalize(ip)
	if err != nil {
		return nil, fmt.Errorf("find sim by ip: %w", err)
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(IPIndex),
		KeyConditionExpression:    aws.String("ip = :ip"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":ip": &types.AttributeValueMemberS{Value: ip}},
	})
	if err != nil {
		return nil, fmt.Errorf("find sim by ip %s: %w", ip, err)
	}
	var items []item
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		return nil, fmt.Errorf("decode sims of ip %s: %w", ip, err)
	}
	recs := make([]Record, len(items))
	for i, it := range items {
		recs[i] = fromItem(it)
	}
	return recs, nil
}

// Create stores a new record with version 1; ErrConflict if the ICCID exists.
func (s *Dynamo) Create(ctx context.Context, r Record) (Record, error) {
	if err := normalizeIP(&r); err != nil {
		return Record{}, err
	}
	now := s.now().UTC()
	r.Version, r.CreatedAt, r.UpdatedAt = 1, now, now
	return r, s.put(ctx, r, "attribute_not_exists(iccid)", nil)
}

// Update replaces the record if its stored version still equals r.Version and
// returns it with the next version; ErrConflict otherwise.
func (s *Dynamo) Update(ctx context.Context, r Record) (Record, error) {
	if err := normalizeIP(&r); err != nil {
		return Record{}, err
	}
	expected := r.Version
	r.Version++
	r.UpdatedAt = s.now().UTC()
	cond := map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(expected, 10)}}
	return r, s.put(ctx, r, "version = :v", cond)
}

func (s *Dynamo) put(ctx context.Context, r Record, cond string, values map[string]types.AttributeValue) error {
	av, err := attributevalue.MarshalMap(toItem(r))
	if err != nil {
		return fmt.Errorf("encode sim %s: %w", r.ICCID, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      av,
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("write sim %s: %w", r.ICCID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("write sim %s: %w", r.ICCID, err)
	}
	return nil
}

// Scan calls fn with the summary of every record, one page at a time, so
// memory stays bounded by a page plus what fn keeps.
func (s *Dynamo) Scan(ctx context.Context, fn func(Summary) error) error {
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{
		TableName:                aws.String(s.table),
		ProjectionExpression:     aws.String("iccid, ip, active, #st, #s, version, last_command"),
		ExpressionAttributeNames: map[string]string{"#s": "status", "#st": "state"},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan sims: %w", err)
		}
		for _, av := range page.Items {
			var it item
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return fmt.Errorf("decode scanned sim: %w", err)
			}
			if err := fn(fromItem(it).Summary()); err != nil {
				return err
			}
		}
	}
	return nil
}
