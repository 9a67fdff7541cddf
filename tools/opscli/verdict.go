package opscli

import (
	"fmt"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
	"github.com/simbridge/simbridge/libs/simrec"
)

// Verdict states: what an operator needs to know about a SIM first.
const (
	VerdictOnboardable = "onboardable"
	VerdictPending     = "pending"
	VerdictFailed      = "failed"
	VerdictDisabled    = "disabled"
	VerdictRevoked     = "revoked"
	VerdictDrift       = "drift"
	VerdictNotFound    = "not-found"
	VerdictNotManaged  = "not-managed"
	// VerdictSkipped: 1NCE enables the SIM but the rules give it no
	// credentials (an invalid IP, an IP another SIM holds).
	VerdictSkipped = "skipped"
	// VerdictAwaitingEnrolment: active in key mode device, its device has
	// not enrolled yet (no certificate, no key: as it should be).
	VerdictAwaitingEnrolment = "awaiting-enrolment"
)

// Verdict is the conclusion of `status`: a state, why, and what to do.
type Verdict struct {
	State    string   `json:"state"`
	Summary  string   `json:"summary"`
	Problems []string `json:"problems"`
	Actions  []string `json:"actions"`
}

// NeedsAttention is true for verdicts that end `status` with exit code 3.
func (v Verdict) NeedsAttention() bool {
	return v.State == VerdictNotFound || v.State == VerdictFailed || v.State == VerdictDrift || v.State == VerdictSkipped
}

// OnceView is the SIM as 1NCE holds it, and what the full sync's rules
// make of it (sim-poller's answer to a lookup, events.SIMOutcome).
type OnceView struct {
	Found  bool   `json:"found"`
	Status string `json:"status,omitempty"`
	// IP is 1NCE's, normalised when valid, as given when not.
	IP     string `json:"ip,omitempty"`
	IMSI   string `json:"imsi,omitempty"`
	MSISDN string `json:"msisdn,omitempty"`
	Label  string `json:"label,omitempty"`
	// Problem is why the rules give the SIM no credentials (no_ip,
	// invalid_ip, ip_conflict); Claimants the other SIMs 1NCE gives its IP.
	Problem   string   `json:"problem,omitempty"`
	Claimants []string `json:"claimants"`
	// Decision is what a sync of the SIM would do (create, update,
	// disable, unchanged, skipped, not_found), Reason why.
	Decision string `json:"decision,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// skipped reports whether the rules skip the SIM although 1NCE enables it.
func (o *OnceView) skipped() bool {
	return o != nil && o.Found && o.Status == onceapi.StatusEnabled && o.Problem != ""
}

// IoTView is the SIM's Thing and certificates in IoT Core.
type IoTView struct {
	Thing        ThingView  `json:"thing"`
	Certificates []CertView `json:"certificates"`
}

// ThingView is the SIM's Thing.
type ThingView struct {
	Name       string            `json:"name"`
	Exists     bool              `json:"exists"`
	Managed    bool              `json:"managed"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Groups     []string          `json:"groups"`
	Principals []string          `json:"principals"`
}

// Roles of a certificate for its SIM.
const (
	RoleCurrent  = "current"
	RoleNext     = "next"
	RoleRetiring = "retiring"
	RoleOther    = "other"
)

// CertView is one certificate the record names or the Thing holds.
type CertView struct {
	ID   string `json:"id"`
	ARN  string `json:"arn,omitempty"`
	Role string `json:"role"`
	// Status is IoT Core's (ACTIVE, INACTIVE, REVOKED…) or "not registered".
	Status   string   `json:"status"`
	Policies []string `json:"policies"`
	OnThing  bool     `json:"on_thing"`
}

// StatusNotRegistered is a certificate IoT Core does not know.
const StatusNotRegistered = "not registered"

