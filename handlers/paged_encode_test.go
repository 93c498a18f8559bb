package handlers

import (
	"bytes"
	"testing"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
)

// TestPageParts_Encode proves that the answer written in parts is the
// answer encoded whole, byte for byte, and that a new summary or new
// group names replace the cached end.
func TestPageParts_Encode(t *testing.T) {
	first := &kv.Summary{Total: 2, Active: 1, DepletedCount: 1, Online: []string{},
		Depleted: []string{"b@x"}, Expiring: []string{}, Deactive: []string{}}
	second := &kv.Summary{Total: 3, Online: []string{"a\"<x>"}, Depleted: []string{},
		Expiring: []string{}, Deactive: []string{}}
	items := []slimClient{{Email: "a\"<x>", SubID: "s", Enable: true, InboundIDs: []int64{1}},
		{Email: "b@x", Traffic: &trafficJSON{Email: "b@x", Up: 5}}}
	pages := []pageJSON{
		{Items: items, Total: 2, Filtered: 2, Page: 1, PageSize: 25, Summary: first,
			Groups: []string{"vip"}},
		{Items: items[:1], Total: 2, Filtered: 1, Page: 2, PageSize: 1, Summary: first,
			Groups: []string{"vip"}},
		{Items: []slimClient{}, Total: 2, Filtered: 0, Page: 1, PageSize: 25, Summary: first,
			Groups: []string{"vip", "Team"}},
		{Items: []slimClient{}, Total: 3, Filtered: 0, Page: 9, PageSize: 200, Summary: second,
			Groups: []string{}},
	}
	var pp pageParts
	var buf bytes.Buffer
	buf.WriteString("left over from an earlier answer")
	for i, p := range pages {
		err := pp.encode(&buf, &p)
		got := buf.Bytes()
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		want, err := json.Marshal(envelope{Success: true, Obj: p})
		if err != nil {
			t.Fatalf("page %d: marshal: %v", i, err)
		}
		if string(got) != string(want) {
			t.Errorf("page %d:\n got %s\nwant %s", i, got, want)
		}
	}
}
