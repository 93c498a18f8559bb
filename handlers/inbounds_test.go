package handlers_test

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/xpanel/xpanel/kv"
)

// inboundView is an inbound as the inbound routes answer it. Settings,
// streamSettings and sniffing must arrive as objects to decode.
type inboundView struct {
	ID       int64  `json:"id"`
	Remark   string `json:"remark"`
	Enable   bool   `json:"enable"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	Tag      string `json:"tag"`
	Up       int64  `json:"up"`
	Down     int64  `json:"down"`
	Settings struct {
		Clients    []map[string]any `json:"clients"`
		Method     string           `json:"method"`
		Password   string           `json:"password"`
		Decryption string           `json:"decryption"`
	} `json:"settings"`
	StreamSettings map[string]any `json:"streamSettings"`
	Sniffing       map[string]any `json:"sniffing"`
	ClientStats    []struct {
		Email     string `json:"email"`
		InboundID int64  `json:"inboundId"`
		Up        int64  `json:"up"`
		Down      int64  `json:"down"`
		Total     int64  `json:"total"`
		Enable    bool   `json:"enable"`
	} `json:"clientStats"`
}

// entry returns the settings.clients entry of email, or nil.
func (v inboundView) entry(email string) map[string]any {
	for _, e := range v.Settings.Clients {
		if e["email"] == email {
			return e
		}
	}
	return nil
}

// entryEmails lists the emails of the settings.clients entries.
func (v inboundView) entryEmails() []string {
	var out []string
	for _, e := range v.Settings.Clients {
		out = append(out, e["email"].(string))
	}
	return out
}

// getInbound reads one inbound through GET get/{id}.
func (a *api) getInbound(id int64) inboundView {
	a.t.Helper()
	var out inboundView
	a.ok("GET", "/panel/api/inbounds/get/"+itoa(id), nil, &out)
	return out
}

// addInbound adds an inbound and returns the answer.
func (a *api) addInbound(body map[string]any) inboundView {
	a.t.Helper()
	var out inboundView
	env := a.ok("POST", "/panel/api/inbounds/add", body, &out)
	if env.Msg != "Inbound has been created." || out.ID <= 0 {
		a.t.Fatalf("add answered %q with id %d", env.Msg, out.ID)
	}
	return out
}

// vlessBody is the body of a VLESS inbound on port with a stream.
func vlessBody(port int, stream map[string]any) map[string]any {
	return map[string]any{
		"remark": "v", "enable": true, "port": port, "protocol": "vless",
		"settings": map[string]any{"decryption": "none"}, "streamSettings": stream,
	}
}

func TestInbounds_AddShapes(t *testing.T) {
	a := newAPI(t)
	cases := []struct {
		name    string
		body    map[string]any
		tag     string
		network string
		sniff   map[string]any
	}{
		{name: "objects", body: vlessBody(25000, map[string]any{"network": "tcp"}),
			tag: "in-25000-tcp", network: "tcp", sniff: map[string]any{}},
		{name: "JSON strings", body: map[string]any{
			"remark": "s", "port": 25001, "protocol": "vless",
			"settings":       `{"decryption":"none"}`,
			"streamSettings": `{"network":"ws","wsSettings":{"path":"/x"}}`,
			"sniffing":       `{"enabled":true}`,
		}, tag: "in-25001-ws", network: "ws", sniff: map[string]any{"enabled": true}},
		{name: "no stream settings", body: map[string]any{"port": 25002, "protocol": "vmess"},
			tag: "in-25002-tcp", sniff: map[string]any{}},
		{name: "tag kept", body: map[string]any{
			"port": 25003, "protocol": "trojan", "tag": "my-trojan", "sniffing": nil},
			tag: "my-trojan", sniff: map[string]any{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			added := a.addInbound(tc.body)
			if added.Tag != tc.tag || !added.Enable || added.Settings.Clients == nil {
				t.Errorf("added %+v, want tag %s, enabled, clients []", added, tc.tag)
			}
			got := a.getInbound(added.ID)
			if got.Tag != tc.tag || got.StreamSettings["network"] != orNil(tc.network) {
				t.Errorf("stored %+v", got)
			}
			if !jsonEqual(got.Sniffing, tc.sniff) {
				t.Errorf("sniffing %v, want %v", got.Sniffing, tc.sniff)
			}
		})
	}

	ws := a.getInbound(2).StreamSettings["wsSettings"].(map[string]any)
	if ws["path"] != "/x" {
		t.Errorf("wsSettings %v: the string settings were not kept", ws)
	}
	if v := a.getInbound(1); v.Settings.Decryption != "none" {
		t.Errorf("decryption %q", v.Settings.Decryption)
	}
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func jsonEqual(x, y any) bool {
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return string(bx) == string(by)
}

func TestInbounds_AddRefused(t *testing.T) {
	a := newAPI(t)
	a.vlessInbound(25100)
	a.addClient(map[string]any{"email": "old", "subId": "oldsub"}, 1)
	ss := func(method, password string) map[string]any {
		return map[string]any{"port": 25101, "protocol": "shadowsocks",
			"settings": map[string]any{"method": method, "password": password}}
	}
	withClients := func(clients any) map[string]any {
		return map[string]any{"port": 25102, "protocol": "vless",
			"settings": map[string]any{"clients": clients}}
	}

	cases := []struct {
		name string
		body any
		msg  string
	}{
		{"unsupported protocol", map[string]any{"port": 25101, "protocol": "http"},
			`inbound protocol "http" is not supported; use vless, vmess, trojan or shadowsocks`},
		{"no protocol", map[string]any{"port": 25101}, "inbound protocol is required"},
		{"port zero", map[string]any{"port": 0, "protocol": "vless"},
			"inbound port must be between 1 and 65535, got: 0"},
		{"port too high", map[string]any{"port": 65536, "protocol": "vless"},
			"inbound port must be between 1 and 65535, got: 65536"},
		{"port in use", vlessBody(25100, nil), "port 25100 is already in use by inbound 1"},
		{"tag in use", map[string]any{"port": 25101, "protocol": "vless", "tag": "in-25100-tcp"},
			"tag already in use"},
		{"listen not an address",
			map[string]any{"port": 25101, "protocol": "vless", "listen": "x"},
			"inbound listen must be empty or an IP address, got: x"},
		{"settings an array",
			map[string]any{"port": 25101, "protocol": "vless", "settings": "[1]"},
			"settings must be a JSON object"},
		{"stream not JSON", map[string]any{"port": 25101, "protocol": "vless",
			"streamSettings": "not json"}, "streamSettings must be a JSON object"},
		{"unknown network", vlessBody(25101, map[string]any{"network": "quic"}),
			`streamSettings.network "quic" is not supported`},
		{"unknown security", vlessBody(25101, map[string]any{"security": "xtls"}),
			`streamSettings.security "xtls" is not supported`},
		{"unknown cipher", ss("rc4-md5", ""), `shadowsocks method "rc4-md5" is not supported`},
		{"short server key", ss("2022-blake3-aes-128-gcm", "c2hvcnQ="),
			"shadowsocks password must be a base64 key of 16 bytes for 2022-blake3-aes-128-gcm"},
		{"client without email", withClients([]any{map[string]any{"email": " "}}),
			"client email is required"},
		{"client email taken", withClients([]any{
			map[string]any{"email": "new"}, map[string]any{"email": "old"}}),
			"client old: email already in use: old"},
		{"client case variant", withClients([]any{map[string]any{"email": "OLD"}}),
			"client OLD: Duplicate email: OLD"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.unchanged(func() {
				msg := "Something went wrong (" + tc.msg + ")"
				a.refused("POST", "/panel/api/inbounds/add", tc.body, msg)
			})
		})
	}
	a.refusedBadBody("/panel/api/inbounds/add", withClients(5))
	a.refusedBadBody("/panel/api/inbounds/add", `{"port":"80"}`)
	a.refusedBadBody("/panel/api/inbounds/add", "")

	t.Run("disabled inbounds share a port", func(t *testing.T) {
		body := vlessBody(25100, nil)
		body["enable"], body["tag"] = false, "off-25100"
		if got := a.addInbound(body); got.Enable {
			t.Errorf("added enabled: %+v", got)
		}
	})
}

func TestInbounds_Protocols(t *testing.T) {
	a := newAPI(t)
	user := func(email string) map[string]any {
		return map[string]any{"clients": []any{map[string]any{"email": email}}}
	}
	withMethod := func(settings map[string]any, method string) map[string]any {
		settings["method"] = method
		return settings
	}
	ids := map[string]int64{
		"vless":  a.protocolInbound("vless", 25200, user("vl")),
		"vmess":  a.protocolInbound("vmess", 25201, user("vm")),
		"trojan": a.protocolInbound("trojan", 25202, user("tr")),
		"legacy": a.protocolInbound("shadowsocks", 25203,
			withMethod(user("ss"), "aes-256-gcm")),
		"2022": a.protocolInbound("shadowsocks", 25204,
			withMethod(user("s22"), "2022-blake3-aes-256-gcm")),
	}

	vl := a.getInbound(ids["vless"]).entry("vl")
	if _, err := uuid.Parse(str(vl["id"])); err != nil || vl["password"] != nil {
		t.Errorf("vless entry %v: want a UUID and no password", vl)
	}
	vm := a.getInbound(ids["vmess"]).entry("vm")
	if _, ok := vm["security"]; !ok || vm["id"] != a.mustClient("vm").UUID {
		t.Errorf("vmess entry %v: want the record's UUID and a security key", vm)
	}
	tr := a.getInbound(ids["trojan"]).entry("tr")
	if len(str(tr["password"])) != 32 || tr["id"] != nil {
		t.Errorf("trojan entry %v: want a 32-character password and no id", tr)
	}
	ss := a.getInbound(ids["legacy"]).entry("ss")
	if ss["method"] != "aes-256-gcm" || str(ss["password"]) == "" {
		t.Errorf("legacy shadowsocks entry %v: want the method and a password", ss)
	}

	v2022 := a.getInbound(ids["2022"])
	s22 := v2022.entry("s22")
	if !isKey(str(s22["password"]), 32) || s22["method"] != nil {
		t.Errorf("2022 entry %v: want a 32-byte key and no method", s22)
	}
	if !isKey(v2022.Settings.Password, 32) {
		t.Errorf("2022 server password %q is not a generated 32-byte key", v2022.Settings.Password)
	}

	for proto, id := range ids {
		v := a.getInbound(id)
		if len(v.ClientStats) != 1 || v.ClientStats[0].InboundID != id {
			t.Errorf("%s: clientStats %+v", proto, v.ClientStats)
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func isKey(s string, n int) bool {
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && len(b) == n
}

// TestInbounds_ListRendersRecords shows that an inbound's clients are
// rendered from the client records at every read, not kept in it.
func TestInbounds_ListRendersRecords(t *testing.T) {
	a := newAPI(t)
	if env := a.ok("GET", "/panel/api/inbounds/list", nil, nil); string(env.Obj) != "[]" {
		t.Errorf("empty list: obj %s", env.Obj)
	}
	in1, in2 := a.vlessInbound(25300), a.vlessInbound(25301)
	a.addClient(map[string]any{"email": "alice", "totalGB": gib}, in1, in2)
	a.addClient(map[string]any{"email": "bob"}, in1)
	a.setUsage("alice", 5, 6, true)
	a.bulk("/panel/api/clients/bulkAdjust", map[string]any{
		"emails": []string{"alice"}, "addBytes": gib})

	var list []inboundView
	a.as(readOnlyToken).ok("GET", "/panel/api/inbounds/list", nil, &list)
	if len(list) != 2 || list[0].ID != in1 || list[1].ID != in2 {
		t.Fatalf("list %+v", list)
	}
	first := list[0]
	if got := first.entryEmails(); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("entries %v", got)
	}
	if total := first.entry("alice")["totalGB"]; total != float64(2*gib) {
		t.Errorf("alice totalGB %v, want the adjusted %d", total, 2*gib)
	}
	stats := first.ClientStats
	if len(stats) != 2 || stats[0].Email != "alice" || stats[0].Up != 5 || stats[0].Down != 6 ||
		stats[0].Total != 2*gib {
		t.Errorf("clientStats %+v", stats)
	}
	if !jsonEqual(a.getInbound(in1), first) {
		t.Errorf("get/%d differs from its list entry", in1)
	}

	a.store.View(func(v *kv.View) error {
		if strings.Contains(string(v.Inbound(in1).Settings), "clients") {
			t.Errorf("stored settings carry clients: %s", v.Inbound(in1).Settings)
		}
		return nil
	})
}

func TestInbounds_UpdateSyncsClients(t *testing.T) {
	a := newAPI(t)
	other := a.vlessInbound(25400)
	added := a.addInbound(map[string]any{
		"remark": "team", "port": 25401, "protocol": "vless",
		"settings": map[string]any{"clients": []any{
			map[string]any{"email": "alice"}, map[string]any{"email": "bob", "totalGB": 7}}},
	})
	a.ok("POST", "/panel/api/clients/bob/attach",
		map[string]any{"inboundIds": []int64{other}}, nil)
	a.setUsage("bob", 1, 2, true)
	path := "/panel/api/inbounds/update/" + itoa(added.ID)

	alice := a.getInbound(added.ID).entry("alice")
	alice["totalGB"] = 9
	var got inboundView
	env := a.ok("POST", path, map[string]any{
		"remark": "renamed", "port": 25401, "protocol": "vless", "tag": added.Tag,
		"settings": map[string]any{"clients": []any{alice, map[string]any{"email": "carol"}}},
	}, &got)
	if env.Msg != "Inbound has been updated." || got.ID != added.ID || got.Remark != "renamed" {
		t.Errorf("answer %q %+v", env.Msg, got)
	}
	if emails := got.entryEmails(); !slices.Equal(emails, []string{"alice", "carol"}) {
		t.Errorf("members %v, want alice and carol", emails)
	}
	if c := a.mustClient("alice"); c.TotalGB != 9 || c.UUID != alice["id"] {
		t.Errorf("alice %+v, want totalGB 9 and her UUID kept", c)
	}
	bob, row := a.stored("bob")
	if bob == nil || row == nil || !slices.Equal(bob.InboundIDs(), []int64{other}) || row.Up != 1 {
		t.Errorf("bob %+v usage %+v: want detached only from the updated inbound", bob, row)
	}

	t.Run("no clients key keeps members", func(t *testing.T) {
		var got inboundView
		body := map[string]any{"port": 25401, "protocol": "vless", "tag": added.Tag}
		a.ok("POST", path, body, &got)
		if emails := got.entryEmails(); !slices.Equal(emails, []string{"alice", "carol"}) {
			t.Errorf("members %v", emails)
		}
	})
	t.Run("bad entry changes nothing", func(t *testing.T) {
		a.unchanged(func() {
			clients := []any{map[string]any{"email": "a/b"}}
			body := map[string]any{"remark": "x", "port": 25401, "protocol": "vless",
				"settings": map[string]any{"clients": clients}}
			a.refused("POST", path, body,
				"Something went wrong (client email contains an invalid character: a/b)")
		})
	})
	t.Run("port of another inbound", func(t *testing.T) {
		a.unchanged(func() {
			a.refused("POST", path, map[string]any{"port": 25400, "protocol": "vless"},
				"Something went wrong (port 25400 is already in use by inbound "+itoa(other)+")")
		})
	})
	t.Run("empty clients detaches all", func(t *testing.T) {
		var got inboundView
		a.ok("POST", path, map[string]any{"port": 25401, "protocol": "vless",
			"settings": map[string]any{"clients": []any{}}}, &got)
		if len(got.Settings.Clients) != 0 || len(got.ClientStats) != 0 {
			t.Errorf("members left: %+v", got.Settings.Clients)
		}
		for _, email := range []string{"alice", "carol"} {
			if c, row := a.stored(email); c == nil || row == nil {
				t.Errorf("%s was deleted, not detached", email)
			}
		}
	})
}

func TestInbounds_UpdateReflows(t *testing.T) {
	a := newAPI(t)
	reality := a.realityInbound(25500)
	plain := a.vlessInbound(25501)
	a.addClient(map[string]any{"email": "alice", "flow": "xtls-rprx-vision"}, plain, reality)
	wantFlows(t, a.mustClient("alice"), map[int64]string{plain: "", reality: "xtls-rprx-vision"})
	path := "/panel/api/inbounds/update/" + itoa(plain)

	var tls inboundView
	a.ok("POST", path, vlessBody(25501, map[string]any{"network": "tcp", "security": "tls"}), &tls)
	wantFlows(t, a.mustClient("alice"), map[int64]string{
		plain: "xtls-rprx-vision", reality: "xtls-rprx-vision"})
	if flow := tls.entry("alice")["flow"]; flow != "xtls-rprx-vision" {
		t.Errorf("entry flow %v after the switch to TLS", flow)
	}

	var ws inboundView // a fresh target: decoding reuses the maps of an old one
	a.ok("POST", path, vlessBody(25501, map[string]any{"network": "ws", "security": "tls"}), &ws)
	wantFlows(t, a.mustClient("alice"), map[int64]string{plain: "", reality: "xtls-rprx-vision"})
	if _, ok := ws.entry("alice")["flow"]; ok {
		t.Errorf("entry %v keeps a flow over WebSocket", ws.entry("alice"))
	}
}

func TestInbounds_UpdateShadowsocksMethod(t *testing.T) {
	body := func(method string) map[string]any {
		return map[string]any{"port": 25600, "protocol": "shadowsocks",
			"settings": map[string]any{"method": method}}
	}

	t.Run("member keys follow the method", func(t *testing.T) {
		a := newAPI(t)
		id := a.protocolInbound("shadowsocks", 25600, map[string]any{"method": "aes-128-gcm"})
		a.addClient(map[string]any{"email": "sam"}, id)
		a.ok("POST", "/panel/api/inbounds/update/"+itoa(id), body("2022-blake3-aes-128-gcm"), nil)
		if pw := a.mustClient("sam").Password; !isKey(pw, 16) {
			t.Errorf("password %q is not a 16-byte key", pw)
		}
	})

	t.Run("a password shared with trojan is kept", func(t *testing.T) {
		a := newAPI(t)
		id := a.protocolInbound("shadowsocks", 25600, map[string]any{"method": "aes-128-gcm"})
		trojan := a.protocolInbound("trojan", 25601, nil)
		a.addClient(map[string]any{"email": "tina"}, id, trojan)
		a.unchanged(func() {
			path := "/panel/api/inbounds/update/" + itoa(id)
			a.refused("POST", path, body("2022-blake3-aes-128-gcm"),
				"Something went wrong (client tina password is not a base64 key of 16 bytes,"+
					" which Shadowsocks 2022 needs)")
		})
	})
}

func TestInbounds_Delete(t *testing.T) {
	a := newAPI(t)
	in1, in2 := a.vlessInbound(25700), a.vlessInbound(25701)
	a.addClient(map[string]any{"email": "alice"}, in1, in2)
	a.addClient(map[string]any{"email": "bob"}, in1)
	a.setUsage("bob", 3, 4, true)

	env := a.ok("POST", "/panel/api/inbounds/del/"+itoa(in1), nil, nil)
	if env.Msg != "Inbound has been deleted." || string(env.Obj) != "null" {
		t.Errorf("answer %+v", env)
	}
	a.unchanged(func() {
		a.refused("GET", "/panel/api/inbounds/get/"+itoa(in1), nil, "Obtain (record not found)")
	})
	if ids := a.mustClient("alice").InboundIDs(); !slices.Equal(ids, []int64{in2}) {
		t.Errorf("alice on %v", ids)
	}
	bob, row := a.stored("bob")
	if bob == nil || len(bob.Inbounds) != 0 || row == nil || row.Up != 3 {
		t.Errorf("bob %+v usage %+v: want kept, detached, usage kept", bob, row)
	}
	a.vlessInbound(25700) // the port and tag are free again
}

func TestInbounds_SetEnable(t *testing.T) {
	a := newAPI(t)
	first := a.vlessInbound(25800)
	path := "/panel/api/inbounds/setEnable/" + itoa(first)

	env := a.ok("POST", path, map[string]any{"enable": false}, nil)
	if env.Msg != "Inbound has been updated." || a.getInbound(first).Enable {
		t.Errorf("disable: %+v", env)
	}
	body := vlessBody(25800, nil)
	body["tag"] = "second"
	second := a.addInbound(body)

	a.unchanged(func() {
		a.refused("POST", path, map[string]any{"enable": true},
			"Something went wrong (port 25800 is already in use by inbound "+itoa(second.ID)+")")
		a.refused("POST", path, map[string]any{}, "Something went wrong (enable is required)")
		a.ok("POST", path, map[string]any{"enable": false}, nil)
	})
	a.refusedBadBody(path, `{"enable":"yes"}`)
}

func TestInbounds_BadIDs(t *testing.T) {
	a := newAPI(t)
	a.vlessInbound(25900)
	const notPositive = "inbound id must be a positive integer"
	valid := vlessBody(25901, nil)
	cases := []struct {
		method, route string
		body          any
		msg           string
	}{
		{"GET", "get/abc", nil, "Obtain (" + notPositive + ")"},
		{"GET", "get/0", nil, "Obtain (" + notPositive + ")"},
		{"GET", "get/-1", nil, "Obtain (" + notPositive + ")"},
		{"GET", "get/99", nil, "Obtain (record not found)"},
		{"POST", "update/abc", valid, "Something went wrong (" + notPositive + ")"},
		{"POST", "update/1.5", valid, "Something went wrong (" + notPositive + ")"},
		{"POST", "update/99", valid, "Something went wrong (inbound 99 not found)"},
		{"POST", "del/abc", nil, "Something went wrong (" + notPositive + ")"},
		{"POST", "del/99", nil, "Something went wrong (inbound 99 not found)"},
		{"POST", "setEnable/0", map[string]any{"enable": true},
			"Something went wrong (" + notPositive + ")"},
		{"POST", "setEnable/99", map[string]any{"enable": true},
			"Something went wrong (inbound 99 not found)"},
	}
	for _, tc := range cases {
		a.unchanged(func() {
			a.refused(tc.method, "/panel/api/inbounds/"+tc.route, tc.body, tc.msg)
		})
	}
	a.refusedBadBody("/panel/api/inbounds/update/1", `{"port":[]}`)
}
