package service_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/simbridge/simbridge/libs/keyseal"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/service"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

const simIP = "10.64.0.7"

// TestServiceAgainstMoto runs onboarding-api on DynamoDB, KMS and Secrets
// Manager (moto): a sealed key is served decrypted, the API key is rotated
// without a restart, and a disabled SIM is refused once the cache TTL passed.
func TestServiceAgainstMoto(t *testing.T) {
	ctx := context.Background()
	cfg := testkit.AWSConfig(t)
	name := testkit.Name(t)
	store, rec, keyPEM := provisionSIM(t, cfg, name)
	sm := secretsmanager.NewFromConfig(cfg)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("key-1")}); err != nil {
		t.Fatal(err)
	}
	const ttl = 300 * time.Millisecond
	url, opsURL, logs := startService(t, map[string]string{
		"SIM_TABLE": name, "API_KEY_SECRET_ID": name, "IOT_ENDPOINT": "ep.example", "CACHE_TTL": ttl.String(), "API_KEY_REFRESH": "1h",
	})
	get := func(key string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("onboarding-ip", simIP)
		req.Header.Set("x-api-key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, body := get("key-1")
	var answer struct{ PrivateKey, ICCID string }
	if err := json.Unmarshal([]byte(body), &answer); code != 200 || err != nil || answer.PrivateKey != keyPEM || answer.ICCID != rec.ICCID {
		t.Fatalf("got %d, iccid %q, key served decrypted: %v", code, answer.ICCID, answer.PrivateKey == keyPEM)
	}

	// The fetch is recorded off the request path, once a minute at most.
	var fetched time.Time
	testkit.Eventually(t, 5*time.Second, "credentials fetch recorded", func() error {
		got, err := store.Get(ctx, rec.ICCID)
		if err != nil || got.LastFetchAt.IsZero() {
			return fmt.Errorf("last fetch not recorded (%v)", err)
		}
		fetched = got.LastFetchAt
		return nil
	})
	if code, _ := get("key-1"); code != 200 {
		t.Fatal(code)
	}
	time.Sleep(500 * time.Millisecond)
	if got, _ := store.Get(ctx, rec.ICCID); !got.LastFetchAt.Equal(fetched) || got.Version != rec.Version {
		t.Errorf("a second fetch within a minute was written again (%s, was %s) or moved the version (%d)", got.LastFetchAt, fetched, got.Version)
	}

	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String("key-2")}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"key-2", "key-1"} {
		if code, _ := get(key); code != 200 {
			t.Errorf("after rotation, %s: %d (want the new and the previous key accepted)", key, code)
		}
	}
	if code, _ := get("key-0"); code != 401 {
		t.Errorf("unknown key: %d", code)
	}

	// The hot path's AWS calls are measured like every other service's.
	metrics := get200(t, opsURL+"/metrics")
	for _, op := range []string{"Query", "Decrypt"} {
		if !strings.Contains(metrics, `simbridge_aws_call_duration_seconds_count{operation="`+op+`"`) {
			t.Errorf("no AWS call metric for %s in /metrics", op)
		}
	}
	// The HTTP port and the cache report to the series metrics.go declares.
	for _, series := range []string{
		`simbridge_onboarding_api_requests_total{code="200",format="json"}`,
		`simbridge_onboarding_api_requests_total{code="401",format="none"}`,
		`simbridge_onboarding_api_request_duration_seconds_count{code="200",format="json"}`,
		`simbridge_onboarding_api_cache_lookups_total{result="miss"}`,
	} {
		if !strings.Contains(metrics, series) {
			t.Errorf("no %s in /metrics", series)
		}
	}

	rec.Active = false
	if _, err := store.Update(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.Get(ctx, rec.ICCID); !got.LastFetchAt.Equal(fetched) {
		t.Errorf("a versioned update lost the last fetch: %s", got.LastFetchAt)
	}
	time.Sleep(ttl)
	if code, _ := get("key-2"); code != 404 {
		t.Fatalf("disabled SIM, one TTL after the change: %d, want 404", code)
	}
	for _, secret := range []string{"key-1", "key-2", "PRIVATE KEY"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

// provisionSIM creates a table, a KMS key and one SIM record whose private
// key is sealed as the provisioner does.
func provisionSIM(t *testing.T, cfg aws.Config, name string) (*simstore.Dynamo, simrec.Record, string) {
	t.Helper()
	ctx := context.Background()
	db := dynamodb.NewFromConfig(cfg)
	if _, err := db.CreateTable(ctx, simstore.TableDefinition(name)); err != nil {
		t.Fatal(err)
	}
	k := kms.NewFromConfig(cfg)
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := keyseal.NewSealer(k, aws.ToString(key.KeyMetadata.KeyId))
	certPEM, keyPEM := selfSigned(t)
	const iccid = "8988280666000000077"
	ct, err := sealer.Seal(ctx, iccid, []byte(keyPEM))
	if err != nil {
		t.Fatal(err)
	}
	store := simstore.NewDynamo(db, name)
	rec, err := store.Create(ctx, simrec.Record{ICCID: iccid, IP: simIP, Active: true, Cert: &simrec.Credentials{PEM: certPEM, KeyCiphertext: ct}})
	if err != nil {
		t.Fatal(err)
	}
	return store, rec, keyPEM
}

func selfSigned(t *testing.T) (string, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "device"}, NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

func get200(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	return string(b)
}

// startService runs service.Run with env (plus the emulator's) until the
// test ends and returns the onboarding URL, the ops listener's base URL and
// the captured logs.
func startService(t *testing.T, env map[string]string) (string, string, *testkit.LogBuffer) {
	t.Helper()
	for _, kv := range testkit.Env(testkit.MotoEndpoint(t)) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	httpPort, _ := testkit.FreePort()
	opsPort, _ := testkit.FreePort()
	env["HTTP_ADDR"] = fmt.Sprintf("127.0.0.1:%d", httpPort)
	env["OPS_ADDR"] = fmt.Sprintf("127.0.0.1:%d", opsPort)
	for k, v := range env {
		t.Setenv(k, v)
	}
	logs := &testkit.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, slog.New(slog.NewJSONHandler(logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", opsPort))
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Sprintf("http://127.0.0.1:%d/device-api/onboarding", httpPort), fmt.Sprintf("http://127.0.0.1:%d", opsPort), logs
}
