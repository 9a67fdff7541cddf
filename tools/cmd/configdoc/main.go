// Command configdoc writes docs/configuration.md from the built services.
package main

import (
	"context"
	"flag"
	"io"
	"os"

	"github.com/simbridge/simbridge/libs/cli"
	"github.com/simbridge/simbridge/tools/configdoc"
)

func main() { os.Exit(cli.Command("configdoc", run)) }

func run(_ context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("configdoc", flag.ContinueOnError)
	bin := fs.String("bin", "bin", "directory of the built services")
	out := fs.String("out", "docs/configuration.md", "page to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	page, err := configdoc.Render(*bin)
	if err != nil {
		return err
	}
	return os.WriteFile(*out, page, 0o644)
}
