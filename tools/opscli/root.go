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
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Main runs simbridge with the process's arguments, streams and environment
// and returns the exit code; main passes it to os.Exit.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return RunIO(ctx, os.Args[1:], IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv,
		InTerminal: term.IsTerminal(int(os.Stdin.Fd()))})
}

// IO is what simbridge reads and writes: its streams, whether stdin is a
// terminal (where a change asks for confirmation) and its environment (the
// SIMBRIDGE_* defaults of the global flags).
type IO struct {
	In         io.Reader
	Out, Err   io.Writer
	Getenv     func(string) string
	InTerminal bool
}

// Run runs simbridge with args, no stdin, and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return RunIO(ctx, args, IO{Out: stdout, Err: stderr, Getenv: getenv})
}

// RunIO runs simbridge with args and returns the exit code.
func RunIO(ctx context.Context, args []string, io IO) int {
	root, o := newRoot(io)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if o.cancel != nil {
		o.cancel()
	}
	err = o.explain(ctx, err)
	code := exitCode(ctx, err)
	if err != nil && err.Error() != "" {
		fmt.Fprintf(io.Err, "simbridge: %v\n", err)
	}
	if code == ExitUsage && err != nil {
		fmt.Fprintln(io.Err, "Run 'simbridge --help' for usage.")
	}
	return code
}

const rootLong = `simbridge is the operators' command line of simbridge: one SIM end to end, the fleet,
the dead-letter queues, syncs, certificate reissue and revocation, and an audit of
1NCE vs the SIM table vs AWS IoT Core.

It changes nothing itself: every change is a command on the provisioner's or the
deactivator's queue, or a sync request to sim-poller, computed against the SIM
record's current version; it then waits for and prints the outcome. A change shows
what it will do and asks on a terminal; --yes confirms for scripts, --dry-run prints
the planned commands and changes nothing. The one exception is adopt, which takes
over 1NCE's reference system: it creates the records of certificates that already
exist, never changing a record that does (a dry run unless --apply).

The environment is named by --prefix, or by --env, which reads its prefix (and
AWS_REGION, when the file sets it) from <env>.env in the environments folder:
--env-dir or $SIMBRIDGE_ENV_DIR, else deployments/environments of the repository
around the working directory or around the simbridge binary, else
~/.config/simbridge/environments. AWS credentials, region and endpoint come from the
usual chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL for the local emulator);
--region overrides. Every command first checks that the environment exists there
(table, queues, topics) and names the account, region and prefix it found missing.
'simbridge context' shows what is targeted.

simbridge holds no 1NCE credential: what 1NCE says about a SIM comes from
sim-poller, asked through its request queue (a dry-run sync request), within
sim-poller's own 1NCE rate limit.

--timeout is a deadline for the whole command. An unreachable AWS endpoint fails
within seconds, naming the endpoint.

Exit codes:
  0    done; the answer is the healthy one
  1    error: a call failed, a command was refused or failed, a SIM was skipped
  2    usage: unknown command or flag, bad argument, a change not confirmed
  3    attention: not found, drift found, messages in a dead-letter queue
  4    timed out (--timeout; a change that was sent may still finish)
  130  interrupted`

// Default deadlines (--timeout) of the commands that set none of their own.
const defaultTimeout = 10 * time.Minute

// timeoutAnnotation holds a command's own default deadline.
const timeoutAnnotation = "simbridge/timeout"

// NewCommand builds the command tree.
func NewCommand(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	root, _ := newRoot(IO{Out: stdout, Err: stderr, Getenv: getenv})
	return root
}

