package opscli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/simbridge/simbridge/libs/config"
	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/simip"
)

// refItem is one item of the reference system's table (1NCE's
// 1nce-iot-device-onboarding): key PK = "IP#<ip>", SK = "P#MQTT"; i is the
// ICCID, crt the certificate PEM, prk the private key PEM in plain text, a
// whether the SIM is active, ct/ut ISO times. The key is a config.Secret,
// so no print, log or JSON of an item can show it.
type refItem struct {
	PK      string        `dynamodbav:"PK"`
	SK      string        `dynamodbav:"SK"`
	ICCID   string        `dynamodbav:"i"`
	IP      string        `dynamodbav:"ip"`
	Cert    string        `dynamodbav:"crt"`
	Key     config.Secret `dynamodbav:"prk"`
	Active  *bool         `dynamodbav:"a"`
	Created string        `dynamodbav:"ct"`
	Updated string        `dynamodbav:"ut"`
}

// refSK is the sort key of every SIM item of the reference.
const refSK = "P#MQTT"

// active is the item's a (an item without one is not active).
func (it refItem) active() bool { return it.Active != nil && *it.Active }

// pkIP is the IP the item's key names: the address the reference answered
// this item to.
func (it refItem) pkIP() string { return strings.TrimPrefix(it.PK, "IP#") }

// keyDigest is the hex SHA-256 of the private key PEM, recorded with the
// sealed key so --purge-keys can prove the two are the same.
func keyDigest(key config.Secret) string {
	sum := sha256.Sum256([]byte(key.Reveal()))
	return hex.EncodeToString(sum[:])
}

// reference reads the reference table: every item, whole (keys included:
// they are sealed on the way), held in memory for the run. 15,000 SIMs are
// about 50 MB.
type reference struct {
	db     *dynamodb.Client
	table  string
	region string
}

// errNoReference means the reference table does not exist where we looked.
var errNoReference = errors.New("reference table not found")

func (r reference) items(ctx context.Context, onPage func(int)) ([]refItem, error) {
	var out []refItem
	p := dynamodb.NewScanPaginator(r.db, &dynamodb.ScanInput{TableName: aws.String(r.table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var nf *ddbtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("%w: %s in %s (--table, --region)", errNoReference, r.table, r.region)
		}
		if err != nil {
			return nil, fmt.Errorf("scan reference table %s: %w", r.table, err)
		}
		for _, av := range page.Items {
			var it refItem
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				// The error names types, never values: no key can leak here.
				return nil, fmt.Errorf("decode reference item %s: %w", keyOf(av), err)
			}
			out = append(out, it)
		}
		if onPage != nil {
			onPage(len(page.Items))
		}
	}
	return out, nil
}

func keyOf(av map[string]ddbtypes.AttributeValue) string {
	if s, ok := av["PK"].(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return "?"
}

// Disagreement kinds: what adopt finds that keeps a SIM from being adopted
// as it is, or that an operator should know (Blocking false).
const (
	DisagreeBadItem        = "bad-item"                 // an item adopt cannot read: key, ICCID, IP, PEMs
	DisagreeKeyMismatch    = "key-mismatch"             // the private key is not the certificate's
	DisagreeDuplicateICCID = "duplicate-iccid"          // two items for one ICCID
	DisagreeIPTaken        = "ip-taken"                 // another SIM holds the IP (reference or simbridge)
	DisagreeHasRecord      = "has-record"               // simbridge already has a record for the SIM
	DisagreeCertMissing    = "certificate-missing"      // IoT Core does not know the certificate
	DisagreeCertState      = "certificate-state"        // REVOKED or another status no device can use
	DisagreeNotOnThing     = "certificate-not-on-thing" // not attached to the Thing named by the ICCID
	DisagreeOtherCerts     = "other-certificates"       // the Thing holds further certificates (left as they are)
	DisagreeThingType      = "thing-type"               // the Thing has another thing type (left as it is)
)

// Disagreement is one thing adopt found (-o json).
type Disagreement struct {
	Kind  string `json:"kind"`
	ICCID string `json:"iccid"`
	IP    string `json:"ip,omitempty"`
	// Blocking says the SIM is not adopted because of it.
	Blocking bool   `json:"blocking"`
	Detail   string `json:"detail"`
}

// candidate is one SIM to adopt: the item it is adopted from, or the
// reasons it is not.
type candidate struct {
	ICCID string
	// IP is the item's address, normalised (simip).
	IP   string
	Item refItem
	// Problems block the SIM; Notes do not.
	Problems []Disagreement
	Notes    []Disagreement
}

// blocked reports whether the SIM cannot be adopted.
func (c *candidate) blocked() bool { return len(c.Problems) > 0 }

func (c *candidate) problem(kind, format string, args ...any) {
	c.Problems = append(c.Problems, Disagreement{Kind: kind, ICCID: c.ICCID, IP: c.IP, Blocking: true, Detail: fmt.Sprintf(format, args...)})
}

func (c *candidate) note(kind, format string, args ...any) {
	c.Notes = append(c.Notes, Disagreement{Kind: kind, ICCID: c.ICCID, IP: c.IP, Detail: fmt.Sprintf(format, args...)})
}

// planItems turns the reference's items into one candidate per SIM, with
// the disagreements the items show by themselves (no AWS call):
//
//  1. An item that cannot be read as a SIM (no valid ICCID, an IP that is
//     not IPv4, a key other than "IP#<ip>"/"P#MQTT" or one that disagrees
//     with ip, no certificate or key) is reported and left.
//  2. Items are grouped by ICCID. Several items for one SIM are what the
//     reference leaves when an IP changes: a new item and certificate at the
//     new IP, the old item disabled (a = false). When exactly one of them is
//     active, the reference answered that one, so it is adopted and the
//     others are reported; otherwise nobody can tell which certificate the
//     device holds, and the SIM is not adopted.
//  3. Two SIMs whose items name the same IP (spelled differently) both
//     stay: the device at that IP could be either.
//  4. The key must be the certificate's key (a device given both could not
//     connect).
//
// Candidates come back ordered by ICCID.
func planItems(items []refItem) []*candidate {
	byICCID := map[string][]refItem{}
	var bad []*candidate
	for _, it := range items {
		if c := readable(it); c != nil {
			bad = append(bad, c)
			continue
		}
		byICCID[it.ICCID] = append(byICCID[it.ICCID], it)
	}
	var out []*candidate
	byIP := map[string][]*candidate{}
	for iccid, group := range byICCID {
		c := chooseItem(iccid, group)
		out = append(out, c)
		if !c.blocked() {
			byIP[c.IP] = append(byIP[c.IP], c)
		}
	}
	for ip, cs := range byIP {
		if len(cs) < 2 {
			continue
		}
		for _, c := range cs {
			var others []string
			for _, o := range cs {
				if o != c {
					others = append(others, o.ICCID)
				}
			}
			c.problem(DisagreeIPTaken, "the reference holds %s for SIM %s too: the device there could be either", ip, strings.Join(others, ", "))
		}
	}
	for _, c := range out {
		if !c.blocked() {
			checkKey(c)
		}
	}
	out = append(out, bad...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].ICCID < out[j].ICCID })
	return out
}

