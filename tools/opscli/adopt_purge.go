package opscli

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	iottypes "github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/simrec"
)

// Classes of a reference item for --purge-keys (PurgeItem.Class).
const (
	// PurgeVerified: adopted; the record holds the item's certificate and
	// the SHA-256 of its key.
	PurgeVerified = "verified"
	// PurgeSuperseded: simbridge serves the SIM another certificate (its
	// own, or one adopted from another item): this key is not what a
	// device gets any more.
	PurgeSuperseded = "superseded"
	// PurgeUseless: the key cannot serve a device: it is not the
	// certificate's, or IoT Core no longer knows the certificate or has
	// REVOKED it.
	PurgeUseless = "useless"
	// PurgeUnsettled: not adopted and not superseded: its key may be the
	// only copy of working credentials. Blocks the purge.
	PurgeUnsettled = "unsettled"
	// PurgeMismatch: the record holds the certificate but not this key's
	// SHA-256. Blocks the purge.
	PurgeMismatch = "mismatch"
	// PurgeNoKey: the item has no prk (purged before).
	PurgeNoKey = "no-key"
)

// PurgeItem is one reference item's class (-o json).
type PurgeItem struct {
	Key    string `json:"key"`
	ICCID  string `json:"iccid"`
	Class  string `json:"class"`
	Detail string `json:"detail,omitempty"`
}

// PurgeReport is --purge-keys' answer (-o json).
type PurgeReport struct {
	Table   string         `json:"table"`
	Region  string         `json:"region"`
	Prefix  string         `json:"prefix"`
	DryRun  bool           `json:"dry_run"`
	Items   int            `json:"items"`
	Counts  map[string]int `json:"counts"`
	Blocked []PurgeItem    `json:"blocked"`
	Removed int            `json:"removed"`
	Failed  []PurgeItem    `json:"failed,omitempty"`
	Seconds float64        `json:"seconds"`
}

// purge removes the plain-text keys from the reference table once every
// item is settled (verified, superseded or useless); it removes nothing
// while any item is not.
func (a *adopter) purge(ctx context.Context) error {
	start := a.s.now()
	items, err := a.ref.items(ctx, nil)
	if err != nil {
		return err
	}
	stop, err := a.joinQuotas(ctx)
	if err != nil {
		return err
	}
	defer stop()
	classes := make([]PurgeItem, len(items))
	bar := newProgress(a.s.errOut, a.s.opts.Progress, int64(len(items)), "verifying "+a.f.table, "items")
	err = parallel(ctx, len(items), a.f.workers, func(i int) {
		classes[i] = a.classify(ctx, items[i])
		bar.Add(1)
	})
	bar.Finish()
	if err != nil {
		return err
	}
	rep := PurgeReport{Table: a.f.table, Region: a.ref.region, Prefix: a.s.names.Prefix, DryRun: a.f.dry, Items: len(items),
		Counts: map[string]int{}, Blocked: []PurgeItem{}}
	var removable []int
	for i, c := range classes {
		rep.Counts[c.Class]++
		switch c.Class {
		case PurgeUnsettled, PurgeMismatch, OutcomeFailed:
			rep.Blocked = append(rep.Blocked, c)
		case PurgeVerified, PurgeSuperseded, PurgeUseless:
			removable = append(removable, i)
		}
	}
	sort.Slice(rep.Blocked, func(i, j int) bool { return rep.Blocked[i].ICCID < rep.Blocked[j].ICCID })
	if len(rep.Blocked) > 0 || a.f.dry || len(removable) == 0 {
		rep.Seconds = a.s.now().Sub(start).Seconds()
		if err := a.printPurge(rep, len(removable)); err != nil {
			return err
		}
		if len(rep.Blocked) > 0 {
			return attention("")
		}
		return nil
	}
	ok, err := a.s.approve(ctx, &changeFlags{yes: a.f.yes}, Plan{
		Change: fmt.Sprintf("remove the plain-text private keys of %d items from %s (%s) for good", len(removable), a.f.table, a.ref.region),
		Steps:  []PlannedStep{{Action: "purge-keys", Target: a.f.table, Detail: fmt.Sprintf("%d items, every one settled", len(removable))}},
	})
	if !ok {
		_ = a.printPurge(rep, len(removable))
		return err
	}
	failed := make([]*PurgeItem, len(removable))
	bar = newProgress(a.s.errOut, a.s.opts.Progress, int64(len(removable)), "purging "+a.f.table, "keys")
	err = parallel(ctx, len(removable), a.f.workers, func(k int) {
		it := items[removable[k]]
		if err := a.removeKey(ctx, it); err != nil {
			failed[k] = &PurgeItem{Key: it.PK, ICCID: it.ICCID, Class: OutcomeFailed, Detail: err.Error()}
		}
		bar.Add(1)
	})
	bar.Finish()
	for _, f := range failed {
		if f != nil {
			rep.Failed = append(rep.Failed, *f)
		}
	}
	rep.Removed = len(removable) - len(rep.Failed)
	rep.Seconds = a.s.now().Sub(start).Seconds()
	if perr := a.printPurge(rep, len(removable)); perr != nil {
		return perr
	}
	if err != nil {
		return err
	}
	if len(rep.Failed) > 0 {
		return fmt.Errorf("%d key(s) not removed (see above); run --purge-keys again", len(rep.Failed))
	}
	return nil
}

