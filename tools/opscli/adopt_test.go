package opscli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/libs/testkit/reference"
	"github.com/simbridge/simbridge/tools/opscli"
)

// The fleet of TestAdoptTheReferenceFleet: 200 SIMs as 1NCE's reference left
// them, at 127.20.0.i (devices bind those loopback addresses), and what
// each must end as once adopted and 1NCE's answer applied.
const fleetSize = 200

// Special SIMs of the fleet; every other one is a healthy active item that
// 1NCE lists as Enabled at the same IP.
const (
	simDisabledIn1NCE = 180 // a=true, 1NCE says Disabled: ends disabled (INACTIVE)
	simGoneFrom1NCE   = 181 // a=true, not in the 1NCE account: ends disabled
	simMovedIn1NCE    = 182 // a=true, 1NCE lists another IP: ends active there, same certificate
	simOffButEnabled1 = 186 // a=false, 1NCE Enabled: ends active with the same certificate
	simOffButEnabled2 = 187
	simOff1           = 188 // a=false, 1NCE Disabled: ends disabled (INACTIVE)
	simOff2           = 189
	simKeyMismatch    = 190 // not adopted: key-mismatch
	simCertMissing    = 191 // not adopted: certificate-missing
	simMovedStale     = 192 // two items (an older a=false one): adopted from the active one
	simTwoActive      = 193 // two active items: not adopted (duplicate-iccid)
	simIPTaken        = 194 // simbridge already serves SIM 250 at its IP: not adopted (ip-taken)
	simHasRecord      = 195 // simbridge provisioned it before adoption: not adopted (has-record)
	simNewOwner       = 250 // in 1NCE only, at SIM 194's old IP, provisioned by simbridge
)

var notAdopted = map[int]string{simKeyMismatch: "key-mismatch", simCertMissing: "certificate-missing", simTwoActive: "duplicate-iccid",
	simIPTaken: "ip-taken", simHasRecord: "has-record"}

// endsDisabled are the adopted SIMs whose end state is disabled.
var endsDisabled = map[int]bool{simDisabledIn1NCE: true, simGoneFrom1NCE: true, simOff1: true, simOff2: true}

func fleetIP(net, i int) string { return fmt.Sprintf("127.20.%d.%d", net, i) }

// adoption is one environment in an account of its own (so that checks
// over every certificate see only this test's), the reference fleet built
// in it, and simbridge's five services running.
type adoption struct {
	*env
	ref      *reference.Reference
	bin      string
	gateway  string
	outDir   string
	runCount int
	// reissued SIMs no longer answer the reference's credentials.
	reissued map[int]bool
}

func newAdoption(t *testing.T) *adoption {
	t.Helper()
	e := newEnvOn(t, testkit.OwnMoto(t), bootstrap.Options{}, 0)
	a := &adoption{env: e, bin: testkit.Binary(t, "tools/cmd/simbridge"), outDir: t.TempDir()}
	var specs []reference.Spec
	var sims []onceapi.SIM
	for i := 1; i <= fleetSize; i++ {
		id := e.iccid(i)
		spec := reference.Spec{ICCID: id, IP: fleetIP(0, i), Active: true}
		sim := e.sim(i)
		sim.IPAddress = fleetIP(0, i)
		switch i {
		case simDisabledIn1NCE, simOff1, simOff2:
			sim.Status = onceapi.StatusDisabled
		case simMovedIn1NCE, simIPTaken:
			sim.IPAddress = fleetIP(1, i)
		case simKeyMismatch:
			spec.Fault = reference.KeyMismatch
		case simCertMissing:
			spec.Fault = reference.MissingCertificate
		case simMovedStale:
			specs = append(specs, reference.Spec{ICCID: id, IP: fleetIP(2, i), Active: false, Updated: time.Now().Add(-48 * time.Hour)})
		case simTwoActive:
			specs = append(specs, reference.Spec{ICCID: id, IP: fleetIP(2, i), Active: true})
		}
		if i == simOffButEnabled1 || i == simOffButEnabled2 || i == simOff1 || i == simOff2 {
			spec.Active = false
		}
		specs = append(specs, spec)
		if i != simGoneFrom1NCE {
			sims = append(sims, sim)
		}
	}
	owner := e.sim(simNewOwner)
	owner.IPAddress = fleetIP(0, simIPTaken)
	if err := e.once.Inventory().Add(append(sims, owner)...); err != nil {
		t.Fatal(err)
	}
	var err error
	a.ref, err = reference.Build(context.Background(), e.cfg, reference.Options{Table: e.res.Prefix + "-sim-metastore",
		Policy: e.res.Prefix + "-device-onboarding"}, specs)
	if err != nil {
		t.Fatal(err)
	}
	e.start("provisioner")
	e.start("deactivator")
	e.startPoller()
	a.startDeviceEdge()
	// simbridge served two SIMs before the adoption, one of them the
	// reference's (its Thing gets a second certificate).
	e.provision(e.iccid(simHasRecord), e.iccid(simNewOwner))
	return a
}

