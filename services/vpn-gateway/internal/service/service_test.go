package service_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/simbridge/simbridge/libs/testkit"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/service"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// keyCheckingUpstream answers 200 with the device IP only to the key held in want.
type keyCheckingUpstream struct {
	mu   sync.Mutex
	want string
}

func (u *keyCheckingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	ok := r.Header.Get("x-api-key") == u.want
	u.mu.Unlock()
	if !ok {
		http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	_, _ = io.WriteString(w, r.Header.Get("onboarding-ip"))
}

// TestLocalModeServer runs the gateway in local mode with its key and TLS
// certificate in Secrets Manager (moto) and checks what the server itself
// enforces: HTTPS next to HTTP, key rotation, header size, slow clients.
func TestLocalModeServer(t *testing.T) {
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(testkit.AWSConfig(t))
	name := testkit.Name(t)
	certPEM, bundle := tlsBundle(t)
	for id, v := range map[string]string{name + "-key": "key-1", name + "-cert": bundle} {
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	up := &keyCheckingUpstream{want: "key-1"}
	us := httptest.NewServer(up)
	defer us.Close()
	addrs := startGateway(t, map[string]string{
		"TUNNEL_MODE": "none", "UPSTREAM_URL": us.URL, "API_KEY_SECRET_ID": name + "-key", "API_KEY_REFRESH": "1s",
		"TLS_CERT_SECRET_ID": name + "-cert", "READ_HEADER_TIMEOUT": "300ms", "IDLE_TIMEOUT": "300ms", "MAX_HEADER_BYTES": "4096",
	})
	plain := "http://" + addrs["LISTEN_ADDR"] + "/device-api/onboarding"

	t.Run("plain HTTP and HTTPS both serve", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(certPEM))
		secure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "gateway.test"}}}
		for name, c := range map[string]struct {
			client *http.Client
			url    string
		}{"http": {http.DefaultClient, plain}, "https": {secure, "https://" + addrs["TLS_LISTEN_ADDR"] + "/device-api/onboarding"}} {
			if code, body := fetch(t, c.client, c.url, nil); code != 200 || body != "127.0.0.1" {
				t.Errorf("%s: %d %q", name, code, body)
			}
		}
	})

	// metrics.go declares every series; the tunnel's exist only with the
	// tunnel (a 0 would fire the tunnel alarm in local mode).
	t.Run("what /metrics exports", func(t *testing.T) {
		block, _ := pem.Decode([]byte(certPEM))
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		_, body := fetch(t, http.DefaultClient, "http://"+addrs["OPS_ADDR"]+"/metrics", nil)
		for _, want := range []string{
			fmt.Sprintf("simbridge_vpn_gateway_tls_certificate_not_after_timestamp_seconds %g\n", float64(cert.NotAfter.Unix())),
			`simbridge_vpn_gateway_requests_total{code="200"} 2` + "\n",
			"simbridge_vpn_gateway_request_duration_seconds_count 2\n",
			`simbridge_aws_call_duration_seconds_count{operation="GetSecretValue"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		if strings.Contains(body, "simbridge_vpn_gateway_tunnel_") {
			t.Error("tunnel series exported in local mode")
		}
	})

	t.Run("rotated key picked up without restart", func(t *testing.T) {
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name + "-key"), SecretString: aws.String("key-2")}); err != nil {
			t.Fatal(err)
		}
		up.mu.Lock()
		up.want = "key-2"
		up.mu.Unlock()
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, _ := fetch(t, http.DefaultClient, plain, nil)
			if code == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("gateway still presents the old key: %d", code)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("oversized headers", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(certPEM))
		tlsConf := &tls.Config{RootCAs: pool, ServerName: "gateway.test"}
		secure := "https://" + addrs["TLS_LISTEN_ADDR"] + "/device-api/onboarding"
		listeners := []struct {
			name   string
			client *http.Client
			url    string
		}{
			{"http", http.DefaultClient, plain},
			{"https", &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}}, secure},
			{"https over HTTP/2", &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, ForceAttemptHTTP2: true}}, secure},
		}
		tests := []struct {
			name string
			size int
			want int
		}{
			{"within the limit", 1000, 200},
			{"just under the limit", 3800, 200},
			{"just over the limit", 4000, http.StatusRequestHeaderFieldsTooLarge},
			{"beyond the limit, within net/http's 4 KiB slack", 6000, http.StatusRequestHeaderFieldsTooLarge},
			{"far beyond the limit", 16 << 10, http.StatusRequestHeaderFieldsTooLarge},
		}
		for _, l := range listeners {
			for _, tc := range tests {
				code, proto, err := fetchProto(l.client, l.url, map[string]string{"X-Padding": strings.Repeat("a", tc.size)})
				if err != nil && tc.want == http.StatusRequestHeaderFieldsTooLarge && strings.Contains(err.Error(), "larger than peer's advertised limit") {
					continue // HTTP/2: the server's advertised limit stopped the request in the client
				}
				if err != nil || code != tc.want {
					t.Errorf("%s, %s: %d %v, want %d", l.name, tc.name, code, err, tc.want)
				}
				if l.name == "https over HTTP/2" && err == nil && proto != "HTTP/2.0" {
					t.Errorf("%s: answered over %s", l.name, proto)
				}
			}
		}
	})

	t.Run("slow clients are disconnected", func(t *testing.T) {
		tests := []struct {
			name  string
			write func(c net.Conn)
		}{
			{"stalled headers", func(c net.Conn) { _, _ = io.WriteString(c, "GET /device-api/onboarding HTTP/1.1\r\nHost: x\r\n") }},
			{"headers trickled byte by byte", func(c net.Conn) {
				for _, b := range []byte("GET /device-api/onboarding HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa") {
					if _, err := c.Write([]byte{b}); err != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}},
			{"idle keep-alive connection", func(c net.Conn) {
				_, _ = io.WriteString(c, "GET /device-api/onboarding HTTP/1.1\r\nHost: x\r\n\r\n")
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c, err := net.Dial("tcp", addrs["LISTEN_ADDR"])
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				go tc.write(c)
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				// ReadAll returns when the server closes; a reset (the server
				// closed while the client was still writing) is a close too.
				got, err := io.ReadAll(c)
				if errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("server kept the connection open: %v", err)
				}
				if err != nil && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("read: %v", err)
				}
				if tc.name != "idle keep-alive connection" && bytes.Contains(got, []byte("200 OK")) {
					t.Fatalf("incomplete request answered: %q", got)
				}
			})
		}
	})
}

func fetch(t *testing.T, c *http.Client, url string, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// fetchProto is fetch that reports the protocol answered over instead of
// the body, and the client's error instead of failing the test.
func fetchProto(c *http.Client, url string, header map[string]string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Proto, nil
}

// tlsBundle returns a self-signed certificate and the PEM bundle
// (certificate + key) the gateway reads.
func tlsBundle(t *testing.T) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gateway.test"}, DNSNames: []string{"gateway.test"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return certPEM, certPEM + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// startGateway runs service.Run with env plus the emulator's and free
// addresses for LISTEN_ADDR, TLS_LISTEN_ADDR and OPS_ADDR (returned).
func startGateway(t *testing.T, env map[string]string) map[string]string {
	t.Helper()
	for _, kv := range testkit.Env(testkit.MotoEndpoint(t)) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	addrs := map[string]string{}
	for _, k := range []string{"LISTEN_ADDR", "TLS_LISTEN_ADDR", "OPS_ADDR"} {
		port, _ := testkit.FreePort()
		addrs[k] = fmt.Sprintf("127.0.0.1:%d", port)
		if _, set := env[k]; !set {
			env[k] = addrs[k]
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitReady(t, addrs["OPS_ADDR"], 10*time.Second)
	return addrs
}

func waitReady(t *testing.T, ops string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get("http://" + ops + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready within %v: %v", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
