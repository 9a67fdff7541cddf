package opscli

import (
	"sort"

	"github.com/spf13/cobra"
)

// flagValues are the values shell completion offers for flags with a
// fixed set (cobra's `completion` command writes the scripts).
var flagValues = map[string][]string{
	"output":   {FormatTable, FormatJSON, FormatCSV},
	"progress": {ProgressAuto, ProgressAlways, ProgressNever},
	"state":    listStates,
	"sort":     sortKeyNames(),
	"queue":    queueRoles,
	"kind":     fixKinds,
}

// registerCompletions attaches flagValues to every command that has the
// flag, and file completion to -f.
func registerCompletions(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for name, values := range flagValues {
			if c.Flags().Lookup(name) == nil && c.PersistentFlags().Lookup(name) == nil {
				continue
			}
			values := values
			_ = c.RegisterFlagCompletionFunc(name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
				return values, cobra.ShellCompDirectiveNoFileComp
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func sortKeyNames() []string {
	out := make([]string, 0, len(sortKeys))
	for k := range sortKeys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
