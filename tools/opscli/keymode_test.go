package opscli_test

import (
	"context"
	"crypto/x509"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/messaging"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/tools/opscli"
)

// TestKeyModesForOperators: in an environment in key mode device, status
// shows a SIM waiting for its device, then its key mode and enrolment
// history; reissue of a device-mode SIM tells the operator the device must
// enrol again and revokes its certificate; audit checks device-mode SIMs
// (no sealed key, exactly one ACTIVE certificate); key-mode moves a SIM to
// server (a reissue makes it a key) and back to device (its key deleted,
// its certificate working on).
func TestKeyModesForOperators(t *testing.T) {
	t.Parallel()
	e := newEnv(t, bootstrap.Options{}, 2)
	e.start("provisioner", "KEY_MODE=device")
	e.startPoller() // enable asks it what 1NCE holds
	a, b := e.iccid(1), e.iccid(2)
	e.provision(a, b)

	var st opscli.SIMStatus
	e.run("-o", "json", "status", a).want(t, opscli.ExitOK).json(t, &st)
	if st.Verdict.State != opscli.VerdictAwaitingEnrolment || st.Record.KeyMode != "device" || st.Record.Key != opscli.KeyNone {
		t.Fatalf("a new SIM in key mode device: %+v %+v", st.Verdict, st.Record)
	}

	t.Log("the device enrols (the command onboarding-api sends)")
	enrolled := enrolSIM(t, e, a)
	r := e.run("status", a).want(t, opscli.ExitOK)
	containsAll(t, r.stdout, "key mode device (the SIM's own), key on the device, none kept here", "enrolled 1 time(s)",
		"certificate "+enrolled[:12], "ONBOARDABLE", "holds its key and certificate")
	e.run("-o", "json", "status", a).want(t, opscli.ExitOK).json(t, &st)
	if st.Record.EnrolCount != 1 || len(st.Record.Enrolments) != 1 || st.Record.Enrolments[0].CertificateID != enrolled || st.Record.Key != opscli.KeyDevice {
		t.Fatalf("enrolment history %+v", st.Record)
	}
	audit(t, e, nil)

	t.Log("reissue of a device-mode SIM: the device must enrol again")
	r = e.run("reissue", "--yes", a).want(t, opscli.ExitOK)
	containsAll(t, r.stderr, "key mode device", "must enrol again")
	if rec := e.record(a); rec.Cert != nil || certStatus(t, e, enrolled) != "REVOKED" {
		t.Fatalf("after reissue: certificate %q, the enrolled one %s", rec.CertificateID(), certStatus(t, e, enrolled))
	}
	e.run("-o", "json", "status", a).want(t, opscli.ExitOK).json(t, &st)
	if st.Verdict.State != opscli.VerdictAwaitingEnrolment {
		t.Fatalf("after reissue: %+v", st.Verdict)
	}

	t.Log("key-mode server, then a reissue makes a key; key-mode device deletes it and the certificate works on")
	e.run("key-mode", "--yes", b, "server").want(t, opscli.ExitOK)
	e.run("reissue", "--yes", b).want(t, opscli.ExitOK)
	if rec := e.record(b); !rec.HoldsKey() || rec.KeyMode != simrec.KeyModeServer {
		t.Fatalf("server mode and a reissue: key kept %v, mode %q", rec.HoldsKey(), rec.KeyMode)
	}
	served := e.record(b).CertificateID()
	r = e.run("key-mode", "--yes", b, "device").want(t, opscli.ExitOK)
	containsAll(t, r.stderr, "sealed private key of SIM "+b+" will be deleted")
	containsAll(t, r.stdout, "key-mode "+b+": done")
	if rec := e.record(b); rec.HoldsKey() || rec.KeyMode != simrec.KeyModeDevice || rec.CertificateID() != served || certStatus(t, e, served) != "ACTIVE" {
		t.Fatalf("key-mode device: key kept %v, mode %q, certificate %s (%s)", rec.HoldsKey(), rec.KeyMode, rec.CertificateID(), certStatus(t, e, served))
	}
	containsAll(t, e.run("key-mode", "--yes", b, "device").want(t, opscli.ExitOK).stdout, "noop", "already")
	e.run("key-mode", b, "hsm").want(t, opscli.ExitUsage)
	audit(t, e, nil)

	t.Log("audit: a sealed key kept for a device-mode SIM, and a second ACTIVE certificate on its Thing")
	ctx := context.Background()
	rec := e.record(b)
	rec.Cert.KeyCiphertext = []byte("sealed-key")
	if _, err := e.store.Update(ctx, rec); err != nil {
		t.Fatal(err)
	}
	audit(t, e, map[string]int{opscli.DriftDeviceKeyKept: 1})
	second := enrolSIM(t, e, b) // its enrolment deletes the kept key
	extra, err := e.iot.CreateKeysAndCertificate(ctx, &iot.CreateKeysAndCertificateInput{SetAsActive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.iot.AttachPolicy(ctx, &iot.AttachPolicyInput{PolicyName: aws.String(e.res.Policy()), Target: extra.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.iot.AttachThingPrincipal(ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String(b), Principal: extra.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	var rep opscli.AuditReport
	e.run("-o", "json", "audit", "--skip-1nce").want(t, opscli.ExitAttention).json(t, &rep)
	if rep.Counts[opscli.DriftDeviceCertificates] != 1 || rep.Counts[opscli.DriftOrphanCertificate] != 1 || rep.Counts[opscli.DriftDeviceKeyKept] != 0 {
		t.Fatalf("another ACTIVE certificate with the policy on the Thing beside %s: %+v", second[:12], rep.Findings)
	}
}

// enrolSIM has the provisioner certify a fresh P-256 key for the SIM, as
// onboarding-api asks it to, and returns the certificate id.
func enrolSIM(t *testing.T, e *env, iccid string) string {
	t.Helper()
	der, _ := testkit.NewCSR(t, testkit.CSRP256)
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	rec := e.record(iccid)
	cmd := events.SimCommand{Kind: events.KindEnrol, ICCID: iccid, IP: rec.IP, BaseVersion: rec.Version, BaseCommand: rec.LastCommand,
		ID: events.EnrolID(iccid, csr.RawSubjectPublicKeyInfo), CSR: string(testkit.CSRPEM(der)), ObservedAt: time.Now()}
	msg, err := messaging.NewCommandMessage(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := messaging.NewSQSPublisher(e.cfg, slog.New(slog.DiscardHandler)).Publish(e.res.CreateQueue(), msg); err != nil {
		t.Fatal(err)
	}
	var id string
	testkit.Eventually(t, time.Minute, "enrolment of "+iccid, func() error {
		r := e.record(iccid)
		if r.Cert == nil || r.Cert.Command != cmd.ID || !r.Settled() {
			return errorf("certificate of %q", r.CertificateID())
		}
		id = r.Cert.ID
		return nil
	})
	return id
}

// audit runs the audit without 1NCE and checks its findings by kind.
func audit(t *testing.T, e *env, want map[string]int) {
	t.Helper()
	code := opscli.ExitOK
	if len(want) > 0 {
		code = opscli.ExitAttention
	}
	var rep opscli.AuditReport
	e.run("-o", "json", "audit", "--skip-1nce").want(t, code).json(t, &rep)
	got := map[string]int{}
	for _, f := range rep.Findings {
		got[f.Kind]++
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("audit found %d %s, want %d: %+v", got[k], k, n, rep.Findings)
		}
	}
	if len(rep.Findings) != sum(want) {
		t.Errorf("audit findings %+v, want only %v", rep.Findings, want)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
