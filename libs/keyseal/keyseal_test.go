package keyseal_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/simbridge/simbridge/libs/keyseal"
	"github.com/simbridge/simbridge/libs/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func TestSealOpenAgainstKMS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := kms.NewFromConfig(testkit.AWSConfig(t))
	key, err := client.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyID := *key.KeyMetadata.KeyId
	sealer, err := keyseal.NewSealer(client, keyID)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n")
	ct, err := sealer.Seal(ctx, "8988280666000000001", secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("PRIVATE KEY")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	opener := keyseal.NewOpener(client, keyID)
	got, err := opener.Open(ctx, "8988280666000000001", ct)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := opener.Open(ctx, "8988280666000000002", ct); err == nil {
		t.Fatal("a key sealed for one SIM must not open for another")
	}
}

func TestNewSealerNeedsKey(t *testing.T) {
	t.Parallel()
	if _, err := keyseal.NewSealer(nil, ""); err == nil {
		t.Fatal("want error for empty key id")
	}
}
