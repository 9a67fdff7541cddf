// Command vulngate reads govulncheck -format json output (one file per
// module) and fails when the code reaches a vulnerability that the allow list
// does not explain, or when an allow list entry is no longer reached. `make
// vulncheck` runs it (tools/scripts/vulncheck.sh).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/simbridge/simbridge/libs/cli"
	"github.com/simbridge/simbridge/tools/vulngate"
)

func main() { os.Exit(cli.Command("vulngate", run)) }

func run(_ context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("vulngate", flag.ContinueOnError)
	allowPath := fs.String("allow", "", "allow list: lines \"GO-YYYY-NNNN why it does not apply here\"")
	if err := fs.Parse(args); err != nil {
		return err
	}
	allow := map[string]string{}
	if *allowPath != "" {
		f, err := os.Open(*allowPath)
		if err != nil {
			return err
		}
		allow, err = vulngate.ParseAllowList(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	var findings []vulngate.Finding
	for _, path := range fs.Args() {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		got, err := vulngate.Reachable(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		findings = append(findings, got...)
	}
	for _, f := range findings {
		if reason, ok := allow[f.ID]; ok {
			fmt.Fprintf(out, "allowed %s (%s): %s\n", f.ID, f.Module, reason)
		}
	}
	if problems := vulngate.Decide(findings, allow); len(problems) > 0 {
		return errors.New("reachable vulnerabilities:\n  " + strings.Join(problems, "\n  "))
	}
	fmt.Fprintf(out, "no reachable vulnerability beyond the allow list (%d files)\n", len(fs.Args()))
	return nil
}
