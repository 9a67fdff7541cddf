package events

// ICCIDKey is an ICCID packed into 12 bytes (two digits a byte, its length
// in the last), so a set or index of a whole account costs no string
// allocation per SIM and holds no pointer the garbage collector must scan:
// a million keys are 12 MB of map slots instead of about 40 MB of strings
// and headers. Only valid ICCIDs (ValidICCID: 18–22 digits) have a key.
type ICCIDKey [12]byte

// KeyOf packs iccid; ok is false when it is not a valid ICCID.
func KeyOf(iccid string) (k ICCIDKey, ok bool) {
	if !ValidICCID(iccid) {
		return k, false
	}
	for i := 0; i < len(iccid); i++ {
		d := iccid[i] - '0'
		if i%2 == 0 {
			k[i/2] = d << 4
		} else {
			k[i/2] |= d
		}
	}
	k[11] = byte(len(iccid))
	return k, true
}

// String unpacks the ICCID.
func (k ICCIDKey) String() string {
	n := int(k[11])
	if n > 22 {
		return ""
	}
	b := make([]byte, n)
	for i := range n {
		d := k[i/2]
		if i%2 == 0 {
			d >>= 4
		}
		b[i] = '0' + d&0x0f
	}
	return string(b)
}
