// Package teardown removes what simbridge created in AWS IoT Core for one
// environment, which deleting its CloudFormation stack cannot: the device
// certificates (detached, set INACTIVE, deleted), the Things the system
// created, and the device policy, which IoT refuses to delete while
// certificates are attached to it.
//
// The environment's objects are found through its policy
// (<prefix>-device-policy): every certificate the provisioner hands out has
// it attached, and each certificate leads to its Thing. Things that carry no
// managed-by=simbridge attribute existed before (for example from the
// reference system): their certificate from this environment is removed, the
// Thing itself is kept and reported. The Things named in the environment's
// SIM table are removed too, with whatever certificate is still attached to
// them: that finds a Thing whose provisioning stopped before its certificate
// got the policy (an interrupted attempt, a message in the DLQ). Last, the
// environment's IoT CA goes (its remaining certificates, then the CA, then
// its SSM parameter; the KMS key is the stack's) and its thing group.
package teardown

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/cenkalti/backoff/v5"

	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/iotcore"
)

// IoT is the IoT API subset teardown uses.
type IoT interface {
	iotcore.API
	ListTargetsForPolicy(ctx context.Context, in *iot.ListTargetsForPolicyInput, opts ...func(*iot.Options)) (*iot.ListTargetsForPolicyOutput, error)
	ListPrincipalThings(ctx context.Context, in *iot.ListPrincipalThingsInput, opts ...func(*iot.Options)) (*iot.ListPrincipalThingsOutput, error)
	DeleteThing(ctx context.Context, in *iot.DeleteThingInput, opts ...func(*iot.Options)) (*iot.DeleteThingOutput, error)
	ListPolicyVersions(ctx context.Context, in *iot.ListPolicyVersionsInput, opts ...func(*iot.Options)) (*iot.ListPolicyVersionsOutput, error)
	DeletePolicyVersion(ctx context.Context, in *iot.DeletePolicyVersionInput, opts ...func(*iot.Options)) (*iot.DeletePolicyVersionOutput, error)
	DeletePolicy(ctx context.Context, in *iot.DeletePolicyInput, opts ...func(*iot.Options)) (*iot.DeletePolicyOutput, error)
	ListCertificatesByCA(ctx context.Context, in *iot.ListCertificatesByCAInput, opts ...func(*iot.Options)) (*iot.ListCertificatesByCAOutput, error)
	UpdateCACertificate(ctx context.Context, in *iot.UpdateCACertificateInput, opts ...func(*iot.Options)) (*iot.UpdateCACertificateOutput, error)
	DeleteCACertificate(ctx context.Context, in *iot.DeleteCACertificateInput, opts ...func(*iot.Options)) (*iot.DeleteCACertificateOutput, error)
	DeleteThingGroup(ctx context.Context, in *iot.DeleteThingGroupInput, opts ...func(*iot.Options)) (*iot.DeleteThingGroupOutput, error)
}

// Params reads and deletes the CA certificate's SSM parameter.
type Params interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	DeleteParameter(ctx context.Context, in *ssm.DeleteParameterInput, opts ...func(*ssm.Options)) (*ssm.DeleteParameterOutput, error)
}

// Options tune a run.
type Options struct {
	// Policy is the environment's device policy (bootstrap.Names.Policy()).
	Policy string
	// DryRun lists what would be removed and changes nothing.
	DryRun bool
	// Log receives one line per action.
	Log io.Writer
	// DeleteTimeout bounds the retries of DeleteThing while IoT Core still
	// sees a just-detached certificate (detachment is eventually consistent).
	DeleteTimeout time.Duration
	// RecordedThings, when set, lists the Things named in the environment's
	// SIM table (the ICCIDs): each is removed with its remaining certificates
	// if simbridge created it.
	RecordedThings func(ctx context.Context, fn func(thing string) error) error
	// CAParameter and Params, when set, find the environment's IoT CA.
	CAParameter string
	Params      Params
	// ThingGroup, when set, is the environment's thing group.
	ThingGroup string
}

// Report says what a run removed (or, in a dry run, would remove).
type Report struct {
	Certificates  []string
	Things        []string
	KeptThings    []string
	PolicyRemoved bool
	// CA is the id of the IoT CA removed ("" if there was none).
	CA string
}

