package opscli

import (
	"time"

	"github.com/spf13/cobra"
)

const adoptLong = `adopt takes over 1NCE's open-source reference system (1nce-iot-device-onboarding)
without touching a device: for every SIM in the reference's DynamoDB table it makes
simbridge's record for the very certificate and key the reference hands out, so the
device's next GET /device-api/onboarding answers the same certificate and key, byte
for byte. docs/migration.md is the runbook around it.

Without --apply it is a dry run: it reads the reference table, our SIM table and IoT
Core, prints what it would do and every disagreement, and changes nothing. With
--apply, for each SIM it can adopt:

  1. the certificate id is computed from the item's PEM (SHA-256 of the DER) and
     checked in IoT Core: it exists, is ACTIVE or INACTIVE, and is attached to the
     Thing named by the ICCID; the item's key must be the certificate's key;
  2. the Thing is marked as simbridge's (managed-by=simbridge, the environment's
     thing type when it has none) and joins the environment's thing group; the
     device policy is attached to the certificate (the reference's policy stays
     attached unless --detach-reference-policy);
  3. the private key is sealed with the environment's KMS key, the ICCID in the
     encryption context (the plain text is never written anywhere else, nor logged);
  4. the record is written, conditionally (a SIM that has one is never changed):
     the certificate marked Amazon-CA and adopted, the key's SHA-256 beside it;
     active when the item says a=true and the certificate is ACTIVE, else pending
     (not served) until 1NCE's answer decides;
  5. one sync request for the adopted SIMs goes to sim-poller, which applies 1NCE's
     current answer through the usual commands: a SIM disabled in 1NCE ends with its
     certificate INACTIVE, a pending one Enabled in 1NCE is served, a moved IP moves.

Each step is idempotent and the record is written last, so an interrupted run is
finished by running it again, and a second run changes nothing. IoT calls keep to
this task's share of the account's quotas (--iot-quotas), shared with the
provisioner and deactivator tasks through their heartbeats; 15,000 SIMs take about
25 minutes at AWS's default quotas (DescribeCertificate and ListThingPrincipals,
10 requests/s each).

Disagreements (the SIM is not adopted unless said otherwise):

  bad-item                  an item that is not a readable SIM (key, ICCID, IP, PEMs)
  key-mismatch              the private key is not the certificate's key
  duplicate-iccid           several items for one SIM; when exactly one is active (a
                            moved IP) it is adopted and the others are reported
  ip-taken                  another SIM holds the IP (in the reference or in simbridge)
  has-record                simbridge already has a record for the SIM
  certificate-missing       IoT Core does not know the certificate
  certificate-state         the certificate is REVOKED (or another unusable status)
  certificate-not-on-thing  the certificate is not attached to the Thing named by the ICCID
  other-certificates        the Thing holds more certificates: left as they are (adopted)
  thing-type                the Thing has another thing type: left as it is (adopted)

--purge-keys removes the plain-text keys (prk) from the reference table once every
SIM is settled: adopted and verified (the record holds the item's certificate and the
SHA-256 of its key), superseded (simbridge serves the SIM another certificate), or its
key useless (not the certificate's, or the certificate gone or REVOKED). It asks for
confirmation on a terminal (--yes for scripts), removes nothing while any SIM is
unsettled, and --dry-run shows what it would remove.

Exit codes: 0 done, nothing to report; 1 error or refused; 3 disagreements found
(or SIMs still unsettled for --purge-keys); 4 sim-poller's sync result did not
come within --timeout (the records are written; the request stays queued).`

// adoptFlags are adopt's options.
type adoptFlags struct {
	table, region       string
	apply, purge, dry   bool
	yes                 bool
	refPolicy           string
	detachRefPolicy     bool
	noSync, noWait      bool
	timeout             time.Duration
	workers             int
	iotQuotas, kmsKeyID string
}

func newAdoptCommand(o *Options) *cobra.Command {
	var f adoptFlags
	cmd := &cobra.Command{
		Use:   "adopt [--apply | --purge-keys]",
		Short: "Take over 1NCE's reference system: its Things, certificates and keys, without touching a device",
		Long:  adoptLong,
		Example: `  simbridge adopt --table sim-metastore --region eu-central-1          # dry run
  simbridge adopt --table sim-metastore --region eu-central-1 --apply
  simbridge adopt --table sim-metastore --region eu-central-1 --purge-keys --dry-run
  simbridge adopt --table sim-metastore --region eu-central-1 --purge-keys --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			if o.IoTRateLimits == nil {
				// Paced by the shared quota instead of the fixed read limits.
				o.IoTRateLimits = map[string]float64{}
			}
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			a, err := newAdopter(s, f)
			if err != nil {
				return err
			}
			if f.purge {
				return a.purge(cmd.Context())
			}
			return a.run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", "sim-metastore", "the reference's DynamoDB table")
	fl.StringVar(&f.region, "region", "", "the reference table's region (default: the session's, AWS_REGION)")
	fl.BoolVar(&f.apply, "apply", false, "adopt (without it: a dry run that changes nothing)")
	fl.BoolVar(&f.purge, "purge-keys", false, "remove the plain-text keys from the reference table once every SIM is settled")
	fl.BoolVar(&f.dry, "dry-run", false, "with --purge-keys: show what would be removed and change nothing")
	fl.BoolVar(&f.yes, "yes", false, "with --purge-keys: do not ask (scripts)")
	fl.StringVar(&f.refPolicy, "reference-policy", "device-onboarding", "the reference's IoT policy")
	fl.BoolVar(&f.detachRefPolicy, "detach-reference-policy", false, "detach the reference's policy from adopted certificates (compare it with the device policy first)")
	fl.BoolVar(&f.noSync, "no-sync", false, "do not ask sim-poller to apply 1NCE's answer to the adopted SIMs")
	fl.BoolVar(&f.noWait, "no-wait", false, "send the sync request and return (sim-poller stopped during the migration)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Minute, "longest wait for sim-poller's sync result")
	fl.IntVar(&f.workers, "workers", 16, "SIMs worked on at once (the quotas, not this, set the pace)")
	fl.StringVar(&f.iotQuotas, "iot-quotas", defaultAdoptQuotas, "account-wide requests/s per IoT operation (the stack's IoTQuotas; this task takes its share)")
	fl.StringVar(&f.kmsKeyID, "kms-key", "", "KMS key sealing the device keys (default: alias/<prefix>-device-keys)")
	return cmd
}

func (f adoptFlags) validate() error {
	switch {
	case f.apply && f.purge:
		return usageError("--apply and --purge-keys are separate steps: adopt first, purge once every SIM is settled")
	case (f.dry || f.yes) && !f.purge:
		return usageError("--dry-run and --yes go with --purge-keys (adopt without --apply is the dry run)")
	case f.table == "":
		return usageError("--table: the reference's table name")
	case f.workers < 1 || f.workers > 256:
		return usageError("--workers %d: want 1-256", f.workers)
	case f.timeout <= 0:
		return usageError("--timeout must be positive")
	}
	if _, err := overlayRates(nil, f.iotQuotas); err != nil {
		return usageError("--iot-quotas: %v", err)
	}
	return nil
}
