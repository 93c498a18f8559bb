package handlers_test

import (
	"slices"
	"testing"
	"time"

	"github.com/xpanel/xpanel/kv"
)

// wantUsage checks the counters and enforcement flag of email's row.
func wantUsage(t *testing.T, a *api, email string, up, down int64, enable bool) {
	t.Helper()
	_, row := a.stored(email)
	if row == nil || row.Up != up || row.Down != down || row.Enable != enable {
		t.Errorf("%s: usage %+v, want up %d down %d enable %v", email, row, up, down, enable)
	}
}

func TestBulkResetTraffic(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(22000)
	for _, email := range []string{"a", "b", "c"} {
		a.addClient(map[string]any{"email": email, "totalGB": 100}, in)
	}
	a.setUsage("a", 60, 50, false) // ran out
	a.bulk("/panel/api/clients/bulkDisable", map[string]any{"emails": []string{"b"}})
	a.setUsage("b", 1, 2, false)
	a.setUsage("c", 3, 4, true)

	var got struct {
		Affected int `json:"affected"`
	}
	a.ok("POST", "/panel/api/clients/bulkResetTraffic", map[string]any{
		"emails": []string{"a", " b ", "a", "ghost", "C", ""}}, &got)
	if got.Affected != 2 {
		t.Errorf("affected %d, want 2", got.Affected)
	}
	wantUsage(t, a, "a", 0, 0, true)
	wantUsage(t, a, "b", 0, 0, true)
	wantUsage(t, a, "c", 3, 4, true)
	wantEnabled(t, a, true, "a", "b")

	a.unchanged(func() {
		a.ok("POST", "/panel/api/clients/bulkResetTraffic", map[string]any{
			"emails": []string{"ghost"}}, &got)
	})
	if got.Affected != 0 {
		t.Errorf("unknown email: affected %d", got.Affected)
	}
	a.refusedBadBody("/panel/api/clients/bulkResetTraffic", `{"emails":{}}`)
}

func TestResetAllTraffics(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(22010)
	a.addClient(map[string]any{"email": "a", "totalGB": 100}, in)
	a.addClient(map[string]any{"email": "b"}, in)
	a.setUsage("a", 70, 70, false)
	a.bulk("/panel/api/clients/bulkDisable", map[string]any{"emails": []string{"b"}})
	a.setUsage("b", 5, 6, false)
	a.bulk("/panel/api/clients/bulkDel", map[string]any{
		"emails": []string{"b"}, "keepTraffic": true})
	a.addClient(map[string]any{"email": "c", "enable": false}, in)
	a.setUsage("c", 7, 8, false)

	env := a.ok("POST", "/panel/api/clients/resetAllTraffics", nil, nil)
	if env.Msg != "Traffic for all clients has been reset." || string(env.Obj) != "null" {
		t.Errorf("answer %+v", env)
	}
	for _, email := range []string{"a", "b", "c"} {
		wantUsage(t, a, email, 0, 0, true)
	}
	wantEnabled(t, a, true, "a")
	if c := a.mustClient("c"); c.Enable {
		t.Errorf("a disabled record was enabled")
	}
}

func TestResetTraffic(t *testing.T) {
	a := newAPI(t)
	in1, in2 := a.vlessInbound(22020), a.vlessInbound(22021)
	a.addClient(map[string]any{"email": "alice", "enable": false}, in1, in2)
	a.setUsage("alice", 10, 20, false)
	a.addClient(map[string]any{"email": "bob"}, in1)
	a.setUsage("bob", 1, 1, true)

	before := time.Now().UnixMilli()
	env := a.ok("POST", "/panel/api/clients/resetTraffic/alice", nil, nil)
	if env.Msg != "Traffic has been reset." {
		t.Errorf("msg %q", env.Msg)
	}
	wantUsage(t, a, "alice", 0, 0, true)
	wantUsage(t, a, "bob", 1, 1, true)
	wantEnabled(t, a, true, "alice")
	a.store.View(func(v *kv.View) error {
		for _, id := range []int64{in1, in2} {
			if got := v.Inbound(id).LastTrafficResetTime; got < before {
				t.Errorf("inbound %d reset time %d, want at least %d", id, got, before)
			}
		}
		return nil
	})

	for _, email := range []string{"ghost", "ALICE", "bob%20"} {
		a.unchanged(func() {
			a.refused("POST", "/panel/api/clients/resetTraffic/"+email, nil,
				"Something went wrong (record not found)")
		})
	}
}

