// Package awsstub answers the two AWS calls onboarding-api makes per device
// request, DynamoDB Query on the IP index and KMS Decrypt, from memory in
// microseconds. The onboarding benchmark puts it behind onboarding-api so
// the figures measure the HTTP path (load generator → gateway or nginx →
// onboarding-api → SDK calls) rather than the emulator: moto answers about
// 130 index queries per second on a 2-core machine, far below the 1,000
// requests per second the benchmark drives.
package awsstub

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// SIM is one onboarding record the stub serves.
type SIM struct {
	ICCID, IP, CertificatePEM, PrivateKeyPEM string
}

// Stub is an http.Handler speaking the AWS JSON protocol for DynamoDB
// Query and KMS Decrypt.
type Stub struct {
	byIP   map[string]SIM
	byICC  map[string]SIM
	prefix string
}

// New serves sims.
func New(sims []SIM) *Stub {
	s := &Stub{byIP: map[string]SIM{}, byICC: map[string]SIM{}, prefix: "stub-sealed:"}
	for _, sim := range sims {
		s.byIP[sim.IP], s.byICC[sim.ICCID] = sim, sim
	}
	return s
}

func (s *Stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		awsError(w, "SerializationException", err.Error())
		return
	}
	switch target := r.Header.Get("X-Amz-Target"); target {
	case "DynamoDB_20120810.Query":
		s.query(w, in)
	case "TrentService.Decrypt":
		s.decrypt(w, in)
	default:
		awsError(w, "UnknownOperationException", "awsstub does not serve "+target)
	}
}

// query answers KeyConditionExpression "ip = :ip" with the SIM's item.
func (s *Stub) query(w http.ResponseWriter, in map[string]json.RawMessage) {
	var values map[string]map[string]string
	_ = json.Unmarshal(in["ExpressionAttributeValues"], &values)
	items := []map[string]any{}
	if sim, ok := s.byIP[values[":ip"]["S"]]; ok {
		items = append(items, map[string]any{
			"iccid": str(sim.ICCID), "ip": str(sim.IP), "active": map[string]bool{"BOOL": true}, "state": str("active"),
			"status": str("Enabled"), "thing_name": str(sim.ICCID),
			"cert": map[string]any{"M": map[string]any{
				"id": str("stub"), "pem": str(sim.CertificatePEM), "authority": str("own"), "issued_at": str("2026-01-01T00:00:00Z"),
				"key_ciphertext": map[string]string{"B": base64.StdEncoding.EncodeToString([]byte(s.prefix + sim.ICCID))},
			}},
			"created_at": str("2026-01-01T00:00:00Z"), "updated_at": str("2026-01-01T00:00:00Z"), "version": map[string]string{"N": "1"},
		})
	}
	reply(w, map[string]any{"Count": len(items), "ScannedCount": len(items), "Items": items})
}

// decrypt opens what query handed out, checking the ICCID in the
// encryption context as KMS would.
func (s *Stub) decrypt(w http.ResponseWriter, in map[string]json.RawMessage) {
	var blob []byte
	var ec map[string]string
	_ = json.Unmarshal(in["CiphertextBlob"], &blob)
	_ = json.Unmarshal(in["EncryptionContext"], &ec)
	iccid, ok := strings.CutPrefix(string(blob), s.prefix)
	sim, known := s.byICC[iccid]
	if !ok || !known || ec["iccid"] != iccid {
		awsError(w, "InvalidCiphertextException", "ciphertext or encryption context does not match")
		return
	}
	reply(w, map[string]any{"KeyId": "arn:aws:kms:us-east-1:000000000000:key/stub", "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
		"Plaintext": base64.StdEncoding.EncodeToString([]byte(sim.PrivateKeyPEM))})
}

func str(v string) map[string]string { return map[string]string{"S": v} }

func reply(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(body)
}

func awsError(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}