// startDeviceEdge runs onboarding-api and vpn-gateway (no tunnel: devices
// reach it over loopback from their SIM's address).
func (a *adoption) startDeviceEdge() {
	api, gw := freeAddr(a.t), freeAddr(a.t)
	a.start("onboarding-api", "HTTP_ADDR="+api, "IOT_ENDPOINT=adopt-ats.iot.us-east-1.amazonaws.com", "CACHE_TTL=0")
	a.start("vpn-gateway", "LISTEN_ADDR="+gw, "UPSTREAM_URL=http://"+api, "TUNNEL_MODE=none",
		"ENDPOINT_PARAMETER="+a.res.EndpointParameter(), "RATE_LIMIT=100", "RATE_BURST=100")
	a.gateway = "http://" + gw + "/device-api/onboarding"
	testkit.Eventually(a.t, 30*time.Second, "the device edge answers", func() error {
		_, _, err := fetch(a.gateway, "127.0.0.1", "")
		return err
	})
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := testkit.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// adopt runs the built simbridge binary's adopt against the environment
// (through endpoint when given: a fault proxy), keeping its output.
func (a *adoption) adopt(endpoint string, args ...string) (result, *exec.Cmd) {
	a.t.Helper()
	cmd := a.command(endpoint, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		a.t.Fatal(err)
	}
	a.t.Logf("simbridge adopt %s: exit %d in %.1fs", strings.Join(args, " "), code, time.Since(start).Seconds())
	a.keepOutput(out.Bytes(), errOut.Bytes())
	return result{stdout: out.String(), stderr: errOut.String(), code: code}, cmd
}

func (a *adoption) command(endpoint string, args ...string) *exec.Cmd {
	if endpoint == "" {
		endpoint = a.endpoint
	}
	base := []string{"--prefix", a.res.Prefix, "--endpoint-url", endpoint, "--progress", "always", "adopt",
		"--table", a.ref.Table, "--reference-policy", a.ref.Policy}
	cmd := exec.Command(a.bin, append(base, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, testkit.Env(endpoint)...)
	return cmd
}

// keepOutput stores every run's output, so the test can show that no
// private key was ever printed.
func (a *adoption) keepOutput(stdout, stderr []byte) {
	a.runCount++
	for name, b := range map[string][]byte{"stdout": stdout, "stderr": stderr} {
		if err := os.WriteFile(filepath.Join(a.outDir, fmt.Sprintf("adopt-%d.%s", a.runCount, name)), b, 0o600); err != nil {
			a.t.Fatal(err)
		}
	}
}

// report decodes an adopt run's -o json answer.
func report(t *testing.T, r result) opscli.AdoptReport {
	t.Helper()
	var rep opscli.AdoptReport
	r.json(t, &rep)
	return rep
}

// TestAdoptTheReferenceFleet takes over a reference fleet of 200 SIMs with
// broken items: the dry run changes nothing and stays within the shared
// IoT quota, adoption passes the invariant checks, every device gets the
// reference's certificate and key byte for byte (JSON and CSV), a run
// killed midway and run again ends like an uninterrupted one, a second run
// changes nothing, and --purge-keys leaves no plain-text key anywhere.
func TestAdoptTheReferenceFleet(t *testing.T) {
	t.Parallel()
	// Fast enough for the emulator: the dry run shows the pacing at AWS's
	// default quotas.
	fast := []string{"--iot-quotas", "DescribeCertificate=100,ListThingPrincipals=100,AttachPolicy=100"}
	var uninterrupted, killed []string
	t.Run("group", func(t *testing.T) {
		t.Run("uninterrupted", func(t *testing.T) {
			t.Parallel()
			a := newAdoption(t)
			a.dryRun()
			applied := report(t, a.adoptJSON(append([]string{"--apply"}, fast...)...).want(t, opscli.ExitAttention))
			if applied.Counts[opscli.OutcomeAdopted] != fleetSize-len(notAdopted) || len(applied.Sync) != 1 || applied.Sync[0].Status != "done" {
				t.Fatalf("apply: counts %v, sync %+v", applied.Counts, applied.Sync)
			}
			t.Logf("apply: %d SIMs in %.1fs (%.1f SIMs/s), %.1fs with the sync",
				len(applied.SIMs), applied.AdoptSeconds, float64(len(applied.SIMs))/applied.AdoptSeconds, applied.Seconds)
			a.awaitEndStates()
			uninterrupted = a.fingerprints()
			a.checkInvariant()
			a.checkAdoptedRecords()
			a.checkDevicesGetTheReferenceAnswer()

			// A second run changes nothing.
			settled := a.snapshot()
			again := report(t, a.adoptJSON("--apply").want(t, opscli.ExitAttention))
			if again.Counts[opscli.OutcomeAlready] != fleetSize-len(notAdopted) || again.Counts[opscli.OutcomeAdopted] != 0 {
				t.Fatalf("second run: %v", again.Counts)
			}
			if d := diffSnapshots(settled, a.snapshot()); d != "" {
				t.Fatalf("the second run changed the account: %s", d)
			}
			a.adoptedLifecycle()
			a.purgeKeys(context.Background())
		})
		// Killed right after the 70th SIM's device policy was attached
		// (Thing marked, record not written yet), then run again.
		t.Run("killed midway and run again", func(t *testing.T) {
			t.Parallel()
			b := newAdoption(t)
			b.adoptKilledMidway(fast)
			rerun := report(t, b.adoptJSON(append([]string{"--apply"}, fast...)...).want(t, opscli.ExitAttention))
			if rerun.Counts[opscli.OutcomeAlready] == 0 || rerun.Counts[opscli.OutcomeAdopted] == 0 {
				t.Fatalf("the rerun after the kill should finish what was left: %v", rerun.Counts)
			}
			b.awaitEndStates()
			killed = b.fingerprints()
		})
	})
	if len(uninterrupted) != fleetSize || len(killed) != fleetSize {
		t.Fatal("no end states to compare")
	}
	for i := range uninterrupted {
		if uninterrupted[i] != killed[i] {
			t.Errorf("SIM %d: uninterrupted %s, killed and run again %s", i+1, uninterrupted[i], killed[i])
		}
	}
}

// dryRun: through a proxy that throttles like AWS at the account's default
// quotas, the dry run plans every SIM, names every disagreement, keeps to
// the quotas and changes nothing.
func (a *adoption) dryRun() {
	t := a.t
	before := a.snapshot()
	proxy := testkit.NewFaultProxy(t, a.endpoint)
	proxy.SetQuotas(map[string]float64{"DescribeCertificate": 10, "ListThingPrincipals": 10, "DescribeThing": 350, "UpdateThing": 100,
		"AddThingToThingGroup": 100, "AttachPolicy": 15, "DetachPolicy": 15})
	dry, _ := a.adopt(proxy.URL, "-o", "json")
	dry.want(t, opscli.ExitAttention)
	plan := report(t, dry)
	if d := diffSnapshots(before, a.snapshot()); d != "" {
		t.Fatalf("the dry run changed the account: %s", d)
	}
	if !plan.DryRun || plan.Items != fleetSize+2 || len(plan.SIMs) != fleetSize || plan.Counts[opscli.OutcomeWouldAdopt] != fleetSize-len(notAdopted) ||
		plan.Counts[opscli.OutcomeSkipped] != len(notAdopted) {
		t.Fatalf("dry run: %+v", plan.Counts)
	}
	// Within the quota: a call delayed on its way can meet the next one at
	// AWS; the SPEC's bound for the account is under 5 % throttled.
	requests, throttled := proxy.Counts()
	for op, n := range throttled {
		if n*20 >= requests[op] {
			t.Errorf("the dry run went beyond the account's %s quota: %d of %d calls throttled", op, n, requests[op])
		}
	}
	if requests["DescribeCertificate"] < fleetSize-len(notAdopted) || requests["ListThingPrincipals"] < fleetSize-len(notAdopted)-1 {
		t.Errorf("the dry run did not check every certificate in IoT Core: %v", requests)
	}
	t.Logf("dry run at the default quotas: %d SIMs in %.1fs (%.1f SIMs/s); throttled %v", len(plan.SIMs), plan.AdoptSeconds,
		float64(len(plan.SIMs))/plan.AdoptSeconds, throttled)
	a.checkDisagreements(plan)
	table, _ := a.adopt("", "--iot-quotas", "DescribeCertificate=50,ListThingPrincipals=50")
	containsAll(t, table.stdout, "dry run: nothing changed", "would adopt 195 SIMs: 191 served at once", "4 pending", "simbridge adopt --apply",
		"key-mismatch", "duplicate-iccid", "ip-taken", "has-record", "certificate-missing")
	containsAll(t, table.stderr, "checking "+a.ref.Table, "SIMs/s")
}

// adoptedLifecycle: an adopted SIM lives on like one simbridge issued:
// status names the adoption; disabled, then enabled again in 1NCE, it gets
// its adopted certificate back; a reissue moves it to simbridge's CA and
// revokes the adopted certificate.
func (a *adoption) adoptedLifecycle() {
	t, ctx := a.t, context.Background()
	st := a.run("status", a.iccid(1)).want(t, opscli.ExitOK)
	containsAll(t, st.stdout, "aws CA", "adopted from "+a.ref.Table, "ONBOARDABLE")

	back := a.iccid(simDisabledIn1NCE)
	if err := a.once.Inventory().SetStatus(back, onceapi.StatusEnabled); err != nil {
		t.Fatal(err)
	}
	a.run("sync", back).want(t, opscli.ExitOK)
	check := testkit.NewProvisioning(a.cfg, a.res.Table(), a.res.Policy())
	testkit.Eventually(t, time.Minute, "the SIM enabled again is served", func() error { return check.Active(ctx, back) })
	if got := a.record(back).CertificateID(); got != a.item(simDisabledIn1NCE).CertificateID {
		t.Errorf("enabled again with certificate %s, want the adopted one back", got)
	}

	// The device policy holds what the reference's did: the reference's goes
	// from every adopted certificate, and nothing else changes.
	det, _ := a.adopt("", "--apply", "--detach-reference-policy", "--iot-quotas", "DetachPolicy=100")
	det.want(t, opscli.ExitAttention)
	for _, i := range []int{1, simOff1, simMovedStale, simDisabledIn1NCE} {
		if pols := a.policies(a.item(i).CertificateARN); !slices.Equal(pols, []string{"ours"}) {
			t.Errorf("SIM %d: policies %v after --detach-reference-policy", i, pols)
		}
	}
	if pols := a.policies(a.item(simKeyMismatch).CertificateARN); !slices.Equal(pols, []string{"reference"}) {
		t.Errorf("a certificate that was not adopted lost the reference's policy: %v", pols)
	}

	var out opscli.CommandOutcome
	a.run("-o", "json", "reissue", "--yes", a.iccid(1)).want(t, opscli.ExitOK).json(t, &out)
	old, rec := a.item(1), a.record(a.iccid(1))
	if rec.Cert.Adopted() || rec.Cert.Authority != simrec.AuthorityOwn || rec.CertificateID() == old.CertificateID {
		t.Fatalf("reissued: %+v", rec.Cert)
	}
	if status, err := check.Status(ctx, old.CertificateID); err != nil || status != "REVOKED" {
		t.Errorf("the adopted certificate after a reissue: %s %v, want REVOKED", status, err)
	}
	if err := check.Active(ctx, a.iccid(1)); err != nil {
		t.Error(err)
	}
	_, body, err := fetch(a.gateway, wantIP(1), "")
	var got struct {
		Certificate string `json:"certificate"`
	}
	if err != nil || json.Unmarshal(body, &got) != nil || got.Certificate != rec.Cert.PEM {
		t.Errorf("the device does not get the reissued certificate (%v)", err)
	}
	a.reissued = map[int]bool{1: true}
}

// adoptJSON runs adopt with -o json.
func (a *adoption) adoptJSON(args ...string) result {
	r, _ := a.adopt("", append([]string{"-o", "json"}, args...)...)
	return r
}

// checkDisagreements: the plan names each broken SIM with its kind, and
// reports the SIM adopted from one of two items.
func (a *adoption) checkDisagreements(plan opscli.AdoptReport) {
	t := a.t
	got := map[string]string{}
	for _, d := range plan.Disagreements {
		if d.Blocking {
			got[d.ICCID] += d.Kind
		}
	}
	for i, kind := range notAdopted {
		if got[a.iccid(i)] != kind {
			t.Errorf("SIM %d: disagreements %q, want %s", i, got[a.iccid(i)], kind)
		}
	}
	if len(got) != len(notAdopted) {
		t.Errorf("blocking disagreements %v", got)
	}
	var notes []string
	for _, d := range plan.Disagreements {
		if !d.Blocking {
			notes = append(notes, d.Kind+" "+d.ICCID)
		}
	}
	sort.Strings(notes)
	want := []string{"duplicate-iccid " + a.iccid(simMovedStale), "other-certificates " + a.iccid(simMovedStale)}
	if !slices.Equal(notes, want) {
		t.Errorf("notes %v, want %v", notes, want)
	}
	for _, s := range plan.SIMs {
		if s.ICCID == a.iccid(simOff1) && (s.State != "pending" || s.ReferenceActive) {
			t.Errorf("a disabled item is adopted as %+v, want pending", s)
		}
	}
}

// adoptKilledMidway runs adopt --apply through a proxy that kills it right
// after the 70th AttachPolicy took effect.
func (a *adoption) adoptKilledMidway(extra []string) {
	a.t.Helper()
	proxy := testkit.NewFaultProxy(a.t, a.endpoint)
	cmd := a.command(proxy.URL, append([]string{"--apply"}, extra...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	attached := 0
	proxy.AfterRequest(func(op string, _ []byte) bool {
		if op != "AttachPolicy" {
			return false
		}
		if attached++; attached == 70 {
			_ = cmd.Process.Kill()
			return true
		}
		return false
	})
	if err := cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	err := cmd.Wait()
	a.keepOutput(out.Bytes(), errOut.Bytes())
	if st, ok := cmd.ProcessState.Sys().(interface{ Signaled() bool }); !ok || !st.Signaled() {
		a.t.Fatalf("adopt was not killed (%v):\n%s\n%s", err, out.String(), errOut.String())
	}
	n := 0
	for i := 1; i <= fleetSize; i++ {
		if rec, err := a.store.Get(context.Background(), a.iccid(i)); err == nil && rec.Cert.Adopted() {
			n++
		}
	}
	if n == 0 || n >= fleetSize-len(notAdopted) {
		a.t.Fatalf("killed midway, %d SIMs adopted", n)
	}
}

// wantState is SIM i's end state: active, disabled, or "" (not adopted).
func wantState(i int) simrec.State {
	switch {
	case notAdopted[i] != "":
		return ""
	case endsDisabled[i]:
		return simrec.StateDisabled
	}
	return simrec.StateActive
}

// wantIP is where SIM i ends.
func wantIP(i int) string {
	if i == simMovedIn1NCE {
		return fleetIP(1, i)
	}
	return fleetIP(0, i)
}

// awaitEndStates waits until every adopted SIM is settled in its end state
// (sim-poller applied 1NCE's answer; the commands were carried out).
func (a *adoption) awaitEndStates() {
	testkit.Eventually(a.t, 3*time.Minute, "adopted SIMs reach their end states", func() error {
		for i := 1; i <= fleetSize; i++ {
			want := wantState(i)
			if want == "" {
				continue
			}
			rec, err := a.store.Get(context.Background(), a.iccid(i))
			if err != nil {
				return err
			}
			if rec.CurrentState() != want || rec.IP != wantIP(i) || !rec.Settled() {
				return fmt.Errorf("SIM %d: %s at %s (settled %v), want %s at %s", i, rec.CurrentState(), rec.IP, rec.Settled(), want, wantIP(i))
			}
		}
		return nil
	})
}

// item is the reference item SIM i is adopted from.
func (a *adoption) item(i int) reference.Item {
	for _, it := range a.ref.ByICCID(a.iccid(i)) {
		if it.IP == fleetIP(0, i) {
			return it
		}
	}
	a.t.Fatalf("no item of SIM %d", i)
	return reference.Item{}
}

// fingerprints describe each SIM's end state without what differs between
// two environments (ICCIDs, ids, times).
func (a *adoption) fingerprints() []string {
	ctx := context.Background()
	out := make([]string, fleetSize)
	for i := 1; i <= fleetSize; i++ {
		rec, err := a.store.Get(ctx, a.iccid(i))
		if errors.Is(err, simrec.ErrNotFound) {
			out[i-1] = "no record"
			continue
		}
		if err != nil {
			a.t.Fatal(err)
		}
		from := "own"
		if rec.CertificateID() == a.item(i).CertificateID {
			from = "reference"
		}
		status, _ := a.iot.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(rec.CertificateID())})
		pols := a.policies(rec.CertificateARN())
		thing, _ := a.iot.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(a.iccid(i))})
		out[i-1] = fmt.Sprintf("%s at %s, %s %s certificate (adopted %v) %s, policies %v, thing managed-by=%s type %v",
			rec.CurrentState(), rec.IP, from, rec.Cert.Authority, rec.Cert.Adopted(), status.CertificateDescription.Status, pols,
			thing.Attributes["managed-by"], aws.ToString(thing.ThingTypeName) == a.res.ThingType())
	}
	return out
}

