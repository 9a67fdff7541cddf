// Package onceapi is a client for the 1NCE Management API (token and SIM listing)
// and the wire types of that API, shared by sim-poller and the simulator in tools/.
package onceapi

// Status values of a SIM as 1NCE reports them.
const (
	StatusEnabled  = "Enabled"
	StatusDisabled = "Disabled"
)

// QuotaStatus is 1NCE's quota state of a SIM (data or SMS).
type QuotaStatus struct {
	ID          int    `json:"id"`
	Description string `json:"description"`
}

// SIM is one entry of GET /v1/sims, with the field names 1NCE uses on the wire.
type SIM struct {
	ICCID           string       `json:"iccid"`
	ICCIDWithLuhn   string       `json:"iccid_with_luhn"`
	IMSI            string       `json:"imsi"`
	MSISDN          string       `json:"msisdn"`
	IMEI            string       `json:"imei"`
	IMEILock        bool         `json:"imei_lock"`
	Status          string       `json:"status"`
	ActivationDate  string       `json:"activation_date"`
	IPAddress       string       `json:"ip_address"`
	CurrentQuota    int64        `json:"current_quota"`
	QuotaStatus     *QuotaStatus `json:"quota_status,omitempty"`
	CurrentQuotaSMS int64        `json:"current_quota_SMS"`
	QuotaStatusSMS  *QuotaStatus `json:"quota_status_SMS,omitempty"`
	Label           string       `json:"label"`
}

// Token is the answer of POST /oauth/token.
type Token struct {
	StatusCode  int    `json:"status_code"`
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	UserID      string `json:"user_id"`
	Scope       string `json:"scope"`
}

// Paging headers of GET /v1/sims.
const (
	HeaderCountPerPage = "X-Count-Per-Page"
	HeaderCurrentPage  = "X-Current-Page"
	HeaderTotalCount   = "X-Total-Count"
	HeaderTotalPages   = "X-Total-Pages"
)

// MaxPageSize is the largest pageSize the API accepts.
const MaxPageSize = 100
