package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/simbridge/simbridge/libs/metrics"
)

func TestOpsEndpoints(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "things_done_total", Help: "x"})
	reg.MustRegister(c)
	c.Add(3)
	probe := metrics.NewProbe()
	srv := httptest.NewServer(metrics.Handler(reg, probe))
	defer srv.Close()

	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz = %d", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "starting") {
		t.Errorf("readyz before ready = %d %q", code, body)
	}
	probe.SetReady()
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("readyz after ready = %d", code)
	}
	probe.SetNotReady("tunnel down")
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "tunnel down") {
		t.Errorf("readyz not ready = %d %q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "things_done_total 3") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics = %d, missing series: %s", code, body[:min(len(body), 200)])
	}
}
