package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/simbridge/simbridge/tools/devstack"
)

// pollerRuns is how many full syncs sim-poller ran (succeeded or failed).
func pollerRuns(ctx context.Context, stack *devstack.Stack) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+stack.Procs["sim-poller"].OpsAddr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("sim-poller metrics: %w", err)
	}
	defer resp.Body.Close()
	total := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		for _, result := range []string{"success", "failure"} {
			if v, ok := strings.CutPrefix(sc.Text(), `simbridge_sim_poller_runs_total{result="`+result+`"} `); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return 0, err
				}
				total += f
			}
		}
	}
	return total, sc.Err()
}
