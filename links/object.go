package links

import (
	"bytes"
	"maps"
	"slices"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
)

// object is a decoded JSON object of a stored inbound. Its accessors
// answer the zero value for a key that is missing or of another type, so
// that one odd field costs its own parameter and never the whole link.
type object map[string]any

// parseObject decodes raw as a JSON object, also when it arrives
// JSON-encoded in a string. Anything else gives an empty object. Numbers
// are kept as written, so that a blob passed on (extra, fm) is unchanged.
func parseObject(raw []byte) object {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var text string
		if json.Unmarshal(raw, &text) != nil {
			return object{}
		}
		raw = bytes.TrimSpace([]byte(text))
	}
	if len(raw) == 0 || raw[0] != '{' {
		return object{}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil || m == nil {
		return object{}
	}
	return m
}

// obj returns the object under key.
func (o object) obj(key string) object {
	m, _ := o[key].(map[string]any)
	return m
}

// str returns the string under key.
func (o object) str(key string) string {
	s, _ := o[key].(string)
	return s
}

// has reports whether key holds a string, even an empty one.
func (o object) has(key string) bool {
	_, ok := o[key].(string)
	return ok
}

// flag returns the boolean under key.
func (o object) flag(key string) bool {
	b, _ := o[key].(bool)
	return b
}

// list returns the array under key.
func (o object) list(key string) []any {
	l, _ := o[key].([]any)
	return l
}

// strs returns the non-empty strings of the array under key. A plain
// string is taken as a comma-separated list, as some panels store alpn.
func (o object) strs(key string) []string {
	if s, ok := o[key].(string); ok {
		return splitList(s)
	}
	var out []string
	for _, v := range o.list(key) {
		if s, ok := v.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// num returns the whole number under key, written as a number or as a
// numeric string; 0 when there is none.
func (o object) num(key string) int {
	var text string
	switch v := o[key].(type) {
	case json.Number:
		text = v.String()
	case string:
		text = strings.TrimSpace(v)
	default:
		return 0
	}
	if n, err := strconv.Atoi(text); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(text, 64); err == nil && f > -1e9 && f < 1e9 {
		return int(f)
	}
	return 0
}

// text returns the value under key as link text: a string as is, a
// number as written; "" for anything else.
func (o object) text(key string) string {
	switch v := o[key].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// hostOf returns the Host header in a header map, matched ignoring case
// (the first spelling in sorted order wins); a list gives its first entry.
func hostOf(headers object) string {
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		if !strings.EqualFold(k, "host") {
			continue
		}
		switch h := headers[k].(type) {
		case string:
			return h
		case []any:
			if len(h) > 0 {
				s, _ := h[0].(string)
				return s
			}
		}
	}
	return ""
}

// hasContent reports whether a decoded value carries anything other than
// empty strings, arrays and objects.
func hasContent(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case map[string]any:
		for _, item := range x {
			if hasContent(item) {
				return true
			}
		}
		return false
	case []any:
		for _, item := range x {
			if hasContent(item) {
				return true
			}
		}
		return false
	}
	return true
}

// compact encodes a decoded value as compact JSON with sorted keys.
func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
