// Package simstore keeps SIM records (libs/simrec) in DynamoDB, keyed so
// that the two hot lookups are one request each: by ICCID (table key, used by
// sync and operations) and by IP (global secondary index, used by
// onboarding). Writes are conditional on a version, so a stale message can
// never overwrite newer state. Memory is the in-process twin for unit tests;
// storetest runs one contract suite against both.
package simstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cenkalti/backoff/v5"

	"github.com/simbridge/simbridge/libs/simip"
	"github.com/simbridge/simbridge/libs/simrec"
)

// IPIndex is the global secondary index on the ip attribute.
const IPIndex = "ip-index"

// item is the DynamoDB shape of a Record; the ip attribute is omitted when
// empty so the index stays sparse.
type item struct {
	ICCID        string         `dynamodbav:"iccid"`
	IP           string         `dynamodbav:"ip,omitempty"`
	Active       bool           `dynamodbav:"active"`
	State        simrec.State   `dynamodbav:"state,omitempty"`
	Status       string         `dynamodbav:"status,omitempty"`
	ThingName    string         `dynamodbav:"thing_name,omitempty"`
	Cert         *credentials   `dynamodbav:"cert,omitempty"`
	Next         *credentials   `dynamodbav:"next,omitempty"`
	Retiring     []string       `dynamodbav:"retiring,omitempty"`
	LastCommand  string         `dynamodbav:"last_command,omitempty"`
	ClaimedBy    string         `dynamodbav:"claimed_by,omitempty"`
	ClaimedUntil time.Time      `dynamodbav:"claimed_until,omitempty"`
	LastFailure  *failure       `dynamodbav:"last_failure,omitempty"`
	KeyMode      simrec.KeyMode `dynamodbav:"key_mode,omitempty"`
	Enrolments   []enrolment    `dynamodbav:"enrolments,omitempty"`
	EnrolCount   int            `dynamodbav:"enrol_count,omitempty"`
	LastFetchAt  time.Time      `dynamodbav:"last_fetch_at,omitempty"`
	CreatedAt    time.Time      `dynamodbav:"created_at"`
	UpdatedAt    time.Time      `dynamodbav:"updated_at"`
	Version      int64          `dynamodbav:"version"`
}

// credentials is the DynamoDB shape of simrec.Credentials.
type credentials struct {
	ID            string    `dynamodbav:"id"`
	ARN           string    `dynamodbav:"arn,omitempty"`
	PEM           string    `dynamodbav:"pem"`
	KeyCiphertext []byte    `dynamodbav:"key_ciphertext,omitempty"`
	Authority     string    `dynamodbav:"authority"`
	IssuedAt      time.Time `dynamodbav:"issued_at"`
	Command       string    `dynamodbav:"command,omitempty"`
	AdoptedFrom   string    `dynamodbav:"adopted_from,omitempty"`
	KeySHA256     string    `dynamodbav:"key_sha256,omitempty"`
	DeviceKey     bool      `dynamodbav:"device_key,omitempty"`
}

// enrolment is the DynamoDB shape of simrec.Enrolment.
type enrolment struct {
	At            time.Time `dynamodbav:"at"`
	CertificateID string    `dynamodbav:"certificate_id"`
	Command       string    `dynamodbav:"command"`
}

// failure is the DynamoDB shape of simrec.Failure.
type failure struct {
	Step     string    `dynamodbav:"step"`
	Reason   string    `dynamodbav:"reason"`
	At       time.Time `dynamodbav:"at"`
	Attempts int       `dynamodbav:"attempts"`
	Command  string    `dynamodbav:"command,omitempty"`
}

func toItem(r simrec.Record) item {
	return item{ICCID: r.ICCID, IP: r.IP, Active: r.Active, State: r.State, Status: r.Status, ThingName: r.ThingName,
		Cert: (*credentials)(r.Cert), Next: (*credentials)(r.Next), Retiring: r.Retiring, LastCommand: r.LastCommand,
		ClaimedBy: r.ClaimedBy, ClaimedUntil: r.ClaimedUntil, LastFailure: (*failure)(r.LastFailure),
		KeyMode: r.KeyMode, Enrolments: toEnrolments(r.Enrolments), EnrolCount: r.EnrolCount,
		LastFetchAt: r.LastFetchAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Version: r.Version}
}

