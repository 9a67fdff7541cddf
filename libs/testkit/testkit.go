package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region tests use against the emulator.
const Region = "us-east-1"

var shared struct {
	once     sync.Once
	stop     func() error
	endpoint string
	err      error
}

// Main runs the package's tests and stops the shared emulator afterwards.
// Use it from TestMain: os.Exit(testkit.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared.stop != nil {
		_ = shared.stop()
	}
	return code
}

// MotoEndpoint returns the endpoint of the emulator shared by the tests of
// this package: $MOTO_ENDPOINT if set, else one started on first use (a moto
// container where Docker is reachable, else a local moto_server). A missing
// emulator fails the test with instructions; it never skips.
func MotoEndpoint(t testing.TB) string {
	t.Helper()
	SkipShort(t)
	shared.once.Do(func() {
		if ep := os.Getenv("MOTO_ENDPOINT"); ep != "" {
			shared.endpoint = ep
			return
		}
		shared.endpoint, shared.stop, shared.err = startEmulator(context.Background(), os.Stderr)
	})
	if shared.err != nil {
		t.Fatalf("AWS emulator unavailable: %v", shared.err)
	}
	return shared.endpoint
}

// SkipShort skips a test that needs running parts (the AWS emulator, built
// binaries) under -short: `make test-unit` runs only what needs nothing.
// `make test` and CI never pass -short, so there these tests always run.
func SkipShort(t testing.TB) {
	t.Helper()
	SkipShortNeeding(t, "the AWS emulator or built binaries")
}

// SkipShortNeeding skips, under -short, a test that needs what. Under
// CI=true nothing may skip: -short fails the test instead of hiding it.
func SkipShortNeeding(t testing.TB, what string) {
	t.Helper()
	if !testing.Short() {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("needs %s and CI=true runs every test: run `make test`, not -short", what)
	}
	t.Skipf("needs %s; runs in `make test`, not under -short", what)
}

// AWSConfig returns an SDK configuration pointed at the emulator with fake
// static credentials.
func AWSConfig(t testing.TB) aws.Config {
	t.Helper()
	return AWSConfigFor(t, MotoEndpoint(t))
}

// AWSConfigFor returns an SDK configuration pointed at endpoint.
func AWSConfigFor(t testing.TB, endpoint string) aws.Config {
	t.Helper()
	cfg, err := LoadAWSConfig(context.Background(), endpoint)
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	return cfg
}

// LoadAWSConfig returns an SDK configuration for the emulator at endpoint,
// with fake static credentials and any further options.
func LoadAWSConfig(ctx context.Context, endpoint string, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx, append([]func(*config.LoadOptions) error{
		config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithBaseEndpoint(endpoint),
	}, opts...)...)
}

// OwnMoto starts an emulator only this test uses (an account of its own,
// for checks over every certificate or thing), stopped when the test ends.
func OwnMoto(t testing.TB) string {
	t.Helper()
	SkipShort(t)
	endpoint, stop, err := startEmulator(context.Background(), io.Discard)
	if err != nil {
		t.Fatalf("AWS emulator unavailable: %v", err)
	}
	t.Cleanup(func() { _ = stop() })
	return endpoint
}

// Env returns the environment a child process needs to reach endpoint.
func Env(endpoint string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

var unsafe = regexp.MustCompile(`[^a-z0-9]+`)

// Name returns a resource name prefix unique to this test run, readable in
// emulator dumps: "t-<test name>-<random>", at most 40 characters.
func Name(t testing.TB) string {
	t.Helper()
	base := strings.Trim(unsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 24 {
		base = base[len(base)-24:]
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("t-%s-%s", strings.Trim(base, "-"), hex.EncodeToString(b))
}

// Eventually retries check every 200 ms until it returns nil, and fails the
// test with the last error when limit passes: for state that converges
// through queues and eventually consistent indexes.
func Eventually(t testing.TB, limit time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %v", what, limit, err)
}
