// Command devstack runs the whole system locally without Docker (`make run`):
// moto_server, the 1NCE simulator, the bootstrap and the five services, then
// a device fetching its credentials; it stays up until Ctrl-C and stops
// every process it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/simbridge/simbridge/libs/cli"
	"github.com/simbridge/simbridge/tools/devstack"
)

func main() { os.Exit(cli.Command("devstack", run)) }

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	bin := fs.String("bin", "bin", "directory of the built commands")
	logs := fs.String("logs", ".run/logs", "directory for the log files")
	sims := fs.Int("sims", 3, "SIMs in the simulated 1NCE account (IPs 127.0.0.2 onwards)")
	interval := fs.Duration("sync-interval", 15*time.Minute, "sim-poller's schedule (the safety net: the simulator's Data Streamer brings changes in seconds)")
	exitAfterDemo := fs.Bool("exit-after-demo", false, "stop after the device fetched its credentials (smoke test)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logDir, _ := filepath.Abs(*logs)
	fmt.Fprintf(out, "Starting the local system; logs in %s\n", logDir)
	stack, err := devstack.Start(ctx, devstack.Options{
		BinDir: *bin, LogDir: logDir, SIMs: *sims, SyncInterval: *interval, Progress: out,
	})
	if err != nil {
		return err
	}
	demoErr := demo(ctx, stack, *bin, out)
	if demoErr == nil && !*exitAfterDemo {
		fmt.Fprintln(out, "\nRunning. Press Ctrl-C to stop every process.")
		<-ctx.Done()
	}
	fmt.Fprintln(out, "Stopping...")
	if err := stack.Stop(); err != nil {
		return err
	}
	fmt.Fprintln(out, "Stopped.")
	return demoErr
}

// demo runs the device client as the first SIM and prints what to try next.
func demo(ctx context.Context, s *devstack.Stack, bin string, out io.Writer) error {
	fmt.Fprintf(out, "\nDevice 127.0.0.2 fetches its credentials through the gateway (%s):\n", s.GatewayURL())
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "device"), "-url", s.GatewayURL(), "-source-ip", "127.0.0.2", "-wait", "60s")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("device client: %w (see the logs)", err)
	}
	fmt.Fprintf(out, `
Try:
  %[1]s/device -url %[2]s -source-ip 127.0.0.3
  curl -s -X POST %[3]s                                   # sync now
  curl -s -X PATCH %[4]s/admin/sims/<iccid> -d '{"status":"Disabled"}'
  curl -s %[4]s/admin/sims                                # the simulated 1NCE inventory
Real time (the simulator's Data Streamer posts to %[6]s; the next poll is %[7]v away):
  curl -s -X POST %[4]s/admin/sims -d '{"iccid":"8988280666000000099","ip_address":"127.0.0.99"}'
  %[1]s/device -url %[2]s -source-ip 127.0.0.99 -wait 30s   # onboardable in seconds
  curl -s %[4]s/admin/streamer                            # what the streamer sent and 1NCE-style retries

simbridge, the operators' command line, against this stack (it holds no 1NCE password:
sim-poller answers what 1NCE says, as in AWS):
  export %[8]s
  %[1]s/simbridge context                 # what it targets: account, region, prefix
  %[1]s/simbridge status 127.0.0.2        # one SIM: 1NCE, record, IoT Core, verdict
  %[1]s/simbridge list                    # the fleet; -o json or -o csv for scripts
  %[1]s/simbridge sync                    # a sync through sim-poller's request queue
  %[1]s/simbridge audit                   # 1NCE vs table vs IoT Core; --fix repairs through commands
  %[1]s/simbridge failures                # the dead-letter queues, decoded
  %[1]s/simbridge --help
`, bin, s.GatewayURL(), s.SyncURL(), s.OnceAdminURL, s.AWSEndpoint(), s.StreamURL(), s.Opts.SyncInterval,
		strings.Join(s.OperatorEnv(), " "))
	return nil
}