func fromItem(i item) simrec.Record {
	return simrec.Record{ICCID: i.ICCID, IP: i.IP, Active: i.Active, State: i.State, Status: i.Status, ThingName: i.ThingName,
		Cert: (*simrec.Credentials)(i.Cert), Next: (*simrec.Credentials)(i.Next), Retiring: i.Retiring, LastCommand: i.LastCommand,
		ClaimedBy: i.ClaimedBy, ClaimedUntil: i.ClaimedUntil, LastFailure: (*simrec.Failure)(i.LastFailure),
		KeyMode: i.KeyMode, Enrolments: fromEnrolments(i.Enrolments), EnrolCount: i.EnrolCount,
		LastFetchAt: i.LastFetchAt, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt, Version: i.Version}
}

// DecodeItem is the record an item of the table holds, for readers that
// scan with a projection of their own (simbridge's listings read no PEMs or
// keys); attributes left out stay zero.
func DecodeItem(av map[string]types.AttributeValue) (simrec.Record, error) {
	var it item
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return simrec.Record{}, err
	}
	return fromItem(it), nil
}

// toEnrolments and fromEnrolments convert a record's enrolments to their
// DynamoDB shape and back; nil stays nil so the attribute stays absent.
func toEnrolments(in []simrec.Enrolment) []enrolment {
	if in == nil {
		return nil
	}
	out := make([]enrolment, len(in))
	for i, e := range in {
		out[i] = enrolment(e)
	}
	return out
}

func fromEnrolments(in []enrolment) []simrec.Enrolment {
	if in == nil {
		return nil
	}
	out := make([]simrec.Enrolment, len(in))
	for i, e := range in {
		out[i] = simrec.Enrolment(e)
	}
	return out
}

// DynamoDB is the API subset the store uses.
type DynamoDB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Dynamo is the store on a DynamoDB table created by TableDefinition.
type Dynamo struct {
	db    DynamoDB
	table string
	now   func() time.Time
	// OnRead, when set, is told the read capacity units each scanned page
	// consumed and how many summaries it held: what a full sync costs.
	OnRead func(units float64, items int)
}

// NewDynamo returns a store on table.
func NewDynamo(db DynamoDB, table string) *Dynamo {
	return &Dynamo{db: db, table: table, now: time.Now}
}

// Get reads one record by ICCID with a strongly consistent read.
func (s *Dynamo) Get(ctx context.Context, iccid string) (simrec.Record, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{"iccid": &types.AttributeValueMemberS{Value: iccid}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return simrec.Record{}, fmt.Errorf("get sim %s: %w", iccid, err)
	}
	if out.Item == nil {
		return simrec.Record{}, fmt.Errorf("get sim %s: %w", iccid, simrec.ErrNotFound)
	}
	var it item
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return simrec.Record{}, fmt.Errorf("decode sim %s: %w", iccid, err)
	}
	return fromItem(it), nil
}

// Peek reads one record's summary with an eventually consistent read, half
// the cost of Get's: for decisions a moment-old state cannot make wrong
// (whether an event can be ignored), never for a write's base.
func (s *Dynamo) Peek(ctx context.Context, iccid string) (simrec.Summary, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      map[string]types.AttributeValue{"iccid": &types.AttributeValueMemberS{Value: iccid}},
		ProjectionExpression:     aws.String("iccid, ip, active, #st, #s, version"),
		ExpressionAttributeNames: map[string]string{"#s": "status", "#st": "state"},
	})
	if err != nil {
		return simrec.Summary{}, fmt.Errorf("peek sim %s: %w", iccid, err)
	}
	if out.Item == nil {
		return simrec.Summary{}, fmt.Errorf("peek sim %s: %w", iccid, simrec.ErrNotFound)
	}
	var it item
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return simrec.Summary{}, fmt.Errorf("decode sim %s: %w", iccid, err)
	}
	return fromItem(it).Summary(), nil
}

