package handlers_test

import (
	"slices"
	"testing"
)

// groupSummary is one group of GET groups.
type groupSummary struct {
	Name        string `json:"name"`
	ClientCount int    `json:"clientCount"`
	TrafficUsed int64  `json:"trafficUsed"`
	Up          int64  `json:"up"`
	Down        int64  `json:"down"`
}

// groups lists the groups the server reports.
func (a *api) groups() []groupSummary {
	a.t.Helper()
	var out []groupSummary
	a.ok("GET", "/panel/api/clients/groups", nil, &out)
	return out
}

// group returns the summary of one group; the zero summary when the list
// lacks it.
func (a *api) group(name string) groupSummary {
	a.t.Helper()
	for _, g := range a.groups() {
		if g.Name == name {
			return g
		}
	}
	return groupSummary{}
}

// groupEmails lists the emails GET groups/{name}/emails reports.
func (a *api) groupEmails(name string) []string {
	a.t.Helper()
	var out []string
	a.ok("GET", "/panel/api/clients/groups/"+name+"/emails", nil, &out)
	return out
}

// affectedBy posts to a group route that answers {affected}.
func (a *api) affectedBy(path string, body any) int {
	a.t.Helper()
	var out struct {
		Affected int `json:"affected"`
	}
	a.ok("POST", path, body, &out)
	return out.Affected
}

// groupFixture stores alice and bob in vip, carol in Team, dave in no
// group, and an empty stored group.
func groupFixture(t *testing.T) *api {
	a := newAPI(t)
	in := a.vlessInbound(23000)
	a.addClient(map[string]any{"email": "alice", "group": "vip"}, in)
	a.addClient(map[string]any{"email": "bob", "group": "vip"}, in)
	a.addClient(map[string]any{"email": "carol", "group": "Team"}, in)
	a.addClient(map[string]any{"email": "dave"}, in)
	a.ok("POST", "/panel/api/clients/groups/create", map[string]any{"name": "empty"}, nil)
	return a
}

func TestGroups_List(t *testing.T) {
	a := groupFixture(t)
	a.setUsage("alice", 100, 200, true)
	a.setUsage("bob", 10, 20, true)

	want := []groupSummary{
		{Name: "empty"},
		{Name: "Team", ClientCount: 1},
		{Name: "vip", ClientCount: 2, Up: 110, Down: 220, TrafficUsed: 330},
	}
	if got := a.groups(); !slices.Equal(got, want) {
		t.Errorf("groups\n%+v\nwant\n%+v", got, want)
	}

	cases := map[string][]string{
		"vip": {"alice", "bob"}, "%20vip%20": {"alice", "bob"}, "VIP": {},
		"Team": {"carol"}, "empty": {}, "nope": {}, "%20": {},
	}
	for name, want := range cases {
		if got := a.groupEmails(name); !slices.Equal(got, want) || got == nil {
			t.Errorf("emails of %q: %v, want %v", name, got, want)
		}
	}
}

func TestGroups_Create(t *testing.T) {
	a := groupFixture(t)
	const path = "/panel/api/clients/groups/create"

	env := a.ok("POST", path, map[string]any{"name": " gold "}, nil)
	if string(env.Obj) != `{"name":" gold "}` {
		t.Errorf("obj %s, want the name as sent", env.Obj)
	}
	if g := a.group("gold"); g.Name != "gold" || g.ClientCount != 0 {
		t.Errorf("gold listed as %+v", g)
	}
	a.ok("POST", path, map[string]any{"name": "Team"}, nil) // a label is no stored group

	refusals := map[string]string{
		"gold":   "Something went wrong (group already exists)",
		"  ":     "Something went wrong (group name is required)",
		"a/b":    "Something went wrong (group name contains an invalid character: a/b)",
		"empty ": "Something went wrong (group already exists)",
	}
	for name, msg := range refusals {
		a.unchanged(func() { a.refused("POST", path, map[string]any{"name": name}, msg) })
	}
	a.refusedBadBody(path, `{"name":7}`)
}

func TestGroups_Rename(t *testing.T) {
	a := groupFixture(t)
	const path = "/panel/api/clients/groups/rename"
	a.setUsage("alice", 5, 5, true)
	a.ok("POST", "/panel/api/clients/groups/resetTraffic", map[string]any{"name": "vip"}, nil)
	a.setUsage("alice", 8, 9, true)

	if n := a.affectedBy(path, map[string]any{"oldName": " vip", "newName": "gold "}); n != 2 {
		t.Errorf("affected %d, want 2", n)
	}
	if got := a.groupEmails("gold"); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("gold emails %v", got)
	}
	if got := a.groupEmails("vip"); len(got) != 0 {
		t.Errorf("vip emails %v after rename", got)
	}
	if g := a.group("gold"); g.TrafficUsed != 7 {
		t.Errorf("gold %+v, want the baseline carried over (7 used)", g)
	}
	if n := a.affectedBy(path, map[string]any{"oldName": "nope", "newName": "other"}); n != 0 {
		t.Errorf("unknown group: affected %d", n)
	}

	a.unchanged(func() {
		if n := a.affectedBy(path, map[string]any{"oldName": "gold", "newName": "gold"}); n != 0 {
			t.Errorf("same name: affected %d", n)
		}
	})
	refusals := []struct {
		oldName, newName, msg string
	}{
		{"", "x", "Something went wrong (old group name is required)"},
		{"gold", " ", "Something went wrong (new group name is required)"},
		{"gold", "empty", "Something went wrong (group already exists: empty)"},
		{"gold", "a\\b", "Something went wrong (group name contains an invalid character: a\\b)"},
	}
	for _, r := range refusals {
		a.unchanged(func() {
			body := map[string]any{"oldName": r.oldName, "newName": r.newName}
			a.refused("POST", path, body, r.msg)
		})
	}
}

