package bootstrap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/simbridge/simbridge/libs/iotca"

	"github.com/simbridge/simbridge/libs/lease"
	"github.com/simbridge/simbridge/libs/simstore"
)

// Options tune the created resources.
type Options struct {
	// MaxReceiveCount is how often a message is received before it moves to the DLQ.
	MaxReceiveCount int
	// VisibilityTimeout is how long a received message stays hidden.
	VisibilityTimeout time.Duration
	// APIKey, when set, is stored as the onboarding API key on first creation;
	// otherwise a random key is generated.
	APIKey string
	// SQSEndpoint, when set, sends the queue calls there instead of to the
	// configuration's endpoint: benchmarks serve SQS from tools/sqsstub and
	// everything else from moto, whose FIFO queues are too slow to measure.
	SQSEndpoint string
	// DynamoDBEndpoint, when set, creates the tables there: the scale
	// benchmark keeps its million-SIM table in dynalite.
	DynamoDBEndpoint string
}

func (o Options) withDefaults() Options {
	if o.MaxReceiveCount == 0 {
		o.MaxReceiveCount = 5
	}
	if o.VisibilityTimeout == 0 {
		o.VisibilityTimeout = 60 * time.Second
	}
	return o
}

// Resources are the identifiers the services are configured with.
type Resources struct {
	Names
	CreateQueueURL  string
	CreateDLQURL    string
	UpdateQueueURL  string
	UpdateDLQURL    string
	DisableQueueURL string
	DisableDLQURL   string
	// SyncQueueURL and SyncDLQURL are sim-poller's sync requests.
	SyncQueueURL    string
	SyncDLQURL      string
	SuccessTopicARN string
	FailureTopicARN string
	SummaryTopicARN string
	KeyARN          string
	APIKeySecretARN string
	// CAKeyARN is the IoT CA's KMS signing key; CACertificatePEM its
	// certificate, registered with IoT Core and stored in CAParameter.
	CAKeyARN         string
	CACertificatePEM string
}

// Env renders the resources as the environment variables the services read.
func (r Resources) Env() []string {
	return []string{
		"SIM_TABLE=" + r.Table(),
		"LEASE_TABLE=" + r.Leases(),
		"CREATE_QUEUE=" + r.CreateQueue(),
		"UPDATE_QUEUE=" + r.UpdateQueue(),
		"DISABLE_QUEUE=" + r.DisableQueue(),
		"SYNC_QUEUE=" + r.SyncQueue(),
		"SUCCESS_TOPIC_ARN=" + r.SuccessTopicARN,
		"FAILURE_TOPIC_ARN=" + r.FailureTopicARN,
		"SUMMARY_TOPIC_ARN=" + r.SummaryTopicARN,
		"KMS_KEY_ID=" + r.KeyARN,
		"IOT_POLICY_NAME=" + r.Policy(),
		"API_KEY_SECRET_ID=" + r.APIKeySecret(),
		"ENDPOINT_PARAMETER=" + r.EndpointParameter(),
		"CA_KMS_KEY_ID=" + r.CAKeyARN,
		"CA_CERTIFICATE_PARAMETER=" + r.CAParameter(),
		"THING_GROUP=" + r.ThingGroup(),
		"THING_TYPE=" + r.ThingType(),
	}
}

