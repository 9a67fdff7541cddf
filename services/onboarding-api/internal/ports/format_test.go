package ports_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/simbridge/simbridge/services/onboarding-api/internal/app"
)

// escaped is how a PEM travels inside the CSV answer: every CRLF, CR or LF
// becomes the two characters \n.
func escaped(pem string) string {
	return strings.NewReplacer("\r\n", `\n`, "\r", `\n`, "\n", `\n`).Replace(pem)
}

func TestResponseFormats(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	wantJSON := `{"amazonRootCaUrl":"` + app.AmazonRootCAURL + `","certificate":` + jsonString(f.id.cert) +
		`,"privateKey":` + jsonString(f.id.key) + `,"iccid":"` + iccidActive + `","iotCoreEndpointUrl":"` + endpoint + `"}`
	wantCSV := `"` + iccidActive + `","` + endpoint + `","` + app.AmazonRootCAURL + `","ROOT\nCA\n","` +
		escaped(f.id.cert) + `","` + escaped(f.id.key) + `"`
	tests := []struct {
		name, path, accept, wantType, wantBody string
	}{
		{"json by default", "/device-api/onboarding", "", "application/json", wantJSON},
		{"json when asked", "/device-api/onboarding", "application/json", "application/json", wantJSON},
		{"csv", "/device-api/onboarding", "text/csv", "text/csv", wantCSV},
		{"csv among others", "/device-api/onboarding", "text/plain;q=0.5, TEXT/CSV", "text/csv", wantCSV},
		{"csv refused with q=0", "/device-api/onboarding", "text/csv;q=0, application/json", "application/json", wantJSON},
		{"csv refused, anything else welcome", "/device-api/onboarding", "text/csv;q=0, */*", "application/json", wantJSON},
		{"json preferred by q", "/device-api/onboarding", "text/csv;q=0.5, application/json", "application/json", wantJSON},
		{"csv preferred by q", "/device-api/onboarding", "application/json;q=0.5, text/csv;q=0.9", "text/csv", wantCSV},
		{"tie goes to json", "/device-api/onboarding", "text/csv, application/json", "application/json", wantJSON},
		{"any type is json", "/device-api/onboarding", "*/*", "application/json", wantJSON},
		{"any text is csv", "/device-api/onboarding", "text/*", "text/csv", wantCSV},
		{"nothing acceptable is json", "/device-api/onboarding", "text/plain", "application/json", wantJSON},
		{"both refused is json", "/device-api/onboarding", "text/csv;q=0, application/json;q=0", "application/json", wantJSON},
		{"q out of range is ignored", "/device-api/onboarding", "text/csv;q=2, application/json;q=0.1", "application/json", wantJSON},
		{"alias path", "/onboarding", "text/csv", "text/csv", wantCSV},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := f.get(t, tc.path, ipActive, map[string]string{"Accept": tc.accept})
			if r.code != http.StatusOK || r.header.Get("Content-Type") != tc.wantType {
				t.Fatalf("got %d %q", r.code, r.header.Get("Content-Type"))
			}
			if r.body != tc.wantBody {
				t.Fatalf("body\n got %s\nwant %s", r.body, tc.wantBody)
			}
			if r.header.Get("Accept-Ranges") != "bytes" || r.header.Get("Content-Length") != strconv.Itoa(len(tc.wantBody)) {
				t.Errorf("headers %v", r.header)
			}
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestRange(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, format := range []string{"application/json", "text/csv"} {
		full := f.get(t, "/device-api/onboarding", ipActive, map[string]string{"Accept": format}).body
		n := len(full)
		tests := []struct {
			name, rng    string
			wantCode     int
			wantBody     string
			wantContRang string
		}{
			{"first chunk", "bytes=0-99", 206, full[:100], fmt.Sprintf("bytes 0-99/%d", n)},
			{"middle chunk", "bytes=100-199", 206, full[100:200], fmt.Sprintf("bytes 100-199/%d", n)},
			{"last chunk", fmt.Sprintf("bytes=%d-%d", n-100, n-1), 206, full[n-100:], fmt.Sprintf("bytes %d-%d/%d", n-100, n-1, n)},
			{"last chunk past the end", fmt.Sprintf("bytes=%d-%d", n-10, n+1000), 206, full[n-10:], fmt.Sprintf("bytes %d-%d/%d", n-10, n-1, n)},
			{"suffix range", "bytes=-50", 206, full[n-50:], fmt.Sprintf("bytes %d-%d/%d", n-50, n-1, n)},
			{"open ended", fmt.Sprintf("bytes=%d-", n-7), 206, full[n-7:], fmt.Sprintf("bytes %d-%d/%d", n-7, n-1, n)},
			{"whole body as range", "bytes=0-", 206, full, fmt.Sprintf("bytes 0-%d/%d", n-1, n)},
			{"start beyond the end", fmt.Sprintf("bytes=%d-", n), 416, "", fmt.Sprintf("bytes */%d", n)},
			{"malformed", "bytes=abc", 416, "", ""},
			{"inverted", "bytes=50-10", 416, "", ""},
			{"other unit is ignored", "items=0-1", 200, full, ""},
		}
		for _, tc := range tests {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				r := f.get(t, "/device-api/onboarding", ipActive, map[string]string{"Accept": format, "Range": tc.rng})
				if r.code != tc.wantCode || r.header.Get("Content-Range") != tc.wantContRang {
					t.Fatalf("got %d Content-Range %q, want %d %q", r.code, r.header.Get("Content-Range"), tc.wantCode, tc.wantContRang)
				}
				if tc.wantCode != 416 && r.body != tc.wantBody {
					t.Fatalf("body %q, want %q", r.body, tc.wantBody)
				}
			})
		}
	}
}

