package opscli

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotcore"
	"github.com/simbridge/simbridge/libs/simrec"
)

// Kinds of disagreement the audit finds.
const (
	DriftRecordWithoutThing   = "record-without-thing"
	DriftActiveCertOfInactive = "active-certificate-of-inactive-record"
	DriftCertNotActive        = "certificate-not-active"
	DriftCertNotAttached      = "certificate-not-attached"
	DriftCertWithoutPolicy    = "certificate-without-policy"
	DriftThingWithoutRecord   = "thing-without-record"
	DriftOrphanCertificate    = "orphan-certificate"
	DriftUnattributedCert     = "unattributed-certificate"
	DriftIPConflict           = "ip-conflict"
	DriftEnabledNotActive     = "enabled-in-1nce-not-active"
	DriftActiveNotEnabled     = "active-not-enabled-in-1nce"
	DriftIPDiffers            = "ip-differs-from-1nce"
	DriftInterruptedAttempt   = "interrupted-attempt"
	DriftInvalidIPInOnce      = "invalid-ip-in-1nce"
	DriftInvalidInOnce        = "invalid-in-1nce"
	// DriftDeviceKeyKept: a SIM in key mode device whose record still holds
	// a sealed private key; DriftDeviceCertificates: one whose device
	// enrolled but which has not exactly one ACTIVE certificate (or, still
	// waiting for its device, has one).
	DriftDeviceKeyKept      = "device-mode-key-kept"
	DriftDeviceCertificates = "device-mode-certificates"
)

// driftKinds are every kind the audit reports (--kind completes them).
var driftKinds = []string{DriftActiveCertOfInactive, DriftActiveNotEnabled, DriftCertNotActive, DriftCertNotAttached,
	DriftCertWithoutPolicy, DriftEnabledNotActive, DriftInterruptedAttempt, DriftInvalidInOnce, DriftInvalidIPInOnce, DriftIPConflict,
	DriftIPDiffers, DriftOrphanCertificate, DriftRecordWithoutThing, DriftThingWithoutRecord, DriftUnattributedCert}

// fixKinds are the values of audit --kind.
var fixKinds = driftKinds

// Fixes: each is a command (or a sync request) the services carry out.
const (
	FixReissue = "reissue"
	FixRevoke  = "revoke"
	FixEnable  = "enable"
	FixSync    = "sync"
	FixNone    = ""
)

// Finding is one disagreement between 1NCE, the table and IoT Core.
type Finding struct {
	Kind        string `json:"kind"`
	ICCID       string `json:"iccid,omitempty"`
	Certificate string `json:"certificate,omitempty"`
	Thing       string `json:"thing,omitempty"`
	Detail      string `json:"detail"`
	// Fix is the command --fix sends ("" when none can: it needs a human,
	// or it is not provably simbridge's).
	Fix string `json:"fix,omitempty"`
}

// certInfo is a certificate IoT Core knows.
type certInfo struct {
	ARN     string
	Status  string
	Created time.Time
	// ByCA: signed by the environment's CA; Policy: has its device policy.
	ByCA, Policy bool
	// Things are the Things it is attached to, where looked up.
	Things  []string
	Checked bool
}

// auditData is everything the audit read.
type auditData struct {
	Now time.Time
	// OnceListed: sim-poller's dry run listed 1NCE completely; OnceTotal
	// is how many SIMs it listed; Plan is what its rules would change, or
	// skip, SIM by SIM (the rest 1NCE and the table agree on).
	OnceListed bool
	OnceTotal  int
	Plan       map[string]events.SIMOutcome
	Records    map[string]simrec.Record
	// Things are the managed Things (managed-by=simbridge) by name, true
	// when in the environment's thing group; Unmanaged are other Things
	// records name that exist.
	Things    map[string]bool
	Unmanaged map[string]bool
	Certs     map[string]*certInfo
	// Attached says, per active record checked, whether its certificate
	// is attached to its Thing.
	Attached map[string]bool
	// AWSIssued: some record's certificate is Amazon-issued, so lost
	// CreateKeysAndCertificate answers can have left orphans.
	AWSIssued bool
	// KeysKept are the SIMs in key mode device whose record holds a sealed
	// key (read only when some SIM is in key mode device).
	KeysKept map[string]bool
	// activeOnThing counts, per Thing, the ACTIVE certificates attached to
	// it that no record names (derived by check).
	activeOnThing map[string]int
}

