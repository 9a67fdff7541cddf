package e2e_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/device"
	"github.com/simbridge/simbridge/tools/devstack"
)

// TestDevicesEnrolThroughTheGateway: in key mode both, a device that
// fetched the key made for it enrols with a key of its own; the
// certificate is for its key with our subject and extensions whatever it
// asked, works in a TLS handshake with client-certificate authentication,
// and the server certificate is REVOKED and refused there; the record
// holds no key. The same request again gets the same certificate (CSV
// too); a new key replaces it (the previous one REVOKED and refused); a
// retired key and a third enrolment in a day are refused; bad requests are
// refused with a reason and change nothing; the SIM is the socket's.
func TestDevicesEnrolThroughTheGateway(t *testing.T) {
	s := startStack(t, devstack.Options{SIMs: 3, SyncInterval: time.Hour, KeyMode: "both",
		Env: map[string][]string{"onboarding-api": {"ENROL_INTERVAL=0s", "ENROL_DAILY_CAP=2"}}})
	ctx := context.Background()
	cfg := testkit.AWSConfigFor(t, s.AWSEndpoint())
	iotAPI := iot.NewFromConfig(cfg)
	store := simstore.NewDynamo(dynamodb.NewFromConfig(cfg), s.Resources.Table())
	check := testkit.NewProvisioning(cfg, s.Resources.Table(), s.Resources.Policy())
	check.CA = s.Resources.CACertificatePEM
	ip, other := ips[0], ips[1]
	iccid := iccidOf(t, s, ip)
	server, serverID := onboarded(t, s, ip)
	serverKey := parseKey(t, server.PrivateKey)

	t.Log("the device enrols with a key of its own; the server certificate is REVOKED, no key is kept")
	key, csr := newDeviceKey(t)
	first := enrolAt(t, s, ip, csr)
	firstID := verifyEnrolled(t, s, iccid, first, key)
	waitCertStatus(t, iotAPI, serverID, iottypes.CertificateStatusRevoked)
	waitCertStatus(t, iotAPI, firstID, iottypes.CertificateStatusActive)
	if err := check.Active(ctx, iccid); err != nil {
		t.Fatalf("invariant: %v", err)
	}
	noKeyStored(t, check, iccid)
	if rec, _ := store.Get(ctx, iccid); rec.KeyMode != simrec.KeyModeDevice || rec.EnrolCount != 1 {
		t.Fatalf("key mode %q, %d enrolments: the SIM must switch itself to device mode", rec.KeyMode, rec.EnrolCount)
	}
	eventually(t, 5*time.Second, "GET refused once the cache (CACHE_TTL) let go", func() error {
		if _, err := deviceAt(t, s, ip).Fetch(ctx, nil); !isStatus(err, 404, "made on the device") {
			return fmt.Errorf("GET after enrolment: %v, want 404 saying the key is made on the device", err)
		}
		return nil
	})

	t.Log("TLS with client-certificate authentication: the enrolled certificate is accepted, the revoked server one refused")
	handshake(t, s, first.Certificate, key, true)
	handshake(t, s, server.Certificate, serverKey, false)

	t.Log("the same request again: the same certificate, in the reference's CSV shape too")
	code, body := enrolRaw(t, s, ip, derOf(t, csr), map[string]string{"Accept": "text/csv"})
	fields := strings.Split(strings.Trim(body, `"`), `","`)
	if code != 200 || len(fields) != 5 || fields[0] != iccid || fields[1] != devstack.IoTEndpoint || strings.Contains(body, "\n") ||
		strings.ReplaceAll(fields[4], `\n`, "\n") != first.Certificate || strings.Contains(body, "PRIVATE KEY") {
		t.Fatalf("CSV answer %d: %.300s", code, body)
	}

	t.Log("re-enrolment with a new key (RSA, DER): the previous certificate is REVOKED and refused")
	csr2, key2 := testkit.NewCSR(t, testkit.CSRRSA2048)
	second := enrolAt(t, s, ip, csr2)
	secondID := verifyEnrolled(t, s, iccid, second, key2)
	waitCertStatus(t, iotAPI, firstID, iottypes.CertificateStatusRevoked)
	if err := check.Active(ctx, iccid); err != nil {
		t.Fatalf("invariant after re-enrolment: %v", err)
	}
	noKeyStored(t, check, iccid)
	handshake(t, s, second.Certificate, key2, true)
	handshake(t, s, first.Certificate, key, false)
	if rec, _ := store.Get(ctx, iccid); rec.EnrolCount != 2 || rec.LastEnrolment().CertificateID != secondID {
		t.Fatalf("enrolment history %+v", rec.Enrolments)
	}

	t.Log("the retired key and a third enrolment in a day are refused")
	if code, body := enrolRaw(t, s, ip, csr, nil); code != http.StatusConflict || !strings.Contains(body, "generate a new key") {
		t.Fatalf("the first key again: %d %s, want 409", code, body)
	}
	_, csr3 := newDeviceKey(t)
	resp := enrolResp(t, s, ip, csr3, nil)
	if resp.code != http.StatusTooManyRequests || resp.header.Get("Retry-After") == "" {
		t.Fatalf("a third enrolment: %d %s (Retry-After %q), want 429", resp.code, resp.body, resp.header.Get("Retry-After"))
	}

	t.Log("bad requests are refused with a reason and change nothing")
	before, _ := store.Get(ctx, iccidOf(t, s, other))
	for _, tc := range []struct {
		name string
		body []byte
		code int
		says string
	}{
		{"no proof of possession", pemOf(t, testkit.CSRBadSignature), 400, "proof of possession"},
		{"a weak key", pemOf(t, testkit.CSRRSA1024), 400, "RSA of 1024 bits"},
		{"a key of the wrong type (P-384)", pemOf(t, testkit.CSRP384), 400, "ECDSA P-384"},
		{"a key of the wrong type (Ed25519)", pemOf(t, testkit.CSREd25519), 400, "Ed25519"},
		{"garbage", []byte("I am a modem, give me a certificate"), 400, "not a PKCS#10"},
		{"a certificate instead of a request", []byte(server.Certificate), 400, "CERTIFICATE"},
		{"oversized", append(pemOf(t, testkit.CSRP256), bytes.Repeat([]byte("A"), 8192)...), 413, "Too Large"},
	} {
		if code, body := enrolRaw(t, s, other, tc.body, nil); code != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %s, want %d saying %q", tc.name, code, body, tc.code, tc.says)
		}
	}
	if after, _ := store.Get(ctx, before.ICCID); after.Version != before.Version || after.CertificateID() != before.CertificateID() {
		t.Errorf("refused requests changed the SIM's record (version %d → %d)", before.Version, after.Version)
	}

	t.Log("the SIM is the socket's: forwarding headers of another device's IP do not count")
	k3, c3 := newDeviceKey(t)
	third := enrolAtWith(t, s, ips[2], c3, map[string]string{"X-Forwarded-For": other, "onboarding-ip": other, "X-Real-IP": other})
	verifyEnrolled(t, s, iccidOf(t, s, ips[2]), third, k3)
	if code, body := enrolRaw(t, s, "127.0.0.50", csr3, nil); code != 404 {
		t.Errorf("an IP without a SIM: %d %s, want 404", code, body)
	}
	rep, err := check.Check(ctx, nil)
	if err != nil || len(rep.Violations) > 0 || len(rep.Orphans) > 0 {
		t.Fatalf("invariant over the account: %v, orphans %v (%v)", rep.Violations, rep.Orphans, err)
	}
}

