package opscli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/simbridge/simbridge/libs/config"
)

// Main runs simbridge with the process's arguments, streams and environment
// and returns the exit code; main passes it to os.Exit.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
}

// Run runs simbridge with args and returns the exit code; getenv supplies
// the SIMBRIDGE_* defaults of the global flags.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := NewCommand(stdout, stderr, getenv)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code := exitCode(ctx, err)
	if err != nil && err.Error() != "" {
		fmt.Fprintf(stderr, "simbridge: %v\n", err)
	}
	if code == ExitUsage && err != nil {
		fmt.Fprintln(stderr, "Run 'simbridge --help' for usage.")
	}
	return code
}

const rootLong = `simbridge is the operators' command line of simbridge: one SIM end to end, the fleet,
the dead-letter queues, syncs, certificate reissue and revocation, and an audit of
1NCE vs the SIM table vs AWS IoT Core.

It changes nothing itself: every change is a command on the provisioner's or the
deactivator's queue, or a sync request to sim-poller, computed against the SIM
record's current version; it then waits for and prints the outcome.

The environment is named by --prefix (or --env, which reads the prefix from
deployments/environments/<env>.env). AWS credentials, region and endpoint come from
the usual chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL for the local emulator).
The 1NCE password is read from the secret <prefix>/once-password unless
--once-password-file or SIMBRIDGE_ONCE_PASSWORD gives it.

Exit codes:
  0    done; the answer is the healthy one
  1    error: a call failed, a command was refused or failed
  2    usage: unknown command or flag, bad argument
  3    attention: not found, drift found, messages in a dead-letter queue
  4    timed out waiting for an outcome (the request was sent and may still finish)
  130  interrupted`

// NewCommand builds the command tree.
func NewCommand(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	o := &Options{}
	root := &cobra.Command{
		Use:           "simbridge",
		Short:         "Operate a simbridge environment: SIM status, fleet, failures, sync, certificates, audit",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return o.validate(cmd, getenv)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%v", err) })
	f := root.PersistentFlags()
	f.StringVar(&o.Prefix, "prefix", getenv("SIMBRIDGE_PREFIX"), "prefix of the environment's resource names ($SIMBRIDGE_PREFIX)")
	f.StringVar(&o.Env, "env", getenv("SIMBRIDGE_ENV"), "environment name: reads Prefix and OnceUsername from deployments/environments/<env>.env ($SIMBRIDGE_ENV)")
	f.StringVar(&o.EnvDir, "env-dir", getenv("SIMBRIDGE_ENV_DIR"), "folder of the environments' .env files (default: the repository's)")
	f.StringVar(&o.EndpointURL, "endpoint-url", "", "AWS endpoint for every service (the local emulator); AWS_ENDPOINT_URL works too")
	f.StringVarP(&o.Output, "output", "o", envOr(getenv, "SIMBRIDGE_OUTPUT", FormatTable), "output format: table, json or csv (csv for listings)")
	f.StringVar(&o.Progress, "progress", ProgressAuto, "progress bars on stderr: auto (on a terminal), always, never")
	f.StringVar(&o.OnceURL, "once-url", getenv("SIMBRIDGE_ONCE_URL"), "1NCE Management API base URL ($SIMBRIDGE_ONCE_URL; default api.1nce.com)")
	f.StringVar(&o.OnceUser, "once-user", getenv("SIMBRIDGE_ONCE_USERNAME"), "1NCE API user ($SIMBRIDGE_ONCE_USERNAME)")
	f.StringVar(&o.OncePasswordFile, "once-password-file", getenv("SIMBRIDGE_ONCE_PASSWORD_FILE"), "file holding the 1NCE API password (default: secret <prefix>/once-password)")
	f.String("iot-rate-limits", "", "client-side requests/s per IoT read operation, e.g. ListThingPrincipals=20 (default: AWS's default quotas)")
	root.AddCommand(
		newStatusCommand(o), newListCommand(o), newExportCommand(o), newFailuresCommand(o), newSyncCommand(o),
		newCommandCommand(o, kindReissue), newCommandCommand(o, kindRevoke), newCommandCommand(o, kindEnable),
		newAuditCommand(o), newCACommand(o), newKeyModeCommand(o),
	)
	return root
}

// validate checks the global flags before any command runs.
func (o *Options) validate(cmd *cobra.Command, getenv func(string) string) error {
	switch o.Output {
	case FormatTable, FormatJSON, FormatCSV:
	default:
		return usageError("--output %q: want table, json or csv", o.Output)
	}
	switch o.Progress {
	case ProgressAuto, ProgressAlways, ProgressNever:
	default:
		return usageError("--progress %q: want auto, always or never", o.Progress)
	}
	if v := getenv("SIMBRIDGE_ONCE_PASSWORD"); v != "" {
		o.oncePassword = config.Secret(v)
	}
	limits, err := cmd.Flags().GetString("iot-rate-limits")
	if err != nil {
		return err
	}
	if limits != "" {
		if o.IoTRateLimits, err = parseRateLimits(limits); err != nil {
			return usageError("--iot-rate-limits: %v", err)
		}
	}
	return nil
}

// parseRateLimits reads "Op=N,Op=N" over the defaults.
func parseRateLimits(s string) (map[string]float64, error) {
	out := map[string]float64{}
	for k, v := range DefaultIoTRateLimits {
		out[k] = v
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil || n <= 0 {
			return nil, fmt.Errorf("%q: want Operation=requests-per-second", kv)
		}
		out[k] = n
	}
	return out, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// noArgs, exactArgs and minArgs are cobra's argument checks as usage errors.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError("%s takes %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

// requireICCIDs checks every argument is an ICCID.
func requireICCIDs(args []string) error {
	for _, a := range args {
		if !validICCID(a) {
			return usageError("%q is not an ICCID (18-22 digits)", a)
		}
	}
	return nil
}

// isCanceled reports an interrupted wait.
func isCanceled(ctx context.Context, err error) bool {
	return ctx.Err() != nil && errors.Is(err, context.Canceled)
}
