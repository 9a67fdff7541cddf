package app

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/simrec"
)

// How an enrolment is answered besides a certificate; the HTTP port turns
// each into its status code.
var (
	// ErrEnrolmentOff: the SIM's key mode is server (its key is made here
	// and fetched), or enrolment is not configured (no command queue).
	ErrEnrolmentOff = errors.New("enrolment is off for this SIM")
	// ErrRefused: the provisioner refused the enrolment after it claimed
	// the SIM (a configuration that cannot certify); operators are told.
	ErrRefused = errors.New("the provisioner refused the enrolment")
)

// RetryLater is an enrolment the device must ask for again after After:
// Pending (202) while the certificate is still being made, or not (429)
// while the SIM's enrolment limits hold it back.
type RetryLater struct {
	After time.Duration
	// Pending: the enrolment is under way; the same request gets its
	// certificate. Otherwise the SIM enrolled too often (rate limit).
	Pending bool
}

func (r *RetryLater) Error() string {
	if r.Pending {
		return fmt.Sprintf("enrolment in progress: send the same request again in %v", r.After)
	}
	return fmt.Sprintf("the SIM enrolled too often: try again in %v", r.After)
}

// Commands sends an enrol command to the provisioner's queue (grouped by
// ICCID, deduplicated per command and record version).
type Commands interface {
	Send(ctx context.Context, cmd events.SimCommand) error
}

// RecordStore reads SIM records: by IP to find the device's SIM, by ICCID
// (strongly consistent) to follow its enrolment.
type RecordStore interface {
	Store
	Get(ctx context.Context, iccid string) (simrec.Record, error)
}

// Certificate is an enrolment's answer: no private key, the device holds it.
type Certificate struct {
	ICCID          string
	CertificatePEM string
	CertificateID  string
	IoTEndpoint    string
	RootCAURL      string
	RootCAPEM      string
	// Issued is false when the request had been certified before (the
	// device asked again): nothing new was made.
	Issued bool
}

// EnrolOptions configure enrolment.
type EnrolOptions struct {
	// KeyMode is the environment's (KEY_MODE); a SIM's own mode wins.
	KeyMode simrec.KeyMode
	// Limits bound how often one SIM enrols.
	Limits simrec.EnrolLimits
	// Wait is how long a request waits for its certificate before Pending.
	Wait time.Duration
	// Poll is the first interval between two reads of the record (it
	// doubles up to maxPoll).
	Poll time.Duration
	// Endpoint and RootCA are what the answer tells the device.
	Endpoint, RootCA string
	// Clock waits between reads (nil: the wall clock).
	Clock simrec.Clock
}

// Enrolment certifies keys born on devices. onboarding-api may not sign
// (only the provisioner's role may use the CA key in KMS), so it checks
// the request and the SIM, sends the provisioner an enrol command and
// waits, bounded, for the record to name the certificate: the provisioner
// makes it by the same idempotent steps as every certificate. A command is
// computed only against a record no other command is at work on, so two
// enrolments racing cannot both pass the SIM's limits. A request
// that outlives the wait is answered Pending and asked again; the command
// id derives from the SIM and the request's key (events.EnrolID), so the
// same request is the same command and gets the same certificate.
type Enrolment struct {
	store    RecordStore
	commands Commands
	opts     EnrolOptions
}

// NewEnrolment returns the use case; commands nil turns enrolment off.
func NewEnrolment(store RecordStore, commands Commands, opts EnrolOptions) (*Enrolment, error) {
	if store == nil {
		return nil, errors.New("enrolment: a store is required")
	}
	if err := opts.Limits.Validate(); err != nil {
		return nil, err
	}
	if opts.Wait <= 0 || opts.Poll <= 0 {
		return nil, fmt.Errorf("enrolment: wait %v and poll %v must be positive", opts.Wait, opts.Poll)
	}
	if opts.Clock == nil {
		opts.Clock = simrec.SystemClock{}
	}
	return &Enrolment{store: store, commands: commands, opts: opts}, nil
}

// maxPoll bounds the interval between two reads of the record: a
// certificate made is answered within it, for at most ENROL_WAIT/maxPoll
// strongly consistent reads of one item per enrolment.
const maxPoll = 250 * time.Millisecond

// retryPending is what a device is told to wait before asking again for a
// certificate being made.
const retryPending = 5 * time.Second

