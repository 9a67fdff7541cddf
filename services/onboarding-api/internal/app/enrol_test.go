package app_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simrec/simrectest"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/app"
)

const (
	enrolSIM = "8988280666000000101"
	enrolIP  = "10.9.0.1"
)

// provisioner stands in for the provisioner's queue: each command is kept
// and handed to act, which changes the record as the provisioner would.
type provisioner struct {
	store *simrectest.Store
	t     *testing.T
	sent  []events.SimCommand
	act   func(p *provisioner, cmd events.SimCommand)
}

func (p *provisioner) Send(_ context.Context, cmd events.SimCommand) error {
	if err := cmd.Validate(); err != nil {
		p.t.Fatalf("invalid command sent: %v", err)
	}
	p.sent = append(p.sent, cmd)
	if p.act != nil {
		p.act(p, cmd)
	}
	return nil
}

// certify does what the provisioner does when it carries out cmd.
func certify(p *provisioner, cmd events.SimCommand) {
	p.store.Change(p.t, cmd.ICCID, func(r *simrec.Record) {
		r.LastCommand = cmd.ID
		if r.Cert != nil {
			r.Retire("arn:cert/" + r.Cert.ID)
		}
		r.Cert = &simrec.Credentials{ID: "cert-of-" + cmd.ID, PEM: "PEM of " + cmd.ID, Command: cmd.ID, DeviceKey: true}
		r.Retired()
		r.Enrolled(simrec.Enrolment{CertificateID: r.Cert.ID, Command: cmd.ID})
		r.KeyMode = simrec.KeyModeDevice
	})
}

type enrolWorld struct {
	store *simrectest.Store
	clock *simrectest.Clock
	prov  *provisioner
	e     *app.Enrolment
}

