package kv

import (
	"slices"
	"strings"
	"sync"
)

// View reads the committed state. It is valid only inside the View call
// that made it; the records it returns stay valid, unmodified, after.
type View struct {
	m       *memory
	version uint64
	cache   *statusCache
	orders  *orderCache
	groups  *groupCache
}

// Client returns the client with the id, or nil.
func (v *View) Client(id int64) *Client {
	return v.m.clients[id]
}

// ClientByEmail returns the client with exactly this email, or nil.
func (v *View) ClientByEmail(email string) *Client {
	c := v.ClientByFold(email)
	if c == nil || c.Email != email {
		return nil
	}
	return c
}

// ClientByFold returns the client whose email equals email ignoring case.
func (v *View) ClientByFold(email string) *Client {
	if r := v.m.byFold[FoldEmail(email)]; r != nil {
		return r.c
	}
	return nil
}

// ClientsBySubID returns the clients sharing a subscription id, by id.
func (v *View) ClientsBySubID(subID string) []*Client {
	return v.byIDs(v.m.bySubID[subID])
}

// ClientsInInbound returns the clients attached to the inbound, by id.
func (v *View) ClientsInInbound(inboundID int64) []*Client {
	set := v.m.members[inboundID]
	ids := make([]int64, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	return v.byIDs(ids)
}

func (v *View) byIDs(ids []int64) []*Client {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	out := make([]*Client, 0, len(ids))
	for _, id := range ids {
		if c := v.m.clients[id]; c != nil {
			out = append(out, c)
		}
	}
	return out
}

// Clients returns every client in ascending id order.
func (v *View) Clients() []*Client {
	out := make([]*Client, len(v.m.rows))
	for i, r := range v.m.rows {
		out[i] = r.c
	}
	return out
}

// EachClient calls fn for every client with its usage row, in ascending
// id order, until fn returns false.
func (v *View) EachClient(fn func(c *Client, t *Traffic) bool) {
	for _, r := range v.m.rows {
		if !fn(r.c, r.t) {
			return
		}
	}
}

// ClientCount returns the number of clients.
func (v *View) ClientCount() int {
	return len(v.m.rows)
}

// Traffic returns the usage row of exactly this email, or nil.
func (v *View) Traffic(email string) *Traffic {
	return v.m.trafficOf(email)
}

// Traffics returns every usage row, in no particular order.
func (v *View) Traffics() []*Traffic {
	out := make([]*Traffic, 0, len(v.m.traffic))
	for _, slot := range v.m.traffic {
		out = append(out, slot.t)
	}
	return out
}

// Inbound returns the inbound with the id, or nil.
func (v *View) Inbound(id int64) *Inbound {
	return v.m.inbounds[id]
}

// Inbounds returns every inbound in ascending id order.
func (v *View) Inbounds() []*Inbound {
	out := make([]*Inbound, 0, len(v.m.inbounds))
	for _, in := range v.m.inbounds {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b *Inbound) int { return cmpInt(a.ID, b.ID) })
	return out
}

// Group returns the stored group with exactly this name, or nil.
func (v *View) Group(name string) *Group {
	return v.m.groups[name]
}

// StoredGroups returns every stored group row, in no particular order.
func (v *View) StoredGroups() []*Group {
	out := make([]*Group, 0, len(v.m.groups))
	for _, g := range v.m.groups {
		out = append(out, g)
	}
	return out
}

// IPs returns the source addresses recorded for the email.
func (v *View) IPs(email string) []IPEntry {
	return v.m.ips[email]
}

// EachIPs calls fn with every email that has recorded source addresses.
func (v *View) EachIPs(fn func(email string, ips []IPEntry)) {
	for email, ips := range v.m.ips {
		fn(email, ips)
	}
}

// Meta returns a stored setting, or "".
func (v *View) Meta(key string) string {
	return v.m.meta[key]
}

// groupCache keeps the group names of the last version asked for.
type groupCache struct {
	mu      sync.Mutex
	version uint64
	names   []string
}

// GroupNames returns the stored group names together with every label in
// use, deduplicated exactly and sorted ignoring case. The slice is shared.
func (v *View) GroupNames() []string {
	gc := v.groups
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.names != nil && gc.version == v.version {
		return gc.names
	}

	seen := map[string]bool{}
	for name := range v.m.groups {
		seen[name] = true
	}
	for _, r := range v.m.rows {
		if g := strings.TrimSpace(r.c.Group); g != "" {
			seen[g] = true
		}
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmpFold(a, b)
	})
	gc.version, gc.names = v.version, names
	return names
}

func cmpFold(a, b string) int {
	if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