// judgeInput is everything status found out about one SIM.
type judgeInput struct {
	ICCID  string
	Now    time.Time
	Policy string
	// Once is nil when 1NCE was not asked; OnceErr says why.
	Once    *OnceView
	OnceErr string
	Rec     *simrec.Record
	IoT     *IoTView
	// Conflicts are other SIMs holding the record's IP.
	Conflicts []string
}

// judge turns what status found into a verdict with the actions that fix
// it, each a simbridge command (the services do the work).
func judge(in judgeInput) Verdict {
	if in.Rec == nil {
		return filled(judgeUnrecorded(in))
	}
	r := *in.Rec
	if r.Claimed("", in.Now) {
		v := Verdict{State: VerdictPending, Summary: fmt.Sprintf("command %s is at work on this SIM (claim until %s)", r.ClaimedBy, stamp(r.ClaimedUntil))}
		if f := r.LastFailure; f != nil {
			v.Summary += fmt.Sprintf("; its last attempt failed at %q: %s", f.Step, f.Reason)
		}
		return filled(v)
	}
	if f := r.LastFailure; f != nil {
		return filled(Verdict{State: VerdictFailed,
			Summary: fmt.Sprintf("failed at step %q after %d attempts (%s): %s", f.Step, f.Attempts, stamp(f.At), f.Reason),
			Actions: []string{"simbridge failures   (is the command in a dead-letter queue?)",
				"fix the cause, then: simbridge failures redrive " + r.ICCID + "   or   simbridge sync " + r.ICCID}})
	}
	var v Verdict
	switch r.CurrentState() {
	case simrec.StatePending:
		v = Verdict{State: VerdictPending, Summary: "the first certificate is not issued yet and no command is at work"}
		v.Actions = []string{"simbridge sync " + r.ICCID + "   (sim-poller sends the create again)"}
		if in.Once.skipped() {
			v = skippedVerdict(in)
		}
		return filled(v)
	case simrec.StateActive:
		v = judgeActive(in, r)
	case simrec.StateDisabled:
		v = judgeDisabled(in, r)
	case simrec.StateRevoked:
		v = judgeRevoked(in, r)
	}
	if r.Next != nil || len(r.Retiring) > 0 {
		v.Problems = append(v.Problems, "an interrupted attempt left a certificate to finish or retire and no command is at work")
		v.Actions = appendOnce(v.Actions, "simbridge sync "+r.ICCID+"   (or simbridge enable "+r.ICCID+" for an active SIM)")
	}
	if len(v.Problems) > 0 {
		v.State = VerdictDrift
		v.Summary = strings.Join(v.Problems, "; ")
	}
	return filled(v)
}

// filled gives a verdict empty lists, not nil (JSON: [], never null).
func filled(v Verdict) Verdict {
	if v.Problems == nil {
		v.Problems = []string{}
	}
	if v.Actions == nil {
		v.Actions = []string{}
	}
	return v
}

func judgeUnrecorded(in judgeInput) Verdict {
	thing := in.IoT != nil && in.IoT.Thing.Exists && in.IoT.Thing.Managed
	switch {
	case thing:
		return Verdict{State: VerdictDrift, Summary: "a Thing managed by simbridge exists but no record names it",
			Problems: []string{"Thing without record"}, Actions: []string{"simbridge sync " + in.ICCID, "simbridge audit"}}
	case in.Once.skipped():
		return skippedVerdict(in)
	case in.Once != nil && in.Once.Found && in.Once.Status == onceapi.StatusEnabled && in.Once.IP != "":
		return Verdict{State: VerdictPending, Summary: fmt.Sprintf("enabled in 1NCE (IP %s) but not provisioned yet", in.Once.IP),
			Actions: []string{"simbridge sync " + in.ICCID + "   (sim-poller creates it)"}}
	case in.Once != nil && in.Once.Found:
		why := "is " + in.Once.Status
		if in.Once.IP == "" {
			why = "has no IP"
		}
		return Verdict{State: VerdictNotManaged, Summary: "1NCE lists the SIM but it " + why + ": simbridge keeps no record of it"}
	}
	return Verdict{State: VerdictNotFound, Summary: "no record, no Thing" + onceNote(in), Actions: []string{"check the ICCID or IP"}}
}

