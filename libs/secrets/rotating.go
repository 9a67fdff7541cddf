package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"golang.org/x/time/rate"

	"github.com/simbridge/simbridge/libs/config"
)

// Secrets Manager staging labels read during a rotation: the caller presents
// AWSCURRENT and, while a rotation is in flight, also accepts the others.
const (
	StageCurrent  = "AWSCURRENT"
	StagePending  = "AWSPENDING"
	StagePrevious = "AWSPREVIOUS"
)

// Versions is a secret as a rotation sees it: the value to present now, and
// the other values a receiver still accepts so that a key can be replaced
// without a restart and without refusing a peer that has not caught up yet.
type Versions struct {
	Current config.Secret
	// Others are AWSPENDING and AWSPREVIOUS, or the lines after the first of a file.
	Others []config.Secret
}

// Accepted is every value a receiver should accept.
func (v Versions) Accepted() []config.Secret {
	return append([]config.Secret{v.Current}, v.Others...)
}

// ResolveVersions reads the current value and the values still accepted:
// Secrets Manager's AWSCURRENT plus AWSPENDING and AWSPREVIOUS when they
// exist; for a file, the first non-empty line is current and further lines are
// accepted (write "new\nold" to rotate locally); a plain value has no others.
func (s Source) ResolveVersions(ctx context.Context, sm SecretsManager) (Versions, error) {
	switch {
	case s.SecretID != "":
		return s.smVersions(ctx, sm)
	case s.File != "":
		return fileVersions(s.File)
	}
	v, err := s.Resolve(ctx, sm)
	return Versions{Current: v}, err
}

func (s Source) smVersions(ctx context.Context, sm SecretsManager) (Versions, error) {
	if sm == nil {
		return Versions{}, errors.New("secret: no Secrets Manager client")
	}
	cur, err := stage(ctx, sm, s.SecretID, StageCurrent)
	if err != nil {
		return Versions{}, fmt.Errorf("read secret %s: %w", s.SecretID, err)
	}
	if cur == "" {
		return Versions{}, fmt.Errorf("read secret %s: empty", s.SecretID)
	}
	v := Versions{Current: cur}
	for _, st := range []string{StagePending, StagePrevious} {
		other, err := stage(ctx, sm, s.SecretID, st)
		var nf *smtypes.ResourceNotFoundException
		switch {
		case errors.As(err, &nf):
		case err != nil:
			return Versions{}, fmt.Errorf("read secret %s: %w", s.SecretID, err)
		case other != "" && other != cur:
			v.Others = append(v.Others, other)
		}
	}
	return v, nil
}

func stage(ctx context.Context, sm SecretsManager, id, label string) (config.Secret, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String(label)})
	if err != nil {
		return "", fmt.Errorf("stage %s: %w", label, err)
	}
	return config.Secret(aws.ToString(out.SecretString)), nil
}

func fileVersions(path string) (Versions, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Versions{}, fmt.Errorf("read secret file: %w", err)
	}
	var vals []config.Secret
	for line := range strings.Lines(string(b)) {
		if l := strings.TrimSpace(line); l != "" {
			vals = append(vals, config.Secret(l))
		}
	}
	if len(vals) == 0 {
		return Versions{}, fmt.Errorf("read secret file %s: empty", path)
	}
	return Versions{Current: vals[0], Others: vals[1:]}, nil
}

// Rotating keeps a secret's versions fresh in memory so a service picks up a
// rotated key without a restart: Run re-reads it periodically and Refresh
// re-reads it on demand (e.g. when a peer presents a key not known yet),
// at most once per minGap so that bad requests cannot hammer Secrets Manager.
type Rotating struct {
	src   Source
	sm    SecretsManager
	every time.Duration
	cur   atomic.Pointer[Versions]
	mu    sync.Mutex
	gate  *rate.Limiter
}

// NewRotating reads the secret once (failing if it cannot) and returns a
// reader that refreshes it every `every` once Run is called.
func NewRotating(ctx context.Context, src Source, sm SecretsManager, every, minGap time.Duration) (*Rotating, error) {
	if every <= 0 || minGap <= 0 {
		return nil, errors.New("secret: refresh intervals must be positive")
	}
	r := &Rotating{src: src, sm: sm, every: every, gate: rate.NewLimiter(rate.Every(minGap), 1)}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Current is the value to present.
func (r *Rotating) Current() config.Secret { return r.cur.Load().Current }

// Accepted is every value to accept now.
func (r *Rotating) Accepted() []config.Secret { return r.cur.Load().Accepted() }

// Refresh re-reads the secret unless that happened less than minGap ago; it
// reports whether it read.
func (r *Rotating) Refresh(ctx context.Context) (bool, error) {
	if !r.gate.Allow() {
		return false, nil
	}
	return true, r.load(ctx)
}

// Run refreshes every interval until ctx ends; onErr hears failed reads
// (the last good versions stay in use).
func (r *Rotating) Run(ctx context.Context, onErr func(error)) {
	Every(ctx, r.every, r.load, onErr)
}

// Every runs load every interval until ctx ends; onErr (may be nil) hears
// failed loads, after which whatever was loaded last stays in use. Anything
// re-read from Secrets Manager on a schedule (a rotated password, a renewed
// certificate) refreshes this way.
func Every(ctx context.Context, every time.Duration, load func(context.Context) error, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := load(ctx); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}

func (r *Rotating) load(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, err := r.src.ResolveVersions(ctx, r.sm)
	if err != nil {
		return err
	}
	r.cur.Store(&v)
	return nil
}
