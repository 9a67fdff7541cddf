package ports

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/simbridge/simbridge/services/onboarding-api/internal/app"
)

// jsonBody is the reference's JSON answer; the field order is part of the
// contract (some firmware parses it positionally).
type jsonBody struct {
	AmazonRootCaURL    string `json:"amazonRootCaUrl"`
	Certificate        string `json:"certificate"`
	PrivateKey         string `json:"privateKey"`
	ICCID              string `json:"iccid"`
	IoTCoreEndpointURL string `json:"iotCoreEndpointUrl"`
}

// encodeJSON renders the JSON answer as the reference does: no HTML
// escaping, no trailing newline. Strings cannot fail to encode.
func encodeJSON(c app.Credentials) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(jsonBody{
		AmazonRootCaURL: c.RootCAURL, Certificate: c.CertificatePEM, PrivateKey: c.PrivateKeyPEM,
		ICCID: c.ICCID, IoTCoreEndpointURL: c.IoTEndpoint,
	})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// newlines turns CRLF, CR and LF into the two characters \n, as firmware
// built on 1NCE's blueprints expects in the CSV answer.
var newlines = strings.NewReplacer("\r\n", `\n`, "\r", `\n`, "\n", `\n`)

// encodeCSV renders the one-line, six-field, quoted CSV answer.
func encodeCSV(c app.Credentials) []byte {
	return csvLine(c.ICCID, c.IoTEndpoint, c.RootCAURL, c.RootCAPEM, c.CertificatePEM, c.PrivateKeyPEM)
}