func TestGroups_Delete(t *testing.T) {
	a := groupFixture(t)
	const path = "/panel/api/clients/groups/delete"

	if n := a.affectedBy(path, map[string]any{"name": "vip"}); n != 2 {
		t.Errorf("affected %d, want 2", n)
	}
	for _, email := range []string{"alice", "bob"} {
		if c := a.mustClient(email); c.Group != "" {
			t.Errorf("%s keeps label %q", email, c.Group)
		}
	}
	if n := a.affectedBy(path, map[string]any{"name": "empty"}); n != 0 {
		t.Errorf("empty group: affected %d", n)
	}
	want := []groupSummary{{Name: "Team", ClientCount: 1}}
	if got := a.groups(); !slices.Equal(got, want) {
		t.Errorf("groups %+v, want %+v", got, want)
	}

	a.unchanged(func() {
		if n := a.affectedBy(path, map[string]any{"name": "nope"}); n != 0 {
			t.Errorf("unknown group: affected %d", n)
		}
		a.refused("POST", path, map[string]any{"name": " "},
			"Something went wrong (group name is required)")
	})
}

func TestGroups_BulkAddRemove(t *testing.T) {
	a := groupFixture(t)
	add, remove := "/panel/api/clients/groups/bulkAdd", "/panel/api/clients/groups/bulkRemove"
	members := map[string]any{
		"emails": []string{"carol", "dave", "ghost", "DAVE"}, "group": " new "}

	if n := a.affectedBy(add, members); n != 2 {
		t.Errorf("first add: affected %d, want 2", n)
	}
	a.unchanged(func() {
		if n := a.affectedBy(add, members); n != 0 {
			t.Errorf("second add: affected %d, want 0", n)
		}
	})
	if got := a.groupEmails("new"); !slices.Equal(got, []string{"carol", "dave"}) {
		t.Errorf("new emails %v", got)
	}

	if n := a.affectedBy(remove, map[string]any{"emails": []string{"carol", "ghost"}}); n != 1 {
		t.Errorf("first remove: affected %d, want 1", n)
	}
	a.unchanged(func() {
		if n := a.affectedBy(remove, map[string]any{"emails": []string{"carol"}}); n != 0 {
			t.Errorf("second remove: affected %d, want 0", n)
		}
	})
	a.affectedBy(remove, map[string]any{"emails": []string{"dave"}})
	if g := a.group("new"); g.Name != "new" || g.ClientCount != 0 {
		t.Errorf("bulkAdd made no stored group: %+v", g)
	}

	a.unchanged(func() {
		if n := a.affectedBy(add, map[string]any{"emails": []string{}, "group": "x"}); n != 0 {
			t.Errorf("no emails: affected %d", n)
		}
		a.refused("POST", add, map[string]any{"emails": []string{"dave"}, "group": " "},
			"Something went wrong (group name is required)")
		a.refused("POST", add, map[string]any{"emails": []string{"dave"}, "group": "a/b"},
			"Something went wrong (group name contains an invalid character: a/b)")
	})
	a.refusedBadBody(add, `{"emails":"dave","group":"x"}`)
	a.refusedBadBody(remove, `[]`)
}

// TestGroups_TrafficBaseline follows a group's traffic through a reset,
// more usage, and the deletion and reset of a member: the total counts
// from the reset and does not jump when a member's usage goes away.
func TestGroups_TrafficBaseline(t *testing.T) {
	a := groupFixture(t)
	a.setUsage("alice", 100, 200, true)
	a.setUsage("bob", 10, 20, true)
	const reset = "/panel/api/clients/groups/resetTraffic"

	env := a.ok("POST", reset, map[string]any{"name": "vip"}, nil)
	if string(env.Obj) != `{"name":"vip"}` {
		t.Errorf("obj %s", env.Obj)
	}
	wantGroup(t, a, groupSummary{Name: "vip", ClientCount: 2})

	a.setUsage("bob", 40, 50, true)
	wantGroup(t, a, groupSummary{Name: "vip", ClientCount: 2, Up: 30, Down: 30, TrafficUsed: 60})

	a.bulk("/panel/api/clients/bulkDel", map[string]any{"emails": []string{"alice"}})
	wantGroup(t, a, groupSummary{Name: "vip", ClientCount: 1, Up: 30, Down: 30, TrafficUsed: 60})

	a.ok("POST", "/panel/api/clients/resetTraffic/bob", nil, nil)
	wantGroup(t, a, groupSummary{Name: "vip", ClientCount: 1})

	a.ok("POST", reset, map[string]any{"name": "Team"}, nil) // a label gets a stored row
	a.setUsage("carol", 1, 2, true)
	wantGroup(t, a, groupSummary{Name: "Team", ClientCount: 1, Up: 1, Down: 2, TrafficUsed: 3})

	a.unchanged(func() {
		a.refused("POST", reset, map[string]any{"name": ""},
			"Something went wrong (group name is required)")
	})
}

func wantGroup(t *testing.T, a *api, want groupSummary) {
	t.Helper()
	if got := a.group(want.Name); got != want {
		t.Errorf("group %+v, want %+v", got, want)
	}
}