// check lists every disagreement, sorted by kind and ICCID.
func check(d auditData) []Finding {
	var out []Finding
	named := map[string]bool{}
	activeByIP := map[string][]string{}
	for id, r := range d.Records {
		for _, c := range []*simrec.Credentials{r.Cert, r.Next} {
			if c != nil {
				named[c.ID] = true
			}
		}
		for _, a := range r.Retiring {
			named[iotcore.CertificateID(a)] = true
		}
		if r.CurrentState() == simrec.StateActive && r.IP != "" {
			activeByIP[r.IP] = append(activeByIP[r.IP], id)
		}
		if r.Claimed("", d.Now) {
			continue // a command is at work on it: judged on the next audit
		}
		out = append(out, checkRecord(d, r)...)
	}
	d.activeOnThing = map[string]int{}
	for id, c := range d.Certs {
		if !named[id] && c.Status == "ACTIVE" {
			for _, th := range c.Things {
				d.activeOnThing[th]++
			}
		}
	}
	for id, r := range d.Records {
		if r.KeyMode == simrec.KeyModeDevice && !r.Claimed("", d.Now) {
			out = append(out, checkDeviceMode(d, d.Records[id])...)
		}
	}
	out = append(out, checkIPs(d, activeByIP)...)
	out = append(out, checkThings(d)...)
	out = append(out, checkCerts(d, named)...)
	out = append(out, checkOnce(d)...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].ICCID+out[i].Certificate < out[j].ICCID+out[j].Certificate
	})
	return out
}

func thingOf(r simrec.Record) string {
	if r.ThingName != "" {
		return r.ThingName
	}
	return r.ICCID
}

func checkRecord(d auditData, r simrec.Record) []Finding {
	var out []Finding
	add := func(kind, fix, cert, format string, args ...any) {
		out = append(out, Finding{Kind: kind, ICCID: r.ICCID, Certificate: cert, Thing: thingOf(r), Fix: fix, Detail: fmt.Sprintf(format, args...)})
	}
	thingExists := d.Things[thingOf(r)] || d.Unmanaged[thingOf(r)]
	if _, managed := d.Things[thingOf(r)]; managed {
		thingExists = true
	}
	switch r.CurrentState() {
	case simrec.StateActive:
		if r.Next != nil || len(r.Retiring) > 0 {
			add(DriftInterruptedAttempt, FixEnable, "", "an interrupted attempt left a certificate to finish or retire; no command is at work")
		}
		if !thingExists {
			add(DriftRecordWithoutThing, FixReissue, r.CertificateID(), "active record; Thing %s does not exist", thingOf(r))
		}
		checkActiveCert(d, r, add)
	case simrec.StateDisabled, simrec.StateRevoked:
		for _, c := range []*simrec.Credentials{r.Cert, r.Next} {
			if c == nil {
				continue
			}
			if ci := d.Certs[c.ID]; ci != nil && ci.Status == "ACTIVE" {
				fix := FixRevoke
				if r.CurrentState() == simrec.StateRevoked {
					fix = FixNone
				}
				add(DriftActiveCertOfInactive, fix, c.ID, "record %s; certificate %s is ACTIVE", r.CurrentState(), short(c.ID))
			}
		}
	}
	if p, ok := d.Plan[r.ICCID]; ok {
		out = append(out, planFindings(p, &r)...)
	}
	return out
}

