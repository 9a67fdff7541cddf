package awsstub_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/simbridge/simbridge/libs/keyseal"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/tools/awsstub"
)

// TestStubSpeaksTheSDK reads a SIM through the same store and opener
// onboarding-api uses, so the benchmark exercises the real code path.
func TestStubSpeaksTheSDK(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(awsstub.New([]awsstub.SIM{{ICCID: "8988280666000000001", IP: "127.1.0.1", CertificatePEM: "cert", PrivateKeyPEM: "key"}}))
	defer srv.Close()
	cfg, err := testkit.LoadAWSConfig(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := simstore.NewDynamo(dynamodb.NewFromConfig(cfg), "bench")
	opener := keyseal.NewOpener(kms.NewFromConfig(cfg), "")
	tests := []struct {
		name, ip string
		found    bool
	}{
		{"known IP", "127.1.0.1", true},
		{"unknown IP", "127.1.0.2", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := store.FindByIP(ctx, tc.ip)
			if err != nil || (len(recs) == 1) != tc.found {
				t.Fatalf("got %d records, %v", len(recs), err)
			}
			if !tc.found {
				return
			}
			r := recs[0]
			if !r.Active || r.Cert.PEM != "cert" || r.Version != 1 {
				t.Fatalf("record %+v", r)
			}
			key, err := opener.Open(ctx, r.ICCID, r.Cert.KeyCiphertext)
			if err != nil || string(key) != "key" {
				t.Fatalf("open: %q %v", key, err)
			}
			if _, err := opener.Open(ctx, "8988280666000000009", r.Cert.KeyCiphertext); err == nil {
				t.Fatal("a key sealed for another SIM must not open")
			}
		})
	}
}
