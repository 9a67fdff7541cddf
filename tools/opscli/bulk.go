package opscli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/simbridge/simbridge/libs/simip"
)

// bulkFlag is -f FILE: the SIMs of a command, one ICCID or IP a line ("-":
// stdin), next to those given as arguments.
type bulkFlag struct{ file string }

func addBulkFlag(cmd *cobra.Command) *bulkFlag {
	b := &bulkFlag{}
	cmd.Flags().StringVarP(&b.file, "file", "f", "", "read ICCIDs or IPs from FILE, one a line (- for stdin; # comments)")
	_ = cmd.MarkFlagFilename("file")
	return b
}

// targets returns the arguments and the lines of -f, in order, each once;
// a line that is neither an ICCID nor an IP is a usage error naming it.
func (b *bulkFlag) targets(args []string, stdin io.Reader) ([]string, error) {
	out := slices.Clone(args)
	if b.file != "" {
		var r io.Reader
		name := b.file
		if b.file == "-" {
			if stdin == nil {
				return nil, usageError("-f -: no stdin")
			}
			r, name = stdin, "stdin"
		} else {
			f, err := os.Open(b.file)
			if err != nil {
				return nil, usageError("-f: %v", err)
			}
			defer f.Close()
			r = f
		}
		sc := bufio.NewScanner(r)
		for n := 1; sc.Scan(); n++ {
			line, _, _ := strings.Cut(sc.Text(), "#")
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			if !validICCID(line) && net.ParseIP(line) == nil {
				return nil, usageError("%s line %d: %q is neither an ICCID (18-22 digits) nor an IP address", name, n, line)
			}
			out = append(out, line)
		}
		if err := sc.Err(); err != nil {
			return nil, usageError("-f %s: %v", name, err)
		}
	}
	for _, a := range args {
		if !validICCID(a) && net.ParseIP(a) == nil {
			return nil, usageError("%q is neither an ICCID (18-22 digits) nor an IP address", a)
		}
	}
	seen := map[string]bool{}
	kept := out[:0]
	for _, t := range out {
		if !seen[t] {
			seen[t] = true
			kept = append(kept, t)
		}
	}
	return kept, nil
}

// stdin reports whether -f reads stdin.
func (b *bulkFlag) stdin() bool { return b.file == "-" }

// iccidOf resolves a target to the SIM it names: an ICCID as it is, an IP
// to the one SIM whose record holds it.
func (s *session) iccidOf(ctx context.Context, target string) (string, error) {
	if validICCID(target) {
		return target, nil
	}
	ip, err := simip.Normalize(target)
	if err != nil {
		return "", usageError("%v", err)
	}
	recs, err := s.store.FindByIP(ctx, ip)
	if err != nil {
		return "", err
	}
	switch len(recs) {
	case 0:
		return "", attention("no SIM record holds IP %s: name the SIM by its ICCID", ip)
	case 1:
		return recs[0].ICCID, nil
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ICCID)
	}
	return "", fmt.Errorf("IP %s is held by the records of %s: name the SIM by its ICCID", ip, strings.Join(ids, ", "))
}
