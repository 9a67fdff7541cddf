package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/libs/testkit/oncesim"
	"github.com/simbridge/simbridge/services/sim-poller/internal/service"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

const (
	simUser     = "poller@example.com"
	simPassword = "sim-secret-password"
	pageSize    = 10
	// goneICCID is a SIM the store holds but 1NCE no longer lists.
	goneICCID = "8988280666999999999"
)

// env is one test's world: a simulated 1NCE account served over HTTP and its
// own AWS resources in moto (SIM and lease tables, queues, failure topic).
type env struct {
	sim      *oncesim.Server
	simURL   string
	admin    *oncesim.AdminClient
	aws      aws.Config
	res      bootstrap.Resources
	store    *simstore.Dynamo
	failures *testkit.Inbox
	// logs holds every poller's JSON log lines.
	logs *testkit.LogBuffer
}

// newEnv serves listed generated SIMs (10.1.0.1, 10.1.0.2, …) from the simulator.
func newEnv(t *testing.T, listed int) *env {
	t.Helper()
	return newEnvWith(t, listed, nil)
}

// newEnvWith is newEnv with the simulator's options adjusted by edit (its
// rate limit is off unless edit sets one).
func newEnvWith(t *testing.T, listed int, edit func(*oncesim.Options)) *env {
	t.Helper()
	sims, err := oncesim.Generate(listed, "8988280666", "10.1.x.x", 1)
	if err != nil {
		t.Fatal(err)
	}
	opts := oncesim.DefaultOptions(simUser, simPassword)
	opts.RateLimit, opts.SIMs = 0, sims
	if edit != nil {
		edit(&opts)
	}
	srv, err := oncesim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	cfg := testkit.AWSConfig(t)
	res, err := bootstrap.Ensure(context.Background(), cfg, bootstrap.Names{Prefix: testkit.Name(t)}, bootstrap.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: srv, simURL: hs.URL + srv.BasePath(), admin: oncesim.NewAdminClient(hs.URL, hs.Client()), aws: cfg, res: res,
		store: simstore.NewDynamo(dynamodb.NewFromConfig(cfg), res.Table()), failures: testkit.SubscribeInbox(t, cfg, res.FailureTopicARN), logs: &testkit.LogBuffer{}}
}

// config is a poller configuration for this world: pages of 10, no client
// rate limit worth the name, no schedule unless the test sets one.
func (e *env) config() service.Config {
	return service.Config{
		HTTPAddr: "127.0.0.1:0", OpsAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second,
		OnceAPIURL: e.simURL, OnceUsername: simUser, OncePassword: secrets.Source{Value: simPassword},
		OnceRateLimit: 1000, OncePageSize: pageSize,
		SyncInterval: time.Hour, MaxDisableShare: 0.1, DisableAllowance: 5, Publishers: 8, LeaseTTL: 30 * time.Second,
		SimTable: e.res.Table(), LeaseTable: e.res.Leases(), CreateQueue: e.res.CreateQueue(), UpdateQueue: e.res.UpdateQueue(), DisableQueue: e.res.DisableQueue(),
		SyncQueue: e.res.SyncQueue(), SyncWorkers: 4, HintWindow: 200 * time.Millisecond, HintRateShare: 0.5, SettleTimeout: 5 * time.Second,
		HintUnknownPerBatch: 50, HintUnknownPerMinute: 120, HintNegativeTTL: time.Minute,
		FailureTopicARN: e.res.FailureTopicARN,
	}
}

// poller builds a poller of this world; edit adjusts its configuration.
func (e *env) poller(t *testing.T, edit func(*service.Config)) *service.Poller {
	t.Helper()
	cfg := e.config()
	if edit != nil {
		edit(&cfg)
	}
	p, err := service.New(context.Background(), cfg, e.aws, slog.New(slog.NewJSONHandler(e.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// seed stores the simulator's SIMs from..to-1 as provisioned (active, same
// IP, version 1), plus the given extra active SIMs 1NCE does not list.
func (e *env) seed(t *testing.T, from, to int, gone ...string) {
	t.Helper()
	var recs []simrec.Record
	for _, s := range e.sim.Inventory().List()[from:to] {
		recs = append(recs, simrec.Record{ICCID: s.ICCID, IP: s.IPAddress, Active: true, Status: s.Status})
	}
	for i, id := range gone {
		recs = append(recs, simrec.Record{ICCID: id, IP: fmt.Sprintf("10.9.0.%d", i+1), Active: true, Status: onceapi.StatusEnabled})
	}
	var g errgroup.Group
	g.SetLimit(8)
	for _, r := range recs {
		g.Go(func() error { _, err := e.store.Create(context.Background(), r); return err })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// commands drains both command queues and counts what sim-poller published, by kind.
func (e *env) commands(t *testing.T) map[events.Kind]int {
	t.Helper()
	got := map[events.Kind]int{}
	for _, url := range []string{e.res.CreateQueueURL, e.res.UpdateQueueURL, e.res.DisableQueueURL} {
		for _, body := range testkit.DrainQueue(t, sqs.NewFromConfig(e.aws), url, 0) {
			cmd, err := events.DecodeSimCommand([]byte(body))
			if err != nil {
				t.Fatalf("queue holds a bad command: %v", err)
			}
			got[cmd.Kind]++
		}
	}
	return got
}

// notifications drains a notification inbox.
func notifications(t *testing.T, in *testkit.Inbox) []events.Notification {
	t.Helper()
	var out []events.Notification
	for _, body := range in.Drain(t, 0) {
		var n events.Notification
		if err := json.Unmarshal([]byte(body), &n); err != nil || n.Timestamp == 0 || n.Message == "" {
			t.Fatalf("notification %q is not in the SPEC format (%v)", body, err)
		}
		out = append(out, n)
	}
	return out
}

// assertOneNotification checks that exactly one failure notification came
// and that it mentions each of notes; nil notes means none may come.
func assertOneNotification(t *testing.T, got []events.Notification, notes []string) {
	t.Helper()
	if notes == nil {
		if len(got) != 0 {
			t.Errorf("want no failure notification, got %+v", got)
		}
		return
	}
	if len(got) != 1 {
		t.Fatalf("want one failure notification for the run, got %d: %+v", len(got), got)
	}
	for _, s := range notes {
		if !strings.Contains(got[0].Message, s) {
			t.Errorf("notification %q lacks %q", got[0].Message, s)
		}
	}
	if strings.Contains(got[0].Message, simPassword) {
		t.Error("notification leaks the 1NCE password")
	}
}

// metric returns the value of a counter or gauge with the given label value
// (any label), 0 when absent.
func metric(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return total
}

// assertNoSecretsLogged checks the poller never logged the 1NCE password or a token.
func (e *env) assertNoSecretsLogged(t *testing.T) {
	t.Helper()
	logs := e.logs.String()
	for _, secret := range []string{simPassword, "Bearer ", "access_token"} {
		if strings.Contains(logs, secret) {
			t.Errorf("a log line contains %q", secret)
		}
	}
}

// unlabelled reads a counter or gauge without labels, 0 when absent.
func unlabelled(t *testing.T, p *service.Poller, name string) float64 {
	t.Helper()
	families, err := p.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			m := f.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return 0
}