// planFindings are the disagreements with 1NCE sim-poller's rules found
// for one SIM (rec nil: it has no record): what a sync would change, and
// what the rules skip.
func planFindings(p events.SIMOutcome, rec *simrec.Record) []Finding {
	f := Finding{ICCID: p.ICCID, Thing: p.ICCID, Fix: FixSync}
	state := "no record"
	if rec != nil {
		f.Thing, state = thingOf(*rec), "the record is "+string(rec.CurrentState())
	}
	var out []Finding
	switch {
	case p.Outcome == string(events.KindCreate):
		f.Kind, f.Detail = DriftEnabledNotActive, fmt.Sprintf("1NCE says Enabled (IP %s); %s", p.IP, state)
		out = append(out, f)
	case p.Outcome == string(events.KindUpdate) && rec != nil:
		f.Kind, f.Detail = DriftIPDiffers, fmt.Sprintf("record IP %s, 1NCE IP %s", rec.IP, p.IP)
		out = append(out, f)
	case p.Outcome == string(events.KindDisable) && p.Problem == simrec.ProblemIPConflict:
		f.Kind, f.Detail = DriftIPConflict, fmt.Sprintf("1NCE lists IP %s also for %s: neither gets credentials; sync takes this one's access away (and correct it in 1NCE)",
			p.IP, strings.Join(p.Claimants, ", "))
		out = append(out, f)
	case p.Outcome == string(events.KindDisable) && p.Found:
		f.Kind, f.Detail = DriftActiveNotEnabled, "active here; 1NCE says "+dash(p.Status)
		out = append(out, f)
	case p.Outcome == string(events.KindDisable):
		f.Kind, f.Detail = DriftActiveNotEnabled, "active here; the 1NCE account does not hold the SIM"
		out = append(out, f)
	case p.Outcome == events.OutcomeSkipped:
		f.Fix = FixNone
		switch p.Problem {
		case simrec.ProblemIPConflict:
			f.Kind, f.Detail = DriftIPConflict, fmt.Sprintf("1NCE lists IP %s also for %s: correct it in 1NCE (neither gets credentials meanwhile)",
				p.IP, strings.Join(p.Claimants, ", "))
		case simrec.ProblemInvalidIP, simrec.ProblemNoIP:
			f.Kind, f.Detail = DriftInvalidIPInOnce, p.Reason+"; sim-poller skips the SIM ("+state+", kept as it is): correct it in 1NCE"
		default:
			f.Kind, f.Detail = DriftInvalidInOnce, dash(p.Reason)+" ("+p.Problem+"): correct it in 1NCE"
		}
		out = append(out, f)
	}
	return out
}

func checkActiveCert(d auditData, r simrec.Record, add func(kind, fix, cert, format string, args ...any)) {
	if r.Cert == nil && r.KeyMode == simrec.KeyModeDevice {
		return // waits for its device to enrol (checkDeviceMode)
	}
	if r.Cert == nil {
		add(DriftCertNotActive, FixReissue, "", "active record without a certificate")
		return
	}
	id := r.Cert.ID
	ci := d.Certs[id]
	switch {
	case ci == nil:
		add(DriftCertNotActive, FixReissue, id, "certificate %s is not registered in IoT Core", short(id))
		return
	case ci.Status != "ACTIVE":
		add(DriftCertNotActive, FixReissue, id, "certificate %s is %s", short(id), ci.Status)
	}
	if !ci.Policy {
		add(DriftCertWithoutPolicy, FixReissue, id, "certificate %s lacks the device policy", short(id))
	}
	if attached, checked := d.Attached[r.ICCID]; checked && !attached {
		add(DriftCertNotAttached, FixReissue, id, "certificate %s is not attached to Thing %s", short(id), thingOf(r))
	}
}

func checkIPs(d auditData, activeByIP map[string][]string) []Finding {
	var out []Finding
	for ip, ids := range activeByIP {
		if len(ids) < 2 {
			continue
		}
		sort.Strings(ids)
		for _, id := range ids {
			out = append(out, Finding{Kind: DriftIPConflict, ICCID: id, Fix: FixSync,
				Detail: fmt.Sprintf("active records share IP %s: %s", ip, strings.Join(ids, ", "))})
		}
	}
	return out
}

