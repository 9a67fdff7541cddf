package oncesim

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/simbridge/simbridge/libs/onceapi"
)

// LoadInventoryFile reads a JSON array of SIMs (the shape GET /v1/sims returns), so a demo or test
// can replay a captured or hand-written inventory. Errors name the file and the problem.
func LoadInventoryFile(path string) ([]onceapi.SIM, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load inventory: %w", err)
	}
	var sims []onceapi.SIM
	if err := json.Unmarshal(data, &sims); err != nil {
		return nil, fmt.Errorf("load inventory %s: want a JSON array of SIM objects: %w", path, err)
	}
	if _, err := prepareBatch(sims); err != nil {
		return nil, fmt.Errorf("load inventory %s: %w", path, err)
	}
	return sims, nil
}
