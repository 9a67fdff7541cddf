package opscli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"golang.org/x/sync/errgroup"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/simrec"
)

// auditWorkers bounds the per-SIM lookups in flight; the client-side rate
// limits (DefaultIoTRateLimits) pace them to the account's quotas.
const auditWorkers = 16

// collect reads the three inventories: the bulk listings run concurrently
// (the 1NCE listing, the table scan, Things, the policy's targets, the CA's
// and the account's certificates), then the per-SIM attachment lookups.
func (s *session) collect(ctx context.Context, skipOnce bool) (auditData, []string, error) {
	d := auditData{Now: s.now(), Plan: map[string]events.SIMOutcome{}, Records: map[string]simrec.Record{}, Things: map[string]bool{},
		Unmanaged: map[string]bool{}, Certs: map[string]*certInfo{}, Attached: map[string]bool{}}
	var notes []string
	var mu sync.Mutex
	note := func(format string, args ...any) {
		mu.Lock()
		notes = append(notes, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	var listed atomic.Int64
	bar := newProgress(s.errOut, s.opts.Progress, -1, "listing 1NCE, the table and IoT Core", "items")
	count := func(n int) { listed.Add(int64(n)); bar.Add(n) }
	var policyTargets, thingGroup map[string]bool
	caCerts := map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	if !skipOnce {
		g.Go(func() error {
			plan, err := s.planOnce(gctx)
			if err != nil {
				return err
			}
			d.OnceListed, d.OnceTotal = plan.Complete, plan.Listed
			for _, o := range plan.PlannedSIMs {
				d.Plan[o.ICCID] = o
			}
			for _, n := range plan.notes() {
				note("%s", n)
			}
			return nil
		})
	}
	g.Go(func() error {
		return scanRecords(gctx, s.ddb, s.names.Table(), count, func(r simrec.Record) error {
			d.Records[r.ICCID] = r
			return nil
		})
	})
	g.Go(func() error { return s.listManagedThings(gctx, d.Things, count) })
	g.Go(func() (err error) { thingGroup, err = s.listGroup(gctx, count); return err })
	g.Go(func() (err error) { policyTargets, err = s.listPolicyTargets(gctx, count); return err })
	g.Go(func() error { return s.listCACerts(gctx, caCerts, note, count) })
	var all []iottypes.Certificate
	g.Go(func() (err error) { all, err = s.listCertificates(gctx, count); return err })
	if err := g.Wait(); err != nil {
		bar.Finish()
		return d, notes, err
	}
	bar.Finish()
	for name := range d.Things {
		d.Things[name] = thingGroup[name]
	}
	for _, c := range all {
		id := aws.ToString(c.CertificateId)
		d.Certs[id] = &certInfo{ARN: aws.ToString(c.CertificateArn), Status: string(c.Status), Created: aws.ToTime(c.CreationDate),
			ByCA: caCerts[id], Policy: policyTargets[aws.ToString(c.CertificateArn)]}
	}
	devices := false
	for _, r := range d.Records {
		if r.Cert != nil && r.Cert.Authority == simrec.AuthorityAWS {
			d.AWSIssued = true
		}
		devices = devices || r.KeyMode == simrec.KeyModeDevice
	}
	if devices {
		var err error
		if d.KeysKept, err = s.keysKept(ctx); err != nil {
			return d, notes, err
		}
	}
	if err := s.lookups(ctx, &d); err != nil {
		return d, notes, err
	}
	return d, notes, nil
}

// fullPlan is the part of a full dry run's summary (sim-poller's Plan) the
// audit reads.
type fullPlan struct {
	Complete       bool                `json:"listing_complete"`
	Listed         int                 `json:"listed"`
	PlannedSIMs    []events.SIMOutcome `json:"planned_sims"`
	PlannedOmitted int                 `json:"planned_omitted"`
	Drift          int                 `json:"drift"`
	DriftExamples  []string            `json:"drift_examples"`
	Unconfirmed    int                 `json:"unconfirmed"`
	Problems       map[string]int      `json:"problems"`
	Error          string              `json:"error"`
}

func (p fullPlan) notes() []string {
	var out []string
	if !p.Complete {
		out = append(out, "the 1NCE listing was incomplete ("+dash(p.Error)+"): SIMs missing from it are not judged")
	}
	if p.PlannedOmitted > 0 {
		out = append(out, fmt.Sprintf("%d more 1NCE disagreements than listed here (the answer lists %d)", p.PlannedOmitted, events.MaxLookupICCIDs))
	}
	if p.Drift > 0 {
		out = append(out, fmt.Sprintf("%d active SIMs were missing from the listing but 1NCE still has them Enabled (listing drift; kept), e.g. %v", p.Drift, p.DriftExamples))
	}
	if p.Unconfirmed > 0 {
		out = append(out, fmt.Sprintf("%d active SIMs missing from the listing could not be confirmed gone (kept)", p.Unconfirmed))
	}
	if n := p.Problems["no_ip"]; n > 0 {
		out = append(out, fmt.Sprintf("%d SIMs are enabled in 1NCE without an IP (not attached yet): not managed until they have one", n))
	}
	return out
}

// planOnce asks sim-poller for a full sync's dry run: its listing of the
// account, judged by its rules against the table, with nothing published.
// This is how the audit compares with 1NCE without a 1NCE credential, in
// sim-poller's rate limit and never at the same time as a full sync.
func (s *session) planOnce(ctx context.Context) (fullPlan, error) {
	id, err := s.requestSync(ctx, nil, false, true)
	if err != nil {
		return fullPlan{}, err
	}
	res, err := s.awaitSync(ctx, id, 0)
	if err != nil {
		return fullPlan{}, fmt.Errorf("1NCE comparison (--skip-1nce leaves it out): %w", err)
	}
	var p fullPlan
	if err := json.Unmarshal(res.Summary, &p); err != nil {
		return p, fmt.Errorf("sim-poller's plan %s: %w", id, err)
	}
	if res.Status != "done" && p.Listed == 0 {
		return p, fmt.Errorf("sim-poller could not list 1NCE for the audit (request %s): %s", id, dash(p.Error))
	}
	return p, nil
}

func (s *session) listManagedThings(ctx context.Context, out map[string]bool, count func(int)) error {
	p := iot.NewListThingsPaginator(s.iot, &iot.ListThingsInput{AttributeName: aws.String(iotcore.ManagedAttribute),
		AttributeValue: aws.String(iotcore.ManagedValue), MaxResults: aws.Int32(250)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list managed things: %w", err)
		}
		for _, t := range page.Things {
			out[aws.ToString(t.ThingName)] = false
		}
		count(len(page.Things))
	}
	return nil
}

func (s *session) listGroup(ctx context.Context, count func(int)) (map[string]bool, error) {
	out := map[string]bool{}
	p := iot.NewListThingsInThingGroupPaginator(s.iot, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(s.names.ThingGroup()), MaxResults: aws.Int32(250)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isIoTNotFound(err) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list things of group %s: %w", s.names.ThingGroup(), err)
		}
		for _, t := range page.Things {
			out[t] = true
		}
		count(len(page.Things))
	}
	return out, nil
}

func (s *session) listPolicyTargets(ctx context.Context, count func(int)) (map[string]bool, error) {
	out := map[string]bool{}
	p := iot.NewListTargetsForPolicyPaginator(s.iot, &iot.ListTargetsForPolicyInput{PolicyName: aws.String(s.names.Policy()), PageSize: aws.Int32(250)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isIoTNotFound(err) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list targets of policy %s: %w", s.names.Policy(), err)
		}
		for _, t := range page.Targets {
			out[t] = true
		}
		count(len(page.Targets))
	}
	return out, nil
}

// listCACerts lists the certificates signed by the environment's CA (found
// through its SSM parameter); none without a CA.
func (s *session) listCACerts(ctx context.Context, out map[string]bool, note func(string, ...any), count func(int)) error {
	p, err := s.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.names.CAParameter())})
	var nf *ssmtypes.ParameterNotFound
	if errors.As(err, &nf) {
		note("no CA parameter %s: certificates are not matched to the CA", s.names.CAParameter())
		return nil
	}
	if err != nil {
		return fmt.Errorf("read CA parameter: %w", err)
	}
	cert, err := iotca.ParseCertificate(aws.ToString(p.Parameter.Value))
	if err != nil {
		return fmt.Errorf("CA parameter %s: %w", s.names.CAParameter(), err)
	}
	pg := iot.NewListCertificatesByCAPaginator(s.iot, &iot.ListCertificatesByCAInput{CaCertificateId: aws.String(iotca.CertificateID(cert.Raw)), PageSize: aws.Int32(250)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list certificates of the CA: %w", err)
		}
		for _, c := range page.Certificates {
			out[aws.ToString(c.CertificateId)] = true
		}
		count(len(page.Certificates))
	}
	return nil
}

