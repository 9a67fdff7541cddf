package domain

import (
	"math"
	"net/netip"

	"github.com/simbridge/simbridge/libs/events"
	"github.com/simbridge/simbridge/libs/simip"
	"github.com/simbridge/simbridge/libs/simrec"
)

// A full sync of a million SIMs must fit in a small task, so the reconciler
// keeps each SIM as a packed key (events.ICCIDKey) and a 12-byte entry: its
// record's IPv4 address, version, state and 1NCE status, and what this run
// learnt of it. Neither holds a pointer, so a million of them cost about
// 40 MB of map and nothing for the garbage collector to scan. What does not
// fit (a LastCommand, a state or status this code does not know, a version
// beyond 32 bits, an IP not in canonical IPv4 form) goes to a side map that
// stays empty in a full sync: the summary index carries none of it.

// entry is one SIM: its record (flagStore) and what the listing said.
type entry struct {
	version uint32
	ip      uint32 // the record's IPv4 address, 0 when none
	flags   uint16
	state   uint8
	status  uint8
}

const (
	flagStore    uint16 = 1 << iota // a record exists
	flagActive                      // the record is active
	flagSeen                        // the listing contained the SIM
	flagReleased                    // a create or update was released this run
	flagExtra                       // part of the record is in Reconciler.extra
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
