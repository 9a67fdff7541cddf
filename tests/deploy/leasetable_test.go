package deploy

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/simbridge/simbridge/libs/lease"
)

// TestLeaseTableMatchesTheCode: the stack's lease table has the keys and the
// sparse heartbeat index the code creates locally (lease.TableDefinition), so
// the quota heartbeats' Query finds its index in AWS too, and its time to
// live is on the attribute sync results and heartbeats carry.
func TestLeaseTableMatchesTheCode(t *testing.T) {
	t.Parallel()
	tbl := loadTemplate(t).Resources["LeaseTable"].Properties
	norm := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	want := tableShape(lease.TableDefinition("x"))
	for _, prop := range []string{"AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"} {
		if got, want := norm(tbl[prop]), norm(want[prop]); got != want {
			t.Errorf("%s: template %s, code %s", prop, got, want)
		}
	}
	wantTTL := norm(map[string]any{"AttributeName": lease.TTLAttribute, "Enabled": true})
	if got := norm(tbl["TimeToLiveSpecification"]); got != wantTTL {
		t.Errorf("TimeToLiveSpecification: template %s, want %s (sync results and dead heartbeats expire)", got, wantTTL)
	}
}

// tableShape is a table definition as the template spells it.
func tableShape(def *dynamodb.CreateTableInput) map[string]any {
	var attrs []map[string]string
	for _, a := range def.AttributeDefinitions {
		attrs = append(attrs, map[string]string{"AttributeName": aws.ToString(a.AttributeName), "AttributeType": string(a.AttributeType)})
	}
	keys := func(ks []types.KeySchemaElement) []map[string]string {
		var out []map[string]string
		for _, k := range ks {
			out = append(out, map[string]string{"AttributeName": aws.ToString(k.AttributeName), "KeyType": string(k.KeyType)})
		}
		return out
	}
	var gsis []map[string]any
	for _, g := range def.GlobalSecondaryIndexes {
		proj := map[string]any{"ProjectionType": string(g.Projection.ProjectionType)}
		if len(g.Projection.NonKeyAttributes) > 0 {
			proj["NonKeyAttributes"] = g.Projection.NonKeyAttributes
		}
		gsis = append(gsis, map[string]any{"IndexName": aws.ToString(g.IndexName), "KeySchema": keys(g.KeySchema), "Projection": proj})
	}
	return map[string]any{"AttributeDefinitions": attrs, "KeySchema": keys(def.KeySchema), "GlobalSecondaryIndexes": gsis,
		"BillingMode": string(def.BillingMode)}
}