// skippedVerdict is a SIM 1NCE enables that the rules give no credentials.
func skippedVerdict(in judgeInput) Verdict {
	return Verdict{State: VerdictSkipped, Summary: "sim-poller gives the SIM no credentials: " + in.Once.Reason,
		Problems: []string{in.Once.Reason}, Actions: []string{"correct the SIM in 1NCE; then: simbridge sync " + in.ICCID}}
}

func onceNote(in judgeInput) string {
	switch {
	case in.Once != nil && !in.Once.Found:
		return ", not in the 1NCE account"
	case in.Once == nil && in.OnceErr != "":
		return " (1NCE not asked: " + in.OnceErr + ")"
	}
	return ""
}

func judgeActive(in judgeInput, r simrec.Record) Verdict {
	v := Verdict{State: VerdictOnboardable}
	reissue := "simbridge reissue " + r.ICCID + "   (a fresh certificate, attached with the policy)"
	sync := "simbridge sync " + r.ICCID
	device := r.KeyMode == simrec.KeyModeDevice
	if device {
		reissue = "simbridge reissue " + r.ICCID + "   (key mode device: the certificate is REVOKED, the device must enrol again)"
	}
	switch {
	case !r.HasCredentials() && device:
		v.State = VerdictAwaitingEnrolment
	case !r.HasCredentials():
		v.Problems = append(v.Problems, "the record holds no usable certificate")
		v.Actions = appendOnce(v.Actions, reissue)
	case device && r.HoldsKey():
		v.Problems = append(v.Problems, "a sealed private key is kept though the SIM's key mode is device")
		v.Actions = appendOnce(v.Actions, "simbridge key-mode "+r.ICCID+" device   (deletes it; the certificate keeps working)")
	}
	if in.IoT != nil {
		cur := findCert(in.IoT, RoleCurrent)
		switch {
		case !in.IoT.Thing.Exists:
			v.Problems = append(v.Problems, "Thing "+in.IoT.Thing.Name+" does not exist")
			v.Actions = appendOnce(v.Actions, reissue)
		case cur == nil:
		default:
			if cur.Status != "ACTIVE" {
				v.Problems = append(v.Problems, fmt.Sprintf("certificate %s is %s", short(cur.ID), cur.Status))
				v.Actions = appendOnce(v.Actions, reissue)
			}
			if !cur.OnThing && cur.Status != StatusNotRegistered {
				v.Problems = append(v.Problems, fmt.Sprintf("certificate %s is not attached to the Thing", short(cur.ID)))
				v.Actions = appendOnce(v.Actions, reissue)
			}
			if !contains(cur.Policies, in.Policy) && cur.Status != StatusNotRegistered {
				v.Problems = append(v.Problems, fmt.Sprintf("certificate %s lacks policy %s", short(cur.ID), in.Policy))
				v.Actions = appendOnce(v.Actions, reissue)
			}
		}
		for _, c := range in.IoT.Certificates {
			if c.Role == RoleOther && c.Status == "ACTIVE" && contains(c.Policies, in.Policy) {
				v.Problems = append(v.Problems, fmt.Sprintf("another ACTIVE certificate %s with the policy is on the Thing", short(c.ID)))
				v.Actions = appendOnce(v.Actions, "simbridge audit   (lists certificates no record names)")
			}
		}
	}
	if o := in.Once; o != nil {
		switch {
		case !o.Found:
			v.Problems = append(v.Problems, "1NCE does not hold the SIM any more")
			v.Actions = appendOnce(v.Actions, sync+"   (sim-poller confirms and disables)")
		case o.Status != onceapi.StatusEnabled:
			v.Problems = append(v.Problems, "1NCE says "+o.Status)
			v.Actions = appendOnce(v.Actions, sync+"   (sim-poller disables it)")
		case o.Problem == simrec.ProblemIPConflict:
			v.Problems = append(v.Problems, o.Reason)
			v.Actions = appendOnce(v.Actions, "correct the IP in 1NCE; meanwhile "+sync+" takes the SIM's access away, as the next full sync will")
		case o.Problem != "":
			v.Problems = append(v.Problems, o.Reason+" (sim-poller keeps the record as it is)")
			v.Actions = appendOnce(v.Actions, "correct the SIM in 1NCE")
		case o.IP != "" && o.IP != r.IP:
			v.Problems = append(v.Problems, fmt.Sprintf("1NCE says IP %s, the record %s", o.IP, r.IP))
			v.Actions = appendOnce(v.Actions, sync+"   (sim-poller moves the record)")
		}
	}
	if len(in.Conflicts) > 0 {
		v.Problems = append(v.Problems, "IP "+r.IP+" is also held by "+strings.Join(in.Conflicts, ", "))
		v.Actions = appendOnce(v.Actions, sync+" "+strings.Join(in.Conflicts, " "))
	}
	switch {
	case v.State == VerdictAwaitingEnrolment:
		v.Summary = fmt.Sprintf("key mode device: the device at %s has not enrolled yet (POST /device-api/certificate); no key is made here", r.IP)
	case !r.Cert.HasKey():
		v.Summary = fmt.Sprintf("the device at %s holds its key and certificate %s (none kept here); last certificate fetch %s",
			r.IP, short(r.CertificateID()), when(r.LastFetchAt))
	default:
		v.Summary = fmt.Sprintf("the device at %s can fetch its credentials (certificate %s); last fetch %s",
			r.IP, short(r.CertificateID()), when(r.LastFetchAt))
	}
	return v
}