func newRoot(io IO) (*cobra.Command, *Options) {
	getenv := io.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	o := &Options{in: io.In, inTerminal: io.InTerminal, getenv: getenv}
	root := &cobra.Command{
		Use:           "simbridge",
		Short:         "Operate a simbridge environment: SIM status, fleet, failures, sync, certificates, audit",
		Long:          rootLong,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(cmd); err != nil {
				return err
			}
			o.startDeadline(cmd)
			return nil
		},
	}
	root.SetVersionTemplate("simbridge {{.Version}}\n")
	root.SetOut(io.Out)
	root.SetErr(io.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%v", err) })
	f := root.PersistentFlags()
	f.StringVar(&o.Prefix, "prefix", getenv("SIMBRIDGE_PREFIX"), "prefix of the environment's resource names ($SIMBRIDGE_PREFIX)")
	f.StringVar(&o.Env, "env", getenv("SIMBRIDGE_ENV"), "environment name: reads Prefix (and AWS_REGION) from <env>.env in the environments folder ($SIMBRIDGE_ENV)")
	f.StringVar(&o.EnvDir, "env-dir", getenv("SIMBRIDGE_ENV_DIR"), "folder of the environments' .env files ($SIMBRIDGE_ENV_DIR; default: see --help)")
	f.StringVar(&o.Region, "region", "", "AWS region (default: the environment file's AWS_REGION, else AWS_REGION or the profile's)")
	f.StringVar(&o.EndpointURL, "endpoint-url", "", "AWS endpoint for every service (the local emulator); AWS_ENDPOINT_URL works too")
	f.StringVarP(&o.Output, "output", "o", envOr(getenv, "SIMBRIDGE_OUTPUT", FormatTable), "output format: table, json or csv (csv for listings)")
	f.StringVar(&o.Progress, "progress", ProgressAuto, "progress bars on stderr: auto (on a terminal), always, never")
	f.DurationVar(&o.Timeout, "timeout", 0, "deadline for the whole command (default: 2m for reissue, revoke and enable, 35m for sync, 30m for audit, 1h for list and export, 10m otherwise)")
	f.String("iot-rate-limits", "", "client-side requests/s per IoT read operation, e.g. ListThingPrincipals=20 (default: AWS's default quotas)")
	root.AddCommand(
		newContextCommand(o), newStatusCommand(o), newListCommand(o), newExportCommand(o), newFailuresCommand(o), newSyncCommand(o),
		newCommandCommand(o, kindReissue), newCommandCommand(o, kindRevoke), newCommandCommand(o, kindEnable),
		newAuditCommand(o), newCACommand(o), newAdoptCommand(o), newKeyModeCommand(o),
	)
	registerCompletions(root)
	return root, o
}

// validate checks the global flags before any command runs.
func (o *Options) validate(cmd *cobra.Command) error {
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
	if o.Timeout < 0 {
		return usageError("--timeout %v: want a positive duration", o.Timeout)
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

// startDeadline gives the command its deadline: --timeout, else the
// command's own default.
func (o *Options) startDeadline(cmd *cobra.Command) {
	d := o.Timeout
	if d == 0 {
		d = defaultTimeout
		for c := cmd; c != nil; c = c.Parent() {
			if v, ok := c.Annotations[timeoutAnnotation]; ok {
				d, _ = time.ParseDuration(v)
				break
			}
		}
	}
	o.deadline = d
	ctx, cancel := context.WithTimeoutCause(cmd.Context(), d, errDeadline)
	o.cancel = cancel
	cmd.SetContext(ctx)
}

// withTimeout sets a command's own default deadline.
func withTimeout(cmd *cobra.Command, d time.Duration) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[timeoutAnnotation] = d.String()
	return cmd
}

// errDeadline is the cause of a command's context ending at --timeout.
var errDeadline = errors.New("deadline reached")

// explain turns what ended a command into what the operator should read:
// an unreachable endpoint named as the aws command line names it, a
// deadline with the --timeout it came from.
func (o *Options) explain(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if msg, ok := connectFailure(err); ok {
		return errors.New(msg)
	}
	var ee *exitError
	if errors.Is(err, errDeadline) || (errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil && !errors.As(err, &ee)) {
		return timedOut("the command's deadline (--timeout %v) passed: %v", o.deadline, err)
	}
	return err
}

// parseRateLimits reads "Op=N,Op=N" over the defaults.
func parseRateLimits(s string) (map[string]float64, error) {
	return overlayRates(DefaultIoTRateLimits, s)
}

// overlayRates reads "Op=N,Op=N" (requests per second) over base.
func overlayRates(base map[string]float64, s string) (map[string]float64, error) {
	out := map[string]float64{}
	for k, v := range base {
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
