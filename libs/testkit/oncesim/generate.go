package oncesim

import (
	"fmt"
	"time"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// activationBase is the activation date of the first generated SIM; later SIMs follow a minute apart.
var activationBase = time.Date(2018, 3, 9, 7, 59, 9, 0, time.UTC)

// activationLayout is 1NCE's timestamp format, e.g. 2018-03-09T07:59:09.000+0000.
const activationLayout = "2006-01-02T15:04:05.000-0700"

// quotaDescription is what 1NCE reports for a SIM with plenty of quota left.
const quotaDescription = "More than 20% available"

// Generate builds count realistic SIMs so tests and demos get an inventory of any size without a
// fixture file. ICCIDs are iccidPrefix plus a zero-padded counter from 0, 19 digits in all. IPs follow
// ipPattern (e.g. 127.0.0.x or 10.0.x.x), whose trailing x octets count up from ipStart; an empty
// ipPattern gives SIMs without an IP. It fails when the ICCIDs or IPs do not fit.
func Generate(count int, iccidPrefix, ipPattern string, ipStart int) ([]onceapi.SIM, error) {
	if count < 0 {
		return nil, fmt.Errorf("generate: count %d is negative", count)
	}
	iccids, err := newICCIDSeq(iccidPrefix, count)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	ips, err := newIPSeq(ipPattern, ipStart, count)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	sims := make([]onceapi.SIM, count)
	for i := range sims {
		sims[i] = newSIM(i, iccids.at(i), ips.at(i))
	}
	return sims, nil
}

// newSIM fills the fields 1NCE returns for an active SIM; IMSI and MSISDN reuse the ICCID's last
// nine digits so they are unique whenever the ICCIDs are.
func newSIM(i int, iccid, ip string) onceapi.SIM {
	tail := iccid[len(iccid)-9:]
	return onceapi.SIM{
		ICCID:           iccid,
		ICCIDWithLuhn:   iccid + string(luhnDigit(iccid)),
		IMSI:            "901405" + tail,
		MSISDN:          "882285" + tail,
		Status:          onceapi.StatusEnabled,
		ActivationDate:  activationBase.Add(time.Duration(i) * time.Minute).Format(activationLayout),
		IPAddress:       ip,
		CurrentQuota:    500,
		QuotaStatus:     &onceapi.QuotaStatus{ID: 0, Description: quotaDescription},
		CurrentQuotaSMS: 250,
		QuotaStatusSMS:  &onceapi.QuotaStatus{ID: 0, Description: quotaDescription},
	}
}
