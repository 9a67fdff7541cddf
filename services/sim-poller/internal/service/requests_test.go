package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
	"github.com/simbridge/simbridge/services/sim-poller/internal/app"
	"github.com/simbridge/simbridge/services/sim-poller/internal/service"
)

// unknownICCID is a valid ICCID neither 1NCE nor the store knows.
const unknownICCID = "8988280666000777777"

// serve runs p until the test ends.
func serve(t *testing.T, p *service.Poller) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}

// request sends a sync request the way the operators' CLI does.
func (e *env) request(t *testing.T, req events.SyncRequest) {
	t.Helper()
	if req.Source == "" {
		req.Source = events.SourceOperator
	}
	req.RequestedAt = time.Now()
	pub := messaging.NewSQSPublisher(e.aws, slog.New(slog.DiscardHandler))
	msg, err := messaging.NewSyncRequestMessage(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(e.res.SyncQueue(), msg); err != nil {
		t.Fatal(err)
	}
}

// sendRaw puts any body on the request queue (malformed requests).
func (e *env) sendRaw(t *testing.T, body string) {
	t.Helper()
	_, err := sqs.NewFromConfig(e.aws).SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(e.res.SyncQueueURL), MessageBody: aws.String(body),
		MessageGroupId: aws.String("raw"), MessageDeduplicationId: aws.String(strconv.FormatInt(time.Now().UnixNano(), 10)),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// result is a request's result item as the CLI reads it.
type result struct {
	Status     string
	Summary    json.RawMessage
	FinishedAt time.Time
	ExpiresAt  time.Time
}

// awaitResult waits for the result item of request id.
func (e *env) awaitResult(t *testing.T, id string, limit time.Duration) result {
	t.Helper()
	var res result
	testkit.Eventually(t, limit, "result of request "+id, func() error {
		out, err := dynamodb.NewFromConfig(e.aws).GetItem(context.Background(), &dynamodb.GetItemInput{
			TableName: aws.String(e.res.Leases()), ConsistentRead: aws.Bool(true),
			Key: map[string]dbtypes.AttributeValue{"name": &dbtypes.AttributeValueMemberS{Value: events.SyncResultKey(id)}},
		})
		if err != nil {
			return err
		}
		if out.Item == nil {
			return errors.New("no result item yet")
		}
		s := func(k string) string { v, _ := out.Item[k].(*dbtypes.AttributeValueMemberS); return v.Value }
		n, _ := out.Item["expires_at"].(*dbtypes.AttributeValueMemberN)
		ms, _ := strconv.ParseInt(n.Value, 10, 64)
		res = result{Status: s("status"), Summary: json.RawMessage(s("summary")), ExpiresAt: time.UnixMilli(ms)}
		res.FinishedAt, err = time.Parse(time.RFC3339, s("finished_at"))
		return err
	})
	if d := res.ExpiresAt.Sub(res.FinishedAt); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("result expires %v after it finished, want a day", d)
	}
	return res
}

// commandList drains both command queues.
func (e *env) commandList(t *testing.T) []events.SimCommand {
	t.Helper()
	var out []events.SimCommand
	for _, url := range []string{e.res.CreateQueueURL, e.res.UpdateQueueURL, e.res.DisableQueueURL} {
		for _, body := range testkit.DrainQueue(t, sqs.NewFromConfig(e.aws), url, 0) {
			cmd, err := events.DecodeSimCommand([]byte(body))
			if err != nil {
				t.Fatalf("queue holds a bad command: %v", err)
			}
			out = append(out, cmd)
		}
	}
	slices.SortFunc(out, func(a, b events.SimCommand) int {
		return strings.Compare(a.ICCID+string(a.Kind), b.ICCID+string(b.Kind))
	})
	return out
}

func describe(cmds []events.SimCommand) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, fmt.Sprintf("%s %s %s v%d", c.Kind, c.ICCID, c.IP, c.BaseVersion))
	}
	slices.Sort(out)
	return out
}