func TestUpdateTraffic(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(22030)
	a.addClient(map[string]any{"email": "alice", "totalGB": 100}, in)
	a.setUsage("alice", 1, 2, false)
	const path = "/panel/api/clients/updateTraffic/"

	env := a.ok("POST", path+"alice", map[string]any{"upload": 10, "download": 20}, nil)
	if env.Msg != "Inbound client has been updated." {
		t.Errorf("msg %q", env.Msg)
	}
	wantUsage(t, a, "alice", 10, 20, false) // set, not added; enable untouched

	a.unchanged(func() {
		a.ok("POST", path+"ghost", map[string]any{"upload": 1, "download": 1}, nil)
	})

	// The mirrored API stores negative counters; this server refuses them.
	for _, body := range []map[string]any{
		{"upload": -1, "download": 5},
		{"upload": 5, "download": -1},
	} {
		a.unchanged(func() {
			a.refused("POST", path+"alice", body,
				"Something went wrong (upload and download must not be negative)")
		})
	}
	a.refusedBadBody(path+"alice", `{"upload":"ten"}`)
	a.refusedBadBody(path+"alice", "")
}

func TestDelDepleted(t *testing.T) {
	now := time.Now().UnixMilli()
	a := newAPI(t)
	in := a.vlessInbound(22040)
	clients := []struct {
		email   string
		fields  map[string]any
		used    int64
		deleted bool
	}{
		{"overQuota", map[string]any{"totalGB": 100}, 100, true},
		{"expired", map[string]any{"expiryTime": now - dayMs}, 0, true},
		{"renews", map[string]any{"expiryTime": now - dayMs, "reset": 30}, 0, false},
		{"renewsMonthly", map[string]any{"totalGB": 100, "resetDay": 5}, 200, false},
		{"delayed", map[string]any{"expiryTime": -dayMs}, 0, false},
		{"healthy", map[string]any{"totalGB": 100, "expiryTime": now + dayMs}, 99, false},
		{"unlimited", map[string]any{}, 1 << 40, false},
	}
	for _, c := range clients {
		c.fields["email"] = c.email
		a.addClient(c.fields, in)
		a.setUsage(c.email, c.used, 0, true)
	}

	var got struct {
		Deleted int `json:"deleted"`
	}
	a.ok("POST", "/panel/api/clients/delDepleted", nil, &got)
	if got.Deleted != 2 {
		t.Errorf("deleted %d, want 2", got.Deleted)
	}
	for _, c := range clients {
		rec, row := a.stored(c.email)
		if (rec == nil) != c.deleted || (row == nil) != c.deleted {
			t.Errorf("%s: record %v usage %v, want deleted %v", c.email, rec, row, c.deleted)
		}
	}

	a.unchanged(func() { a.ok("POST", "/panel/api/clients/delDepleted", nil, &got) })
	if got.Deleted != 0 {
		t.Errorf("second run deleted %d", got.Deleted)
	}
}

func TestDelOrphans(t *testing.T) {
	a := newAPI(t)
	in1, in2 := a.vlessInbound(22050), a.vlessInbound(22051)
	a.addClient(map[string]any{"email": "attached"}, in1)
	a.addClient(map[string]any{"email": "detached"}, in1, in2)
	a.setIPs("detached", kv.IPEntry{IP: "192.0.2.7", Timestamp: 1})
	a.ok("POST", "/panel/api/clients/bulkDetach", map[string]any{
		"emails": []string{"detached"}, "inboundIds": []int64{in1, in2}}, nil)
	a.ok("POST", "/panel/api/inbounds/del/"+itoa(in2), nil, nil)

	var got struct {
		Deleted int `json:"deleted"`
	}
	a.ok("POST", "/panel/api/clients/delOrphans", nil, &got)
	if got.Deleted != 1 {
		t.Errorf("deleted %d, want 1", got.Deleted)
	}
	if c, row := a.stored("detached"); c != nil || row != nil || len(a.ipsOf("detached")) > 0 {
		t.Errorf("orphan left record %v usage %v ips %v", c, row, a.ipsOf("detached"))
	}
	if c, row := a.stored("attached"); c == nil || row == nil {
		t.Errorf("attached client touched")
	}
	if got := memberEmails(a, in1); !slices.Equal(got, []string{"attached"}) {
		t.Errorf("members %v", got)
	}

	a.unchanged(func() { a.ok("POST", "/panel/api/clients/delOrphans", nil, &got) })
	if got.Deleted != 0 {
		t.Errorf("second run deleted %d", got.Deleted)
	}
}
