package opscli

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/middleware"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/keyseal"
	"github.com/simbridge/simbridge/libs/quota"
	"github.com/simbridge/simbridge/libs/simrec"
)

// defaultAdoptQuotas are AWS IoT Core's default account-wide quotas of the
// operations adopt calls (requests per second), the same values as the
// stack's IoTQuotas where the services call them too.
const defaultAdoptQuotas = "DescribeCertificate=10,ListThingPrincipals=10,DescribeThing=350,UpdateThing=100," +
	"AddThingToThingGroup=100,AttachPolicy=15,DetachPolicy=15"

// Outcomes of one SIM (AdoptSIM.Outcome).
const (
	OutcomeWouldAdopt = "would-adopt"
	OutcomeAdopted    = "adopted"
	OutcomeAlready    = "already-adopted"
	OutcomeSuperseded = "superseded"
	OutcomeSkipped    = "skipped"
	OutcomeFailed     = "failed"
)

// AdoptSIM is what adopt found, and did, for one SIM (-o json, -o csv).
type AdoptSIM struct {
	ICCID         string `json:"iccid"`
	IP            string `json:"ip"`
	CertificateID string `json:"certificate_id,omitempty"`
	// ReferenceActive is the reference's a.
	ReferenceActive bool   `json:"reference_active"`
	Outcome         string `json:"outcome"`
	// State is the record's state as adoption writes it (active or pending).
	State  string `json:"state,omitempty"`
	Detail string `json:"detail,omitempty"`
	// untouched: the record is as adoption wrote it (1NCE's answer still to
	// be applied).
	untouched bool
}

// AdoptReport is adopt's answer (-o json).
type AdoptReport struct {
	Table         string         `json:"table"`
	Region        string         `json:"region"`
	Prefix        string         `json:"prefix"`
	DryRun        bool           `json:"dry_run"`
	Items         int            `json:"items"`
	Counts        map[string]int `json:"counts"`
	Disagreements []Disagreement `json:"disagreements"`
	SIMs          []AdoptSIM     `json:"sims"`
	Sync          []SyncResult   `json:"sync,omitempty"`
	// SyncSent are sync requests sent but not waited for (--no-wait).
	SyncSent []string `json:"sync_sent,omitempty"`
	// AdoptSeconds is the time the SIMs took (checks and changes), Seconds
	// the whole run's (reading the reference and the sync included).
	AdoptSeconds float64 `json:"adopt_seconds"`
	Seconds      float64 `json:"seconds"`
}

// adopter is one adopt run against one environment and one reference.
type adopter struct {
	s      *session
	f      adoptFlags
	ref    reference
	quotas map[string]float64
	sealer *keyseal.Sealer
	// iot is paced by shared (set by joinQuotas).
	iot    *iot.Client
	shared *quota.Shared
}

func newAdopter(s *session, f adoptFlags) (*adopter, error) {
	quotas, err := overlayRates(nil, defaultAdoptQuotas)
	if err == nil && f.iotQuotas != defaultAdoptQuotas {
		quotas, err = overlayRates(quotas, f.iotQuotas)
	}
	if err != nil {
		return nil, usageError("--iot-quotas: %v", err)
	}
	region := f.region
	if region == "" {
		region = s.cfg.Region
	}
	keyID := f.kmsKeyID
	if keyID == "" {
		keyID = s.names.KeyAlias()
	}
	sealer, err := keyseal.NewSealer(kms.NewFromConfig(s.cfg), keyID)
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(s.cfg, func(o *dynamodb.Options) { o.Region = region })
	return &adopter{s: s, f: f, ref: reference{db: db, table: f.table, region: region}, quotas: quotas, sealer: sealer}, nil
}

