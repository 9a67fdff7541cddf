package opscli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// Context is what `simbridge context` reports: what the command line
// targets and whether the environment exists there.
type Context struct {
	Prefix      string     `json:"prefix"`
	EnvFile     string     `json:"env_file,omitempty"`
	Account     string     `json:"account"`
	Caller      string     `json:"caller"`
	Region      string     `json:"region"`
	RegionFrom  string     `json:"region_from"`
	EndpointURL string     `json:"endpoint_url,omitempty"`
	Exists      bool       `json:"exists"`
	Resources   []Resource `json:"resources"`
	Version     string     `json:"version"`
}

func newContextCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "context",
		Aliases: []string{"whoami"},
		Short:   "What simbridge targets: account, caller, region, prefix, and whether the environment exists there",
		Long: `context shows where the other commands would act: the AWS account and caller
(STS), the region and where it came from, the endpoint, the environment's prefix
and file, and each of its resources (tables, queues, topics) found or missing.

Exit code 1 when the environment does not exist there, or only in part.`,
		Example: `  simbridge --env staging context
  AWS_PROFILE=ops simbridge --prefix simbridge-prod whoami -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := dial(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return s.context(cmd.Context())
		},
	}
}

func (s *session) context(ctx context.Context) error {
	id, err := s.account(ctx)
	if err != nil {
		return err
	}
	res, err := s.survey(ctx)
	if err != nil {
		return err
	}
	c := Context{Prefix: s.names.Prefix, EnvFile: s.opts.envFile, Account: id.AccountID, Caller: id.String(), Region: s.cfg.Region,
		RegionFrom: s.opts.regionFrom, EndpointURL: s.endpoint(), Exists: true, Resources: res, Version: version()}
	for _, r := range res {
		c.Exists = c.Exists && r.Exists
	}
	if s.opts.Output == FormatJSON {
		if err := writeJSON(s.out, c); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
		line := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
		line("environment", c.Prefix+envNote(c.EnvFile))
		line("account", c.Account)
		line("caller", c.Caller)
		line("region", c.Region+" (from "+c.RegionFrom+")")
		line("endpoint", dash(c.EndpointURL))
		for _, r := range res {
			state := "found"
			if !r.Exists {
				state = "MISSING"
			}
			line(r.Kind, r.Name+"  "+state)
		}
		line("simbridge", c.Version)
		_ = tw.Flush()
	}
	if !c.Exists {
		return s.checkEnvironment(ctx)
	}
	return nil
}

func envNote(path string) string {
	if path == "" {
		return ""
	}
	return " (" + path + ")"
}

// endpoint is the endpoint every client uses, when one is set.
func (s *session) endpoint() string {
	if s.cfg.BaseEndpoint != nil {
		return *s.cfg.BaseEndpoint
	}
	return ""
}
