package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
	"github.com/simbridge/simbridge/tools/devstack"
)

// dynalite is the DynamoDB emulator process.
type dynalite struct {
	endpoint string
	proc     *devstack.Proc
}

// startDynalite serves the table folder dir on a free loopback port and
// waits until it answers.
func startDynalite(ctx context.Context, bin, dir, logPath string) (*dynalite, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := testkit.FreePort()
	if err != nil {
		return nil, err
	}
	p, err := devstack.StartProcess("dynalite", bin, []string{"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--path", dir}, nil, logPath)
	if err != nil {
		return nil, fmt.Errorf("dynalite (make bench-scale installs it): %w", err)
	}
	d := &dynalite{endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), proc: p}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.endpoint, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return d, nil
		}
		if p.Exited() {
			return nil, fmt.Errorf("dynalite exited at start; see %s", logPath)
		}
		select {
		case <-ctx.Done():
			d.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	d.stop()
	return nil, fmt.Errorf("dynalite did not answer within 30 s; see %s", logPath)
}

func (d *dynalite) stop() {
	if !d.proc.Exited() {
		_, _ = d.proc.Terminate(10 * time.Second)
	}
}

// Writing a million 3.7 KB items takes dynalite many minutes, so the seeded
// table is kept in .cache (the folder is named by the inventory's shape and
// the tables' definitions) with a marker written once seeding finished. A
// run changes no seeded record: it creates the s.added SIMs the full sync
// finds new and the SIMs the events phase adds, and disables or moves only
// those; the next run deletes them (and the lease table's items) again.

// tableDir is where the seeded table of this shape lives.
func tableDir(cache string, s settings) string {
	def, _ := json.Marshal(simstore.TableDefinition("t"))
	sum := sha256.Sum256(def)
	return filepath.Join(cache, fmt.Sprintf("table-v3-%d-%d-%x", s.sims, s.added, sum[:4]))
}

const seededMarker = "seeded"

