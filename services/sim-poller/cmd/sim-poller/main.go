// Command sim-poller keeps the SIM store in step with the 1NCE inventory.
package main

import (
	"os"

	"github.com/simbridge/simbridge/libs/cli"
	"github.com/simbridge/simbridge/services/sim-poller/internal/service"
)

func main() { os.Exit(cli.Run("sim-poller", service.Run, service.Config{})) }
