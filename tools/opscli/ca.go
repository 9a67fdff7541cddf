package opscli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/spf13/cobra"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// CAInfo is the environment's CA as `ca show` and `ca init` print it.
type CAInfo struct {
	Subject       string `json:"subject"`
	CertificateID string `json:"certificate_id"`
	// Status is IoT Core's (ACTIVE, INACTIVE) or "not registered".
	Status    string    `json:"status"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	Parameter string    `json:"parameter"`
	KeyAlias  string    `json:"key_alias"`
	KeyARN    string    `json:"key_arn"`
	// KeyState is KMS's (Enabled, Disabled, PendingDeletion).
	KeyState string `json:"key_state"`
	KeySpec  string `json:"key_spec"`
}

func newCACommand(o *Options) *cobra.Command {
	ca := &cobra.Command{
		Use:   "ca",
		Short: "The environment's IoT certificate authority",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var change *changeFlags
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "One-time CA setup: register the CA (key in KMS) with IoT Core and store its certificate in SSM",
		Long: `ca init makes the environment's certificate authority exist, once: a self-signed CA
certificate for the KMS signing key alias/<prefix>-iot-ca (which the stack creates
in AWS; created here when missing, as in the local emulator), registered with AWS
IoT Core and stored in the SSM parameter <prefix>-iot-ca-certificate, from which the
provisioner loads it. Running it again changes nothing.

It refuses an environment that does not exist (a mistyped --prefix must not create
a key and a second CA), shows what it will create and asks (--yes for scripts,
--dry-run to see it). It needs the deployer's permissions (KMS, IoT CA registration,
SSM PutParameter), not the operator policy's; tools/scripts/deploy.sh runs it after
the stack.`,
		Example: `  simbridge ca init --env staging --dry-run
  simbridge ca init --env staging`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return s.caInit(cmd.Context(), change)
		},
	}
	change = addChangeFlags(initCmd)
	ca.AddCommand(initCmd, newCAShowCommand(o))
	return ca
}

func newCAShowCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "The environment's CA: certificate id, IoT Core status, validity, and its KMS key",
		Long: `ca show prints the environment's certificate authority: its certificate (from the SSM
parameter <prefix>-iot-ca-certificate) with its id, subject and validity, its status
in IoT Core, and the KMS signing key behind it (alias, ARN, state, spec).

Exit code 3 when the environment has no CA yet (simbridge ca init sets it up).`,
		Example: `  simbridge ca show --env staging
  simbridge ca show -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			info, err := s.caShow(cmd.Context())
			if err != nil {
				return err
			}
			return s.printCA(info)
		},
	}
}

var errNoCA = errors.New("no CA")

// caShow reads the CA as it is; errNoCA (wrapped in attention) when the
// parameter does not exist.
func (s *session) caShow(ctx context.Context) (CAInfo, error) {
	info := CAInfo{Parameter: s.names.CAParameter(), KeyAlias: s.names.CAKeyAlias(), Status: StatusNotRegistered}
	if err := s.caKey(ctx, &info); err != nil {
		return info, err
	}
	p, err := s.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.names.CAParameter())})
	var nf *ssmtypes.ParameterNotFound
	if errors.As(err, &nf) {
		return info, fmt.Errorf("%w: parameter %s does not exist: %w", errNoCA, s.names.CAParameter(),
			attention("%s has no CA yet: simbridge ca init", s.where(ctx)))
	}
	if err != nil {
		return info, fmt.Errorf("read CA parameter: %w", err)
	}
	cert, err := iotca.ParseCertificate(aws.ToString(p.Parameter.Value))
	if err != nil {
		return info, fmt.Errorf("CA parameter %s: %w", s.names.CAParameter(), err)
	}
	info.Subject, info.CertificateID = cert.Subject.CommonName, iotca.CertificateID(cert.Raw)
	info.NotBefore, info.NotAfter = cert.NotBefore.UTC(), cert.NotAfter.UTC()
	d, err := s.iot.DescribeCACertificate(ctx, &iot.DescribeCACertificateInput{CertificateId: aws.String(info.CertificateID)})
	switch {
	case isIoTNotFound(err):
	case err != nil:
		return info, fmt.Errorf("describe CA certificate %s: %w", info.CertificateID, err)
	default:
		info.Status = string(d.CertificateDescription.Status)
	}
	return info, nil
}

// caKey fills in the CA's KMS key, if it exists.
func (s *session) caKey(ctx context.Context, info *CAInfo) error {
	d, err := kms.NewFromConfig(s.cfg).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(s.names.CAKeyAlias())})
	var nf *kmstypes.NotFoundException
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("describe key %s: %w", s.names.CAKeyAlias(), err)
	}
	info.KeyARN, info.KeyState, info.KeySpec = aws.ToString(d.KeyMetadata.Arn), string(d.KeyMetadata.KeyState), string(d.KeyMetadata.KeySpec)
	return nil
}

func (s *session) printCA(info CAInfo) error {
	if s.opts.Output == FormatJSON {
		return writeJSON(s.out, info)
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	line := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	line("CA", fmt.Sprintf("%q, certificate %s", info.Subject, info.CertificateID))
	line("IoT Core", info.Status)
	line("valid", fmt.Sprintf("%s to %s", stamp(info.NotBefore), stamp(info.NotAfter)))
	line("parameter", info.Parameter)
	line("key", fmt.Sprintf("%s %s (%s, %s)", info.KeyAlias, dash(info.KeyARN), dash(info.KeyState), dash(info.KeySpec)))
	return tw.Flush()
}

// caInit plans what is missing of the CA, asks, and sets it up.
func (s *session) caInit(ctx context.Context, change *changeFlags) error {
	info, err := s.caShow(ctx)
	if err != nil && !errors.Is(err, errNoCA) {
		return err
	}
	p := Plan{Change: "set up the CA of " + s.names.Prefix}
	if info.KeyARN == "" {
		p.Steps = append(p.Steps, PlannedStep{Action: "create", Target: "KMS key " + s.names.CAKeyAlias(), Detail: "ECC_NIST_P256 signing key and its alias"})
	}
	if info.CertificateID == "" || info.Status == StatusNotRegistered {
		p.Steps = append(p.Steps, PlannedStep{Action: "register", Target: "CA " + s.names.CAName(), Detail: "self-signed CA certificate registered with IoT Core"})
	}
	if info.CertificateID == "" {
		p.Steps = append(p.Steps, PlannedStep{Action: "put", Target: "SSM parameter " + s.names.CAParameter(), Detail: "the CA certificate, for the provisioner"})
	}
	if len(p.Steps) == 0 && !change.dryRun {
		fmt.Fprintln(s.errOut, "the CA is set up already; nothing to do")
		return s.printCA(info)
	}
	ok, err := s.approve(ctx, change, p)
	if !ok || err != nil {
		return err
	}
	if _, _, err := bootstrap.EnsureCA(ctx, s.cfg, s.names); err != nil {
		return err
	}
	if info, err = s.caShow(ctx); err != nil {
		return err
	}
	return s.printCA(info)
}