// Enrol answers the request body (a PKCS#10 CSR, PEM or DER) of the device
// at ip. Errors: a malformed or refused request (iotca.ErrCSRMalformed,
// ErrCSRSignature, ErrCSRKey), ErrNoCredentials (no single active SIM has
// the IP), ErrEnrolmentOff, simrec.ErrKeyRetired, *RetryLater, ErrRefused.
func (e *Enrolment) Enrol(ctx context.Context, ip netip.Addr, body []byte) (Certificate, error) {
	der, err := iotca.DecodeCSR(body)
	if err != nil {
		return Certificate{}, err
	}
	csr, err := iotca.CheckCSR(der)
	if err != nil {
		return Certificate{}, err
	}
	rec, err := activeSIM(ctx, e.store, ip)
	if err != nil {
		return Certificate{}, err
	}
	id := events.EnrolID(rec.ICCID, csr.RawSubjectPublicKeyInfo)
	if c, ok := e.certified(rec, id); ok {
		return c, nil
	}
	deadline := e.opts.Clock.Now().Add(e.opts.Wait)
	var sent *events.SimCommand
	for poll := e.opts.Poll; ; poll = min(2*poll, maxPoll) {
		if err := e.admissible(rec, id); err != nil {
			return Certificate{}, err
		}
		switch {
		case rec.LastCommand == id && rec.ClaimedBy == "":
			return Certificate{}, fmt.Errorf("%w (SIM %s)", ErrRefused, rec.ICCID)
		case rec.LastCommand == id:
			// The provisioner is at work on it.
		case rec.Claimed(id, e.opts.Clock.Now()):
			// Another command is at work on the SIM (another enrolment,
			// say): its outcome decides — the limits are checked again
			// against the record it leaves.
		case sent == nil || !rec.Admits(sent.ID, sent.BaseVersion, sent.BaseCommand):
			// Not sent yet, or the record moved on without it (the
			// provisioner ignores it as stale): computed and sent again.
			if sent, err = e.send(ctx, rec, id, der, ip); err != nil {
				return Certificate{}, err
			}
		}
		if !e.opts.Clock.Now().Before(deadline) {
			return Certificate{}, &RetryLater{After: retryPending, Pending: true}
		}
		if err := e.opts.Clock.Sleep(ctx, min(poll, deadline.Sub(e.opts.Clock.Now()))); err != nil {
			return Certificate{}, err
		}
		if rec, err = e.store.Get(ctx, rec.ICCID); err != nil {
			return Certificate{}, fmt.Errorf("follow enrolment of %s: %w", rec.ICCID, err)
		}
		if !rec.Active {
			return Certificate{}, ErrNoCredentials
		}
		if c, ok := e.certified(rec, id); ok {
			c.Issued = true
			return c, nil
		}
	}
}

// certified is the answer when the record's settled current certificate
// is the one of this request.
func (e *Enrolment) certified(rec simrec.Record, id string) (Certificate, bool) {
	if !rec.Active || rec.Cert == nil || rec.Cert.Command != id || !rec.Settled() {
		return Certificate{}, false
	}
	return Certificate{ICCID: rec.ICCID, CertificatePEM: rec.Cert.PEM, CertificateID: rec.Cert.ID,
		IoTEndpoint: e.opts.Endpoint, RootCAURL: AmazonRootCAURL, RootCAPEM: e.opts.RootCA}, true
}

// admissible says why the SIM may not enrol with this key now (nil: it
// may): its key mode, a retired key, or its enrolment limits. An
// enrolment the provisioner already took on is past these checks.
func (e *Enrolment) admissible(rec simrec.Record, id string) error {
	if e.commands == nil || !rec.KeyModeIn(e.opts.KeyMode).Enrols() {
		return fmt.Errorf("%w (key mode %s)", ErrEnrolmentOff, rec.KeyModeIn(e.opts.KeyMode))
	}
	if rec.LastCommand == id || (rec.Next != nil && rec.Next.Command == id) {
		return nil
	}
	if err := rec.CheckKey(id); err != nil {
		return err
	}
	if wait := rec.EnrolWait(e.opts.Clock.Now(), e.opts.Limits); wait > 0 {
		return &RetryLater{After: wait}
	}
	return nil
}

// send asks the provisioner for the certificate, computed against rec.
func (e *Enrolment) send(ctx context.Context, rec simrec.Record, id string, der []byte, ip netip.Addr) (*events.SimCommand, error) {
	cmd := events.SimCommand{Kind: events.KindEnrol, ICCID: rec.ICCID, IP: rec.IP, BaseVersion: rec.Version,
		BaseCommand: rec.LastCommand, ID: id, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
		ObservedAt:  e.opts.Clock.Now().UTC(),
		RequestedBy: "device " + ip.String(), Reason: "enrolment"}
	if err := e.commands.Send(ctx, cmd); err != nil {
		return nil, fmt.Errorf("send enrolment of %s: %w", rec.ICCID, err)
	}
	return &cmd, nil
}
