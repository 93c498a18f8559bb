package kv

import (
	"encoding/binary"
	"strings"

	"github.com/google/uuid"
)

// Key prefixes. Primary records use lower-case letters, secondary indexes
// upper-case ones, so that one scan can tell them apart.
const (
	pClient   = 'c'
	pTraffic  = 't'
	pInbound  = 'i'
	pGroup    = 'g'
	pIPs      = 'p'
	pMeta     = 'm'
	pSequence = 'q'
	pUsage    = 'u' // usage record: sequence number -> counted bytes

	xEmail    = 'E' // folded email -> client id (unique)
	xSubID    = 'S' // subId, 0, client id
	xUUID     = 'U' // uuid with bytes 6-7 masked -> client id (unique)
	xPassword = 'P' // password -> client id (unique)
	xAuth     = 'A' // hysteria auth -> client id (unique)
	xGroup    = 'G' // folded group label, 0, client id
	xMember   = 'M' // inbound id, client id
	xExpiry   = 'X' // expiry ms, client id (only expiry > 0)
	xTag      = 'T' // inbound tag -> inbound id (unique)
	xPort     = 'O' // port, inbound id (enabled inbounds only)
)

// retiredIndexes are the prefixes of indexes that earlier versions kept
// and none reads: a client's status bucket ('B') and used bytes ('N').
// Status filters and usage sorting are served from memory, and keeping
// them cost three Badger entries per usage row on every traffic poll.
// Open removes what an older database still holds.
var retiredIndexes = [][]byte{{'B'}, {'N'}}

func u64(v int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(v))
}

func idFromTail(key []byte) int64 {
	return int64(binary.BigEndian.Uint64(key[len(key)-8:]))
}

func recordKey(prefix byte, id int64) []byte {
	return append([]byte{prefix}, u64(id)...)
}

func nameKey(prefix byte, name string) []byte {
	return append([]byte{prefix}, name...)
}

// indexKey is one secondary-index entry. Unique entries carry the owner's
// id as value; the others carry it at the end of the key.
type indexKey struct {
	key    string
	unique bool
	owner  int64
}

func multiKey(prefix byte, parts ...[]byte) string {
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte(prefix)
	for _, p := range parts {
		b.Write(p)
	}
	return b.String()
}

// clientIndexes computes every index entry of a client.
func clientIndexes(c *Client) []indexKey {
	id := u64(c.ID)
	keys := []indexKey{
		{key: multiKey(xEmail, []byte(FoldEmail(c.Email))), unique: true, owner: c.ID},
	}
	if c.SubID != "" {
		keys = append(keys, indexKey{key: multiKey(xSubID, []byte(c.SubID), []byte{0}, id)})
	}
	if c.UUID != "" {
		keys = append(keys, indexKey{key: multiKey(xUUID, []byte(UUIDKey(c.UUID))), unique: true, owner: c.ID})
	}
	if c.Password != "" {
		keys = append(keys, indexKey{key: multiKey(xPassword, []byte(c.Password)), unique: true, owner: c.ID})
	}
	if c.Auth != "" {
		keys = append(keys, indexKey{key: multiKey(xAuth, []byte(c.Auth)), unique: true, owner: c.ID})
	}
	if g := FoldGroup(c.Group); g != "" {
		keys = append(keys, indexKey{key: multiKey(xGroup, []byte(g), []byte{0}, id)})
	}
	for _, a := range c.Inbounds {
		keys = append(keys, indexKey{key: multiKey(xMember, u64(a.InboundID), id)})
	}
	if c.ExpiryTime > 0 {
		keys = append(keys, indexKey{key: multiKey(xExpiry, u64(c.ExpiryTime), id)})
	}
	return keys
}

// inboundIndexes computes every index entry of an inbound.
func inboundIndexes(in *Inbound) []indexKey {
	keys := []indexKey{{key: multiKey(xTag, []byte(in.Tag)), unique: true, owner: in.ID}}
	if in.Enable {
		port := binary.BigEndian.AppendUint16(nil, uint16(in.Port))
		keys = append(keys, indexKey{key: multiKey(xPort, port, u64(in.ID))})
	}
	return keys
}

// QuotaDepleted reports whether the client has used up a limited quota.
func QuotaDepleted(c *Client, t *Traffic) bool {
	return c.TotalGB > 0 && t.Used() >= c.TotalGB
}

// UUIDKey is the form under which two ids collide in the proxy core: the
// core ignores bytes 6 and 7 of a UUID (version and variant bits live
// there), so ids that differ only in them are the same user to it.
func UUIDKey(id string) string {
	u, err := uuid.Parse(id)
	if err != nil {
		return strings.ToLower(id)
	}
	u[6], u[7] = 0, 0
	return u.String()
}

// FoldGroup is the form under which group labels match: trimmed and
// lower-cased.
func FoldGroup(name string) string {
	return strings.ToLower(strings.TrimSpace(name))
}