func newEnrolWorld(t *testing.T, mode simrec.KeyMode, rec simrec.Record, act func(*provisioner, events.SimCommand)) *enrolWorld {
	t.Helper()
	w := &enrolWorld{store: simrectest.NewStore(), clock: simrectest.NewClock()}
	if rec.ICCID != "" {
		if _, err := w.store.Memory.Create(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	w.prov = &provisioner{store: w.store, t: t, act: act}
	var err error
	w.e, err = app.NewEnrolment(w.store, w.prov, app.EnrolOptions{KeyMode: mode, Limits: simrec.EnrolLimits{Interval: 10 * time.Minute, DailyCap: 3},
		Wait: 5 * time.Second, Poll: 100 * time.Millisecond, Endpoint: "ep.example", RootCA: "ROOT", Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func activeSIM() simrec.Record {
	r := simrec.Record{ICCID: enrolSIM, IP: enrolIP, Status: "Enabled", ThingName: enrolSIM, LastCommand: "create-1",
		Cert: &simrec.Credentials{ID: "server-cert", PEM: "SERVER PEM", KeyCiphertext: []byte("sealed"), Command: "create-1"}}
	r.SetState(simrec.StateActive)
	return r
}

func enrolID(t *testing.T, der []byte) string {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return events.EnrolID(enrolSIM, csr.RawSubjectPublicKeyInfo)
}

func TestEnrol(t *testing.T) {
	t.Parallel()
	ip := netip.MustParseAddr(enrolIP)
	tests := []struct {
		name   string
		mode   simrec.KeyMode
		rec    func(der []byte, t *testing.T) simrec.Record
		act    func(*provisioner, events.SimCommand)
		kind   testkit.CSRKind
		noPEM  bool
		want   error
		sends  int
		issued bool
		check  func(t *testing.T, w *enrolWorld, got app.Certificate, err error)
		// during changes the record on the use case's first wait.
		during func(t *testing.T, w *enrolWorld)
	}{
		{name: "a certificate for the request, computed against the record", mode: simrec.KeyModeBoth, act: certify, sends: 1, issued: true,
			check: func(t *testing.T, w *enrolWorld, got app.Certificate, _ error) {
				cmd := w.prov.sent[0]
				if cmd.Kind != events.KindEnrol || cmd.BaseVersion != 1 || cmd.BaseCommand != "create-1" || cmd.IP != enrolIP || len(cmd.CSR) == 0 {
					t.Fatalf("command %+v", cmd)
				}
				if got.ICCID != enrolSIM || got.CertificatePEM != "PEM of "+cmd.ID || got.IoTEndpoint != "ep.example" || got.RootCAPEM != "ROOT" || got.RootCAURL != app.AmazonRootCAURL {
					t.Fatalf("answer %+v", got)
				}
			}},
		{name: "DER works as PEM does", mode: simrec.KeyModeDevice, act: certify, sends: 1, issued: true, noPEM: true},
		{name: "the same request once certified: its certificate, nothing sent", mode: simrec.KeyModeDevice, sends: 0,
			rec: func(der []byte, t *testing.T) simrec.Record {
				r := activeSIM()
				id := enrolID(t, der)
				r.Cert = &simrec.Credentials{ID: "c", PEM: "P", Command: id, DeviceKey: true}
				r.Enrolled(simrec.Enrolment{At: time.Unix(1_800_000_000, 0), Command: id})
				return r
			},
			check: func(t *testing.T, _ *enrolWorld, got app.Certificate, _ error) {
				if got.CertificatePEM != "P" {
					t.Fatalf("answer %+v", got)
				}
			}},
		{name: "the provisioner does not answer in time: pending, sent once", mode: simrec.KeyModeDevice, sends: 1,
			want: &app.RetryLater{}, check: func(t *testing.T, _ *enrolWorld, _ app.Certificate, err error) {
				var later *app.RetryLater
				if !errors.As(err, &later) || !later.Pending || later.After <= 0 {
					t.Fatalf("%v: want pending with a Retry-After", err)
				}
			}},
		{name: "the record moved on before the command ran: computed and sent again", mode: simrec.KeyModeDevice, sends: 2, issued: true,
			act: func(p *provisioner, cmd events.SimCommand) {
				if len(p.sent) == 1 { // an IP update came first; the enrolment is stale
					p.store.Change(p.t, cmd.ICCID, func(r *simrec.Record) { r.LastCommand = "update-7" })
					return
				}
				if cmd.BaseCommand != "update-7" {
					p.t.Fatalf("resent against %s, want the newer record", cmd.BaseCommand)
				}
				certify(p, cmd)
			}},
		{name: "enrolled a minute ago: 429 until the interval passed", mode: simrec.KeyModeDevice,
			rec: func(_ []byte, _ *testing.T) simrec.Record {
				r := activeSIM()
				r.Enrolled(simrec.Enrolment{At: time.Unix(1_800_000_000, 0).Add(-time.Minute), Command: "enrol-old"})
				r.Cert.Command = "enrol-old"
				return r
			},
			check: func(t *testing.T, _ *enrolWorld, _ app.Certificate, err error) {
				var later *app.RetryLater
				if !errors.As(err, &later) || later.Pending || later.After != 9*time.Minute {
					t.Fatalf("%v: want rate limited for 9m", err)
				}
			}, want: &app.RetryLater{}},
		{name: "a retired key is refused", mode: simrec.KeyModeDevice, want: simrec.ErrKeyRetired,
			rec: func(der []byte, t *testing.T) simrec.Record {
				r := activeSIM()
				r.Enrolled(simrec.Enrolment{At: time.Unix(1_700_000_000, 0), Command: enrolID(t, der)})
				return r
			}},
		{name: "key mode server: enrolment off", mode: simrec.KeyModeServer, want: app.ErrEnrolmentOff},
		{name: "a SIM set to device in a server environment enrols", mode: simrec.KeyModeServer, act: certify, sends: 1, issued: true,
			rec: func(_ []byte, _ *testing.T) simrec.Record {
				r := activeSIM()
				r.KeyMode = simrec.KeyModeDevice
				return r
			}},
		{name: "weak key", mode: simrec.KeyModeDevice, kind: testkit.CSRRSA1024, want: iotca.ErrCSRKey},
		{name: "wrong key type", mode: simrec.KeyModeDevice, kind: testkit.CSREd25519, want: iotca.ErrCSRKey},
		{name: "no proof of possession", mode: simrec.KeyModeDevice, kind: testkit.CSRBadSignature, want: iotca.ErrCSRSignature},
		{name: "no SIM at the IP", mode: simrec.KeyModeDevice, rec: func(_ []byte, _ *testing.T) simrec.Record { return simrec.Record{} }, want: app.ErrNoCredentials},
		{name: "an inactive SIM", mode: simrec.KeyModeDevice, want: app.ErrNoCredentials,
			rec: func(_ []byte, _ *testing.T) simrec.Record {
				r := activeSIM()
				r.SetState(simrec.StateDisabled)
				return r
			}},
		{name: "another enrolment at work: nothing sent until it ends, then the limits refuse", mode: simrec.KeyModeDevice,
			rec: func(_ []byte, _ *testing.T) simrec.Record {
				r := activeSIM()
				r.LastCommand, r.ClaimedBy, r.ClaimedUntil = "enrol-other", "enrol-other", time.Unix(1_800_000_000, 0).Add(time.Minute)
				return r
			},
			want: &app.RetryLater{},
			check: func(t *testing.T, w *enrolWorld, _ app.Certificate, err error) {
				var later *app.RetryLater
				if !errors.As(err, &later) || later.Pending || len(w.prov.sent) != 0 {
					t.Fatalf("%v after %d commands: want rate limited and none sent", err, len(w.prov.sent))
				}
			},
			during: func(t *testing.T, w *enrolWorld) {
				w.store.Change(t, enrolSIM, func(r *simrec.Record) {
					r.ClaimedBy, r.ClaimedUntil = "", time.Time{}
					r.Enrolled(simrec.Enrolment{At: w.clock.Now(), CertificateID: "other", Command: "enrol-other"})
				})
			}},
		{name: "refused by the provisioner after its claim", mode: simrec.KeyModeDevice, sends: 1, want: app.ErrRefused,
			act: func(p *provisioner, cmd events.SimCommand) {
				p.store.Change(p.t, cmd.ICCID, func(r *simrec.Record) { r.LastCommand = cmd.ID })
			}},
		{name: "the SIM is disabled while it waits", mode: simrec.KeyModeDevice, sends: 1, want: app.ErrNoCredentials,
			act: func(p *provisioner, cmd events.SimCommand) {
				p.store.Change(p.t, cmd.ICCID, func(r *simrec.Record) { r.SetState(simrec.StateDisabled); r.LastCommand = "disable-1" })
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kind := tc.kind
			if kind == "" {
				kind = testkit.CSRP256
			}
			der, _ := testkit.NewCSR(t, kind)
			rec := activeSIM()
			if tc.rec != nil {
				rec = tc.rec(der, t)
			}
			w := newEnrolWorld(t, tc.mode, rec, tc.act)
			if tc.during != nil {
				var once sync.Once
				w.clock.OnSleep = func() { once.Do(func() { tc.during(t, w) }) }
			}
			body := testkit.CSRPEM(der)
			if tc.noPEM {
				body = der
			}
			start := w.clock.Now()
			got, err := w.e.Enrol(context.Background(), ip, body)
			var later *app.RetryLater
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("err %v", err)
			case tc.want != nil && !errors.Is(err, tc.want) && !(errors.As(tc.want, &later) && errors.As(err, &later)):
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if got.Issued != tc.issued {
				t.Errorf("issued %v, want %v", got.Issued, tc.issued)
			}
			if len(w.prov.sent) != tc.sends {
				t.Errorf("%d commands sent, want %d", len(w.prov.sent), tc.sends)
			}
			if waited := w.clock.Now().Sub(start); waited > 5*time.Second+time.Millisecond {
				t.Errorf("waited %v, longer than the configured 5s", waited)
			}
			if tc.check != nil {
				tc.check(t, w, got, err)
			}
		})
	}
}

func TestEnrolWithoutQueueIsOff(t *testing.T) {
	t.Parallel()
	store := simrectest.NewStore()
	if _, err := store.Memory.Create(context.Background(), activeSIM()); err != nil {
		t.Fatal(err)
	}
	e, err := app.NewEnrolment(store, nil, app.EnrolOptions{KeyMode: simrec.KeyModeDevice, Limits: simrec.EnrolLimits{DailyCap: 1},
		Wait: time.Second, Poll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	der, _ := testkit.NewCSR(t, testkit.CSRP256)
	if _, err := e.Enrol(context.Background(), netip.MustParseAddr(enrolIP), der); !errors.Is(err, app.ErrEnrolmentOff) {
		t.Fatalf("err %v", err)
	}
}

// GET for a SIM whose device holds its key: a 404 that says to enrol.
func TestLookupOfADeviceKeySIM(t *testing.T) {
	t.Parallel()
	store := simrectest.NewStore()
	awaiting := activeSIM()
	awaiting.Cert, awaiting.KeyMode = nil, simrec.KeyModeDevice
	enrolled := activeSIM()
	enrolled.ICCID, enrolled.IP = "8988280666000000102", "10.9.0.2"
	enrolled.DropKeys()
	pending := activeSIM()
	pending.ICCID, pending.IP, pending.Cert = "8988280666000000103", "10.9.0.3", nil
	for _, r := range []simrec.Record{awaiting, enrolled, pending} {
		if _, err := store.Memory.Create(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	o := app.New(store, checkingOpener{}, "ep", "ca").InKeyMode(simrec.KeyModeServer)
	for ip, want := range map[string]error{enrolIP: app.ErrKeyOnDevice, "10.9.0.2": app.ErrKeyOnDevice} {
		if _, err := o.ForIP(context.Background(), netip.MustParseAddr(ip)); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", ip, err, want)
		}
	}
	if _, err := o.ForIP(context.Background(), netip.MustParseAddr("10.9.0.3")); !errors.Is(err, app.ErrNoCredentials) || errors.Is(err, app.ErrKeyOnDevice) {
		t.Errorf("an active SIM without a certificate in key mode server: %v, want a plain 404", err)
	}
	if _, err := app.New(store, checkingOpener{}, "ep", "ca").InKeyMode(simrec.KeyModeDevice).ForIP(context.Background(), netip.MustParseAddr("10.9.0.3")); !errors.Is(err, app.ErrKeyOnDevice) {
		t.Errorf("in key mode device the same SIM must be told to enrol: %v", err)
	}
}
