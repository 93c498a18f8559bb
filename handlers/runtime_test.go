package handlers_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/xpanel/xpanel/kv"
)

// ipRow is an address as POST ips/{email} answers it.
type ipRow struct {
	IP   string `json:"ip"`
	Time string `json:"time"`
	Node string `json:"node"`
}

func TestClientIPs(t *testing.T) {
	a := newAPI(t)
	ro := a.as(readOnlyToken)
	in := a.vlessInbound(24000)
	a.addClient(map[string]any{"email": "alice"}, in)
	seen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local).Unix()
	a.setIPs("alice", kv.IPEntry{IP: "192.0.2.1", Timestamp: seen}, kv.IPEntry{IP: "2001:db8::1"})

	var got []ipRow
	env := ro.ok("POST", "/panel/api/clients/ips/alice", nil, &got)
	want := []ipRow{{IP: "192.0.2.1", Time: "2026-01-02 03:04:05"}, {IP: "2001:db8::1"}}
	if !slices.Equal(got, want) {
		t.Errorf("ips %+v, want %+v", got, want)
	}
	wantRaw := `{"ip":"2001:db8::1","time":"","node":""}`
	if !strings.Contains(string(env.Obj), wantRaw) {
		t.Errorf("obj %s lacks %s", env.Obj, wantRaw)
	}

	for _, email := range []string{"ALICE", "ghost"} {
		env := ro.ok("POST", "/panel/api/clients/ips/"+email, nil, nil)
		if string(env.Obj) != "[]" {
			t.Errorf("%s: obj %s, want []", email, env.Obj)
		}
	}
}

func TestClearIPs(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(24010)
	a.addClient(map[string]any{"email": "alice"}, in)
	a.addClient(map[string]any{"email": "bob"}, in)
	a.setIPs("alice", kv.IPEntry{IP: "192.0.2.1", Timestamp: 1})
	a.setIPs("bob", kv.IPEntry{IP: "192.0.2.2", Timestamp: 1})

	env := a.ok("POST", "/panel/api/clients/clearIps/alice", nil, nil)
	if env.Msg != "The log has been cleared." || string(env.Obj) != "null" {
		t.Errorf("answer %+v", env)
	}
	if ips := a.ipsOf("alice"); len(ips) != 0 {
		t.Errorf("alice keeps %v", ips)
	}
	if ips := a.ipsOf("bob"); len(ips) != 1 {
		t.Errorf("bob lost his addresses: %v", ips)
	}

	a.unchanged(func() { a.ok("POST", "/panel/api/clients/clearIps/ghost", nil, nil) })
	if ips := a.ipsOf("bob"); len(ips) != 1 {
		t.Errorf("clearing an unknown email touched bob: %v", ips)
	}
}

// TestRuntime_NoCore checks the presence calls of a server that runs no
// proxy core: nobody online and no active inbound.
func TestRuntime_NoCore(t *testing.T) {
	a := newAPI(t)
	ro := a.as(readOnlyToken)
	in := a.vlessInbound(24020)
	a.addClient(map[string]any{"email": "alice"}, in)

	want := map[string]string{
		"onlines": "[]", "onlinesByGuid": "{}", "activeInbounds": "{}", "clientIpsByGuid": "{}",
	}
	for route, obj := range want {
		a.unchanged(func() {
			env := ro.ok("POST", "/panel/api/clients/"+route, nil, nil)
			if string(env.Obj) != obj {
				t.Errorf("%s: obj %s, want %s", route, env.Obj, obj)
			}
		})
	}
}

func TestClientIPsByGUID(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(24030)
	a.addClient(map[string]any{"email": "alice"}, in)
	now := time.Now().Unix()
	a.setIPs("alice",
		kv.IPEntry{IP: "192.0.2.1", Timestamp: now - 60},
		kv.IPEntry{IP: "192.0.2.2", Timestamp: now - 2*3600})
	a.setIPs("bob", kv.IPEntry{IP: "192.0.2.3", Timestamp: now - 3*3600})

	type seen struct {
		IP        string `json:"ip"`
		Timestamp int64  `json:"timestamp"`
	}
	var first, second map[string]map[string][]seen
	a.ok("POST", "/panel/api/clients/clientIpsByGuid", nil, &first)
	a.as(readOnlyToken).ok("POST", "/panel/api/clients/clientIpsByGuid", nil, &second)

	if len(first) != 1 {
		t.Fatalf("answer %v, want one guid", first)
	}
	for guid, byEmail := range first {
		if _, err := uuid.Parse(guid); err != nil {
			t.Errorf("guid %q is not a UUID", guid)
		}
		want := map[string][]seen{"alice": {{"192.0.2.1", now - 60}}}
		if !maps.EqualFunc(byEmail, want, slices.Equal) {
			t.Errorf("addresses %v, want %v", byEmail, want)
		}
		if _, ok := second[guid]; !ok || len(second) != 1 {
			t.Errorf("guid changed between calls: %v then %v", first, second)
		}
	}
}

func TestLastOnline(t *testing.T) {
	a := newAPI(t)
	ro := a.as(readOnlyToken)
	if env := ro.ok("POST", "/panel/api/clients/lastOnline", nil, nil); string(env.Obj) != "{}" {
		t.Errorf("empty store: obj %s", env.Obj)
	}

	in := a.vlessInbound(24040)
	for _, email := range []string{"alice", "bob", "gone"} {
		a.addClient(map[string]any{"email": email}, in)
	}
	const aliceMs = int64(1_767_225_600_123)
	err := a.store.Update(func(tx *kv.Tx) error {
		row := *tx.Traffic("alice")
		row.LastOnline = aliceMs
		return tx.PutTraffic(&row)
	})
	if err != nil {
		t.Fatal(err)
	}
	a.bulk("/panel/api/clients/bulkDel", map[string]any{
		"emails": []string{"gone"}, "keepTraffic": true})

	var got map[string]int64
	ro.ok("POST", "/panel/api/clients/lastOnline", nil, &got)
	want := map[string]int64{"alice": aliceMs, "bob": 0, "gone": 0}
	if !maps.Equal(got, want) {
		t.Errorf("lastOnline %v, want %v", got, want)
	}
}