// policies names a certificate's policies as "ours" and "reference".
func (a *adoption) policies(arn string) []string {
	p, err := a.iot.ListAttachedPolicies(context.Background(), &iot.ListAttachedPoliciesInput{Target: aws.String(arn)})
	if err != nil {
		a.t.Fatal(err)
	}
	var out []string
	for _, pol := range p.Policies {
		switch aws.ToString(pol.PolicyName) {
		case a.res.Policy():
			out = append(out, "ours")
		case a.ref.Policy:
			out = append(out, "reference")
		default:
			out = append(out, aws.ToString(pol.PolicyName))
		}
	}
	sort.Strings(out)
	return out
}

// checkInvariant runs the provisioning invariant checker over the account:
// the only certificates no record names are the reference's that were not
// adopted (broken items, the stale item, SIMs simbridge serves itself).
func (a *adoption) checkInvariant() {
	ctx := context.Background()
	check := testkit.NewProvisioning(a.cfg, a.res.Table(), a.res.Policy())
	check.CA = a.res.CACertificatePEM
	foreign := map[string]bool{}
	for _, it := range a.ref.Items {
		if rec, err := a.store.Get(ctx, it.ICCID); err != nil || rec.CertificateID() != it.CertificateID {
			foreign[it.CertificateID] = true
		}
	}
	rep, err := check.Check(ctx, foreign)
	if err != nil {
		a.t.Fatal(err)
	}
	if len(rep.Violations) > 0 {
		a.t.Errorf("invariant violations: %v", rep.Violations)
	}
	for i := 1; i <= fleetSize; i++ {
		switch wantState(i) {
		case simrec.StateActive:
			if i == simMovedStale {
				continue // its Thing keeps the stale item's certificate too (checked by Check)
			}
			if err := check.Active(ctx, a.iccid(i)); err != nil {
				a.t.Errorf("SIM %d: %v", i, err)
			}
		case simrec.StateDisabled:
			if err := check.Inactive(ctx, a.iccid(i)); err != nil {
				a.t.Errorf("SIM %d: %v", i, err)
			}
		}
	}
}

