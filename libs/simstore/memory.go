package simstore

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/simbridge/simbridge/libs/simip"
	"github.com/simbridge/simbridge/libs/simrec"
)

// Memory is an in-process store with the same semantics as Dynamo, for unit
// tests of the services' use cases. The contract tests in storetest run
// against both.
type Memory struct {
	mu   sync.Mutex
	recs map[string]simrec.Record
	now  func() time.Time
}

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{recs: map[string]simrec.Record{}, now: time.Now} }

// Get reads one record by ICCID.
func (m *Memory) Get(_ context.Context, iccid string) (simrec.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[iccid]
	if !ok {
		return simrec.Record{}, fmt.Errorf("get sim %s: %w", iccid, simrec.ErrNotFound)
	}
	return clone(r), nil
}

// Peek reads one record's summary (Dynamo's is eventually consistent).
func (m *Memory) Peek(ctx context.Context, iccid string) (simrec.Summary, error) {
	r, err := m.Get(ctx, iccid)
	if err != nil {
		return simrec.Summary{}, err
	}
	return r.Summary(), nil
}

// GetMany reads the records of iccids (those without one are absent).
func (m *Memory) GetMany(ctx context.Context, iccids []string, _ bool) (map[string]simrec.Record, error) {
	out := map[string]simrec.Record{}
	for _, id := range iccids {
		if r, err := m.Get(ctx, id); err == nil {
			out[id] = r
		}
	}
	return out, nil
}

// FindByIP returns every record holding ip.
func (m *Memory) FindByIP(_ context.Context, ip string) ([]simrec.Record, error) {
	ip, err := simip.Normalize(ip)
	if err != nil {
		return nil, fmt.Errorf("find sim by ip: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []simrec.Record
	for _, r := range m.recs {
		if ip != "" && r.IP == ip {
			out = append(out, clone(r))
		}
	}
	return out, nil
}

// Create stores a new record with version 1.
func (m *Memory) Create(_ context.Context, r simrec.Record) (simrec.Record, error) {
	if err := normalizeIP(&r); err != nil {
		return simrec.Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.recs[r.ICCID]; ok {
		return simrec.Record{}, fmt.Errorf("write sim %s: %w", r.ICCID, simrec.ErrConflict)
	}
	now := m.now().UTC()
	r.Version, r.CreatedAt, r.UpdatedAt = 1, now, now
	m.recs[r.ICCID] = clone(r)
	return r, nil
}

// Update replaces the record if its version still equals r.Version.
func (m *Memory) Update(_ context.Context, r simrec.Record) (simrec.Record, error) {
	if err := normalizeIP(&r); err != nil {
		return simrec.Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.recs[r.ICCID]
	if !ok || cur.Version != r.Version {
		return simrec.Record{}, fmt.Errorf("write sim %s: %w", r.ICCID, simrec.ErrConflict)
	}
	r.Version++
	r.UpdatedAt = m.now().UTC()
	r.LastFetchAt = cur.LastFetchAt // onboarding-api's, as in Dynamo
	m.recs[r.ICCID] = clone(r)
	return r, nil
}

// RecordFailure stores the last failed attempt without a version.
func (m *Memory) RecordFailure(_ context.Context, iccid string, f simrec.Failure) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.recs[iccid]; ok {
		r.LastFailure = &f
		m.recs[iccid] = r
	}
	return nil
}

// ClearFailure removes the last failure if command recorded it.
func (m *Memory) ClearFailure(_ context.Context, iccid, command string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.recs[iccid]; ok && r.LastFailure != nil && r.LastFailure.Command == command {
		r.LastFailure = nil
		m.recs[iccid] = r
	}
	return nil
}

// RecordFetch stores the last credentials fetch if later than the stored one.
func (m *Memory) RecordFetch(_ context.Context, iccid string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.recs[iccid]; ok && at.After(r.LastFetchAt) {
		r.LastFetchAt = at.UTC()
		m.recs[iccid] = r
	}
	return nil
}

// Scan calls fn with every record's summary in ICCID order; like
// Dynamo's summary index it leaves out LastCommand.
func (m *Memory) Scan(_ context.Context, fn func(simrec.Summary) error) error {
	m.mu.Lock()
	sums := make([]simrec.Summary, 0, len(m.recs))
	for _, r := range m.recs {
		sum := r.Summary()
		sum.LastCommand = ""
		sums = append(sums, sum)
	}
	m.mu.Unlock()
	sort.Slice(sums, func(i, j int) bool { return sums[i].ICCID < sums[j].ICCID })
	for _, s := range sums {
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

// clone deep-copies what a caller could otherwise change in the store.
func clone(r simrec.Record) simrec.Record {
	r.Retiring = append([]string(nil), r.Retiring...)
	if r.Enrolments != nil {
		r.Enrolments = append([]simrec.Enrolment(nil), r.Enrolments...)
	}
	r.Cert, r.Next = cloneCredentials(r.Cert), cloneCredentials(r.Next)
	if r.LastFailure != nil {
		f := *r.LastFailure
		r.LastFailure = &f
	}
	return r
}

func cloneCredentials(c *simrec.Credentials) *simrec.Credentials {
	if c == nil {
		return nil
	}
	n := *c
	n.KeyCiphertext = append([]byte(nil), c.KeyCiphertext...)
	return &n
}
