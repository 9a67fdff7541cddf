package domain

import (
	"bytes"
	"math"
	"net/netip"
	"sort"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simip"
	"github.com/simbridge/simbridge/libs/simrec"
)

// A full sync of a million SIMs must fit in a small task, so the reconciler
// keeps each SIM as a packed key (events.ICCIDKey) and a 12-byte entry: its
// record's IPv4 address, version, state and 1NCE status, and what this run
// learnt of it. Neither holds a pointer, so a million of them cost about
// 30 MB in sorted slices (table) and nothing for the garbage collector to
// scan. What does not fit (a LastCommand, a state or status this code does
// not know, a version beyond 32 bits, an IP not in canonical IPv4 form) goes
// to a side map that stays empty in a full sync: the summary index carries
// none of it.

// entry is one SIM: its record (flagStore) and what the listing said.
type entry struct {
	version uint32
	ip      uint32 // the record's IPv4 address, 0 when none
	flags   uint16
	state   uint8
	status  uint8
}

const (
	flagStore     uint16 = 1 << iota // a record exists
	flagActive                       // the record is active
	flagSeen                         // the listing contained the SIM
	flagReleased                     // a create or update was released this run
	flagExtra                        // part of the record is in table.extra
	flagClaimsOwn                    // listed Enabled at the record's own IP (an implicit claim)
)

// Codes of the states and statuses the entry encodes; codeOther means the
// value is in the side map.
const (
	codeNone uint8 = iota
	codeOther
)

var (
	stateCodes  = []simrec.State{"", "", simrec.StatePending, simrec.StateActive, simrec.StateDisabled, simrec.StateRevoked}
	statusCodes = []string{"", "", StatusEnabled, StatusDisabled}
)

// extra is what an entry could not hold.
type extra struct {
	lastCommand string
	state       simrec.State
	status      string
	version     int64
	ip          string
}

func code[T comparable](codes []T, v T) (uint8, bool) {
	var zero T
	if v == zero {
		return codeNone, true
	}
	for i := 2; i < len(codes); i++ {
		if codes[i] == v {
			return uint8(i), true
		}
	}
	return codeOther, false
}

// pack encodes a record's summary; ok is false for an ICCID without a key
// (the caller keeps such records whole).
func pack(l simrec.Summary) (events.ICCIDKey, entry, *extra, bool) {
	k, ok := events.KeyOf(l.ICCID)
	if !ok {
		return k, entry{}, nil, false
	}
	e := entry{flags: flagStore}
	if l.Active {
		e.flags |= flagActive
	}
	var x extra
	odd := false
	var known bool
	if e.state, known = code(stateCodes, l.State); !known {
		x.state, odd = l.State, true
	}
	if e.status, known = code(statusCodes, l.Status); !known {
		x.status, odd = l.Status, true
	}
	if l.Version >= 0 && l.Version <= math.MaxUint32 {
		e.version = uint32(l.Version)
	} else {
		x.version, odd = l.Version, true
	}
	if ip, ok := ipv4(l.IP); ok && ip != 0 && netip.AddrFrom4(ip4bytes(ip)).String() == l.IP {
		e.ip = ip
	} else if l.IP != "" {
		x.ip, odd = l.IP, true
	}
	if l.LastCommand != "" {
		x.lastCommand, odd = l.LastCommand, true
	}
	if !odd {
		return k, e, nil, true
	}
	e.flags |= flagExtra
	return k, e, &x, true
}

// summary decodes an entry back into the record's summary.
func (e entry) summary(k events.ICCIDKey, x *extra) simrec.Summary {
	l := simrec.Summary{ICCID: k.String(), Active: e.flags&flagActive != 0, Version: int64(e.version),
		State: stateCodes[e.state], Status: statusCodes[e.status]}
	if e.ip != 0 {
		l.IP = netip.AddrFrom4(ip4bytes(e.ip)).String()
	}
	if x == nil {
		return l
	}
	l.LastCommand = x.lastCommand
	if e.state == codeOther {
		l.State = x.state
	}
	if e.status == codeOther {
		l.Status = x.status
	}
	if x.version != 0 {
		l.Version = x.version
	}
	if x.ip != "" {
		l.IP = x.ip
	}
	return l
}

// ipv4 parses an address the way every path does (simip) into a number;
// ok is false for anything that is not a valid SIM address.
func ipv4(s string) (uint32, bool) {
	if s == "" {
		return 0, false
	}
	addr, err := simip.Parse(s)
	if err != nil || !addr.Is4() {
		return 0, false
	}
	b := addr.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), true
}