func (s *session) listCertificates(ctx context.Context, count func(int)) ([]iottypes.Certificate, error) {
	var out []iottypes.Certificate
	p := iot.NewListCertificatesPaginator(s.iot, &iot.ListCertificatesInput{PageSize: aws.Int32(250)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list certificates: %w", err)
		}
		out = append(out, page.Certificates...)
		count(len(page.Certificates))
	}
	return out, nil
}

// lookups are the per-item reads: for each active record whether its
// certificate is attached to its Thing (alternating ListThingPrincipals and
// ListPrincipalThings, two quotas of 10/s each), whether a Thing no listing
// showed exists (DescribeThing), and which Things hold certificates that no
// record names.
func (s *session) lookups(ctx context.Context, d *auditData) error {
	type job func(ctx context.Context) error
	var jobs []job
	var mu sync.Mutex
	named := map[string]bool{}
	n := 0
	for _, r := range d.Records {
		r := r
		if r.Cert != nil {
			named[r.Cert.ID] = true
		}
		if r.Next != nil {
			named[r.Next.ID] = true
		}
		for _, a := range r.Retiring {
			named[iotcore.CertificateID(a)] = true
		}
		thing := thingOf(r)
		if _, managed := d.Things[thing]; !managed {
			jobs = append(jobs, func(ctx context.Context) error {
				_, err := s.iot.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing)})
				if isIoTNotFound(err) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("describe thing %s: %w", thing, err)
				}
				mu.Lock()
				d.Unmanaged[thing] = true
				mu.Unlock()
				return nil
			})
		}
		if r.CurrentState() != simrec.StateActive || r.Cert == nil || d.Certs[r.Cert.ID] == nil {
			continue
		}
		arn := d.Certs[r.Cert.ID].ARN
		byThing := n%2 == 0
		n++
		jobs = append(jobs, func(ctx context.Context) error {
			ok, err := s.attached(ctx, thing, arn, byThing)
			if err != nil {
				return err
			}
			mu.Lock()
			d.Attached[r.ICCID] = ok
			mu.Unlock()
			return nil
		})
	}
	for id, c := range d.Certs {
		if named[id] || c.Status == "REVOKED" {
			continue
		}
		suspect := c.Policy || c.ByCA || (d.AWSIssued && c.Status == "INACTIVE")
		if !suspect {
			continue
		}
		c := c
		jobs = append(jobs, func(ctx context.Context) error {
			things, err := s.principalThings(ctx, c.ARN)
			if err != nil {
				return err
			}
			mu.Lock()
			c.Things, c.Checked = things, true
			mu.Unlock()
			return nil
		})
	}
	if len(jobs) == 0 {
		return nil
	}
	bar := newProgress(s.errOut, s.opts.Progress, int64(len(jobs)), "checking Things and certificates", "lookups")
	defer bar.Finish()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(auditWorkers)
	for _, j := range jobs {
		g.Go(func() error {
			err := j(gctx)
			bar.Add(1)
			return err
		})
	}
	return g.Wait()
}

