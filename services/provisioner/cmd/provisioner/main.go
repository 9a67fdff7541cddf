// Command provisioner gives every new SIM its Thing, certificate and policy.
package main

import (
	"os"

	"github.com/simbridge/simbridge/libs/cli"
	"github.com/simbridge/simbridge/services/provisioner/internal/service"
)

func main() { os.Exit(cli.Run("provisioner", service.Run, service.Config{})) }
