// Command vpn-gateway lets devices in 1NCE's network fetch their credentials.
package main

import (
	"os"

	"github.com/simbridge/simbridge/libs/cli"
	"github.com/simbridge/simbridge/services/vpn-gateway/internal/service"
)

func main() { os.Exit(cli.Run("vpn-gateway", service.Run, service.Config{})) }