// classify says whether an item's key may go.
func (a *adopter) classify(ctx context.Context, it refItem) PurgeItem {
	p := PurgeItem{Key: it.PK, ICCID: it.ICCID}
	set := func(class, format string, args ...any) PurgeItem {
		p.Class, p.Detail = class, fmt.Sprintf(format, args...)
		return p
	}
	if !it.Key.IsSet() {
		return set(PurgeNoKey, "")
	}
	if !validICCID(it.ICCID) {
		return set(PurgeUnsettled, "not a readable SIM item: remove it by hand once you know what it is")
	}
	cert, cerr := iotca.ParseCertificate(it.Cert)
	certID := ""
	if cerr == nil {
		certID = iotca.CertificateID(cert.Raw)
	}
	rec, err := a.s.store.Get(ctx, it.ICCID)
	switch {
	case err == nil && rec.Cert != nil && rec.Cert.ID == certID:
		if rec.Cert.Adopted() && rec.Cert.KeySHA256 == keyDigest(it.Key) {
			return set(PurgeVerified, "")
		}
		return set(PurgeMismatch, "simbridge's record holds certificate %s but not this key's SHA-256", short(certID))
	case err == nil:
		return set(PurgeSuperseded, "simbridge serves certificate %s", short(rec.CertificateID()))
	case !errors.Is(err, simrec.ErrNotFound):
		return set(OutcomeFailed, "%v", err)
	case cerr != nil || iotca.KeyMatches(it.Cert, it.Key.Reveal()) != nil:
		return set(PurgeUseless, "the key is not the certificate's")
	}
	d, err := a.iot.DescribeCertificate(ctx, &iot.DescribeCertificateInput{CertificateId: aws.String(certID)})
	var nf *iottypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return set(PurgeUseless, "IoT Core does not know certificate %s", short(certID))
	case err != nil:
		return set(OutcomeFailed, "describe certificate %s: %v", short(certID), err)
	case d.CertificateDescription.Status == iottypes.CertificateStatusRevoked:
		return set(PurgeUseless, "certificate %s is REVOKED", short(certID))
	}
	return set(PurgeUnsettled, "not adopted, and simbridge has no record: the key may be the only copy of working credentials (simbridge adopt --apply, or simbridge sync %s)", it.ICCID)
}

// removeKey removes prk from one item, only if the item still holds the
// certificate it was verified with.
func (a *adopter) removeKey(ctx context.Context, it refItem) error {
	_, err := a.ref.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(a.f.table),
		Key: map[string]ddbtypes.AttributeValue{
			"PK": &ddbtypes.AttributeValueMemberS{Value: it.PK}, "SK": &ddbtypes.AttributeValueMemberS{Value: it.SK}},
		UpdateExpression:          aws.String("REMOVE #k"),
		ConditionExpression:       aws.String("attribute_exists(#k) AND #c = :c"),
		ExpressionAttributeNames:  map[string]string{"#k": "prk", "#c": "crt"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":c": &ddbtypes.AttributeValueMemberS{Value: it.Cert}},
	})
	var changed *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &changed) {
		return errors.New("the item changed since it was verified (run --purge-keys again)")
	}
	if err != nil {
		return fmt.Errorf("remove key of %s: %w", it.PK, err)
	}
	return nil
}

func (a *adopter) printPurge(rep PurgeReport, removable int) error {
	out := a.s.out
	if a.s.opts.Output == FormatJSON {
		return writeJSON(out, rep)
	}
	fmt.Fprintf(out, "purge keys of %s (%s) for %s: %d items\n", rep.Table, rep.Region, rep.Prefix, rep.Items)
	if len(rep.Blocked)+len(rep.Failed) > 0 {
		fmt.Fprintln(out)
		w, _ := newRowWriter(out, FormatTable, []column{{"class", 10}, {"sim", 22}, {"item", 18}, {"detail", 0}})
		for _, b := range append(append([]PurgeItem(nil), rep.Blocked...), rep.Failed...) {
			_ = w.Row([]string{b.Class, dash(b.ICCID), b.Key, b.Detail}, b)
		}
	}
	c := rep.Counts
	fmt.Fprintf(out, "\nverified %d, superseded %d, useless %d, unsettled %d, mismatch %d, without key %d (%.1fs)\n",
		c[PurgeVerified], c[PurgeSuperseded], c[PurgeUseless], c[PurgeUnsettled], c[PurgeMismatch], c[PurgeNoKey], rep.Seconds)
	switch {
	case len(rep.Blocked) > 0:
		fmt.Fprintf(out, "nothing removed: %d item(s) not settled (above)\n", len(rep.Blocked))
	case removable == 0:
		fmt.Fprintln(out, "no plain-text key left to remove")
	case rep.DryRun:
		fmt.Fprintf(out, "would remove the private keys (prk) of %d items; simbridge adopt --purge-keys does it\n", removable)
	default:
		fmt.Fprintf(out, "removed the private keys (prk) of %d items\n", rep.Removed)
	}
	return nil
}