// joinQuotas takes part in the account's IoT quota sharing (libs/quota)
// like a provisioner task: a heartbeat in the lease table says which
// operations this run calls, so the tasks calling them too make room, and
// every IoT call waits for this run's share. stop leaves the group.
func (a *adopter) joinQuotas(ctx context.Context) (stop func(), err error) {
	a.shared, err = quota.New(a.s.ddb, quota.Config{Table: a.s.names.Leases(), Group: "iot", Member: "simbridge-adopt/" + quota.DefaultMember(),
		Quotas: a.quotas, Logger: slog.New(slog.NewTextHandler(a.s.errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, err
	}
	opts := append(append([]func(*middleware.Stack) error(nil), a.s.cfg.APIOptions...), awsx.LimiterAPIOption(a.shared))
	a.iot = iot.NewFromConfig(a.s.cfg, func(o *iot.Options) { o.APIOptions = opts })
	a.shared.Beat(ctx)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.shared.Run(runCtx)
	}()
	return func() { cancel(); <-done }, nil
}

// run adopts (or, without --apply, plans) every SIM of the reference.
func (a *adopter) run(ctx context.Context) error {
	start := a.s.now()
	items, err := a.ref.items(ctx, nil)
	if err != nil {
		return err
	}
	cands := planItems(items)
	stop, err := a.joinQuotas(ctx)
	if err != nil {
		return err
	}
	defer stop()
	rep := AdoptReport{Table: a.f.table, Region: a.ref.region, Prefix: a.s.names.Prefix, DryRun: !a.f.apply, Items: len(items),
		Counts: map[string]int{}, Disagreements: []Disagreement{}}
	what := "checking"
	if a.f.apply {
		what = "adopting"
	}
	bar := newProgress(a.s.errOut, a.s.opts.Progress, int64(len(cands)), what+" "+a.f.table, "SIMs")
	began := a.s.now()
	rep.SIMs, err = a.each(ctx, cands, bar)
	rep.AdoptSeconds = a.s.now().Sub(began).Seconds()
	bar.Finish()
	if err != nil {
		if a.f.apply {
			return fmt.Errorf("interrupted: what was done stays done; the same command again continues: %w", err)
		}
		return err
	}
	for i, c := range cands {
		rep.Counts[rep.SIMs[i].Outcome]++
		rep.Disagreements = append(append(rep.Disagreements, c.Problems...), c.Notes...)
	}
	var syncErr error
	if a.f.apply && !a.f.noSync {
		syncErr = a.sync(ctx, &rep)
	}
	rep.Seconds = a.s.now().Sub(start).Seconds()
	if err := a.printAdopt(rep); err != nil {
		return err
	}
	switch {
	case syncErr != nil:
		return syncErr
	case rep.Counts[OutcomeFailed] > 0:
		return fmt.Errorf("%d SIM(s) failed (see above); run adopt --apply again to continue", rep.Counts[OutcomeFailed])
	case blocking(rep.Disagreements) > 0:
		return attention("")
	}
	return nil
}

// each works on every candidate, f.workers at a time, and returns their
// outcomes in the candidates' order. Only a cancelled context stops it: a
// SIM that fails is reported and the others go on.
func (a *adopter) each(ctx context.Context, cands []*candidate, bar progress) ([]AdoptSIM, error) {
	out := make([]AdoptSIM, len(cands))
	err := parallel(ctx, len(cands), a.f.workers, func(i int) {
		out[i] = a.one(ctx, cands[i])
		bar.Add(1)
	})
	return out, err
}

// parallel calls fn(0) … fn(n-1), workers at a time, and returns once
// every call started has returned; a cancelled context starts no more.
func parallel(ctx context.Context, n, workers int, fn func(i int)) error {
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	defer func() { close(next); wg.Wait() }()
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// one checks one SIM and, with --apply, adopts it.
func (a *adopter) one(ctx context.Context, c *candidate) AdoptSIM {
	res := AdoptSIM{ICCID: c.ICCID, IP: c.IP, ReferenceActive: c.Item.active(), Outcome: OutcomeSkipped}
	if c.blocked() {
		return res
	}
	facts, err := a.examine(ctx, c)
	res.CertificateID = facts.certID
	switch {
	case err != nil:
		res.Outcome, res.Detail = OutcomeFailed, err.Error()
		return res
	case facts.already:
		res.Outcome, res.State = OutcomeAlready, string(facts.record.CurrentState())
		res.untouched = untouchedSinceAdoption(facts.record)
		if a.f.apply && a.f.detachRefPolicy {
			if err := a.detachReferencePolicy(ctx, facts.certARN); err != nil {
				res.Outcome, res.Detail = OutcomeFailed, err.Error()
			}
		}
		return res
	case facts.superseded:
		res.Outcome, res.State = OutcomeSuperseded, string(facts.record.CurrentState())
		res.Detail = fmt.Sprintf("simbridge serves certificate %s; the reference's is REVOKED", short(facts.record.CertificateID()))
		return res
	case c.blocked():
		return res
	}
	res.State = string(facts.state())
	if !a.f.apply {
		res.Outcome = OutcomeWouldAdopt
		return res
	}
	res.Outcome = OutcomeAdopted
	if err := a.adopt(ctx, c, facts); err != nil {
		res.Outcome, res.Detail = OutcomeFailed, err.Error()
	}
	if c.blocked() { // simbridge's record appeared meanwhile
		res.Outcome = OutcomeSkipped
	}
	return res
}

// syncICCIDs are the SIMs whose records are as adoption wrote them: 1NCE's
// answer has not been applied to them yet (a rerun after an interruption
// asks for those the interrupted run did not).
func syncICCIDs(sims []AdoptSIM) []string {
	var ids []string
	for _, r := range sims {
		if r.Outcome == OutcomeAdopted || (r.Outcome == OutcomeAlready && r.untouched) {
			ids = append(ids, r.ICCID)
		}
	}
	slices.Sort(ids)
	return ids
}

func blocking(ds []Disagreement) int {
	n := 0
	for _, d := range ds {
		if d.Blocking {
			n++
		}
	}
	return n
}

// adoptCommand is the command id adoption writes into the record (its
// LastCommand and the certificate's Command): fixed per certificate, so a
// record still showing it has not been written since adoption.
func adoptCommand(certID string) string { return "adopt-" + short(certID) }

// untouchedSinceAdoption reports whether nothing has written the record
// since adoption created it.
func untouchedSinceAdoption(r simrec.Record) bool {
	return r.Cert != nil && r.Cert.Adopted() && r.LastCommand == adoptCommand(r.Cert.ID)
}

// sync asks sim-poller, through its request queue, for a targeted sync of
// the SIMs whose records are as adoption wrote them, so 1NCE's current
// answer decides their state through the usual commands (a disabled SIM's
// certificate goes INACTIVE through the deactivator, a pending SIM 1NCE
// lists as Enabled is served, a moved IP moves). Requests hold at most
// events.MaxSyncICCIDs SIMs each.
func (a *adopter) sync(ctx context.Context, rep *AdoptReport) error {
	ids := syncICCIDs(rep.SIMs)
	for chunk := range slices.Chunk(ids, events.MaxSyncICCIDs) {
		id, err := a.s.requestSync(ctx, chunk, false, false)
		if err != nil {
			return fmt.Errorf("the records are written but the sync request failed (run adopt --apply again, or simbridge sync): %w", err)
		}
		if a.f.noWait {
			rep.SyncSent = append(rep.SyncSent, id)
			continue
		}
		res, err := a.s.awaitSync(ctx, id, a.f.timeout)
		if err != nil {
			rep.SyncSent = append(rep.SyncSent, id)
			return err
		}
		rep.Sync = append(rep.Sync, res)
		if res.Status != "done" {
			return fmt.Errorf("sync request %s %s: see its summary; run adopt --apply again once fixed", id, res.Status)
		}
	}
	return nil
}