// attached reports whether the certificate is attached to the Thing, asked
// from the Thing's side or the certificate's.
func (s *session) attached(ctx context.Context, thing, certARN string, byThing bool) (bool, error) {
	if byThing {
		ps, err := s.thingPrincipals(ctx, thing)
		if err != nil {
			return false, err
		}
		return contains(ps, certARN), nil
	}
	things, err := s.principalThings(ctx, certARN)
	if err != nil {
		return false, err
	}
	return contains(things, thing), nil
}

func (s *session) principalThings(ctx context.Context, certARN string) ([]string, error) {
	var out []string
	p := iot.NewListPrincipalThingsPaginator(s.iot, &iot.ListPrincipalThingsInput{Principal: aws.String(certARN)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isIoTNotFound(err) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("things of %s: %w", iotcore.CertificateID(certARN), err)
		}
		out = append(out, page.Things...)
	}
	return out, nil
}

// keysKept lists the SIMs in key mode device whose record holds a sealed
// key. The listing scan leaves the sealed keys out (a few KB per SIM); this
// scan reads only the ICCIDs of the records that hold one.
func (s *session) keysKept(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	p := dynamodb.NewScanPaginator(s.ddb, &dynamodb.ScanInput{
		TableName:                 aws.String(s.names.Table()),
		ProjectionExpression:      aws.String("iccid"),
		FilterExpression:          aws.String("#m = :device AND (attribute_exists(#c.#k) OR attribute_exists(#n.#k))"),
		ExpressionAttributeNames:  map[string]string{"#m": "key_mode", "#c": "cert", "#n": "next", "#k": "key_ciphertext"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":device": &ddbtypes.AttributeValueMemberS{Value: string(simrec.KeyModeDevice)}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s for kept keys: %w", s.names.Table(), err)
		}
		for _, av := range page.Items {
			out[iccidOf(av)] = true
		}
	}
	return out, nil
}
