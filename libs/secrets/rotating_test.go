package secrets_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/secrets"
	"github.com/simbridge/simbridge/libs/testkit"
)

func reveal(ss []config.Secret) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Reveal()
	}
	return out
}

// TestRotationInSecretsManager walks a Secrets Manager rotation: a pending
// version is accepted before it is promoted, and the old one stays accepted
// as AWSPREVIOUS after.
func TestRotationInSecretsManager(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(testkit.AWSConfig(t))
	name := testkit.Name(t)
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("old")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := secrets.NewRotating(ctx, secrets.Source{SecretID: name}, sm, time.Hour, time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	check := func(step, current string, accepted ...string) {
		t.Helper()
		if _, err := r.Refresh(ctx); err != nil {
			t.Fatalf("%s: refresh: %v", step, err)
		}
		if got := r.Current().Reveal(); got != current {
			t.Errorf("%s: current %q, want %q", step, got, current)
		}
		if got := reveal(r.Accepted()); !slices.Equal(got, accepted) {
			t.Errorf("%s: accepted %v, want %v", step, got, accepted)
		}
	}
	check("before rotation", "old", "old")

	pending, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name),
		SecretString: aws.String("new"), VersionStages: []string{secrets.StagePending}})
	if err != nil {
		t.Fatal(err)
	}
	check("pending", "old", "old", "new")

	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(name),
		VersionStage: aws.String(secrets.StageCurrent), MoveToVersionId: pending.VersionId, RemoveFromVersionId: created.VersionId}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(name),
		VersionStage: aws.String(secrets.StagePending), RemoveFromVersionId: pending.VersionId}); err != nil {
		t.Fatal(err)
	}
	check("promoted", "new", "new", "old")
}

func TestRotatingFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	// Replaced whole, as secret mounts and careful operators do: a file
	// truncated and rewritten in place can be read empty in between (the
	// refresher reports that and keeps the keys it has).
	write := func(s string) {
		tmp := filepath.Join(dir, "key.tmp")
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write("old\n")
	r, err := secrets.NewRotating(ctx, secrets.Source{File: file}, nil, 10*time.Millisecond, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go r.Run(runCtx, func(err error) { t.Errorf("refresh: %v", err) })

	tests := []struct {
		name     string
		content  string
		current  string
		accepted []string
	}{
		{"new key first, old still accepted", "new\nold\n", "new", []string{"new", "old"}},
		{"old key retired", "\nnew\n", "new", []string{"new"}},
	}
	for _, tc := range tests {
		write(tc.content)
		deadline := time.Now().Add(5 * time.Second)
		for !slices.Equal(reveal(r.Accepted()), tc.accepted) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := reveal(r.Accepted()); !slices.Equal(got, tc.accepted) || r.Current().Reveal() != tc.current {
			t.Errorf("%s: current %q accepted %v", tc.name, r.Current().Reveal(), got)
		}
	}
}

func TestRefreshIsRateLimited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, err := secrets.NewRotating(ctx, secrets.Source{Value: "v"}, nil, time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := r.Refresh(ctx)
	second, _ := r.Refresh(ctx)
	if !first || second {
		t.Fatalf("refreshes read %v then %v; want only the first within the gap", first, second)
	}
}

func TestNewRotatingFailsWithoutSecret(t *testing.T) {
	t.Parallel()
	if _, err := secrets.NewRotating(context.Background(), secrets.Source{File: "/nonexistent"}, nil, time.Hour, time.Hour); err == nil {
		t.Fatal("want an error for a missing secret")
	}
}