// readable returns a blocked candidate for an item that is not a SIM adopt
// can read, nil for a readable one.
func readable(it refItem) *candidate {
	c := &candidate{ICCID: it.ICCID, IP: it.IP, Item: it}
	ip, err := simip.Normalize(it.pkIP())
	switch {
	case !validICCID(it.ICCID):
		c.problem(DisagreeBadItem, "item %s: i %q is not an ICCID", it.PK, it.ICCID)
	case !strings.HasPrefix(it.PK, "IP#") || it.SK != refSK:
		c.problem(DisagreeBadItem, "item %s/%s is not a SIM item (PK IP#<ip>, SK %s)", it.PK, it.SK, refSK)
	case err != nil || ip == "":
		c.problem(DisagreeBadItem, "item %s: %q is not an IPv4 address", it.PK, it.pkIP())
	case it.IP != "" && mustNormalize(it.IP) != ip:
		c.problem(DisagreeBadItem, "item %s says ip %s: which one the device has is unclear", it.PK, it.IP)
	case it.Cert == "" || !it.Key.IsSet():
		c.problem(DisagreeBadItem, "item %s has no certificate (crt) or no private key (prk)", it.PK)
	case it.Active == nil:
		c.problem(DisagreeBadItem, "item %s has no active flag (a)", it.PK)
	default:
		return nil
	}
	return c
}

func mustNormalize(ip string) string {
	n, err := simip.Normalize(ip)
	if err != nil {
		return ""
	}
	return n
}

// chooseItem picks the item a SIM is adopted from (step 2 of planItems).
func chooseItem(iccid string, group []refItem) *candidate {
	var active []refItem
	for _, it := range group {
		if it.active() {
			active = append(active, it)
		}
	}
	chosen := group[0]
	if len(group) > 1 && len(active) == 1 {
		chosen = active[0]
	}
	c := &candidate{ICCID: iccid, IP: mustNormalize(chosen.pkIP()), Item: chosen}
	if len(group) == 1 {
		return c
	}
	var ips []string
	for _, it := range group {
		ips = append(ips, fmt.Sprintf("%s (a=%v, ut %s)", it.pkIP(), it.active(), dash(it.Updated)))
	}
	slices.Sort(ips)
	if len(active) == 1 {
		c.note(DisagreeDuplicateICCID, "%d items for this SIM: %s; adopted from the active one at %s, the others' certificates left as they are",
			len(group), strings.Join(ips, "; "), c.IP)
		return c
	}
	c.IP = ""
	c.problem(DisagreeDuplicateICCID, "%d items for this SIM, %d of them active: %s; which certificate the device holds is unknown (remove the stale items from the reference table and run adopt again)",
		len(group), len(active), strings.Join(ips, "; "))
	return c
}

// checkKey checks that the item's key is its certificate's (step 4).
func checkKey(c *candidate) {
	if err := iotca.KeyMatches(c.Item.Cert, c.Item.Key.Reveal()); err != nil {
		kind := DisagreeBadItem
		if errors.Is(err, iotca.ErrKeyMismatch) {
			kind = DisagreeKeyMismatch
		}
		c.problem(kind, "%v: a device given both could not connect", err)
	}
}