// Ensure creates whatever is missing and returns the identifiers of all
// resources. Running it again changes nothing.
func Ensure(ctx context.Context, cfg aws.Config, names Names, opts Options) (Resources, error) {
	if names.Prefix == "" {
		return Resources{}, errors.New("bootstrap: empty prefix")
	}
	opts = opts.withDefaults()
	res := Resources{Names: names}
	q := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if opts.SQSEndpoint != "" {
			o.BaseEndpoint = aws.String(opts.SQSEndpoint)
		}
	})
	var err error
	if res.CreateQueueURL, res.CreateDLQURL, err = ensureQueuePair(ctx, q, names.CreateQueue(), names.CreateDLQ(), opts); err != nil {
		return res, err
	}
	if res.UpdateQueueURL, res.UpdateDLQURL, err = ensureQueuePair(ctx, q, names.UpdateQueue(), names.UpdateDLQ(), opts); err != nil {
		return res, err
	}
	if res.DisableQueueURL, res.DisableDLQURL, err = ensureQueuePair(ctx, q, names.DisableQueue(), names.DisableDLQ(), opts); err != nil {
		return res, err
	}
	if res.SyncQueueURL, res.SyncDLQURL, err = ensureQueuePair(ctx, q, names.SyncQueue(), names.SyncDLQ(), opts); err != nil {
		return res, err
	}
	t := sns.NewFromConfig(cfg)
	if res.SuccessTopicARN, err = ensureTopic(ctx, t, names.SuccessTopic()); err != nil {
		return res, err
	}
	if res.FailureTopicARN, err = ensureTopic(ctx, t, names.FailureTopic()); err != nil {
		return res, err
	}
	if res.SummaryTopicARN, err = ensureTopic(ctx, t, names.SummaryTopic()); err != nil {
		return res, err
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if opts.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(opts.DynamoDBEndpoint)
		}
	})
	if err = ensureTable(ctx, db, simstore.TableDefinition(names.Table())); err != nil {
		return res, err
	}
	if err = ensureTable(ctx, db, lease.TableDefinition(names.Leases())); err != nil {
		return res, err
	}
	if err = ensureTTL(ctx, db, names.Leases(), lease.TTLAttribute); err != nil {
		return res, err
	}
	if res.KeyARN, err = ensureKey(ctx, kms.NewFromConfig(cfg), names.KeyAlias()); err != nil {
		return res, err
	}
	if err = ensurePolicy(ctx, cfg, names.Policy()); err != nil {
		return res, err
	}
	if err = ensureThingGroup(ctx, iot.NewFromConfig(cfg), names.ThingGroup()); err != nil {
		return res, err
	}
	if err = ensureThingType(ctx, iot.NewFromConfig(cfg), names.ThingType()); err != nil {
		return res, err
	}
	if res.APIKeySecretARN, err = ensureSecret(ctx, secretsmanager.NewFromConfig(cfg), names.APIKeySecret(), opts.APIKey); err != nil {
		return res, err
	}
	if res.CAKeyARN, res.CACertificatePEM, err = EnsureCA(ctx, cfg, names); err != nil {
		return res, err
	}
	return res, nil
}

// EnsureCA creates the IoT CA's KMS signing key (ECC_NIST_P256,
// SIGN_VERIFY) unless its alias exists, then runs the one-time CA setup
// (iotca.Ensure). In AWS the stack creates the key and `make ca` runs this.
func EnsureCA(ctx context.Context, cfg aws.Config, names Names) (keyARN, certPEM string, err error) {
	k := kms.NewFromConfig(cfg)
	if keyARN, err = ensureSigningKey(ctx, k, names.CAKeyAlias()); err != nil {
		return "", "", err
	}
	signer, err := iotca.NewSigner(ctx, k, keyARN)
	if err != nil {
		return "", "", err
	}
	ca, err := iotca.Ensure(ctx, signer, iot.NewFromConfig(cfg), ssm.NewFromConfig(cfg),
		iotca.Setup{Name: names.CAName(), Parameter: names.CAParameter()})
	if err != nil {
		return "", "", fmt.Errorf("IoT CA: %w", err)
	}
	return keyARN, ca.PEM, nil
}

func ensureSigningKey(ctx context.Context, k *kms.Client, alias string) (string, error) {
	d, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	if err == nil {
		return *d.KeyMetadata.Arn, nil
	}
	var nf *kmstypes.NotFoundException
	if !errors.As(err, &nf) {
		return "", fmt.Errorf("describe key %s: %w", alias, err)
	}
	created, err := k.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify,
		Description: aws.String("signs IoT device certificates (" + alias + ")"),
	})
	if err != nil {
		return "", fmt.Errorf("create signing key: %w", err)
	}
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: created.KeyMetadata.KeyId}); err != nil {
		return "", fmt.Errorf("create alias %s: %w", alias, err)
	}
	return *created.KeyMetadata.Arn, nil
}

func ensureQueuePair(ctx context.Context, q *sqs.Client, name, dlqName string, opts Options) (string, string, error) {
	fifo := map[string]string{"FifoQueue": "true", "MessageRetentionPeriod": "1209600"}
	dlqURL, err := ensureQueue(ctx, q, dlqName, fifo)
	if err != nil {
		return "", "", err
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(dlqURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("read arn of %s: %w", dlqName, err)
	}
	redrive, _ := json.Marshal(map[string]string{
		"deadLetterTargetArn": attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)],
		"maxReceiveCount":     strconv.Itoa(opts.MaxReceiveCount),
	})
	url, err := ensureQueue(ctx, q, name, map[string]string{
		"FifoQueue":         "true",
		"VisibilityTimeout": strconv.Itoa(int(opts.VisibilityTimeout.Seconds())),
		"RedrivePolicy":     string(redrive),
		// High-throughput FIFO, as the stack has it.
		"DeduplicationScope":  "messageGroup",
		"FifoThroughputLimit": "perMessageGroupId",
	})
	return url, dlqURL, err
}