// GetMany reads the records of iccids with BatchGetItem, 100 a request
// (one round trip where Get takes one per SIM: a burst of Data Streamer
// hints names a hundred SIMs at once), strongly consistent unless peek.
// SIMs without a record are absent from the map. With peek it reads only
// the summary's attributes (Peek's).
func (s *Dynamo) GetMany(ctx context.Context, iccids []string, peek bool) (map[string]simrec.Record, error) {
	out := make(map[string]simrec.Record, len(iccids))
	for chunk := range slices.Chunk(iccids, 100) {
		keys := make([]map[string]types.AttributeValue, 0, len(chunk))
		seen := map[string]bool{}
		for _, id := range chunk {
			if !seen[id] {
				seen[id] = true
				keys = append(keys, s.key(id))
			}
		}
		ka := types.KeysAndAttributes{Keys: keys, ConsistentRead: aws.Bool(!peek)}
		if peek {
			ka.ProjectionExpression = aws.String("iccid, ip, active, #st, #s, version")
			ka.ExpressionAttributeNames = map[string]string{"#s": "status", "#st": "state"}
		}
		if err := s.batchGet(ctx, ka, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// batchGet reads one BatchGetItem request's keys, asking again for the
// keys DynamoDB leaves unprocessed (it does under load), with backoff.
func (s *Dynamo) batchGet(ctx context.Context, ka types.KeysAndAttributes, out map[string]simrec.Record) error {
	pending := map[string]types.KeysAndAttributes{s.table: ka}
	policy := backoff.NewExponentialBackOff()
	policy.InitialInterval = 50 * time.Millisecond
	for len(pending[s.table].Keys) > 0 {
		res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
		if err != nil {
			return fmt.Errorf("read sims: %w", err)
		}
		for _, av := range res.Responses[s.table] {
			var it item
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return fmt.Errorf("decode sim: %w", err)
			}
			out[it.ICCID] = fromItem(it)
		}
		pending = res.UnprocessedKeys
		if len(pending[s.table].Keys) > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(policy.NextBackOff()):
			}
		}
	}
	return nil
}

// FindByIP returns every record holding ip (normally one; more means two SIMs
// claim the address and the caller must refuse to choose).
func (s *Dynamo) FindByIP(ctx context.Context, ip string) ([]simrec.Record, error) {
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
	recs := make([]simrec.Record, len(items))
	for i, it := range items {
		recs[i] = fromItem(it)
	}
	return recs, nil
}

// Create stores a new record with version 1; ErrConflict if the ICCID exists.
func (s *Dynamo) Create(ctx context.Context, r simrec.Record) (simrec.Record, error) {
	if err := normalizeIP(&r); err != nil {
		return simrec.Record{}, err
	}
	now := s.now().UTC()
	r.Version, r.CreatedAt, r.UpdatedAt = 1, now, now
	return r, s.put(ctx, r, "attribute_not_exists(iccid)", nil)
}

