package app_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/app"
)

// checkingOpener stands in for KMS: it opens only keys sealed for the SIM
// asking ("<iccid>|<key>"), as the real opener's encryption context does.
type checkingOpener struct{}

func (checkingOpener) Open(_ context.Context, iccid string, ct []byte) ([]byte, error) {
	owner, key, ok := strings.Cut(string(ct), "|")
	if !ok || owner != iccid {
		return nil, errors.New("sealed for another SIM")
	}
	return []byte(key), nil
}

// brokenStore fails every lookup, as an unreachable table does.
type brokenStore struct{}

func (brokenStore) FindByIP(context.Context, string) ([]simrec.Record, error) {
	return nil, errors.New("table unreachable")
}

func sealed(iccid string) *simrec.Credentials {
	return &simrec.Credentials{PEM: "cert of " + iccid, KeyCiphertext: []byte(iccid + "|key of " + iccid)}
}

// TestLookupFindsTheOneActiveSIM: only an active SIM with credentials gets
// them, and an IP claimed by two active SIMs gets nobody's.
func TestLookupFindsTheOneActiveSIM(t *testing.T) {
	t.Parallel()
	store := simstore.NewMemory()
	for _, r := range []simrec.Record{
		{ICCID: "8988280666000000001", IP: "10.0.0.1", Active: true, Cert: sealed("8988280666000000001")},
		{ICCID: "8988280666000000021", IP: "10.0.0.2", Active: false, Cert: sealed("8988280666000000021")},
		{ICCID: "8988280666000000022", IP: "10.0.0.2", Active: true, Cert: sealed("8988280666000000022")},
		{ICCID: "8988280666000000031", IP: "10.0.0.3", Active: true, Cert: sealed("8988280666000000031")},
		{ICCID: "8988280666000000032", IP: "10.0.0.3", Active: true, Cert: sealed("8988280666000000032")},
		{ICCID: "8988280666000000004", IP: "10.0.0.4", Active: true},
		{ICCID: "8988280666000000005", IP: "10.0.0.5", Active: false, Cert: sealed("8988280666000000005")},
		{ICCID: "8988280666000000006", IP: "10.0.0.6", Active: true, Cert: &simrec.Credentials{PEM: "c", KeyCiphertext: []byte("someone-else|k")}},
	} {
		if _, err := store.Create(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, ip  string
		wantICCID string
		wantErr   error
		wantText  string
	}{
		{"one active SIM", "10.0.0.1", "8988280666000000001", nil, ""},
		{"an inactive SIM next to the active one", "10.0.0.2", "8988280666000000022", nil, ""},
		{"two active SIMs claim the IP", "10.0.0.3", "", app.ErrAmbiguousIP, ""},
		{"no credentials yet", "10.0.0.4", "", app.ErrNoCredentials, ""},
		{"inactive SIM", "10.0.0.5", "", app.ErrNoCredentials, ""},
		{"unknown IP", "10.0.0.99", "", app.ErrNoCredentials, ""},
		{"key sealed for another SIM", "10.0.0.6", "", nil, "open key of 8988280666000000006"},
	}
	o := app.New(store, checkingOpener{}, "ep.example", "ROOT CA")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := o.ForIP(context.Background(), netip.MustParseAddr(tc.ip))
			switch {
			case tc.wantText != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantText) || errors.Is(err, app.ErrNoCredentials) {
					t.Fatalf("got %v, want an error saying %q (not a 404)", err, tc.wantText)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || got != (app.Credentials{}) {
					t.Fatalf("got %+v %v, want %v", got, err, tc.wantErr)
				}
			default:
				want := app.Credentials{ICCID: tc.wantICCID, CertificatePEM: "cert of " + tc.wantICCID, PrivateKeyPEM: "key of " + tc.wantICCID,
					IoTEndpoint: "ep.example", RootCAURL: app.AmazonRootCAURL, RootCAPEM: "ROOT CA"}
				if err != nil || got != want {
					t.Fatalf("got %+v %v, want %+v", got, err, want)
				}
			}
		})
	}
}

// TestLookupFailureIsNotANotFound: a store failure must reach the device as
// a 500 (retry later), never as "no credentials".
func TestLookupFailureIsNotANotFound(t *testing.T) {
	t.Parallel()
	_, err := app.New(brokenStore{}, checkingOpener{}, "ep", "ca").ForIP(context.Background(), netip.MustParseAddr("10.0.0.1"))
	if err == nil || errors.Is(err, app.ErrNoCredentials) {
		t.Fatalf("got %v, want the store's error", err)
	}
}