// TestTargetedSyncRequest: one request naming SIMs in every state gets the
// commands a full sync would publish for them, computed against their
// records, and a result with one line per SIM.
func TestTargetedSyncRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 8)
	e.seed(t, 0, 6, goneICCID)
	sims := e.sim.Inventory().List()
	moved, disabled, unchanged, added := sims[1], sims[2], sims[3], sims[6]
	if err := e.admin.SetIP(context.Background(), moved.ICCID, "10.7.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.SetStatus(context.Background(), disabled.ICCID, onceapi.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	serve(t, e.poller(t, func(c *service.Config) { c.SyncOnStart = false }))

	e.request(t, events.SyncRequest{ID: "targeted-1", ICCIDs: []string{moved.ICCID, disabled.ICCID, unchanged.ICCID, added.ICCID, goneICCID, unknownICCID, added.ICCID}})
	res := e.awaitResult(t, "targeted-1", 30*time.Second)
	var sum app.TargetSummary
	if err := json.Unmarshal(res.Summary, &sum); err != nil || res.Status != app.ResultDone {
		t.Fatalf("result %s %s (%v)", res.Status, res.Summary, err)
	}
	want := []string{
		"update " + moved.ICCID + " 10.7.0.1 v1",
		"disable " + disabled.ICCID + " " + disabled.IPAddress + " v1",
		"create " + added.ICCID + " " + added.IPAddress + " v0",
		"disable " + goneICCID + " 10.9.0.1 v1",
	}
	slices.Sort(want)
	if got := describe(e.commandList(t)); !slices.Equal(got, want) {
		t.Fatalf("commands\n got %v\nwant %v", got, want)
	}
	outcomes := map[string]string{}
	for _, o := range sum.SIMs {
		outcomes[o.ICCID] = o.Outcome
	}
	wantOutcomes := map[string]string{moved.ICCID: "update", disabled.ICCID: "disable", unchanged.ICCID: app.OutcomeUnchanged,
		added.ICCID: "create", goneICCID: "disable", unknownICCID: app.OutcomeNotFound}
	if fmt.Sprint(outcomes) != fmt.Sprint(wantOutcomes) || sum.Requested != 6 || sum.NotFound != 1 || sum.Published["disable"] != 2 {
		t.Fatalf("summary %s", res.Summary)
	}
	if st := e.sim.Stats(); st.Requests[oncesim.EndpointSIMs]["200"] != 0 {
		t.Errorf("a targeted sync listed the account: %v", st.Requests)
	}
	e.assertNoSecretsLogged(t)
}

// TestTargetedSyncAppliesTheIPConflictRule: a SIM 1NCE gives the IP of
// another active SIM brings that SIM into the run; when 1NCE still gives it
// the IP too, neither gets access (the full sync's rule), and when it moved
// away both are brought in step.
func TestTargetedSyncAppliesTheIPConflictRule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 4)
	e.seed(t, 0, 3)
	sims := e.sim.Inventory().List()
	holder, newcomer, mover := sims[0], sims[3], sims[1]
	ctx := context.Background()
	if err := e.admin.SetIP(ctx, newcomer.ICCID, holder.IPAddress); err != nil {
		t.Fatal(err)
	}
	serve(t, e.poller(t, func(c *service.Config) { c.SyncOnStart = false }))

	e.request(t, events.SyncRequest{ID: "conflict", ICCIDs: []string{newcomer.ICCID}})
	if res := e.awaitResult(t, "conflict", 30*time.Second); res.Status != app.ResultDone {
		t.Fatalf("result %+v", res)
	}
	if got, want := describe(e.commandList(t)), []string{"disable " + holder.ICCID + " " + holder.IPAddress + " v1"}; !slices.Equal(got, want) {
		t.Fatalf("conflict: commands %v, want %v (no create for either claimant)", got, want)
	}

	// The mover's old IP goes to a new SIM while the mover moved on: both are brought in step.
	if err := e.admin.SetIP(ctx, mover.ICCID, "10.7.0.9"); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.SetIP(ctx, newcomer.ICCID, mover.IPAddress); err != nil {
		t.Fatal(err)
	}
	e.request(t, events.SyncRequest{ID: "swap", ICCIDs: []string{newcomer.ICCID}})
	if res := e.awaitResult(t, "swap", 30*time.Second); res.Status != app.ResultDone {
		t.Fatalf("result %+v", res)
	}
	want := []string{"create " + newcomer.ICCID + " " + mover.IPAddress + " v0", "update " + mover.ICCID + " 10.7.0.9 v1"}
	if got := describe(e.commandList(t)); !slices.Equal(got, want) {
		t.Fatalf("move: commands %v, want %v", got, want)
	}
}