func judgeDisabled(in judgeInput, r simrec.Record) Verdict {
	v := Verdict{State: VerdictDisabled, Summary: "access taken away: the certificate is INACTIVE and is reactivated when 1NCE enables the SIM again"}
	if in.IoT != nil {
		for _, c := range in.IoT.Certificates {
			if c.Status == "ACTIVE" && (c.Role == RoleCurrent || c.Role == RoleNext) {
				v.Problems = append(v.Problems, fmt.Sprintf("certificate %s is ACTIVE though the SIM is disabled", short(c.ID)))
				v.Actions = appendOnce(v.Actions, "simbridge revoke "+r.ICCID+"   (REVOKED for good; enable issues a fresh one)")
			}
		}
	}
	switch o := in.Once; {
	case o.skipped():
		v.State, v.Summary = VerdictSkipped, "disabled: 1NCE enables the SIM, but "+o.Reason
		v.Actions = appendOnce(v.Actions, "correct the SIM in 1NCE; then: simbridge sync "+r.ICCID)
	case o != nil && o.Found && o.Status == onceapi.StatusEnabled && o.IP != "":
		v.Problems = append(v.Problems, "1NCE says Enabled")
		v.Actions = appendOnce(v.Actions, "simbridge sync "+r.ICCID+"   (sim-poller enables it again)")
	}
	return v
}

func judgeRevoked(in judgeInput, r simrec.Record) Verdict {
	v := Verdict{State: VerdictRevoked, Summary: "revoked: the certificate is REVOKED for good",
		Actions: []string{"simbridge enable " + r.ICCID + "   (issues a fresh certificate, with the IP from 1NCE)"}}
	if in.IoT != nil {
		for _, c := range in.IoT.Certificates {
			if c.Role == RoleCurrent && c.Status == "ACTIVE" {
				v.Problems = append(v.Problems, fmt.Sprintf("certificate %s is ACTIVE though the SIM is revoked", short(c.ID)))
			}
		}
	}
	return v
}

func findCert(v *IoTView, role string) *CertView {
	for i := range v.Certificates {
		if v.Certificates[i].Role == role {
			return &v.Certificates[i]
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func appendOnce(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}
