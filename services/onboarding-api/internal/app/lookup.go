// Package app holds onboarding-api's use cases, one per file: the
// credentials of the device at an IP address (lookup.go) and the short cache
// that answers repeated lookups of one IP from memory (cache.go).
package app

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/simbridge/simbridge/libs/simrec"
)

// ErrNoCredentials means no active SIM with credentials has the IP.
var ErrNoCredentials = errors.New("no onboarding data for this device")

// ErrAmbiguousIP means several active SIMs claim the IP; it is an
// ErrNoCredentials (the device gets a 404) that operators need to see.
var ErrAmbiguousIP = fmt.Errorf("%w: several active SIMs claim the IP", ErrNoCredentials)

// ErrKeyOnDevice means the SIM's key is born on its device (key mode
// device, or its device enrolled): no private key is kept to serve, and
// the device gets a 404 saying to enrol instead.
var ErrKeyOnDevice = fmt.Errorf("%w: the key is made on the device (enrolment)", ErrNoCredentials)

// Store finds records by IP.
type Store interface {
	FindByIP(ctx context.Context, ip string) ([]simrec.Record, error)
}

// Opener decrypts a SIM's sealed private key.
type Opener interface {
	Open(ctx context.Context, iccid string, ciphertext []byte) ([]byte, error)
}

// Credentials is what a device receives.
type Credentials struct {
	ICCID          string
	CertificatePEM string
	PrivateKeyPEM  string
	IoTEndpoint    string
	RootCAURL      string
	RootCAPEM      string
}

// Onboarding answers credential lookups.
type Onboarding struct {
	store    Store
	opener   Opener
	endpoint string
	rootCA   string
	keyMode  simrec.KeyMode
}

// New returns the use case; endpoint is the IoT Core data endpoint host and
// rootCA the PEM served in CSV answers.
func New(store Store, opener Opener, endpoint, rootCA string) *Onboarding {
	return &Onboarding{store: store, opener: opener, endpoint: endpoint, rootCA: rootCA}
}

// activeSIM is the one active SIM holding ip: ErrNoCredentials when there
// is none, ErrAmbiguousIP when several claim it (the device could be any of
// them, so none is served). The lookup is one query.
func activeSIM(ctx context.Context, store Store, ip netip.Addr) (simrec.Record, error) {
	recs, err := store.FindByIP(ctx, ip.String())
	if err != nil {
		return simrec.Record{}, err
	}
	var found []simrec.Record
	for _, r := range recs {
		if r.Active {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return simrec.Record{}, ErrNoCredentials
	case 1:
		return found[0], nil
	default:
		return simrec.Record{}, ErrAmbiguousIP
	}
}

// InKeyMode sets the environment's key mode (KEY_MODE): a SIM without a
// certificate in a mode that enrols is told to enrol, not just 404.
func (o *Onboarding) InKeyMode(m simrec.KeyMode) *Onboarding {
	o.keyMode = m
	return o
}

// ForIP returns the credentials of the one active SIM holding ip. When
// several active SIMs claim the IP nobody gets credentials: the device could
// be either of them. The lookup is one query; the key is decrypted only now,
// to answer. A SIM whose key is its device's has none to serve
// (ErrKeyOnDevice).
func (o *Onboarding) ForIP(ctx context.Context, ip netip.Addr) (Credentials, error) {
	r, err := activeSIM(ctx, o.store, ip)
	if err != nil {
		return Credentials{}, err
	}
	switch {
	case r.Cert.HasKey():
	case r.HasCredentials() || r.KeyModeIn(o.keyMode).Enrols():
		return Credentials{}, ErrKeyOnDevice
	default:
		return Credentials{}, ErrNoCredentials
	}
	key, err := o.opener.Open(ctx, r.ICCID, r.Cert.KeyCiphertext)
	if err != nil {
		return Credentials{}, fmt.Errorf("open key of %s: %w", r.ICCID, err)
	}
	return Credentials{
		ICCID: r.ICCID, CertificatePEM: r.Cert.PEM, PrivateKeyPEM: string(key),
		IoTEndpoint: o.endpoint, RootCAURL: AmazonRootCAURL, RootCAPEM: o.rootCA,
	}, nil
}
