package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
)

// benchMoto measures the same sync against a real DynamoDB table served by
// moto, for the sizes where loading the table takes reasonable time: it shows
// what the store scan costs on top of the in-memory figures.
func benchMoto(ctx context.Context, f parentFlags, dir string, out io.Writer) error {
	m, err := testkit.StartMoto(ctx, io.Discard)
	if err != nil {
		return fmt.Errorf("moto-backed figures need moto_server (make deps): %w", err)
	}
	defer m.Stop()
	cfg, err := testkit.LoadAWSConfig(ctx, m.Endpoint)
	if err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(cfg)
	for _, n := range f.motoSizes {
		sims, err := oncesim.Generate(n, iccidPrefix, ipPattern, 1)
		if err != nil {
			return err
		}
		table := fmt.Sprintf("bench-sims-%d", n)
		start := time.Now()
		if err := seedTable(ctx, db, table, sims); err != nil {
			return err
		}
		fmt.Fprintf(out, "# moto table %s loaded with %d records in %.1fs (not measured)\n", table, n, time.Since(start).Seconds())
		res, err := measure(ctx, f, dir, sims, childStore{kind: "moto", endpoint: m.Endpoint, table: table})
		if err != nil {
			return err
		}
		fmt.Fprintln(out, res)
	}
	return nil
}

// seedTable creates the SIM table and stores every SIM as provisioned.
func seedTable(ctx context.Context, db *dynamodb.Client, table string, sims []onceapi.SIM) error {
	if _, err := db.CreateTable(ctx, simstore.TableDefinition(table)); err != nil {
		return fmt.Errorf("create %s: %w", table, err)
	}
	store := simstore.NewDynamo(db, table)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, s := range sims {
		g.Go(func() error {
			_, err := store.Create(gctx, simrec.Record{ICCID: s.ICCID, IP: s.IPAddress, Active: true, Status: s.Status})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("seed %s: %w", table, err)
	}
	return nil
}