// seed stores the account's SIMs but the last s.added as provisioned, in
// items the size of real ones (a certificate PEM and a sealed RSA key, about
// 3.5 KB): the full sync must not pay for them. The first goes through the
// store, the others are copies of its item with their own ICCID and IP,
// written 25 at a time by a few writers. A table seeded by an earlier run
// is cleaned of that run's SIMs instead.
func (b *bench) seed(ctx context.Context, out io.Writer) error {
	sims, err := oncesim.Generate(b.s.sims, iccidPrefix, ipPattern, ipStart)
	if err != nil {
		return err
	}
	stride := len(sims) / b.s.added
	for i, sim := range sims {
		if i%stride == stride/2 && len(b.fresh) < b.s.added {
			b.fresh = append(b.fresh, sim)
		} else {
			b.known = append(b.known, sim)
		}
	}
	known := b.known
	marker := filepath.Join(b.tableDir, seededMarker)
	if _, err := os.Stat(marker); err == nil {
		start := time.Now()
		if err := b.clean(ctx); err != nil {
			return err
		}
		fmt.Fprintf(out, "table: %d records seeded by an earlier run in %s; the SIMs that run added deleted in %.0f s\n", len(known), b.tableDir, time.Since(start).Seconds())
		return nil
	}
	start := time.Now()
	template, err := b.template(ctx, known[0])
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for batch := range slices.Chunk(known[1:], 25) {
		g.Go(func() error { return writeBatch(gctx, b.db, b.table, template, batch) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("seed the SIM table: %w", err)
	}
	fmt.Fprintf(out, "table: %d records of %d bytes written in %.0f s to %s (kept for the next run)\n", len(known), itemSize(template), time.Since(start).Seconds(), b.tableDir)
	return os.WriteFile(marker, []byte(fmt.Sprintf("%d\n", len(known))), 0o644)
}

// maxAdded bounds the SIMs one events phase adds (their ICCIDs count up
// from newICCID(1)), which clean deletes.
const maxAdded = 20_000

func newICCID(n int) string { return fmt.Sprintf("89882806669%08d", n) }

// clean deletes what an earlier run added to a seeded table: the records of
// the SIMs its full sync created and of those its events added, and every
// lease table item (a lease an earlier poller still held).
func (b *bench) clean(ctx context.Context) error {
	var keys []string
	for _, sim := range b.fresh {
		keys = append(keys, sim.ICCID)
	}
	for n := 1; n <= maxAdded; n++ {
		keys = append(keys, newICCID(n))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for batch := range slices.Chunk(keys, 25) {
		g.Go(func() error { return deleteBatch(gctx, b.db, b.table, "iccid", batch) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("clean the SIM table: %w", err)
	}
	return nil
}

// dropLeases deletes the lease table an earlier run left (its leases and
// heartbeats, and perhaps an older definition), so the bootstrap makes it
// anew.
func dropLeases(ctx context.Context, endpoint, name string) error {
	cfg, err := testkit.LoadAWSConfig(ctx, endpoint)
	if err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(cfg)
	_, err = db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	var missing *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &missing) {
		return fmt.Errorf("drop the lease table: %w", err)
	}
	return nil
}

// deleteBatch deletes the items of keys (attribute key), again until
// nothing is left unprocessed.
func deleteBatch(ctx context.Context, db *dynamodb.Client, table, key string, keys []string) error {
	reqs := make([]types.WriteRequest, len(keys))
	for i, k := range keys {
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{key: &types.AttributeValueMemberS{Value: k}}}}
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

// template writes the first record through the store, with a certificate
// and a sealed key of real sizes, and returns its item.
func (b *bench) template(ctx context.Context, sim onceapi.SIM) (map[string]types.AttributeValue, error) {
	// An RSA-2048 certificate signed by an EC CA is about 900 bytes of DER,
	// its key sealed by KMS about 1,900. Their bytes are zeros: DynamoDB
	// (and dynalite's ConsumedCapacity) counts an item's logical size, so the
	// scan's cost is the same as with real ones, while LevelDB compresses
	// them and a million items stay a few GB on disk instead of tens.
	der := make([]byte, 900)
	sealed := make([]byte, 1900)
	der[0], sealed[0] = 0x30, 0x01
	now := time.Now().UTC()
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	r := simrec.Record{ICCID: sim.ICCID, IP: sim.IPAddress, Status: sim.Status, ThingName: sim.ICCID, LastCommand: "seed-" + sim.ICCID,
		Cert: &simrec.Credentials{ID: fmt.Sprintf("%x", id), ARN: "arn:aws:iot:us-east-1:123456789012:cert/" + fmt.Sprintf("%x", id),
			PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), KeyCiphertext: sealed, Authority: "own", IssuedAt: now}}
	r.SetState(simrec.StateActive)
	if _, err := simstore.NewDynamo(b.db, b.table).Create(ctx, r); err != nil {
		return nil, fmt.Errorf("seed %s: %w", b.table, err)
	}
	got, err := b.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(b.table),
		Key: map[string]types.AttributeValue{"iccid": &types.AttributeValueMemberS{Value: sim.ICCID}}})
	if err != nil {
		return nil, fmt.Errorf("seed %s: read the first record back: %w", b.table, err)
	}
	return got.Item, nil
}

// writeBatch writes one copy of template per SIM, again until nothing is
// left unprocessed.
func writeBatch(ctx context.Context, db *dynamodb.Client, table string, template map[string]types.AttributeValue, sims []onceapi.SIM) error {
	reqs := make([]types.WriteRequest, len(sims))
	for i, s := range sims {
		item := maps.Clone(template)
		item["iccid"] = &types.AttributeValueMemberS{Value: s.ICCID}
		item["ip"] = &types.AttributeValueMemberS{Value: s.IPAddress}
		item["last_command"] = &types.AttributeValueMemberS{Value: "seed-" + s.ICCID}
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

// itemSize is an item's size as DynamoDB counts it, roughly: names and values.
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k)
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += len(v.Value)
		case *types.AttributeValueMemberB:
			n += len(v.Value)
		case *types.AttributeValueMemberM:
			n += itemSize(v.Value)
		default:
			n += 8
		}
	}
	return n
}