// checkAdoptedRecords: each adopted record holds the reference's
// certificate byte for byte, marked Amazon-CA and adopted, its Thing is
// simbridge's and in the group, the reference's policy is still attached.
func (a *adoption) checkAdoptedRecords() {
	ctx := context.Background()
	inGroup := map[string]bool{}
	p := iot.NewListThingsInThingGroupPaginator(a.iot, &iot.ListThingsInThingGroupInput{ThingGroupName: aws.String(a.res.ThingGroup())})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			a.t.Fatal(err)
		}
		for _, th := range page.Things {
			inGroup[th] = true
		}
	}
	for i := 1; i <= fleetSize; i++ {
		if wantState(i) == "" {
			continue
		}
		it := a.item(i)
		rec := a.record(it.ICCID)
		c := rec.Cert
		if c.ID != it.CertificateID || c.PEM != it.CertificatePEM || c.Authority != simrec.AuthorityAWS || c.AdoptedFrom != a.ref.Table ||
			c.KeySHA256 == "" || rec.ThingName != it.ICCID {
			a.t.Errorf("SIM %d: record %+v", i, c)
		}
		if pols := a.policies(c.ARN); !slices.Equal(pols, []string{"ours", "reference"}) {
			a.t.Errorf("SIM %d: certificate policies %v", i, pols)
		}
		if !inGroup[it.ICCID] {
			a.t.Errorf("SIM %d: Thing not in %s", i, a.res.ThingGroup())
		}
	}
	for i := range notAdopted {
		if inGroup[a.iccid(i)] {
			a.t.Errorf("SIM %d was not adopted but its Thing joined the group", i)
		}
	}
}

