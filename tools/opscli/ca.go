package opscli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

// CAInfo is what `ca init` set up.
type CAInfo struct {
	KeyARN        string `json:"key_arn"`
	CertificateID string `json:"certificate_id"`
	Parameter     string `json:"parameter"`
	Subject       string `json:"subject"`
	NotAfter      string `json:"not_after"`
}

func newCACommand(o *Options) *cobra.Command {
	ca := &cobra.Command{
		Use:   "ca",
		Short: "The environment's IoT certificate authority",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	ca.AddCommand(&cobra.Command{
		Use:   "init",
		Short: "One-time CA setup: register the CA (key in KMS) with IoT Core and store its certificate in SSM",
		Long: `ca init makes the environment's certificate authority exist, once: a self-signed CA
certificate for the KMS signing key alias/<prefix>-iot-ca (which the stack creates
in AWS; created here when missing, as in the local emulator), registered with AWS
IoT Core and stored in the SSM parameter <prefix>-iot-ca-certificate, from which the
provisioner loads it. Running it again changes nothing.

It needs the deployer's permissions (KMS, IoT CA registration, SSM PutParameter),
not the operator policy's; tools/scripts/deploy.sh runs it after the stack.`,
		Example: `  simbridge ca init --env staging`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := connect(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return s.caInit(cmd.Context())
		},
	})
	return ca
}

func (s *session) caInit(ctx context.Context) error {
	keyARN, certPEM, err := bootstrap.EnsureCA(ctx, s.cfg, s.names)
	if err != nil {
		return err
	}
	cert, err := iotca.ParseCertificate(certPEM)
	if err != nil {
		return err
	}
	info := CAInfo{KeyARN: keyARN, CertificateID: iotca.CertificateID(cert.Raw), Parameter: s.names.CAParameter(),
		Subject: cert.Subject.CommonName, NotAfter: stamp(cert.NotAfter)}
	if s.opts.Output == FormatJSON {
		return writeJSON(s.out, info)
	}
	fmt.Fprintf(s.out, "CA %q registered with IoT Core: certificate %s (valid until %s)\nkey %s\ncertificate stored in SSM parameter %s\n",
		info.Subject, info.CertificateID, info.NotAfter, info.KeyARN, info.Parameter)
	return nil
}
