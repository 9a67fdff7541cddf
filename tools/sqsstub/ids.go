package sqsstub

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync/atomic"
)

// receiptPrefix starts every receipt handle the stub issues, so a handle
// from elsewhere can be told from one of a message already deleted.
const receiptPrefix = "sqsstub:"

// idSource makes message ids (UUID-shaped, unique per server) and receipt
// handles without a random read per call.
type idSource struct {
	base string
	n    atomic.Uint64
}

func newIDSource() *idSource {
	var b [10]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return &idSource{base: h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20]}
}

func (s *idSource) messageID() string {
	return fmt.Sprintf("%s-%012x", s.base, s.n.Add(1))
}

func (s *idSource) receipt(queue, messageID string) string {
	return receiptPrefix + queue + ":" + messageID + ":" + strconv.FormatUint(s.n.Add(1), 36)
}
