// Command devstack runs the whole system locally without Docker (`make run`):
// moto_server, the 1NCE simulator, the bootstrap and the five services in
// key mode both, then the two ways a device gets its identity — one device
// fetches the key made for it (the reference's flow), another makes its own
// and enrols; it stays up until Ctrl-C and stops every process it started.
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
	exitAfterDemo := fs.Bool("exit-after-demo", false, "stop after the devices got their credentials (smoke test)")
	keyMode := fs.String("key-mode", "both", "KEY_MODE of the provisioner and onboarding-api: server, device or both")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logDir, _ := filepath.Abs(*logs)
	fmt.Fprintf(out, "Starting the local system; logs in %s\n", logDir)
	stack, err := devstack.Start(ctx, devstack.Options{
		BinDir: *bin, LogDir: logDir, SIMs: *sims, SyncInterval: *interval, Progress: out, KeyMode: *keyMode,
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

// demo runs the device client as the first SIM, fetching the key made for
// it, and as the second, enrolling with a key it makes (when the key mode
// allows each), and prints what to try next.
func demo(ctx context.Context, s *devstack.Stack, bin string, out io.Writer) error {
	endpointCA := filepath.Join(s.Opts.LogDir, "iot-endpoint-ca.pem")
	if err := os.WriteFile(endpointCA, []byte(s.IoTEndpoint.ServerCAPEM), 0o644); err != nil {
		return err
	}
	enrol := []string{"-enrol", "-url", s.GatewayURL(), "-tls-addr", s.IoTEndpoint.Addr, "-tls-ca", endpointCA}
	if s.Opts.KeyMode != "device" {
		fmt.Fprintf(out, "\nDevice 127.0.0.2 fetches the key and certificate made for it (the reference's flow, %s):\n", s.GatewayURL())
		if err := device(ctx, bin, out, "-url", s.GatewayURL(), "-source-ip", "127.0.0.2", "-wait", "60s"); err != nil {
			return err
		}
	}
	if s.Opts.KeyMode != "server" && s.Opts.SIMs > 1 {
		fmt.Fprintf(out, "\nDevice 127.0.0.3 makes its own key, enrols with a CSR (%s) and proves the certificate\nin a TLS handshake with the IoT endpoint stand-in (%s):\n", s.CertificateURL(), s.IoTEndpoint.Addr)
		if err := device(ctx, bin, out, append(enrol, "-source-ip", "127.0.0.3", "-wait", "60s")...); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, `
Try:
  %[1]s/device -url %[2]s -source-ip 127.0.0.2
  %[1]s/device %[10]s -source-ip 127.0.0.3
      # enrol again: a new key, the old certificate REVOKED (429 within ENROL_INTERVAL, 10 min)
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout device.key -subj /CN=device -out device.csr
  curl -s --interface 127.0.0.4 --data-binary @device.csr -H 'Content-Type: application/pkcs10' %[11]s
      # enrolment by hand as the SIM 127.0.0.4 (docs/enrolment.md)
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
  %[1]s/simbridge status 127.0.0.3        # its key mode (device) and enrolment history
  %[1]s/simbridge key-mode <iccid> device # a SIM's own key mode: its sealed key is deleted
  %[1]s/simbridge list                    # the fleet; -o json or -o csv for scripts
  %[1]s/simbridge sync                    # a sync through sim-poller's request queue
  %[1]s/simbridge audit                   # 1NCE vs table vs IoT Core; --fix repairs through commands
  %[1]s/simbridge failures                # the dead-letter queues, decoded
  %[1]s/simbridge --help
`, bin, s.GatewayURL(), s.SyncURL(), s.OnceAdminURL, s.AWSEndpoint(), s.StreamURL(), s.Opts.SyncInterval,
		strings.Join(s.OperatorEnv(), " "), s.OncePasswordSecret(), strings.Join(enrol, " "), s.CertificateURL())
	return nil
}

// device runs the device client with args.
func device(ctx context.Context, bin string, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "device"), args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("device client: %w (see the logs)", err)
	}
	return nil
}
