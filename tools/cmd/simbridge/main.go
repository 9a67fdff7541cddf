// Command simbridge is the operators' command line (package tools/opscli):
// status, list, export, failures, sync, reissue, revoke, enable, audit and
// the one-time CA setup of an environment.
package main

import (
	"os"

	"github.com/simbridge/simbridge/tools/opscli"
)

func main() { os.Exit(opscli.Main()) }