// Run removes the environment's certificates, Things and policy. It is
// idempotent: a second run finds nothing and succeeds.
func Run(ctx context.Context, api IoT, opts Options) (Report, error) {
	if opts.Policy == "" {
		return Report{}, errors.New("teardown: no policy name")
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.DeleteTimeout == 0 {
		opts.DeleteTimeout = time.Minute
	}
	var rep Report
	certs, err := policyTargets(ctx, api, opts.Policy)
	if isNotFound(err) {
		fmt.Fprintf(opts.Log, "policy %s not found: no device certificates to remove\n", opts.Policy)
		return rep, removeCA(ctx, api, opts, &rep)
	}
	if err != nil {
		return rep, err
	}
	things := map[string]bool{}
	for _, cert := range certs {
		names, err := principalThings(ctx, api, cert)
		if err != nil {
			return rep, err
		}
		for _, thing := range names {
			things[thing] = true
			if err := detach(ctx, api, opts, thing, cert); err != nil {
				return rep, err
			}
		}
		fmt.Fprintf(opts.Log, "retire certificate %s\n", iotcore.CertificateID(cert))
		if !opts.DryRun {
			if err := iotcore.New(api).Retire(ctx, "", cert); err != nil {
				return rep, err
			}
		}
		rep.Certificates = append(rep.Certificates, iotcore.CertificateID(cert))
	}
	if err := recordedThings(ctx, api, opts, things, &rep); err != nil {
		return rep, err
	}
	for thing := range things {
		deleted, err := deleteManagedThing(ctx, api, opts, thing)
		if err != nil {
			return rep, err
		}
		if deleted {
			rep.Things = append(rep.Things, thing)
		} else {
			rep.KeptThings = append(rep.KeptThings, thing)
		}
	}
	fmt.Fprintf(opts.Log, "delete policy %s\n", opts.Policy)
	if !opts.DryRun {
		if err := deletePolicy(ctx, api, opts.Policy); err != nil {
			return rep, err
		}
	}
	rep.PolicyRemoved = true
	return rep, removeCA(ctx, api, opts, &rep)
}

// removeCA retires the certificates the environment's CA still has (one
// never given the policy), then deactivates and deletes the CA, its SSM
// parameter and the thing group.
func removeCA(ctx context.Context, api IoT, opts Options, rep *Report) error {
	if opts.ThingGroup != "" {
		fmt.Fprintf(opts.Log, "delete thing group %s\n", opts.ThingGroup)
		if !opts.DryRun {
			if _, err := api.DeleteThingGroup(ctx, &iot.DeleteThingGroupInput{ThingGroupName: aws.String(opts.ThingGroup)}); err != nil && !isNotFound(err) {
				return fmt.Errorf("delete thing group %s: %w", opts.ThingGroup, err)
			}
		}
	}
	if opts.Params == nil || opts.CAParameter == "" {
		return nil
	}
	p, err := opts.Params.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(opts.CAParameter)})
	var missing *ssmtypes.ParameterNotFound
	if errors.As(err, &missing) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read CA parameter %s: %w", opts.CAParameter, err)
	}
	ca, err := iotca.ParseCertificate(aws.ToString(p.Parameter.Value))
	if err != nil {
		return fmt.Errorf("CA parameter %s: %w", opts.CAParameter, err)
	}
	id := iotca.CertificateID(ca.Raw)
	left := iot.NewListCertificatesByCAPaginator(api, &iot.ListCertificatesByCAInput{CaCertificateId: aws.String(id)})
	for left.HasMorePages() {
		page, err := left.NextPage(ctx)
		if isNotFound(err) {
			break
		}
		if err != nil {
			return fmt.Errorf("certificates of CA %s: %w", id, err)
		}
		for _, c := range page.Certificates {
			arn := aws.ToString(c.CertificateArn)
			fmt.Fprintf(opts.Log, "retire certificate %s of the CA\n", iotcore.CertificateID(arn))
			if !opts.DryRun {
				if err := iotcore.New(api).Retire(ctx, "", arn); err != nil {
					return err
				}
			}
			rep.Certificates = append(rep.Certificates, iotcore.CertificateID(arn))
		}
	}
	fmt.Fprintf(opts.Log, "delete IoT CA %s and parameter %s\n", id, opts.CAParameter)
	rep.CA = id
	if opts.DryRun {
		return nil
	}
	if _, err := api.UpdateCACertificate(ctx, &iot.UpdateCACertificateInput{CertificateId: aws.String(id), NewStatus: types.CACertificateStatusInactive}); err != nil && !isNotFound(err) {
		return fmt.Errorf("deactivate CA %s: %w", id, err)
	}
	if _, err := api.DeleteCACertificate(ctx, &iot.DeleteCACertificateInput{CertificateId: aws.String(id)}); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete CA %s: %w", id, err)
	}
	if _, err := opts.Params.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(opts.CAParameter)}); err != nil && !errors.As(err, &missing) {
		return fmt.Errorf("delete parameter %s: %w", opts.CAParameter, err)
	}
	return nil
}

