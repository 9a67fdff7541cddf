package testkit

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// Recorded is one request moto's recorder saw.
type Recorded struct {
	Method string
	URL    string
	Body   string
}

// StartRecording makes the emulator at endpoint record every request, so a
// test can assert on calls moto keeps nowhere else (IoT Data Plane Publish).
func StartRecording(t testing.TB, endpoint string) {
	t.Helper()
	motoAPI(t, http.MethodPost, endpoint+"/moto-api/recorder/start-recording")
}

// Recording returns the requests recorded so far.
func Recording(t testing.TB, endpoint string) []Recorded {
	t.Helper()
	resp := motoAPI(t, http.MethodGet, endpoint+"/moto-api/recorder/download-recording")
	defer resp.Body.Close()
	var out []Recorded
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r struct {
			Method, URL, Body string
			Encoded           bool `json:"body_encoded"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("recording: %v", err)
		}
		if r.Encoded {
			b, _ := base64.StdEncoding.DecodeString(r.Body)
			r.Body = string(b)
		}
		out = append(out, Recorded{Method: r.Method, URL: r.URL, Body: r.Body})
	}
	return out
}

func motoAPI(t testing.TB, method, url string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("moto API %s: %v", url, err)
	}
	if resp.StatusCode >= 300 {
		resp.Body.Close()
		t.Fatalf("moto API %s: %s", url, fmt.Sprint(resp.Status))
	}
	return resp
}