// ensureQueue creates the queue or, when it exists, converges its mutable attributes.
func ensureQueue(ctx context.Context, q *sqs.Client, name string, attrs map[string]string) (string, error) {
	got, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	var missing *sqstypes.QueueDoesNotExist
	if errors.As(err, &missing) {
		out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		if err != nil {
			return "", fmt.Errorf("create queue %s: %w", name, err)
		}
		return *out.QueueUrl, nil
	}
	if err != nil {
		return "", fmt.Errorf("find queue %s: %w", name, err)
	}
	mutable := map[string]string{}
	for k, v := range attrs {
		if k != "FifoQueue" {
			mutable[k] = v
		}
	}
	if _, err := q.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: got.QueueUrl, Attributes: mutable}); err != nil {
		return "", fmt.Errorf("update queue %s: %w", name, err)
	}
	return *got.QueueUrl, nil
}

func ensureTopic(ctx context.Context, t *sns.Client, name string) (string, error) {
	out, err := t.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("create topic %s: %w", name, err)
	}
	return *out.TopicArn, nil
}

func ensureTable(ctx context.Context, db *dynamodb.Client, def *dynamodb.CreateTableInput) error {
	name := aws.ToString(def.TableName)
	_, err := db.CreateTable(ctx, def)
	var inUse *ddbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = time.Second })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	return nil
}

// ensureTTL turns on the table's time to live on attr unless it is on
// (DynamoDB refuses to enable it twice).
func ensureTTL(ctx context.Context, db *dynamodb.Client, table, attr string) error {
	d, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		return fmt.Errorf("describe time to live of %s: %w", table, err)
	}
	if ttl := d.TimeToLiveDescription; ttl != nil && aws.ToString(ttl.AttributeName) == attr &&
		(ttl.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabled || ttl.TimeToLiveStatus == ddbtypes.TimeToLiveStatusEnabling) {
		return nil
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(table),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)}})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "UnknownOperationException" {
		// dynalite (the scale benchmark's DynamoDB) has no time to live; a
		// run's results stay until its folder goes. AWS and moto have it.
		return nil
	}
	if err != nil {
		return fmt.Errorf("enable time to live of %s: %w", table, err)
	}
	return nil
}

func ensureKey(ctx context.Context, k *kms.Client, alias string) (string, error) {
	d, err := k.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	if err == nil {
		return *d.KeyMetadata.Arn, nil
	}
	var nf *kmstypes.NotFoundException
	if !errors.As(err, &nf) {
		return "", fmt.Errorf("describe key %s: %w", alias, err)
	}
	created, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("encrypts device private keys (" + alias + ")")})
	if err != nil {
		return "", fmt.Errorf("create key: %w", err)
	}
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: created.KeyMetadata.KeyId}); err != nil {
		return "", fmt.Errorf("create alias %s: %w", alias, err)
	}
	return *created.KeyMetadata.Arn, nil
}

func ensurePolicy(ctx context.Context, cfg aws.Config, name string) error {
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("find account: %w", err)
	}
	partition := "aws"
	if a, err := arn.Parse(aws.ToString(who.Arn)); err == nil {
		partition = a.Partition
	}
	doc := DevicePolicy(partition, cfg.Region, aws.ToString(who.Account))
	_, err = iot.NewFromConfig(cfg).CreatePolicy(ctx, &iot.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
	var exists *iottypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create policy %s: %w", name, err)
	}
	return nil
}

func ensureSecret(ctx context.Context, sm *secretsmanager.Client, name, value string) (string, error) {
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if err == nil {
		return *d.ARN, nil
	}
	var nf *smtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		return "", fmt.Errorf("describe secret %s: %w", name, err)
	}
	if value == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		value = hex.EncodeToString(b)
	}
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value),
		Description: aws.String("API key vpn-gateway presents to onboarding-api"),
	})
	if err != nil {
		return "", fmt.Errorf("create secret %s: %w", name, err)
	}
	return *out.ARN, nil
}

func ensureThingGroup(ctx context.Context, api *iot.Client, name string) error {
	_, err := api.CreateThingGroup(ctx, &iot.CreateThingGroupInput{ThingGroupName: aws.String(name),
		ThingGroupProperties: &iottypes.ThingGroupProperties{ThingGroupDescription: aws.String("SIMs onboarded by simbridge")}})
	var exists *iottypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create thing group %s: %w", name, err)
	}
	return nil
}

func ensureThingType(ctx context.Context, api *iot.Client, name string) error {
	_, err := api.CreateThingType(ctx, &iot.CreateThingTypeInput{ThingTypeName: aws.String(name),
		ThingTypeProperties: &iottypes.ThingTypeProperties{ThingTypeDescription: aws.String("a SIM onboarded by simbridge"),
			SearchableAttributes: []string{"imsi", "msisdn", "label"}}})
	var exists *iottypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create thing type %s: %w", name, err)
	}
	return nil
}