// TestDeviceModeEnrolmentUnderIoTFaults: in key mode device new SIMs get
// their Thing and record but never a key; their devices enrol through the
// gateway while IoT Core throttles and loses answers after the call took
// effect; every SIM ends with exactly one ACTIVE certificate, its device's,
// no key stored, and the invariant holds over the account. The provisioner
// never sealed a key: KMS Encrypt is never called.
func TestDeviceModeEnrolmentUnderIoTFaults(t *testing.T) {
	var proxy *testkit.FaultProxy
	s := startStack(t, devstack.Options{SIMs: 3, SyncInterval: time.Hour, KeyMode: "device",
		Env: map[string][]string{"onboarding-api": {"ENROL_INTERVAL=0s"}},
		BeforeServices: func(s *devstack.Stack) error {
			proxy = testkit.NewFaultProxy(t, s.AWSEndpoint(), 7)
			s.Opts.Env["provisioner"] = append(s.Opts.Env["provisioner"], "AWS_ENDPOINT_URL="+proxy.URL, "AWS_MAX_ATTEMPTS=6")
			return nil
		}})
	ctx := context.Background()
	cfg := testkit.AWSConfigFor(t, s.AWSEndpoint())
	iotAPI := iot.NewFromConfig(cfg)
	check := testkit.NewProvisioning(cfg, s.Resources.Table(), s.Resources.Policy())
	check.CA = s.Resources.CACertificatePEM
	var iccids []string
	for _, ip := range ips {
		iccids = append(iccids, iccidOf(t, s, ip))
	}
	eventually(t, time.Minute, "new SIMs wait for their devices", func() error {
		var errs []error
		for _, id := range iccids {
			errs = append(errs, check.AwaitingEnrolment(ctx, id))
		}
		return errors.Join(errs...)
	})
	for i, ip := range ips {
		noKeyStored(t, check, iccids[i])
		if _, err := deviceAt(t, s, ip).Fetch(ctx, nil); !isStatus(err, 404, "POST a certificate signing request") {
			t.Fatalf("GET of a device-mode SIM: %v, want 404 saying to enrol", err)
		}
	}

	faults := []*testkit.Fault{
		{Operation: "RegisterCertificate", Every: 2, Status: 400, Code: "ThrottlingException"},
		{Operation: "RegisterCertificate", Every: 3, Status: 500, Code: "InternalFailureException", AfterForward: true},
		{Operation: "AttachThingPrincipal", Every: 2, Status: 500, Code: "InternalFailureException", AfterForward: true},
		{Operation: "AttachPolicy", Every: 3, Status: 400, Code: "ThrottlingException"},
		{Operation: "UpdateCertificate", Every: 2, Status: 503, Code: "ServiceUnavailableException", AfterForward: true},
		{Operation: "DetachThingPrincipal", Every: 1, Times: 1, Reset: true},
	}
	proxy.Set(faults...)
	t.Log("three devices enrol at once, then one again, while IoT Core throttles and loses answers")
	type enrolled struct {
		e   device.Enrolled
		key crypto.Signer
	}
	got := make([]enrolled, len(ips))
	done := make(chan error, len(ips))
	for i, ip := range ips {
		key, csr := newDeviceKey(t)
		c, err := device.New(s.GatewayURL(), ip, 30*time.Second) // longer than ENROL_WAIT
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			e, err := c.EnrolUntil(ctx, s.CertificateURL(), csr, 2*time.Minute)
			got[i] = enrolled{e, key}
			done <- err
		}()
	}
	for range ips {
		if err := <-done; err != nil {
			t.Fatalf("enrolment: %v", err)
		}
	}
	for i := range ips {
		verifyEnrolled(t, s, iccids[i], got[i].e, got[i].key)
	}
	key, csr := newDeviceKey(t)
	again := enrolAt(t, s, ips[0], csr)
	verifyEnrolled(t, s, iccids[0], again, key)
	for _, f := range faults {
		if f.Applied() == 0 {
			t.Errorf("fault on %s never fired: the test did not exercise it", f.Operation)
		}
	}
	proxy.Set()
	waitCertStatus(t, iotAPI, got[0].e.CertificateID, iottypes.CertificateStatusRevoked)
	handshake(t, s, again.Certificate, key, true)
	handshake(t, s, got[0].e.Certificate, got[0].key, false)
	eventually(t, time.Minute, "every SIM settled with its device's certificate", func() error {
		var errs []error
		for _, id := range iccids {
			errs = append(errs, check.Active(ctx, id))
		}
		return errors.Join(errs...)
	})
	for _, id := range iccids {
		noKeyStored(t, check, id)
	}
	rep, err := check.Check(ctx, nil)
	if err != nil || len(rep.Violations) > 0 || len(rep.Orphans) > 0 {
		t.Fatalf("invariant over the account: %v, orphans %v (%v)", rep.Violations, rep.Orphans, err)
	}
	requests, _ := proxy.Counts()
	if n, signed := calls(requests, "Encrypt"), calls(requests, "Sign"); n != 0 || signed == 0 {
		t.Fatalf("KMS Encrypt called %d times (a key sealed), Sign %d times", n, signed)
	}
}

