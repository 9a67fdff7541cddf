package opscli

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
)

// scanAttributes are what listings and the audit read: everything but the
// PEMs and the sealed keys (a few KB per SIM that no listing shows).
var scanAttributes = []string{
	"iccid", "ip", "active", "state", "status", "thing_name", "retiring", "last_command", "claimed_by",
	"claimed_until", "last_failure", "last_fetch_at", "created_at", "updated_at", "version", "key_mode", "enrol_count",
	"cert.id", "cert.arn", "cert.authority", "cert.issued_at", "cert.command",
	"next.id", "next.arn", "next.authority", "next.issued_at", "next.command",
}

// projection builds the ProjectionExpression with a name placeholder for
// every path element (several are DynamoDB reserved words).
func projection() (string, map[string]string) {
	names := map[string]string{}
	ids := map[string]string{}
	var paths []string
	for _, a := range scanAttributes {
		var parts []string
		for _, p := range strings.Split(a, ".") {
			id, ok := ids[p]
			if !ok {
				id = fmt.Sprintf("#a%d", len(ids))
				ids[p], names[id] = id, p
			}
			parts = append(parts, id)
		}
		paths = append(paths, strings.Join(parts, "."))
	}
	return strings.Join(paths, ", "), names
}

// scanRecords calls fn with every record, one page at a time: memory holds
// a page, never the table. onPage learns each page's size (progress).
func scanRecords(ctx context.Context, db dynamodb.ScanAPIClient, table string, onPage func(n int), fn func(simrec.Record) error) error {
	expr, names := projection()
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{
		TableName: aws.String(table), ProjectionExpression: aws.String(expr), ExpressionAttributeNames: names,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan %s: %w", table, err)
		}
		if onPage != nil {
			onPage(len(page.Items))
		}
		for _, av := range page.Items {
			r, err := simstore.DecodeItem(av)
			if err != nil {
				return fmt.Errorf("decode record %v: %w", iccidOf(av), err)
			}
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// tableSize is DynamoDB's item count estimate (refreshed about every six
// hours), for progress bars only.
func tableSize(ctx context.Context, db *dynamodb.Client, table string) int64 {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil || out.Table == nil || out.Table.ItemCount == nil || *out.Table.ItemCount == 0 {
		return -1
	}
	return *out.Table.ItemCount
}

func iccidOf(av map[string]types.AttributeValue) string {
	if s, ok := av["iccid"].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return "?"
}

func validICCID(s string) bool { return events.ValidICCID(s) }