// referenceAnswer is what the reference's onboarding answered for an item:
// JSON fields certificate and privateKey as stored, and the CSV fields with
// CR, LF and CRLF as the two characters \n.
func referenceCSV(it reference.Item) (cert, key string) {
	r := strings.NewReplacer("\r\n", `\n`, "\r", `\n`, "\n", `\n`)
	return r.Replace(it.CertificatePEM), r.Replace(it.PrivateKeyPEM)
}

// checkDevicesGetTheReferenceAnswer: every device of an active adopted SIM
// fetches, through the gateway from its SIM's address, exactly the
// certificate and key the reference answered, in JSON and in CSV.
func (a *adoption) checkDevicesGetTheReferenceAnswer() {
	for i := 1; i <= fleetSize; i++ {
		if wantState(i) != simrec.StateActive || a.reissued[i] {
			continue
		}
		it := a.item(i)
		code, body, err := fetch(a.gateway, wantIP(i), "")
		if err != nil || code != http.StatusOK {
			a.t.Errorf("SIM %d: JSON %d %v", i, code, err)
			continue
		}
		var got struct {
			Certificate string `json:"certificate"`
			PrivateKey  string `json:"privateKey"`
			ICCID       string `json:"iccid"`
		}
		if err := json.Unmarshal(body, &got); err != nil || got.Certificate != it.CertificatePEM || got.PrivateKey != it.PrivateKeyPEM || got.ICCID != it.ICCID {
			a.t.Errorf("SIM %d: the JSON answer is not the reference's (%v)", i, err)
		}
		code, body, err = fetch(a.gateway, wantIP(i), "text/csv")
		cert, key := referenceCSV(it)
		fields := strings.Split(string(body), `","`)
		if err != nil || code != http.StatusOK || len(fields) != 6 || fields[4] != cert || strings.TrimSuffix(fields[5], `"`) != key {
			a.t.Errorf("SIM %d: the CSV answer is not the reference's (%d, %v, %d fields)", i, code, err, len(fields))
		}
	}
	for _, i := range []int{simOff1, simOff2, simGoneFrom1NCE} {
		if code, _, err := fetch(a.gateway, wantIP(i), ""); err != nil || code != http.StatusNotFound {
			a.t.Errorf("disabled SIM %d: %d %v, want 404", i, code, err)
		}
	}
}

