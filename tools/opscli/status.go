package opscli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/spf13/cobra"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/simip"
	"github.com/simbridge/simbridge/libs/simrec"
)

// SIMStatus is `status`'s answer for one SIM (-o json prints it).
type SIMStatus struct {
	ICCID   string      `json:"iccid"`
	Once    *OnceView   `json:"once,omitempty"`
	OnceErr string      `json:"once_error,omitempty"`
	Record  *RecordView `json:"record,omitempty"`
	IoT     *IoTView    `json:"iot,omitempty"`
	Verdict Verdict     `json:"verdict"`
	rec     *simrec.Record
}

// RecordView is the SIM record without its key and PEMs.
type RecordView struct {
	State        string          `json:"state"`
	IP           string          `json:"ip,omitempty"`
	OnceStatus   string          `json:"once_status,omitempty"`
	ThingName    string          `json:"thing_name,omitempty"`
	Version      int64           `json:"version"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	LastCommand  string          `json:"last_command,omitempty"`
	ClaimedBy    string          `json:"claimed_by,omitempty"`
	ClaimedUntil *time.Time      `json:"claimed_until,omitempty"`
	LastFailure  *simrec.Failure `json:"last_failure,omitempty"`
	LastFetchAt  *time.Time      `json:"last_fetch_at,omitempty"`
	Certificate  *CertRef        `json:"certificate,omitempty"`
	Next         *CertRef        `json:"next,omitempty"`
	Retiring     []string        `json:"retiring"`
	// KeyMode is the SIM's own key mode ("": the environment's KEY_MODE);
	// Key says where its private key is: "sealed" (made here, sealed with
	// KMS, served by GET), "device" (made on the device, never here) or
	// "none" (no certificate yet).
	KeyMode string `json:"key_mode,omitempty"`
	Key     string `json:"key"`
	// EnrolCount is how often the SIM's device enrolled; Enrolments the
	// latest of them, newest last.
	EnrolCount int             `json:"enrol_count"`
	Enrolments []EnrolmentView `json:"enrolments"`
}

// EnrolmentView is one enrolment of a SIM's device.
type EnrolmentView struct {
	At            time.Time `json:"at"`
	CertificateID string    `json:"certificate_id"`
	Command       string    `json:"command"`
}

// enrolmentViews are a record's enrolments as JSON shows them ([] for none).
func enrolmentViews(in []simrec.Enrolment) []EnrolmentView {
	out := make([]EnrolmentView, 0, len(in))
	for _, e := range in {
		out = append(out, EnrolmentView{At: e.At.UTC(), CertificateID: e.CertificateID, Command: e.Command})
	}
	return out
}

// Where a SIM's private key is (RecordView.Key).
const (
	KeySealed = "sealed"
	KeyDevice = "device"
	KeyNone   = "none"
)

// keyLocation says where the record's private key is.
func keyLocation(r simrec.Record) string {
	switch {
	case r.HoldsKey():
		return KeySealed
	case r.Cert != nil:
		return KeyDevice
	default:
		return KeyNone
	}
}

// CertRef names a certificate the record holds.
type CertRef struct {
	ID        string    `json:"id"`
	ARN       string    `json:"arn,omitempty"`
	Authority string    `json:"authority,omitempty"`
	IssuedAt  time.Time `json:"issued_at"`
	// AdoptedFrom names the reference system's table the certificate was
	// taken over from (simbridge adopt).
	AdoptedFrom string `json:"adopted_from,omitempty"`
}

func newStatusCommand(o *Options) *cobra.Command {
	var skipOnce bool
	var bulk *bulkFlag
	cmd := &cobra.Command{
		Use:   "status ICCID|IP... [-f FILE]",
		Short: "One SIM end to end: 1NCE, the record, IoT Core, and a verdict with what to do",
		Long: `status shows one SIM as 1NCE, the SIM table and AWS IoT Core see it, and concludes:
onboardable, pending, failed at a step, disabled, revoked, skipped by the rules (no
or invalid IP in 1NCE, IP conflict), or drift (with each disagreement and the
simbridge command that fixes it).

What 1NCE holds comes from sim-poller (a lookup through its request queue), judged
by the full sync's rules, with every SIM that holds the same IP. The argument is an
ICCID or the SIM's IP address; several, or -f FILE (one a line, - for stdin), give
one answer each. Exit code 3 when a SIM is unknown, failed, skipped or drifted.`,
		Example: `  simbridge status 8988280666000000001
  simbridge status 10.64.12.7 -o json
  simbridge status -f sims.txt
  simbridge status 8988280666000000001 --skip-1nce`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && bulk.file == "" {
				return usageError("%s takes ICCIDs or IPs, or -f FILE", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := bulk.targets(args, o.in)
			if err != nil {
				return err
			}
			if o.Output == FormatCSV {
				return usageError("status prints table or json")
			}
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return s.status(cmd.Context(), targets, skipOnce, len(args) == 1 && bulk.file == "")
		},
	}
	bulk = addBulkFlag(cmd)
	cmd.Flags().BoolVar(&skipOnce, "skip-1nce", false, "do not ask sim-poller what 1NCE holds")
	return cmd
}

func (s *session) status(ctx context.Context, targets []string, skipOnce, single bool) error {
	var all []found
	var ids []string
	var errs []error
	for _, t := range targets {
		f, err := s.findRecords(ctx, t)
		if err != nil {
			if len(targets) == 1 {
				return err
			}
			errs = append(errs, err)
			continue
		}
		all = append(all, f)
		ids = append(ids, f.iccids...)
	}
	var once map[string]events.SIMOutcome
	onceErr := "--skip-1nce"
	if !skipOnce && len(ids) > 0 {
		var err error
		if once, err = s.lookup(ctx, unique(ids), lookupWait); err != nil {
			if ctx.Err() != nil {
				return err
			}
			onceErr = err.Error()
		}
	}
	var answers []SIMStatus
	for _, f := range all {
		for _, iccid := range f.iccids {
			st, err := s.simStatus(ctx, iccid, f.byICCID[iccid], f.conflicts(iccid), once, onceErr)
			if err != nil {
				return err
			}
			answers = append(answers, st)
		}
	}
	if s.opts.Output == FormatJSON {
		var obj any = answers
		if single && len(answers) == 1 {
			obj = answers[0]
		} else if answers == nil {
			obj = []SIMStatus{}
		}
		if err := writeJSON(s.out, obj); err != nil {
			return err
		}
	} else {
		s.header(ctx)
		for _, st := range answers {
			fmt.Fprintln(s.out)
			printStatus(s.out, st, s.names.Policy(), s.now())
		}
	}
	for _, st := range answers {
		if st.Verdict.NeedsAttention() {
			errs = append(errs, attention(""))
			break
		}
	}
	return worst(errs)
}

func unique(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// found are the SIMs an argument names: an ICCID, or every record of an IP
// (more than one is a conflict).
type found struct {
	iccids  []string
	byICCID map[string]*simrec.Record
}

func (f found) conflicts(iccid string) []string {
	var out []string
	for _, id := range f.iccids {
		if id != iccid {
			out = append(out, id)
		}
	}
	return out
}

func (s *session) findRecords(ctx context.Context, arg string) (found, error) {
	f := found{byICCID: map[string]*simrec.Record{}}
	if validICCID(arg) {
		rec, err := s.store.Get(ctx, arg)
		switch {
		case errors.Is(err, simrec.ErrNotFound):
		case err != nil:
			return f, err
		default:
			f.byICCID[arg] = &rec
		}
		f.iccids = []string{arg}
		if rec.IP != "" {
			others, err := s.store.FindByIP(ctx, rec.IP)
			if err != nil {
				return f, err
			}
			for _, o := range others {
				if o.ICCID != arg && o.Active {
					f.iccids = append(f.iccids, o.ICCID)
					o := o
					f.byICCID[o.ICCID] = &o
				}
			}
		}
		return f, nil
	}
	if net.ParseIP(strings.TrimSpace(arg)) == nil {
		return f, usageError("%q is neither an ICCID (18-22 digits) nor an IP address", arg)
	}
	ip, err := simip.Normalize(arg)
	if err != nil {
		return f, usageError("%v", err)
	}
	recs, err := s.store.FindByIP(ctx, ip)
	if err != nil {
		return f, err
	}
	if len(recs) == 0 {
		return f, attention("no SIM record holds IP %s (status takes the ICCID of a SIM not provisioned yet)", ip)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ICCID < recs[j].ICCID })
	for _, r := range recs {
		r := r
		f.iccids = append(f.iccids, r.ICCID)
		f.byICCID[r.ICCID] = &r
	}
	return f, nil
}

// simStatus gathers the three views of one SIM and judges them.
func (s *session) simStatus(ctx context.Context, iccid string, rec *simrec.Record, conflicts []string, once map[string]events.SIMOutcome, onceErr string) (SIMStatus, error) {
	st := SIMStatus{ICCID: iccid, rec: rec}
	switch o, ok := once[iccid]; {
	case ok && o.Outcome == events.OutcomeFailed:
		st.OnceErr = "sim-poller could not ask 1NCE: " + o.Reason
	case ok:
		st.Once = onceView(o)
	default:
		st.OnceErr = onceErr
	}
	if rec != nil {
		st.Record = recordView(*rec)
	}
	thing := iccid
	if rec != nil && rec.ThingName != "" {
		thing = rec.ThingName
	}
	v, err := s.iotView(ctx, thing, rec)
	if err != nil {
		return st, err
	}
	st.IoT = v
	st.Verdict = judge(judgeInput{ICCID: iccid, Now: s.now(), Policy: s.names.Policy(), Once: st.Once, OnceErr: st.OnceErr,
		Rec: rec, IoT: v, Conflicts: conflicts})
	return st, nil
}

// onceView is sim-poller's answer about a SIM as status shows it.
func onceView(o events.SIMOutcome) *OnceView {
	ip := o.IP
	if n, err := simip.Normalize(ip); err == nil {
		ip = n
	}
	claimants := o.Claimants
	if claimants == nil {
		claimants = []string{}
	}
	return &OnceView{Found: o.Found, Status: o.Status, IP: ip, IMSI: o.IMSI, MSISDN: o.MSISDN, Label: o.Label,
		Problem: o.Problem, Claimants: claimants, Decision: o.Outcome, Reason: o.Reason}
}

func recordView(r simrec.Record) *RecordView {
	v := &RecordView{State: string(r.CurrentState()), IP: r.IP, OnceStatus: r.Status, ThingName: r.ThingName, Version: r.Version,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, LastCommand: r.LastCommand, ClaimedBy: r.ClaimedBy,
		LastFailure: r.LastFailure, Certificate: certRef(r.Cert), Next: certRef(r.Next), Retiring: r.Retiring,
		KeyMode: string(r.KeyMode), Key: keyLocation(r), EnrolCount: r.EnrolCount, Enrolments: enrolmentViews(r.Enrolments)}
	if !r.ClaimedUntil.IsZero() {
		t := r.ClaimedUntil
		v.ClaimedUntil = &t
	}
	if !r.LastFetchAt.IsZero() {
		t := r.LastFetchAt
		v.LastFetchAt = &t
	}
	return v
}

func certRef(c *simrec.Credentials) *CertRef {
	if c == nil {
		return nil
	}
	return &CertRef{ID: c.ID, ARN: c.ARN, Authority: c.Authority, IssuedAt: c.IssuedAt, AdoptedFrom: c.AdoptedFrom}
}

// iotView reads the Thing, its groups and principals, and every certificate
// the record names or the Thing holds.
func (s *session) iotView(ctx context.Context, thing string, rec *simrec.Record) (*IoTView, error) {
	v := &IoTView{Thing: ThingView{Name: thing}}
	d, err := s.iot.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing)})
	switch {
	case isIoTNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("describe thing %s: %w", thing, err)
	default:
		v.Thing.Exists, v.Thing.Attributes = true, d.Attributes
		v.Thing.Managed = d.Attributes[iotcore.ManagedAttribute] == iotcore.ManagedValue
		groups, err := s.iot.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String(thing)})
		if err != nil {
			return nil, fmt.Errorf("groups of thing %s: %w", thing, err)
		}
		for _, g := range groups.ThingGroups {
			v.Thing.Groups = append(v.Thing.Groups, aws.ToString(g.GroupName))
		}
		if v.Thing.Principals, err = s.thingPrincipals(ctx, thing); err != nil {
			return nil, err
		}
	}
	type ref struct{ id, arn, role string }
	var refs []ref
	if rec != nil {
		if c := rec.Cert; c != nil {
			refs = append(refs, ref{c.ID, c.ARN, RoleCurrent})
		}
		if c := rec.Next; c != nil {
			refs = append(refs, ref{c.ID, c.ARN, RoleNext})
		}
		for _, a := range rec.Retiring {
			refs = append(refs, ref{iotcore.CertificateID(a), a, RoleRetiring})
		}
	}
	for _, p := range v.Thing.Principals {
		known := false
		for _, r := range refs {
			known = known || r.id == iotcore.CertificateID(p)
		}
		if !known && strings.Contains(p, ":cert/") {
			refs = append(refs, ref{iotcore.CertificateID(p), p, RoleOther})
		}
	}
	for _, r := range refs {
		c, err := s.certView(ctx, r.id, r.arn, v.Thing.Principals)
		if err != nil {
			return nil, err
		}
		c.Role = r.role
		v.Certificates = append(v.Certificates, c)
	}
	return v, nil
}

func (s *session) thingPrincipals(ctx context.Context, thing string) ([]string, error) {
	var out []string
	p := iot.NewListThingPrincipalsPaginator(s.iot, &iot.ListThingPrincipalsInput{ThingName: aws.String(thing)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isIoTNotFound(err) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("principals of thing %s: %w", thing, err)
		}
		out = append(out, page.Principals...)
	}
	return out, nil
}

func (s *session) certView(ctx context.Context, id, arn string, principals []string) (CertView, error) {
	c := CertView{ID: id, ARN: arn}
	d, err := s.iot.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(id)})
	if isIoTNotFound(err) {
		c.Status = StatusNotRegistered
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("describe certificate %s: %w", id, err)
	}
	c.Status = string(d.CertificateDescription.Status)
	c.ARN = aws.ToString(d.CertificateDescription.CertificateArn)
	for _, p := range principals {
		c.OnThing = c.OnThing || p == c.ARN
	}
	pols, err := s.iot.ListAttachedPolicies(ctx, &iot.ListAttachedPoliciesInput{Target: aws.String(c.ARN)})
	if err != nil && !isIoTNotFound(err) {
		return c, fmt.Errorf("policies of certificate %s: %w", id, err)
	}
	if pols != nil {
		for _, p := range pols.Policies {
			c.Policies = append(c.Policies, aws.ToString(p.PolicyName))
		}
	}
	return c, nil
}

func isIoTNotFound(err error) bool {
	var nf *iottypes.ResourceNotFoundException
	return errors.As(err, &nf)
}

// printStatus writes the status of one SIM for people.
func printStatus(w io.Writer, st SIMStatus, policy string, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	line("SIM", "%s", st.ICCID)
	switch o := st.Once; {
	case o == nil:
		line("1NCE", "not asked: %s", dash(st.OnceErr))
	case !o.Found:
		line("1NCE", "not in the account")
	default:
		line("1NCE", "%s, IP %s, IMSI %s, MSISDN %s, label %s", o.Status, dash(o.IP), dash(o.IMSI), dash(o.MSISDN), dash(o.Label))
		if o.Problem != "" {
			line("", "skipped by the rules (%s): %s", o.Problem, o.Reason)
		}
	}
	if r := st.Record; r == nil {
		line("Record", "none")
	} else {
		line("Record", "%s, IP %s, version %d, 1NCE status %s", r.State, dash(r.IP), r.Version, dash(r.OnceStatus))
		line("", "created %s, updated %s (%s)", stamp(r.CreatedAt), stamp(r.UpdatedAt), ago(r.UpdatedAt, now))
		line("", "last command %s", dash(r.LastCommand))
		if r.ClaimedBy != "" && r.ClaimedUntil != nil {
			line("", "claimed by %s until %s", r.ClaimedBy, stamp(*r.ClaimedUntil))
		}
		if f := r.LastFailure; f != nil {
			line("", "last failure at step %q, %d attempts, %s: %s", f.Step, f.Attempts, stamp(f.At), f.Reason)
		} else {
			line("", "last failure none")
		}
		fetch := "never"
		if r.LastFetchAt != nil {
			fetch = stamp(*r.LastFetchAt) + " (" + ago(*r.LastFetchAt, now) + ")"
		}
		line("", "credentials fetched %s", fetch)
		printKeys(line, r, now)
		if c := r.Certificate; c != nil {
			adopted := ""
			if c.AdoptedFrom != "" {
				adopted = ", adopted from " + c.AdoptedFrom
			}
			line("", "certificate %s (%s CA, issued %s%s)", c.ID, dash(c.Authority), stamp(c.IssuedAt), adopted)
		}
		if c := r.Next; c != nil {
			line("", "being issued %s (%s CA)", c.ID, dash(c.Authority))
		}
		for _, a := range r.Retiring {
			line("", "to retire %s", iotcore.CertificateID(a))
		}
	}
	if v := st.IoT; v != nil {
		if !v.Thing.Exists {
			line("IoT Core", "Thing %s does not exist", v.Thing.Name)
		} else {
			line("IoT Core", "Thing %s (%s), groups %s", v.Thing.Name, attrs(v.Thing.Attributes), dash(strings.Join(v.Thing.Groups, ",")))
		}
		for _, c := range v.Certificates {
			pol := "no policy"
			if contains(c.Policies, policy) {
				pol = "policy " + policy
			}
			on := "not on the Thing"
			if c.OnThing {
				on = "on the Thing"
			}
			line("", "certificate %s %s, %s, %s (%s)", short(c.ID), c.Status, pol, on, c.Role)
		}
	}
	line("Verdict", "%s", strings.ToUpper(st.Verdict.State)+": "+st.Verdict.Summary)
	for _, a := range st.Verdict.Actions {
		line("", "→ %s", a)
	}
	_ = tw.Flush()
}

// printKeys writes the SIM's key mode, where its key is and its
// enrolments.
func printKeys(line func(k, format string, args ...any), r *RecordView, now time.Time) {
	mode := "the environment's (KEY_MODE)"
	if r.KeyMode != "" {
		mode = r.KeyMode + " (the SIM's own)"
	}
	where := map[string]string{KeySealed: "sealed with KMS, served by GET", KeyDevice: "on the device, none kept here", KeyNone: "none yet"}[r.Key]
	line("", "key mode %s, key %s", mode, where)
	if r.EnrolCount == 0 {
		line("", "enrolled never")
		return
	}
	last := r.Enrolments[len(r.Enrolments)-1]
	line("", "enrolled %d time(s), last %s (%s), certificate %s", r.EnrolCount, stamp(last.At), ago(last.At, now), short(last.CertificateID))
	for i := len(r.Enrolments) - 2; i >= 0 && i >= len(r.Enrolments)-5; i-- {
		e := r.Enrolments[i]
		line("", "  before: %s, certificate %s", stamp(e.At), short(e.CertificateID))
	}
}

func attrs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}
