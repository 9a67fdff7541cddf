// Command deactivator takes access away from SIMs that left the account.
package main

import (
	"os"

	"github.com/simbridge/simbridge/libs/cli"
	"github.com/simbridge/simbridge/services/deactivator/internal/service"
)

func main() { os.Exit(cli.Run("deactivator", service.Run, service.Config{})) }