// newDeviceKey is a device's own P-256 key and its request (PEM).
func newDeviceKey(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := device.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := device.NewCSR(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, csr
}

// enrolAt enrols the device at ip with the request, as the device client
// does (again after each 202).
func enrolAt(t *testing.T, s *devstack.Stack, ip string, csr []byte) device.Enrolled {
	t.Helper()
	return enrolAtWith(t, s, ip, csr, nil)
}

func enrolAtWith(t *testing.T, s *devstack.Stack, ip string, csr []byte, header map[string]string) device.Enrolled {
	t.Helper()
	var e device.Enrolled
	eventually(t, time.Minute, "enrolment of "+ip, func() error {
		r := enrolResp(t, s, ip, csr, header)
		switch r.code {
		case 200:
			if err := json.Unmarshal([]byte(r.body), &e); err != nil {
				t.Fatalf("answer %q: %v", r.body, err)
			}
			return nil
		case 202, 404: // still being made; the SIM not provisioned yet
			return fmt.Errorf("%d %s", r.code, r.body)
		}
		t.Fatalf("enrolment of %s: %d %s", ip, r.code, r.body)
		return nil
	})
	return e
}

type answer struct {
	code   int
	header http.Header
	body   string
}

// enrolResp POSTs body from ip through the gateway, once.
func enrolResp(t *testing.T, s *devstack.Stack, ip string, body []byte, header map[string]string) answer {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 30 * time.Second}
	req, _ := http.NewRequest(http.MethodPost, s.CertificateURL(), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/pkcs10")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST from %s: %v", ip, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func enrolRaw(t *testing.T, s *devstack.Stack, ip string, body []byte, header map[string]string) (int, string) {
	t.Helper()
	r := enrolResp(t, s, ip, body, header)
	return r.code, r.body
}

// verifyEnrolled checks an enrolment's answer: the certificate is for the
// device's key, chains to the account's CA, has our subject (CN = ICCID)
// and extensions (client authentication only, not a CA) whatever the
// request asked, and is the record's; it returns the certificate id.
func verifyEnrolled(t *testing.T, s *devstack.Stack, iccid string, e device.Enrolled, key crypto.Signer) string {
	t.Helper()
	cert, err := iotca.ParseCertificate(e.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
		t.Fatal("the certificate is not for the device's key")
	}
	if err := testkit.ChainsTo(e.Certificate, s.Resources.CACertificatePEM); err != nil {
		t.Fatalf("certificate does not chain to the account's CA: %v", err)
	}
	if cert.Subject.String() != "CN="+iccid || e.ICCID != iccid || cert.IsCA || len(cert.DNSNames) != 0 ||
		len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Fatalf("certificate subject %q (answer for %s), CA %v, DNS %v, EKU %v: want CN=%s, client auth only", cert.Subject, e.ICCID, cert.IsCA, cert.DNSNames, cert.ExtKeyUsage, iccid)
	}
	if id := iotca.CertificateID(cert.Raw); id != e.CertificateID {
		t.Fatalf("certificate id %s, answer says %s", id, e.CertificateID)
	}
	if e.IoTCoreEndpointURL != devstack.IoTEndpoint || e.AmazonRootCaURL == "" {
		t.Fatalf("answer endpoint %q root CA %q", e.IoTCoreEndpointURL, e.AmazonRootCaURL)
	}
	return e.CertificateID
}

// handshake connects to the IoT endpoint stand-in with the certificate and
// key: accepted, or refused (its status in the IoT registry is checked at
// the handshake, as IoT Core does).
func handshake(t *testing.T, s *devstack.Stack, certPEM string, key crypto.Signer, accepted bool) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(s.IoTEndpoint.ServerCAPEM))
	line, err := device.Handshake(context.Background(), s.IoTEndpoint.Addr, roots, certPEM, key)
	cert, _ := iotca.ParseCertificate(certPEM)
	switch {
	case accepted && (err != nil || line != "accepted "+cert.Subject.CommonName):
		t.Fatalf("TLS with the certificate %s: %q %v, want accepted\n%v", iotca.CertificateID(cert.Raw), line, err, s.IoTEndpoint.Handshakes())
	case !accepted && err == nil:
		t.Fatalf("TLS with the revoked certificate %s was accepted", iotca.CertificateID(cert.Raw))
	}
	if !accepted {
		want := "refused " + iotca.CertificateID(cert.Raw) + ": certificate " + iotca.CertificateID(cert.Raw) + " is REVOKED"
		if hs := s.IoTEndpoint.Handshakes(); len(hs) == 0 || hs[len(hs)-1] != want {
			t.Fatalf("the endpoint's verdict %v, want %q", hs, want)
		}
	}
}