// fetch asks the gateway for credentials as the device at ip.
func fetch(url, ip, accept string) (int, []byte, error) {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// purgeKeys: --purge-keys removes nothing while SIMs are unsettled, asks
// (refusing off a terminal without --yes), then leaves no prk attribute,
// and no private key is anywhere in simbridge's table or in any output.
func (a *adoption) purgeKeys(ctx context.Context) {
	t := a.t
	keys := a.referenceKeys()
	if len(keys) != len(a.ref.Items) {
		t.Fatalf("%d keys in the reference before purging, want %d", len(keys), len(a.ref.Items))
	}
	blocked := a.adoptJSON("--purge-keys", "--dry-run").want(t, opscli.ExitAttention)
	var rep opscli.PurgeReport
	blocked.json(t, &rep)
	var unsettled []string
	for _, b := range rep.Blocked {
		unsettled = append(unsettled, b.ICCID)
	}
	sort.Strings(unsettled)
	want := []string{a.iccid(simTwoActive), a.iccid(simTwoActive), a.iccid(simIPTaken)}
	// Superseded: simbridge's own record of one SIM, the moved SIM's stale
	// item, the reissued SIM.
	if !slices.Equal(unsettled, want) || rep.Counts[opscli.PurgeVerified] != fleetSize-len(notAdopted)-len(a.reissued) ||
		rep.Counts[opscli.PurgeUseless] != 2 || rep.Counts[opscli.PurgeSuperseded] != 2+len(a.reissued) {
		t.Fatalf("purge plan: blocked %v, counts %v", unsettled, rep.Counts)
	}
	notYet, _ := a.adopt("", "--purge-keys", "--yes")
	containsAll(t, notYet.want(t, opscli.ExitAttention).stdout, "nothing removed: 3 item(s) not settled", "unsettled")
	if n := len(a.referenceKeys()); n != len(keys) {
		t.Fatalf("%d keys left after a refused purge, want %d", n, len(keys))
	}

	// simbridge serves the SIMs that were not adopted: a full sync gives
	// them fresh certificates, which settles their items.
	runCLI(t, "--prefix", a.res.Prefix, "--endpoint-url", a.endpoint, "--progress", "never", "sync").want(t, opscli.ExitOK)
	testkit.Eventually(t, 2*time.Minute, "simbridge serves the SIMs it did not adopt", func() error {
		for _, i := range []int{simKeyMismatch, simCertMissing, simTwoActive, simIPTaken} {
			if rec, err := a.store.Get(ctx, a.iccid(i)); err != nil || rec.CurrentState() != simrec.StateActive || !rec.Settled() {
				return fmt.Errorf("SIM %d: %+v %v", i, rec.State, err)
			}
		}
		return nil
	})
	refused, _ := a.adopt("", "--purge-keys")
	refused.want(t, opscli.ExitUsage)
	containsAll(t, refused.stderr, "stdin is not a terminal: pass --yes")
	if n := len(a.referenceKeys()); n != len(keys) {
		t.Fatalf("the unconfirmed purge removed keys: %d left of %d", n, len(keys))
	}
	done, _ := a.adopt("", "--purge-keys", "--yes")
	done.want(t, opscli.ExitOK)
	containsAll(t, done.stdout, fmt.Sprintf("removed the private keys (prk) of %d items", len(keys)))
	if n := len(a.referenceKeys()); n != 0 {
		t.Fatalf("%d items still hold prk", n)
	}
	again, _ := a.adopt("", "--purge-keys", "--yes")
	containsAll(t, again.want(t, opscli.ExitOK).stdout, "no plain-text key left")

	// No plain text anywhere: simbridge's table, every run's output, the
	// services' logs. The devices still get their keys (sealed in simbridge).
	a.noPlaintextIn(keys)
	a.checkDevicesGetTheReferenceAnswer()
}

// referenceKeys are the prk attributes left in the reference table.
func (a *adoption) referenceKeys() []string {
	out, err := dynamodb.NewFromConfig(a.cfg).Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(a.ref.Table)})
	if err != nil {
		a.t.Fatal(err)
	}
	var keys []string
	for _, it := range out.Items {
		if k, ok := it["prk"].(*ddbtypes.AttributeValueMemberS); ok {
			keys = append(keys, k.Value)
		}
	}
	return keys
}