func checkThings(d auditData) []Finding {
	var out []Finding
	recorded := map[string]bool{}
	for _, r := range d.Records {
		recorded[thingOf(r)] = true
	}
	for name, inGroup := range d.Things {
		if recorded[name] || !inGroup {
			continue // a Thing outside the environment's group is not provably this environment's
		}
		f := Finding{Kind: DriftThingWithoutRecord, ICCID: name, Thing: name}
		if p, ok := d.Plan[name]; ok && p.Outcome == string(events.KindCreate) {
			f.Fix, f.Detail = FixSync, "managed Thing in the environment's group without a record; 1NCE has the SIM Enabled"
		} else {
			f.Detail = "managed Thing in the environment's group without a record; the SIM is not enabled in 1NCE: remove it (make teardown-like) or enable the SIM"
		}
		out = append(out, f)
	}
	return out
}

func checkCerts(d auditData, named map[string]bool) []Finding {
	var out []Finding
	for id, c := range d.Certs {
		if named[id] || c.Status == "REVOKED" {
			continue // a REVOKED certificate grants nothing: a retired one, history
		}
		things := strings.Join(c.Things, ",")
		switch {
		case c.Policy || c.ByCA:
			why := "has the environment's device policy"
			if !c.Policy {
				why = "is signed by the environment's CA"
			}
			out = append(out, Finding{Kind: DriftOrphanCertificate, Certificate: id, Thing: things,
				Detail: fmt.Sprintf("%s certificate %s %s but no record names it; attached to %s", c.Status, short(id), why, dash(things))})
		case d.AWSIssued && c.Checked && c.Status == "INACTIVE" && len(c.Things) == 0:
			out = append(out, Finding{Kind: DriftUnattributedCert, Certificate: id,
				Detail: fmt.Sprintf("INACTIVE certificate %s (created %s) without policy or Thing, like a lost CreateKeysAndCertificate answer; not provably simbridge's", short(id), stamp(c.Created))})
		}
	}
	return out
}

// checkOnce lists what sim-poller's rules say about SIMs without a record.
func checkOnce(d auditData) []Finding {
	var out []Finding
	for id, p := range d.Plan {
		if _, ok := d.Records[id]; ok {
			continue
		}
		out = append(out, planFindings(p, nil)...)
	}
	return out
}

// checkDeviceMode checks a SIM whose key is its device's: no sealed key in
// its record, and — active — exactly one ACTIVE certificate once its device
// enrolled, none before (the certificates its record names, and any other
// ACTIVE one attached to its Thing).
func checkDeviceMode(d auditData, r simrec.Record) []Finding {
	var out []Finding
	if d.KeysKept[r.ICCID] {
		out = append(out, Finding{Kind: DriftDeviceKeyKept, ICCID: r.ICCID, Thing: thingOf(r), Certificate: r.CertificateID(),
			Detail: "key mode device, but the record holds a sealed private key: simbridge key-mode " + r.ICCID + " device deletes it"})
	}
	if r.CurrentState() != simrec.StateActive {
		return out
	}
	active := d.activeOnThing[thingOf(r)]
	ids := []string{}
	if r.Cert != nil {
		ids = append(ids, r.Cert.ID)
	}
	if r.Next != nil {
		ids = append(ids, r.Next.ID)
	}
	for _, a := range r.Retiring {
		ids = append(ids, iotcore.CertificateID(a))
	}
	for _, id := range ids {
		if c := d.Certs[id]; c != nil && c.Status == "ACTIVE" {
			active++
		}
	}
	want := 1
	if r.Cert == nil {
		want = 0
	}
	if active != want {
		out = append(out, Finding{Kind: DriftDeviceCertificates, ICCID: r.ICCID, Thing: thingOf(r), Certificate: r.CertificateID(),
			Detail: fmt.Sprintf("key mode device, %d enrolment(s): %d ACTIVE certificate(s), want %d", r.EnrolCount, active, want)})
	}
	return out
}