// Update replaces the record if its stored version still equals r.Version and
// returns it with the next version; ErrConflict otherwise. It writes every
// attribute the record owns and removes the empty ones, but leaves
// last_fetch_at to onboarding-api, which writes it without a version.
func (s *Dynamo) Update(ctx context.Context, r simrec.Record) (simrec.Record, error) {
	if err := normalizeIP(&r); err != nil {
		return simrec.Record{}, err
	}
	expected := r.Version
	r.Version++
	r.UpdatedAt = s.now().UTC()
	av, err := attributevalue.MarshalMap(toItem(r))
	if err != nil {
		return simrec.Record{}, fmt.Errorf("encode sim %s: %w", r.ICCID, err)
	}
	delete(av, attrICCID)
	delete(av, attrLastFetch)
	names := map[string]string{"#version": attrVersion}
	values := map[string]types.AttributeValue{":expected": &types.AttributeValueMemberN{Value: strconv.FormatInt(expected, 10)}}
	var sets, removes []string
	for i, k := range slices.Sorted(maps.Keys(av)) {
		names[fmt.Sprintf("#s%d", i)], values[fmt.Sprintf(":s%d", i)] = k, av[k]
		sets = append(sets, fmt.Sprintf("#s%d = :s%d", i, i))
	}
	for i, k := range optionalAttrs {
		if _, set := av[k]; !set {
			names[fmt.Sprintf("#r%d", i)] = k
			removes = append(removes, fmt.Sprintf("#r%d", i))
		}
	}
	expr := "SET " + strings.Join(sets, ", ")
	if len(removes) > 0 {
		expr += " REMOVE " + strings.Join(removes, ", ")
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: s.key(r.ICCID), UpdateExpression: aws.String(expr),
		ConditionExpression:       aws.String("#version = :expected"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	return r, writeErr(r.ICCID, err)
}

// Attribute names the store writes explicitly.
const (
	attrICCID     = "iccid"
	attrVersion   = "version"
	attrLastFetch = "last_fetch_at"
	attrFailure   = "last_failure"
)

// optionalAttrs are the attributes Update removes when the record has none.
var optionalAttrs = []string{"ip", "state", "status", "thing_name", "cert", "next", "retiring", "last_command",
	"claimed_by", "claimed_until", attrFailure, "key_mode", "enrolments", "enrol_count"}

func (s *Dynamo) key(iccid string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrICCID: &types.AttributeValueMemberS{Value: iccid}}
}

// RecordFailure stores the last failed attempt at a SIM's command, without
// a version: it is information for operators, not state commands decide on.
func (s *Dynamo) RecordFailure(ctx context.Context, iccid string, f simrec.Failure) error {
	fv, err := attributevalue.Marshal(failure(f))
	if err != nil {
		return fmt.Errorf("encode failure of %s: %w", iccid, err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: s.key(iccid),
		UpdateExpression:          aws.String("SET #f = :f"),
		ConditionExpression:       aws.String("attribute_exists(iccid)"),
		ExpressionAttributeNames:  map[string]string{"#f": attrFailure},
		ExpressionAttributeValues: map[string]types.AttributeValue{":f": fv},
	})
	if err := writeErr(iccid, err); err != nil && !errors.Is(err, simrec.ErrConflict) {
		return err
	}
	return nil
}

// ClearFailure removes the last failure if command recorded it (a later
// attempt of that command found nothing left to do).
func (s *Dynamo) ClearFailure(ctx context.Context, iccid, command string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: s.key(iccid),
		UpdateExpression:          aws.String("REMOVE #f"),
		ConditionExpression:       aws.String("#f.#c = :c"),
		ExpressionAttributeNames:  map[string]string{"#f": attrFailure, "#c": "command"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberS{Value: command}},
	})
	if err := writeErr(iccid, err); err != nil && !errors.Is(err, simrec.ErrConflict) {
		return err
	}
	return nil
}

// RecordFetch stores when the device of a SIM last fetched its
// credentials, if later than what is stored; no version, no other attribute.
func (s *Dynamo) RecordFetch(ctx context.Context, iccid string, at time.Time) error {
	t, err := attributevalue.Marshal(at.UTC())
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: s.key(iccid),
		UpdateExpression:          aws.String("SET #t = :t"),
		ConditionExpression:       aws.String("attribute_exists(iccid) AND (attribute_not_exists(#t) OR #t < :t)"),
		ExpressionAttributeNames:  map[string]string{"#t": attrLastFetch},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": t},
	})
	if err := writeErr(iccid, err); err != nil && !errors.Is(err, simrec.ErrConflict) {
		return err
	}
	return nil
}

func writeErr(iccid string, err error) error {
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ccf):
		return fmt.Errorf("write sim %s: %w", iccid, simrec.ErrConflict)
	default:
		return fmt.Errorf("write sim %s: %w", iccid, err)
	}
}

func (s *Dynamo) put(ctx context.Context, r simrec.Record, cond string, values map[string]types.AttributeValue) error {
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
	return writeErr(r.ICCID, err)
}

// Scan calls fn with the summary of every record, one page at a time, so
// memory stays bounded by a page plus what fn keeps. It reads SummaryIndex,
// so a SIM costs about a hundred bytes of read capacity, not its whole item;
// like every global secondary index the summary is eventually consistent
// (a write shows there within a second, usually milliseconds), so callers
// that act on a summary re-read the record first.
func (s *Dynamo) Scan(ctx context.Context, fn func(simrec.Summary) error) error {
	return s.scanPages(ctx, &dynamodb.ScanInput{
		TableName: aws.String(s.table), IndexName: aws.String(SummaryIndex),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
	}, fn)
}

// scanPages reads a scan page by page, reporting the read capacity each
// page consumed.
func (s *Dynamo) scanPages(ctx context.Context, in *dynamodb.ScanInput, fn func(simrec.Summary) error) error {
	p := dynamodb.NewScanPaginator(s.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan sim summaries: %w", err)
		}
		if s.OnRead != nil && page.ConsumedCapacity != nil {
			s.OnRead(aws.ToFloat64(page.ConsumedCapacity.CapacityUnits), len(page.Items))
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