// recordedThings adds the managed Things of the SIM table to things,
// retiring the certificates still attached to them.
func recordedThings(ctx context.Context, api IoT, opts Options, things map[string]bool, rep *Report) error {
	if opts.RecordedThings == nil {
		return nil
	}
	return opts.RecordedThings(ctx, func(thing string) error {
		if things[thing] {
			return nil
		}
		d, err := api.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing)})
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("describe thing %s: %w", thing, err)
		}
		if d.Attributes[iotcore.ManagedAttribute] != iotcore.ManagedValue {
			return nil
		}
		things[thing] = true
		principals, err := iotcore.New(api).ThingPrincipals(ctx, thing)
		if err != nil {
			return err
		}
		for _, cert := range principals {
			fmt.Fprintf(opts.Log, "retire certificate %s of thing %s\n", iotcore.CertificateID(cert), thing)
			if !opts.DryRun {
				if err := iotcore.New(api).Retire(ctx, thing, cert); err != nil {
					return err
				}
			}
			rep.Certificates = append(rep.Certificates, iotcore.CertificateID(cert))
		}
		return nil
	})
}

func policyTargets(ctx context.Context, api IoT, policy string) ([]string, error) {
	var out []string
	var marker *string
	for {
		page, err := api.ListTargetsForPolicy(ctx, &iot.ListTargetsForPolicyInput{PolicyName: aws.String(policy), Marker: marker})
		if err != nil {
			return nil, fmt.Errorf("list targets of policy %s: %w", policy, err)
		}
		out = append(out, page.Targets...)
		if aws.ToString(page.NextMarker) == "" {
			return out, nil
		}
		marker = page.NextMarker
	}
}

func principalThings(ctx context.Context, api IoT, cert string) ([]string, error) {
	var out []string
	p := iot.NewListPrincipalThingsPaginator(api, &iot.ListPrincipalThingsInput{Principal: aws.String(cert)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isNotFound(err) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list things of %s: %w", cert, err)
		}
		out = append(out, page.Things...)
	}
	return out, nil
}

func detach(ctx context.Context, api IoT, opts Options, thing, cert string) error {
	fmt.Fprintf(opts.Log, "detach certificate %s from thing %s\n", iotcore.CertificateID(cert), thing)
	if opts.DryRun {
		return nil
	}
	_, err := api.DetachThingPrincipal(ctx, &iot.DetachThingPrincipalInput{ThingName: aws.String(thing), Principal: aws.String(cert)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("detach %s from %s: %w", cert, thing, err)
	}
	return nil
}

// deleteManagedThing deletes thing if this system created it.
func deleteManagedThing(ctx context.Context, api IoT, opts Options, thing string) (bool, error) {
	d, err := api.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(thing)})
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("describe thing %s: %w", thing, err)
	}
	if d.Attributes[iotcore.ManagedAttribute] != iotcore.ManagedValue {
		fmt.Fprintf(opts.Log, "keep thing %s: not created by simbridge\n", thing)
		return false, nil
	}
	fmt.Fprintf(opts.Log, "delete thing %s\n", thing)
	if opts.DryRun {
		return true, nil
	}
	_, err = backoff.Retry(ctx, func() (struct{}, error) {
		_, err := api.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String(thing)})
		var invalid *types.InvalidRequestException
		if err != nil && !errors.As(err, &invalid) && !isNotFound(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		if isNotFound(err) {
			return struct{}{}, nil
		}
		return struct{}{}, err
	}, backoff.WithMaxElapsedTime(opts.DeleteTimeout))
	if err != nil {
		return false, fmt.Errorf("delete thing %s: %w", thing, err)
	}
	return true, nil
}

func deletePolicy(ctx context.Context, api IoT, policy string) error {
	versions, err := api.ListPolicyVersions(ctx, &iot.ListPolicyVersionsInput{PolicyName: aws.String(policy)})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list versions of policy %s: %w", policy, err)
	}
	for _, v := range versions.PolicyVersions {
		if v.IsDefaultVersion {
			continue
		}
		_, err := api.DeletePolicyVersion(ctx, &iot.DeletePolicyVersionInput{PolicyName: aws.String(policy), PolicyVersionId: v.VersionId})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("delete version %s of policy %s: %w", aws.ToString(v.VersionId), policy, err)
		}
	}
	if _, err := api.DeletePolicy(ctx, &iot.DeletePolicyInput{PolicyName: aws.String(policy)}); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete policy %s: %w", policy, err)
	}
	return nil
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}
