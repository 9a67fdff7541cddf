package simstore

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// SummaryIndex is the global secondary index a full sync scans: keyed like
// the table, it projects only what reconciliation compares (SummaryAttributes),
// so reading a SIM costs about a hundred bytes instead of the whole item with
// its certificate and sealed key (about 3.5 KB). DynamoDB charges a scan by
// the size of the items it reads, and a ProjectionExpression does not reduce
// that: only a narrower item does.
const SummaryIndex = "summary-index"

// SummaryAttributes are the attributes SummaryIndex projects besides the key.
var SummaryAttributes = []string{"ip", "active", "state", "status", "version"}

// TableDefinition is the table the store expects: key iccid, on-demand
// billing, the IP index projecting everything onboarding needs so the lookup
// is a single query, and the summary index full syncs scan. The bootstrap and
// the infrastructure code create exactly this.
func TableDefinition(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("iccid"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("ip"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("iccid"), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(IPIndex),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("ip"), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}, {
			IndexName: aws.String(SummaryIndex),
			KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("iccid"), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude,
				NonKeyAttributes: SummaryAttributes},
		}},
	}
}
