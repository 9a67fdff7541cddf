// Command teardown removes one environment's IoT Core objects (device
// certificates, the Things simbridge created, the device policy), which
// deleting the CloudFormation stack cannot, in whatever account the standard
// AWS environment points at. `make teardown ENV=…` runs it before deleting
// the stack; run it alone with -dry-run to see what it would remove.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/cli"
	"github.com/simbridge/simbridge/libs/simrec"
	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
	"github.com/simbridge/simbridge/tools/teardown"
)

func main() { os.Exit(cli.Command("teardown", run)) }

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("teardown", flag.ContinueOnError)
	prefix := fs.String("prefix", "", "prefix of the environment's resource names (required)")
	dryRun := fs.Bool("dry-run", false, "list what would be removed, change nothing")
	confirm := fs.String("confirm", "", "repeat the prefix to confirm the removal")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *prefix == "" {
		return fmt.Errorf("-prefix is required")
	}
	if !*dryRun && *confirm != *prefix {
		return fmt.Errorf("this deletes every device certificate of %q: pass -confirm %s (or -dry-run)", *prefix, *prefix)
	}
	cfg, err := awsx.Load(ctx)
	if err != nil {
		return err
	}
	names := bootstrap.Names{Prefix: *prefix}
	store := simstore.NewDynamo(dynamodb.NewFromConfig(cfg), names.Table())
	rep, err := teardown.Run(ctx, iot.NewFromConfig(cfg), teardown.Options{
		Policy: names.Policy(), DryRun: *dryRun, Log: out, RecordedThings: recordedThings(store, out),
		CAParameter: names.CAParameter(), Params: ssm.NewFromConfig(cfg), ThingGroup: names.ThingGroup(),
	})
	if err != nil {
		return err
	}
	verb := "removed"
	if *dryRun {
		verb = "would remove"
	}
	fmt.Fprintf(out, "%s %d certificates, %d things, policy %v, IoT CA %q; kept %d things not created by simbridge\n",
		verb, len(rep.Certificates), len(rep.Things), rep.PolicyRemoved, rep.CA, len(rep.KeptThings))
	return nil
}

// recordedThings lists the Things of the SIM table (named by ICCID); a
// table already deleted means there is nothing more to find.
func recordedThings(store *simstore.Dynamo, out io.Writer) func(context.Context, func(string) error) error {
	return func(ctx context.Context, fn func(string) error) error {
		err := store.Scan(ctx, func(s simrec.Summary) error { return fn(s.ICCID) })
		var missing *ddbtypes.ResourceNotFoundException
		if errors.As(err, &missing) {
			fmt.Fprintln(out, "SIM table not found: only the policy's certificates are removed")
			return nil
		}
		return err
	}
}
