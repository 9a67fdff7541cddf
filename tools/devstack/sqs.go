package devstack

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// startSQSStub starts bin/sqsstub when Options.FastSQS asks for it and
// learns its endpoint from the first line it prints.
func (s *Stack) startSQSStub() error {
	if !s.Opts.FastSQS {
		return nil
	}
	pr, pw := io.Pipe()
	p, err := startProc("sqsstub", filepath.Join(s.Opts.BinDir, "sqsstub"), []string{"-listen", "127.0.0.1:0"}, nil,
		filepath.Join(s.Opts.LogDir, "sqsstub.log"), pw)
	if err != nil {
		return err
	}
	s.SQSStub = p
	line, err := readLine(pr, 10*time.Second)
	if err != nil {
		return fmt.Errorf("sqsstub: %w: %s", err, tail(p.LogPath, 5))
	}
	url, ok := strings.CutPrefix(line, "sqsstub listening on ")
	if !ok {
		return fmt.Errorf("sqsstub printed %q", line)
	}
	s.sqsURL = url
	s.progress("SQS (sqsstub)         %s (in memory; moto serves everything else)", url)
	return nil
}

// sqsEnv sends a service's SQS client to the stub (nothing without it).
func (s *Stack) sqsEnv() []string {
	if s.sqsURL == "" {
		return nil
	}
	return []string{"AWS_ENDPOINT_URL_SQS=" + s.sqsURL}
}

// SQSEndpoint is where the stack's queues live: the stub with FastSQS,
// else the emulator.
func (s *Stack) SQSEndpoint() string {
	if s.sqsURL != "" {
		return s.sqsURL
	}
	return s.Moto.Endpoint
}
