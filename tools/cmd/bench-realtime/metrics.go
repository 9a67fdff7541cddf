package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"

	"github.com/simbridge/simbridge/libs/testkit"

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

// motoCallsPerSecond times sequential IoT calls to the emulator (a Thing's
// description): how fast moto answers this run, against which the
// provisioner's figures read.
func motoCallsPerSecond(ctx context.Context, stack *devstack.Stack) (float64, error) {
	cfg, err := testkit.LoadAWSConfig(ctx, stack.AWSEndpoint())
	if err != nil {
		return 0, err
	}
	client := iot.NewFromConfig(cfg)
	things, err := client.ListThings(ctx, &iot.ListThingsInput{MaxResults: aws.Int32(1)})
	if err != nil || len(things.Things) == 0 {
		return 0, fmt.Errorf("time moto: no Thing to describe (%v)", err)
	}
	const calls = 50
	start := time.Now()
	for range calls {
		if _, err := client.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: things.Things[0].ThingName}); err != nil {
			return 0, fmt.Errorf("time moto: %w", err)
		}
	}
	return calls / time.Since(start).Seconds(), nil
}
