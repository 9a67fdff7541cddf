package secrets_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/libs/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func TestResolve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(testkit.AWSConfig(t))
	name := testkit.Name(t)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("from-sm")}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "key")
	_ = os.WriteFile(file, []byte("from-file\n"), 0o600)
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, nil, 0o600)

	tests := []struct {
		name    string
		src     secrets.Source
		want    string
		wantErr string
	}{
		{"secrets manager", secrets.Source{SecretID: name}, "from-sm", ""},
		{"file trimmed", secrets.Source{File: file}, "from-file", ""},
		{"value", secrets.Source{Value: "from-env"}, "from-env", ""},
		{"missing secret", secrets.Source{SecretID: name + "-nope"}, "", "read secret"},
		{"missing file", secrets.Source{File: file + ".nope"}, "", "read secret file"},
		{"empty file", secrets.Source{File: empty}, "", "empty"},
		{"nothing", secrets.Source{}, "", "no source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.src.Resolve(ctx, sm)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want error %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil || got.Reveal() != tc.want {
				t.Fatalf("got %q, %v", got.Reveal(), err)
			}
		})
	}
}

func TestValidateWantsExactlyOne(t *testing.T) {
	t.Parallel()
	if err := (secrets.Source{}).Validate("API_KEY_"); err == nil || !strings.Contains(err.Error(), "API_KEY_SECRET_ID") {
		t.Fatalf("none: %v", err)
	}
	if err := (secrets.Source{File: "a", Value: "b"}).Validate("API_KEY_"); err == nil {
		t.Fatal("two sources must be refused")
	}
	if err := (secrets.Source{File: "a"}).Validate("API_KEY_"); err != nil {
		t.Fatal(err)
	}
}