func noKeyStored(t *testing.T, check *testkit.Provisioning, iccid string) {
	t.Helper()
	if keys, err := check.StoredKeys(context.Background(), iccid); err != nil || len(keys) > 0 {
		t.Fatalf("%s: the record holds key material at %v (%v)", iccid, keys, err)
	}
}

func isStatus(err error, code int, says string) bool {
	var se *device.StatusError
	return errors.As(err, &se) && se.Code == code && strings.Contains(se.Body, says)
}

func parseKey(t *testing.T, keyPEM string) crypto.Signer {
	t.Helper()
	b, _ := pem.Decode([]byte(keyPEM))
	if b == nil {
		t.Fatal("key not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k
	}
	t.Fatalf("key of type %s", b.Type)
	return nil
}

func derOf(t *testing.T, csrPEM []byte) []byte {
	t.Helper()
	der, err := iotca.DecodeCSR(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemOf(t *testing.T, kind testkit.CSRKind) []byte {
	t.Helper()
	der, _ := testkit.NewCSR(t, kind)
	return testkit.CSRPEM(der)
}

// calls counts the requests of a KMS operation (X-Amz-Target
// "TrentService.<op>").
func calls(requests map[string]int, op string) int {
	n := 0
	for k, v := range requests {
		if strings.HasSuffix(k, "."+op) {
			n += v
		}
	}
	return n
}