// Many or overlapping ranges are ignored (200, whole body): a multi-range
// answer costs a multipart header per range, so hundreds of one-byte
// ranges multiplied the answer; no request may get more than the body
// plus a bounded overhead.
func TestRangeAbuseIsIgnored(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, format := range []string{"application/json", "text/csv"} {
		full := f.get(t, "/device-api/onboarding", ipActive, map[string]string{"Accept": format}).body
		n := len(full)
		tests := []struct {
			name, rng string
			wantCode  int
		}{
			{"hundreds of one-byte ranges", "bytes=" + oneByteRanges(300), 200},
			{"one range more than the cap", "bytes=" + oneByteRanges(9), 200},
			{"ranges up to the cap", "bytes=" + oneByteRanges(8), 206},
			{"two ranges", "bytes=0-9,20-29", 206},
			{"adjacent ranges do not overlap", "bytes=0-9,10-19", 206},
			{"overlapping ranges", "bytes=0-99,50-149", 200},
			{"the same range twice", "bytes=0-99,0-99", 200},
			{"open range overlapping a suffix", "bytes=0-,-10", 200},
			{"overlap out of order", "bytes=200-299,0-9,250-260", 200},
			{"overlap hidden by spaces", "bytes= 0-99 , 99-100", 200},
		}
		for _, tc := range tests {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				r := f.get(t, "/device-api/onboarding", ipActive, map[string]string{"Accept": format, "Range": tc.rng})
				if r.code != tc.wantCode {
					t.Fatalf("got %d, want %d", r.code, tc.wantCode)
				}
				if tc.wantCode == 200 && r.body != full {
					t.Fatalf("a 200 must carry the whole body")
				}
				if len(r.body) > n+1024 {
					t.Fatalf("answer of %d bytes for a %d-byte body", len(r.body), n)
				}
			})
		}
	}
}

// oneByteRanges is "0-0,2-2,…" with k ranges.
func oneByteRanges(k int) string {
	specs := make([]string, k)
	for i := range specs {
		specs[i] = fmt.Sprintf("%d-%d", 2*i, 2*i)
	}
	return strings.Join(specs, ",")
}

// TestChunkedDownloadReassembles downloads the answer the way a cellular
// modem does, in fixed-size chunks, and checks the pieces add up.
func TestChunkedDownloadReassembles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, format := range []string{"application/json", "text/csv"} {
		for _, chunk := range []int{1, 333, 512, 1024, 100000} {
			t.Run(fmt.Sprintf("%s/%d bytes", format, chunk), func(t *testing.T) {
				t.Parallel()
				full := f.get(t, "/device-api/onboarding", ipActive, map[string]string{"Accept": format}).body
				if chunk == 1 {
					chunk = len(full) / 7
				}
				var got strings.Builder
				for got.Len() < len(full) {
					rng := fmt.Sprintf("bytes=%d-%d", got.Len(), got.Len()+chunk-1)
					r := f.get(t, "/device-api/onboarding", ipActive, map[string]string{"Accept": format, "Range": rng})
					if r.code != http.StatusPartialContent || r.body == "" {
						t.Fatalf("%s: %d", rng, r.code)
					}
					got.WriteString(r.body)
				}
				if got.String() != full {
					t.Fatal("chunks do not reassemble to the full answer")
				}
			})
		}
	}
}

// parseBlueprintCSV reads the CSV answer the way 1NCE's FreeRTOS blueprint
// does: strip the outer quotes, split on `","`, turn \n back into newlines.
func parseBlueprintCSV(body string) []string {
	fields := strings.Split(strings.TrimSuffix(strings.TrimPrefix(body, `"`), `"`), `","`)
	for i, f := range fields {
		fields[i] = strings.ReplaceAll(f, `\n`, "\n")
	}
	return fields
}

func TestFirmwareParsesCSV(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.get(t, "/device-api/onboarding", ipActive, map[string]string{"Accept": "text/csv"})
	if strings.ContainsAny(r.body, "\r\n") {
		t.Fatal("the CSV answer must be one line")
	}
	fields := parseBlueprintCSV(r.body)
	if len(fields) != 6 {
		t.Fatalf("got %d fields, want 6", len(fields))
	}
	want := []struct{ name, got, want string }{
		{"iccid", fields[0], iccidActive},
		{"endpoint", fields[1], endpoint},
		{"root CA URL", fields[2], app.AmazonRootCAURL},
		{"root CA", fields[3], "ROOT\nCA\n"},
	}
	for _, w := range want {
		if w.got != w.want {
			t.Errorf("%s: %q, want %q", w.name, w.got, w.want)
		}
	}
	if err := matches(fields[4], fields[5]); err != nil {
		t.Fatalf("certificate and key recovered from the CSV: %v", err)
	}
}