func ip4bytes(ip uint32) [4]byte {
	return [4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}
}

// table holds the entries: the store's records in a slice sorted by key
// once the listing begins (a binary search finds one; 24 bytes a record,
// where a map costs twice that in slots rounded up to a power of two), with
// their IPs in a second sorted slice of positions (4 bytes a record), and
// the SIMs the listing shows that the store does not know in a map (few,
// but every SIM of a first backfill).
type table struct {
	store  []slot
	sorted bool
	byIP   []uint32 // positions in store of records that may have access, by IP
	extra  map[uint32]*extra
	fresh  map[events.ICCIDKey]uint16 // flags of listed SIMs without a record
}

type slot struct {
	key events.ICCIDKey
	e   entry
}

// ref names an entry: a position in store, or a fresh SIM's key.
type ref struct {
	pos   int // -1 for a fresh SIM
	key   events.ICCIDKey
	found bool
}

func newTable() *table {
	return &table{extra: map[uint32]*extra{}, fresh: map[events.ICCIDKey]uint16{}}
}

// add appends a record (a later record of the same ICCID replaces it when
// the table is sorted).
func (t *table) add(k events.ICCIDKey, e entry, x *extra) {
	t.store = append(t.store, slot{key: k, e: e})
	if x != nil {
		t.extra[uint32(len(t.store)-1)] = x
	}
	t.sorted = false
}

// sort orders the records by key (the last of duplicates wins) and indexes
// their IPs; lookups call it once the records are in.
func (t *table) sort() {
	if t.sorted {
		return
	}
	order := make([]int, len(t.store))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return bytes.Compare(t.store[order[i]].key[:], t.store[order[j]].key[:]) < 0 })
	store := make([]slot, 0, len(t.store))
	extra := map[uint32]*extra{}
	for n, i := range order {
		if n+1 < len(order) && t.store[order[n+1]].key == t.store[i].key {
			continue // a later record of the same SIM follows
		}
		if x := t.extra[uint32(i)]; x != nil {
			extra[uint32(len(store))] = x
		}
		store = append(store, t.store[i])
	}
	t.store, t.extra, t.sorted = store, extra, true
	t.byIP = t.byIP[:0]
	for i, s := range t.store {
		if s.e.ip != 0 && t.mayGainAccess(i) {
			t.byIP = append(t.byIP, uint32(i))
		}
	}
	sort.Slice(t.byIP, func(i, j int) bool { return t.store[t.byIP[i]].e.ip < t.store[t.byIP[j]].e.ip })
}

// find looks a key up among the records, then the fresh SIMs.
func (t *table) find(k events.ICCIDKey) ref {
	t.sort()
	i := sort.Search(len(t.store), func(i int) bool { return bytes.Compare(t.store[i].key[:], k[:]) >= 0 })
	if i < len(t.store) && t.store[i].key == k {
		return ref{pos: i, key: k, found: true}
	}
	_, ok := t.fresh[k]
	return ref{pos: -1, key: k, found: ok}
}

// flags of an entry (0 for one not found).
func (t *table) flags(r ref) uint16 {
	if r.pos >= 0 {
		return t.store[r.pos].e.flags
	}
	return t.fresh[r.key]
}

// mark sets flags on an entry, adding a fresh SIM if needed.
func (t *table) mark(r ref, f uint16) {
	if r.pos >= 0 {
		t.store[r.pos].e.flags |= f
		return
	}
	t.fresh[r.key] |= f
}

// record is the store's summary of the entry at pos.
func (t *table) record(pos int) simrec.Summary {
	return t.store[pos].e.summary(t.store[pos].key, t.extra[uint32(pos)])
}

// holders calls fn with the position of every record that may have access
// at ip.
func (t *table) holders(ip uint32, fn func(pos int) bool) {
	t.sort()
	i := sort.Search(len(t.byIP), func(i int) bool { return t.store[t.byIP[i]].e.ip >= ip })
	for ; i < len(t.byIP) && t.store[t.byIP[i]].e.ip == ip; i++ {
		if !fn(int(t.byIP[i])) {
			return
		}
	}
}

// mayGainAccess reports whether the record at pos is active or pending.
func (t *table) mayGainAccess(pos int) bool {
	e := t.store[pos].e
	if e.flags&flagActive != 0 {
		return true
	}
	if e.state == codeOther {
		return t.extra[uint32(pos)].state == simrec.StatePending
	}
	return stateCodes[e.state] == simrec.StatePending
}
