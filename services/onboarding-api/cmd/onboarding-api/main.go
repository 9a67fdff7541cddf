// Command onboarding-api hands a device its certificate and key, looked up by its IP.
package main

import (
	"os"

	"github.com/simbridge/simbridge/libs/cli"
	"github.com/simbridge/simbridge/services/onboarding-api/internal/service"
)

func main() { os.Exit(cli.Run("onboarding-api", service.Run, service.Config{})) }
