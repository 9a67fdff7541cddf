// Command bootstrap creates, idempotently, the AWS resources the services
// need (queues with DLQs, topics, table, KMS key, IoT policy, API key secret)
// in the account and endpoint the standard AWS environment points at, and
// prints the services' environment variables.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/simbridge/simbridge/libs/awsx"
	"github.com/simbridge/simbridge/libs/cli"
	"github.com/simbridge/simbridge/libs/iotca"
	"github.com/simbridge/simbridge/libs/testkit/bootstrap"
)

func main() { os.Exit(cli.Command("bootstrap", run)) }

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	prefix := fs.String("prefix", "simbridge", "prefix of every resource name")
	maxReceive := fs.Int("max-receive-count", 5, "receives before a message moves to its DLQ")
	envFile := fs.String("env-file", "", "also write the variables to this file")
	caOnly := fs.Bool("ca-only", false, "only the one-time IoT CA setup of a deployed stack (its KMS key alias/<prefix>-iot-ca exists)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := awsx.Load(ctx)
	if err != nil {
		return err
	}
	if *caOnly {
		names := bootstrap.Names{Prefix: *prefix}
		key, pem, err := bootstrap.EnsureCA(ctx, cfg, names)
		if err != nil {
			return err
		}
		ca, err := iotca.ParseCertificate(pem)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "IoT CA %s registered (DEFAULT mode), key %s, valid until %s, certificate in SSM parameter %s\n",
			iotca.CertificateID(ca.Raw), key, ca.NotAfter.Format("2006-01-02"), names.CAParameter())
		return err
	}
	res, err := bootstrap.Ensure(ctx, cfg, bootstrap.Names{Prefix: *prefix}, bootstrap.Options{MaxReceiveCount: *maxReceive})
	if err != nil {
		return err
	}
	env := strings.Join(res.Env(), "\n") + "\n"
	if *envFile != "" {
		if err := os.WriteFile(*envFile, []byte(env), 0o600); err != nil {
			return err
		}
	}
	_, err = io.WriteString(out, env)
	return err
}