// noPlaintextIn looks for a PEM private-key marker, and for a line of each
// key, in simbridge's table, the outputs of every adopt run and the logs.
func (a *adoption) noPlaintextIn(keys []string) {
	var lines []string
	for _, k := range keys {
		ls := strings.Split(strings.TrimSpace(k), "\n")
		lines = append(lines, ls[len(ls)/2])
	}
	out, err := dynamodb.NewFromConfig(a.cfg).Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(a.res.Table())})
	if err != nil {
		a.t.Fatal(err)
	}
	dump, _ := json.Marshal(out.Items)
	places := map[string][]byte{"the SIM table": dump}
	for _, dir := range []string{a.outDir, a.logs} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			places[f] = b
		}
	}
	if len(places) < 8 {
		a.t.Fatalf("only %d places to look in", len(places))
	}
	for where, b := range places {
		if bytes.Contains(b, []byte("PRIVATE KEY")) {
			a.t.Errorf("%s holds a PEM private key", where)
		}
		for _, l := range lines {
			if bytes.Contains(b, []byte(l)) {
				a.t.Errorf("%s holds a line of a private key", where)
				break
			}
		}
	}
}

// snapshot is the account's state that adopt could change: both tables
// (without last_fetch_at, which onboarding-api writes on every fetch) and
// every Thing and certificate with their attachments.
func (a *adoption) snapshot() string {
	ctx := context.Background()
	db := dynamodb.NewFromConfig(a.cfg)
	var b strings.Builder
	for _, table := range []string{a.res.Table(), a.ref.Table} {
		p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
		var rows []string
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				a.t.Fatal(err)
			}
			for _, it := range page.Items {
				delete(it, "last_fetch_at")
				j, _ := json.Marshal(it)
				rows = append(rows, string(j))
			}
		}
		sort.Strings(rows)
		fmt.Fprintf(&b, "table %s\n%s\n", table, strings.Join(rows, "\n"))
	}
	things := iot.NewListThingsPaginator(a.iot, &iot.ListThingsInput{})
	for things.HasMorePages() {
		page, err := things.NextPage(ctx)
		if err != nil {
			a.t.Fatal(err)
		}
		for _, th := range page.Things {
			name := aws.ToString(th.ThingName)
			pr, _ := a.iot.ListThingPrincipals(ctx, &iot.ListThingPrincipalsInput{ThingName: aws.String(name)})
			gr, _ := a.iot.ListThingGroupsForThing(ctx, &iot.ListThingGroupsForThingInput{ThingName: aws.String(name)})
			var groups []string
			for _, g := range gr.ThingGroups {
				groups = append(groups, aws.ToString(g.GroupName))
			}
			sort.Strings(pr.Principals)
			fmt.Fprintf(&b, "thing %s %v type %s principals %v groups %v\n", name, th.Attributes, aws.ToString(th.ThingTypeName), pr.Principals, groups)
		}
	}
	certs, err := a.iot.ListCertificates(ctx, &iot.ListCertificatesInput{PageSize: aws.Int32(250)})
	if err != nil {
		a.t.Fatal(err)
	}
	var lines []string
	for _, c := range certs.Certificates {
		lines = append(lines, fmt.Sprintf("certificate %s %s policies %v", aws.ToString(c.CertificateId), c.Status, a.policies(aws.ToString(c.CertificateArn))))
	}
	sort.Strings(lines)
	b.WriteString(strings.Join(lines, "\n"))
	return b.String()
}

