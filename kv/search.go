package kv

import "strings"

// matcher tests rows against a folded search text.
type matcher struct {
	text string
}

func newMatcher(search string) *matcher {
	return &matcher{text: strings.ToLower(search)}
}

func (m *matcher) match(r *row) bool {
	return strings.Contains(r.hay, m.text)
}
