package app

import (
	"context"
	"slices"
)

// Conflicts remembers the IPs 1NCE gave several Enabled SIMs, with those
// SIMs, until 1NCE is corrected. A full sync sees every claimant of an IP in
// its listing; a targeted sync looks SIMs up one by one and would otherwise
// know only the claimants that have records. With this memory, `sync A`,
// `sync B` and `sync A B` decide alike (simrec.Decide's rule 4), whichever
// SIMs are named:
//
//  1. A full sync with a complete listing replaces the memory with the
//     conflicts it found (Replace); an incomplete one only adds to it.
//  2. A targeted sync asks for the claimants of the IPs 1NCE gives the SIMs
//     it decides (Claimants), looks each up with them, and then notes what
//     it saw for those IPs (Note): a conflict still there is kept, one whose
//     claimants moved away is forgotten.
//
// Only conflicts are kept: a handful of IPs, never an index of the account.
type Conflicts interface {
	// Claimants returns the SIMs remembered at each of ips that has a
	// conflict.
	Claimants(ctx context.Context, ips []string) (map[string][]string, error)
	// Note records, for each IP of checked, the claimants found (an IP of
	// checked missing from found, or with fewer than two, is resolved).
	Note(ctx context.Context, checked []string, found map[string][]string) error
	// Replace records found as every conflict of the account.
	Replace(ctx context.Context, found map[string][]string) error
}

// MergeConflicts applies a Note to a remembered set: what adapters store.
func MergeConflicts(known map[string][]string, checked []string, found map[string][]string) map[string][]string {
	out := make(map[string][]string, len(known)+len(found))
	for ip, ids := range known {
		if !slices.Contains(checked, ip) {
			out[ip] = ids
		}
	}
	for _, ip := range checked {
		if ids := found[ip]; len(ids) > 1 {
			out[ip] = ids
		}
	}
	return out
}
