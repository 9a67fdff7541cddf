// Package secrets reads credentials (API keys, 1NCE and OpenVPN passwords)
// from where the deployment keeps them: AWS Secrets Manager in AWS, a file or
// an environment variable for local runs.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/simbridge/simbridge/libs/config"
)

// Source says where one secret comes from; exactly one field is set. Embed it
// in a service config with a prefix: `env:", prefix=API_KEY_"` gives
// API_KEY_SECRET_ID, API_KEY_FILE and API_KEY_VALUE; its `desc` tag names
// the secret in -h.
type Source struct {
	// SecretID is a Secrets Manager secret name or ARN (production).
	SecretID string `env:"SECRET_ID" desc:"Secrets Manager secret name or ARN (production)"`
	// File is a path whose trimmed content is the secret (local runs, mounted secrets).
	File string `env:"FILE" desc:"file holding it (local runs)"`
	// Value is the secret itself (local runs only).
	Value config.Secret `env:"VALUE" desc:"the value itself (local runs only)"`
}

// Validate checks that exactly one source is given; name is the setting's
// prefix for the error message.
func (s Source) Validate(name string) error {
	n := 0
	for _, set := range []bool{s.SecretID != "", s.File != "", s.Value.IsSet()} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("set exactly one of %[1]sSECRET_ID, %[1]sFILE, %[1]sVALUE (got %d)", name, n)
	}
	return nil
}

// SecretsManager is the API subset used here.
type SecretsManager interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Resolve returns the secret's current value. sm may be nil when the source
// is not Secrets Manager.
func (s Source) Resolve(ctx context.Context, sm SecretsManager) (config.Secret, error) {
	switch {
	case s.SecretID != "":
		if sm == nil {
			return "", errors.New("secret: no Secrets Manager client")
		}
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.SecretID)})
		if err != nil {
			return "", fmt.Errorf("read secret %s: %w", s.SecretID, err)
		}
		if out.SecretString == nil || *out.SecretString == "" {
			return "", fmt.Errorf("read secret %s: empty", s.SecretID)
		}
		return config.Secret(*out.SecretString), nil
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("read secret file: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("read secret file %s: empty", s.File)
		}
		return config.Secret(v), nil
	case s.Value.IsSet():
		return s.Value, nil
	}
	return "", errors.New("secret: no source configured")
}