// diffSnapshots names the first line that differs ("" when equal).
func diffSnapshots(x, y string) string {
	if x == y {
		return ""
	}
	xl, yl := strings.Split(x, "\n"), strings.Split(y, "\n")
	for i := range min(len(xl), len(yl)) {
		if xl[i] != yl[i] {
			return fmt.Sprintf("line %d:\n- %.400s\n+ %.400s", i, xl[i], yl[i])
		}
	}
	return fmt.Sprintf("%d lines before, %d after", len(xl), len(yl))
}

// TestAdoptRefusesWhatItCannotDo: usage errors exit 2 before anything is
// called; a missing reference table is a clear error; the help explains
// every disagreement.
func TestAdoptRefusesWhatItCannotDo(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"apply and purge":   {"--prefix", "p", "adopt", "--apply", "--purge-keys"},
		"yes without purge": {"--prefix", "p", "adopt", "--yes"},
		"no workers":        {"--prefix", "p", "adopt", "--workers", "0"},
		"bad quotas":        {"--prefix", "p", "adopt", "--iot-quotas", "DescribeThing"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, args...).want(t, opscli.ExitUsage)
			if !strings.HasPrefix(r.stderr, "simbridge: ") || r.stdout != "" {
				t.Errorf("want the error on stderr only:\n%s", r)
			}
		})
	}
	help := runCLI(t, "adopt", "--help").want(t, opscli.ExitOK)
	containsAll(t, help.stdout, "--apply", "--purge-keys", "--detach-reference-policy", "byte", "key-mismatch", "duplicate-iccid",
		"ip-taken", "has-record", "certificate-missing", "certificate-not-on-thing", "25 minutes", "docs/migration.md")
	e := newEnv(t, bootstrap.Options{}, 0)
	r := e.run("adopt", "--table", "no-such-table").want(t, opscli.ExitError)
	containsAll(t, r.stderr, "reference table not found", "no-such-table")
}