// TestFullSyncRequest: a request without ICCIDs runs a full sync; one made
// while another run holds the lease waits for it and then runs.
func TestFullSyncRequest(t *testing.T) {
	t.Parallel()
	e := standard(listed)(t)
	// Another replica's run holds the lease for two more seconds.
	held := time.Now().Add(2 * time.Second)
	_, err := dynamodb.NewFromConfig(e.aws).PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(e.res.Leases()),
		Item: map[string]dbtypes.AttributeValue{
			"name": &dbtypes.AttributeValueMemberS{Value: "sim-poller-sync"}, "owner": &dbtypes.AttributeValueMemberS{Value: "other/1"},
			"token": &dbtypes.AttributeValueMemberS{Value: "t"}, "expires_at": &dbtypes.AttributeValueMemberN{Value: strconv.FormatInt(held.UnixMilli(), 10)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := e.poller(t, func(c *service.Config) { c.SyncOnStart = false })
	serve(t, p)
	e.request(t, events.SyncRequest{ID: "full-1"})
	res := e.awaitResult(t, "full-1", 60*time.Second)
	var sum app.Summary
	if err := json.Unmarshal(res.Summary, &sum); err != nil || res.Status != app.ResultDone || !sum.Complete || sum.Listed != listed {
		t.Fatalf("result %s %s (%v)", res.Status, res.Summary, err)
	}
	if sum.StartedAt.Before(held.Add(-100 * time.Millisecond)) {
		t.Errorf("the run started at %v, before the other run's lease ended at %v", sum.StartedAt, held)
	}
	if got := e.commands(t); fmt.Sprint(got) != fmt.Sprint(clean) {
		t.Errorf("published %v, want %v", got, clean)
	}
	if !strings.Contains(e.logs.String(), `"msg":"sync done"`) {
		t.Error("a requested sync that succeeded must log \"sync done\" (the stale-sync alarm counts those)")
	}
}

// TestInvalidSyncRequests: a request naming an invalid ICCID fails with a
// result saying why; garbage goes to the DLQ; both notify operators once.
func TestInvalidSyncRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	serve(t, e.poller(t, func(c *service.Config) { c.SyncOnStart = false }))
	e.sendRaw(t, `{"id":"bad-iccid","iccids":["8988x"],"source":"operator"}`)
	e.sendRaw(t, `not json at all`)
	res := e.awaitResult(t, "bad-iccid", 30*time.Second)
	if res.Status != app.ResultFailed || !strings.Contains(string(res.Summary), "18-22 digits") {
		t.Fatalf("result %s %s", res.Status, res.Summary)
	}
	var dead []string
	testkit.Eventually(t, 20*time.Second, "both requests in the DLQ", func() error {
		dead = append(dead, testkit.DrainQueue(t, sqs.NewFromConfig(e.aws), e.res.SyncDLQURL, 0)...)
		if len(dead) < 2 {
			return fmt.Errorf("%d in the DLQ", len(dead))
		}
		return nil
	})
	notes := notifications(t, e.failures)
	if len(notes) != 2 || !strings.Contains(notes[0].Message+notes[1].Message, `Sync request "bad-iccid"`) {
		t.Fatalf("notifications %+v", notes)
	}
}

// TestTargetedSyncRetriesWhen1NCEFails: lookups failing beyond the
// client's retries make the request come back, and the retry finishes it.
func TestTargetedSyncRetriesWhen1NCEFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	sims := e.sim.Inventory().List()
	// The client tries 6 times per lookup: the first delivery fails.
	if err := e.sim.SetFaults([]oncesim.Fault{{Match: oncesim.EndpointSIM, Times: 6, Status: 500}}); err != nil {
		t.Fatal(err)
	}
	serve(t, e.poller(t, func(c *service.Config) { c.SyncOnStart = false }))
	e.request(t, events.SyncRequest{ID: "retried", ICCIDs: []string{sims[0].ICCID}})
	res := e.awaitResult(t, "retried", 60*time.Second)
	if res.Status != app.ResultDone {
		t.Fatalf("result %s %s", res.Status, res.Summary)
	}
	if got := describe(e.commandList(t)); len(got) != 1 || !strings.HasPrefix(got[0], "create "+sims[0].ICCID) {
		t.Fatalf("commands %v", got)
	}
}

