package kv

import "strings"

// signature is a 256-bit Bloom filter of the characters and character
// pairs of a text. A text can contain a query only if the query's
// signature is a subset of the text's, so a search tests 32 bytes per
// client before it reads any string.
type signature [4]uint64

func (s *signature) add(h uint32) {
	s[h>>6&3] |= 1 << (h & 63)
}

func signatureOf(text string) signature {
	var s signature
	for i := 0; i < len(text); i++ {
		s.add(uint32(text[i]) * 0x9E3779B1 >> 24)
		if i+1 < len(text) {
			pair := uint32(text[i])<<8 | uint32(text[i+1])
			s.add(pair * 0x85EBCA6B >> 24)
		}
	}
	return s
}

func (s signature) covers(q signature) bool {
	return s[0]&q[0] == q[0] && s[1]&q[1] == q[1] &&
		s[2]&q[2] == q[2] && s[3]&q[3] == q[3]
}

// matcher tests rows against a folded search text.
type matcher struct {
	text string
	sig  signature
}

func newMatcher(search string) *matcher {
	text := strings.ToLower(search)
	return &matcher{text: text, sig: signatureOf(text)}
}

func (m *matcher) match(r *row) bool {
	return r.sig.covers(m.sig) && strings.Contains(r.hay, m.text)
}
