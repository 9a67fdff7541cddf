package opscli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/simbridge/simbridge/libs/events"
)

// simbridge holds no 1NCE credential (the 1NCE API password can change
// SIMs): what 1NCE says about SIMs comes from sim-poller, asked with a
// dry-run sync request on its request queue and answered like any sync
// request, in the lease table. sim-poller looks the SIMs up through its own
// 1NCE client and rate limit (a lookup takes the Data Streamer hints'
// share, HINT_RATE_SHARE, while a listing runs), brings in every other SIM
// holding their IPs, and answers with each SIM's 1NCE view and what the
// full sync's rules decide for it (events.SIMOutcome). So status, enable
// and audit judge a SIM exactly as a sync would, and never starve
// sim-poller of its 10 requests/s.

// lookupWait bounds the wait for a lookup's answer within a command that
// can answer without it (status).
const lookupWait = 30 * time.Second

// errNoLookup means sim-poller did not answer a lookup.
var errNoLookup = errors.New("no answer from sim-poller")

// lookup asks sim-poller what 1NCE holds for iccids and what the rules
// decide for each, waiting up to limit (0: the command's deadline).
func (s *session) lookup(ctx context.Context, iccids []string, limit time.Duration) (map[string]events.SIMOutcome, error) {
	out := map[string]events.SIMOutcome{}
	for i := 0; i < len(iccids); i += events.MaxLookupICCIDs {
		batch := iccids[i:min(i+events.MaxLookupICCIDs, len(iccids))]
		id, err := s.requestSync(ctx, batch, false, true)
		if err != nil {
			return nil, err
		}
		res, err := s.awaitSync(ctx, id, limit)
		if err != nil {
			var ee *exitError
			if errors.As(err, &ee) && ee.code == ExitTimeout && ctx.Err() == nil {
				return nil, fmt.Errorf("%w: lookup %s not answered within %v (is sim-poller running? simbridge failures --queue sync)", errNoLookup, id, limit)
			}
			return nil, err
		}
		var sum targetedSummary
		if err := json.Unmarshal(res.Summary, &sum); err != nil {
			return nil, fmt.Errorf("lookup %s: sim-poller's answer: %w", id, err)
		}
		for _, o := range sum.SIMs {
			out[o.ICCID] = o
		}
		for _, id := range batch {
			if _, ok := out[id]; !ok {
				return nil, fmt.Errorf("lookup %s %s without an answer for SIM %s: %s", res.RequestID, res.Status, id, dash(sum.Error))
			}
		}
	}
	return out, nil
}