// TestConflictsRememberedBetweenRuns: after a full sync found two SIMs on
// one IP and took access from the one that had it, a targeted sync (or a
// lookup) of that SIM alone does not give it back: the conflict is
// remembered in the lease table, so naming one SIM or both decides alike,
// until 1NCE is corrected.
func TestConflictsRememberedBetweenRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	sims := e.sim.Inventory().List()
	holder, newcomer := sims[0], sims[1]
	ctx := context.Background()
	if err := e.admin.SetIP(ctx, newcomer.ICCID, holder.IPAddress); err != nil {
		t.Fatal(err)
	}
	rec := simrec.Record{ICCID: holder.ICCID, IP: holder.IPAddress, Status: onceapi.StatusEnabled, LastCommand: "seed"}
	rec.SetState(simrec.StateDisabled) // the full sync's conflict disable, carried out
	if _, err := e.store.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	serve(t, e.poller(t, func(c *service.Config) { c.SyncOnStart = false }))

	e.request(t, events.SyncRequest{ID: "full-1"})
	e.awaitResult(t, "full-1", 30*time.Second)
	e.request(t, events.SyncRequest{ID: "lookup-1", ICCIDs: []string{holder.ICCID}, DryRun: true})
	var plan app.TargetSummary
	if err := json.Unmarshal(e.awaitResult(t, "lookup-1", 30*time.Second).Summary, &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.SIMs) != 1 || plan.SIMs[0].Problem != simrec.ProblemIPConflict || !slices.Equal(plan.SIMs[0].Claimants, []string{newcomer.ICCID}) ||
		!plan.SIMs[0].Found || plan.SIMs[0].IMSI == "" {
		t.Fatalf("lookup of the conflicted SIM: %+v", plan.SIMs)
	}
	// an audit's plan (a full dry run) is no sync: it publishes nothing and
	// logs no "sync done" (the stale-sync alarm counts those)
	done := strings.Count(e.logs.String(), `"msg":"sync done"`)
	e.request(t, events.SyncRequest{ID: "plan-1", DryRun: true})
	var full app.Summary
	if err := json.Unmarshal(e.awaitResult(t, "plan-1", 30*time.Second).Summary, &full); err != nil || !full.DryRun || len(full.PlannedSIMs) != 2 {
		t.Fatalf("full dry run: %+v (%v)", full, err)
	}
	if n := strings.Count(e.logs.String(), `"msg":"sync done"`); n != done || len(e.commandList(t)) != 0 {
		t.Fatalf("the dry run logged %d more \"sync done\" lines or published", n-done)
	}
	e.request(t, events.SyncRequest{ID: "one-1", ICCIDs: []string{holder.ICCID}})
	e.awaitResult(t, "one-1", 30*time.Second)
	if got := e.commandList(t); len(got) != 0 {
		t.Fatalf("a sync of one conflicted SIM published %v", describe(got))
	}

	// 1NCE corrected: the newcomer moves away; the holder gets access back,
	// and the newcomer, looked up as the other holder of the IP, is created
	if err := e.admin.SetIP(ctx, newcomer.ICCID, "10.7.0.9"); err != nil {
		t.Fatal(err)
	}
	e.request(t, events.SyncRequest{ID: "one-2", ICCIDs: []string{holder.ICCID}})
	e.awaitResult(t, "one-2", 30*time.Second)
	want := []string{"create " + holder.ICCID + " " + holder.IPAddress + " v1", "create " + newcomer.ICCID + " 10.7.0.9 v0"}
	slices.Sort(want)
	if got := describe(e.commandList(t)); !slices.Equal(got, want) {
		t.Fatalf("after 1NCE was corrected: %v, want %v", got, want)
	}
}
