package main

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
)

// seed stores every SIM as provisioned (active, same IP). The first goes
// through the DynamoDB store itself, so its item is exactly what the
// poller reads; the others are copies of that item with their own ICCID
// and IP (the table's key and index attributes, simstore.TableDefinition),
// written 25 at a time: one PutItem each would take moto minutes.
func seed(ctx context.Context, db *dynamodb.Client, table string, sims []onceapi.SIM) error {
	first := simrec.Record{ICCID: sims[0].ICCID, IP: sims[0].IPAddress, Status: sims[0].Status}
	first.SetState(simrec.StateActive)
	if _, err := simstore.NewDynamo(db, table).Create(ctx, first); err != nil {
		return fmt.Errorf("seed %s: %w", table, err)
	}
	got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{"iccid": &types.AttributeValueMemberS{Value: first.ICCID}}})
	if err != nil {
		return fmt.Errorf("seed %s: read the first record back: %w", table, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for batch := range slices.Chunk(sims[1:], 25) {
		g.Go(func() error { return writeBatch(gctx, db, table, got.Item, batch) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("seed %s: %w", table, err)
	}
	return nil
}

// writeBatch writes one copy of template per SIM, again until nothing is
// left unprocessed.
func writeBatch(ctx context.Context, db *dynamodb.Client, table string, template map[string]types.AttributeValue, sims []onceapi.SIM) error {
	reqs := make([]types.WriteRequest, len(sims))
	for i, s := range sims {
		item := maps.Clone(template)
		item["iccid"] = &types.AttributeValueMemberS{Value: s.ICCID}
		item["ip"] = &types.AttributeValueMemberS{Value: s.IPAddress}
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
	}
	pending := map[string][]types.WriteRequest{table: reqs}
	for len(pending[table]) > 0 {
		out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return err
		}
		pending = out.UnprocessedItems
	}
	return nil
}
