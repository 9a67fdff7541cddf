package sqsstub

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"slices"
	"strings"
)

// md5Hex is the MD5OfMessageBody SQS returns and the SDK verifies.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// attributesMD5 is MD5OfMessageAttributes as SQS computes it: over the
// attributes sorted by name, each encoded as name, data type, a transport
// byte (1 string/number, 2 binary) and value, every variable-length part
// preceded by its length as a 4-byte big-endian integer. Empty for no
// attributes (SQS then leaves the field out).
func attributesMD5(attrs map[string]attrValue) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	slices.Sort(names)
	h := md5.New()
	for _, name := range names {
		a := attrs[name]
		writeField(h, []byte(name))
		writeField(h, []byte(a.DataType))
		if isBinary(a.DataType) {
			h.Write([]byte{2})
			writeField(h, a.BinaryValue)
		} else {
			h.Write([]byte{1})
			writeField(h, []byte(deref(a.StringValue)))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeField(h hash.Hash, b []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// isBinary tells the transport type from a data type such as "Binary" or
// "Binary.png" (custom types extend the base type after a dot).
func isBinary(dataType string) bool {
	base, _, _ := strings.Cut(dataType, ".")
	return base == "Binary"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
