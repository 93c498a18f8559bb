package handlers_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
)

// fuzzRoutes are the routes FuzzBodies posts to; the fuzzer picks one by
// index.
var fuzzRoutes = []string{
	"/panel/api/clients/add",
	"/panel/api/clients/update/alice",
	"/panel/api/clients/bulkCreate",
	"/panel/api/clients/import",
	"/panel/api/clients/alice/externalLinks",
	"/panel/api/inbounds/add",
}

// fuzzBodySeeds are bodies for each route of fuzzRoutes: valid ones, so
// that mutations explore near them, and the usual ways to be wrong.
var fuzzBodySeeds = [][]string{
	{
		`{"client":{"email":"bob"},"inboundIds":[1]}`,
		`{"client":{"email":"carl","subId":"s-c","totalGB":5,"enable":false,"flow":"xtls-rprx-vision",` +
			`"reverse":{"tag":"r"},"limitHwid":-1,"created_at":5},"inboundIds":[1,2,3,1]}`,
		`{"client":{"email":"dee","password":"AAAAAAAAAAAAAAAAAAAAAA=="},"inboundIds":[3]}`,
		`{"client":{"email":"alice","subId":"sub-alice"},"inboundIds":[2]}`,
		`{"client":{"email":"ALICE"},"inboundIds":[1]}`,
		`{"client":{"email":"e/f"},"inboundIds":[1]}`,
		`{"client":{"email":"x","id":"not-a-uuid"},"inboundIds":[9]}`,
		`{"client":{"email":5}}`, `{"client":null}`, `null`, `[]`, ``, `{`,
	},
	{
		`{"totalGB":9,"enable":false}`, `{"email":"alice2"}`, `{"email":"Alice"}`,
		`{"subId":"","id":"","password":""}`, `{"reverse":{"tag":""},"limitHwid":-4}`,
		`{"email":""}`, `{"resetDay":99}`, `{"trafficReset":"yearly"}`, `{"enable":"no"}`, `{}`,
	},
	{
		`[{"client":{"email":"b1"},"inboundIds":[1]},{"client":{"email":"B1"},"inboundIds":[1]}]`,
		`[{"client":{"email":"b2","subId":"s"},"inboundIds":[2]},` +
			`{"client":{"email":"b3","subId":"s"},"inboundIds":[2]}]`,
		`[{"client":{},"inboundIds":[1]},{"client":{"email":"b4"}}]`, `[]`, `{}`, `[null]`,
	},
	{
		`{"data":"[{\"client\":{\"email\":\"i1\"},\"inboundIds\":[1]},{\"client\":{\"email\":\"i2\"}}]"}`,
		`{"data":"[{\"client\":{\"email\":\"alice\"}}]"}`, `{"data":"x"}`, `{"data":""}`,
		`{"data":"null"}`, `{"data":5}`,
	},
	{
		`{"externalLinks":[{"kind":"link","value":"vless://a@b:1","remark":" r "},` +
			`{"kind":"subscription","value":"https://h/s","enable":false,"expiryTime":1}]}`,
		`{"externalLinks":[{"value":"  "}]}`, `{"externalLinks":[{"kind":"x","value":"y"}]}`,
		`{"externalLinks":[{"value":"ss://x","expiryTime":-1}]}`, `{"externalLinks":null}`,
	},
	{
		`{"remark":"r","port":4101,"protocol":"vless","settings":{"decryption":"none",` +
			`"clients":[{"email":"alice"},{"email":"newbie"}]},"streamSettings":{"network":"tcp"}}`,
		`{"port":4102,"protocol":"shadowsocks","settings":"{\"method\":\"2022-blake3-aes-256-gcm\"}"}`,
		`{"port":4103,"protocol":"trojan","settings":{"clients":[{"email":"a b"}]}}`,
		`{"port":4104,"protocol":"vmess","settings":"[1]"}`, `{"port":0,"protocol":"vless"}`,
		`{"port":4001,"protocol":"vless"}`, `{"port":4105,"protocol":"wireguard"}`,
		`{"port":4106,"protocol":"vless","settings":{"clients":{}}}`,
		`{"port":4107,"protocol":"vless","streamSettings":{"network":"quic"}}`,
	},
}

// FuzzBodies posts arbitrary bodies to the routes that decode client and
// inbound JSON. Whatever the body, the answer is the envelope and never
// a 5xx, a refusal changes nothing, the store stays consistent, and
// whatever was stored can be listed again.
func FuzzBodies(f *testing.F) {
	a := newAPI(f)
	a.vlessInbound(4001)
	a.protocolInbound("trojan", 4002, map[string]any{})
	a.protocolInbound("shadowsocks", 4003, map[string]any{"method": "2022-blake3-aes-128-gcm"})
	a.addClient(map[string]any{"email": "alice", "subId": "sub-alice"}, 1)
	for route, bodies := range fuzzBodySeeds {
		for _, body := range bodies {
			f.Add(uint8(route), []byte(body))
		}
	}

	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		a := a.with(t)
		path := fuzzRoutes[int(route)%len(fuzzRoutes)]
		before := a.snapshot()
		status, out := a.raw("POST", path, body)
		if len(body) > maxBody && status == http.StatusRequestEntityTooLarge {
			status = http.StatusOK
		}
		env := checkEnvelope(t, status, out)
		if !env.Success && a.snapshot() != before {
			t.Fatalf("refused %s changed the store: %s", path, env.Msg)
		}
		if err := a.store.Check(); err != nil {
			t.Fatalf("store check after %s %q: %v", path, body, err)
		}
		a.ok("GET", "/panel/api/clients/list", nil, nil)
		a.ok("GET", "/panel/api/inbounds/list", nil, nil)
	})
}

// checkEnvelope fails the test unless the answer is status 200 with an
// envelope of exactly success, msg and obj, and a failure says why.
func checkEnvelope(t *testing.T, status int, body []byte) envelope {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || len(fields) != 3 {
		t.Fatalf("answer is not the envelope: %v: %s", err, body)
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("envelope fields have the wrong types: %v: %s", err, body)
	}
	if _, ok := fields["obj"]; !ok || string(fields["success"]) != "true" &&
		string(fields["success"]) != "false" {
		t.Fatalf("envelope lacks a field: %s", body)
	}
	if !env.Success && (env.Msg == "" || string(env.Obj) != "null") {
		t.Fatalf("failure without a reason or with an obj: %s", body)
	}
	return env
}

// FuzzPagedQuery sends arbitrary query strings to the paged list: the
// answer is always the envelope with a page that obeys its bounds, or a
// refusal of a number that does not parse.
func FuzzPagedQuery(f *testing.F) {
	a := newAPI(f)
	one := a.vlessInbound(4201)
	two := a.protocolInbound("trojan", 4202, map[string]any{})
	a.addClient(map[string]any{"email": "a", "group": "G", "comment": "c", "tgId": 5}, one)
	a.addClient(map[string]any{"email": "b", "enable": false, "totalGB": 10, "reset": 2}, two)
	a.addClient(map[string]any{"email": "c", "expiryTime": 1}, one, two)
	a.setUsage("b", 20, 0, false)
	for _, seed := range []string{
		"", "page=2&pageSize=1", "filter=active,online,deactive", "filter=expiring,bogus",
		"search=%25", "search=%00", "search=%ff%fe", "sort=traffic&order=descend",
		"sort=remaining", "sort=lastOnline&order=descend", "page=abc", "pageSize=-1",
		"pageSize=99999999999999999999", "inbound=1,2,x,-3", "protocol=TROJAN,,vless",
		"expiryFrom=1&expiryTo=2", "usageFrom=%zz", "group=%E2%28", "&&&==&=", "page=9223372036854775807",
		"autoRenew=on&hasTgId=no&hasComment=yes", "a=b;c=d", "page=1&page=2", "search=+a+",
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, query string) {
		a := a.with(t)
		before := a.snapshot()
		status, out := a.rawQuery("/panel/api/clients/list/paged", query)
		if status == http.StatusRequestHeaderFieldsTooLarge {
			// The escaped query outgrew the request line's cap.
			if env := checkEnvelope(t, http.StatusOK, out); env.Success {
				t.Fatalf("query of %d bytes: 431 with success", len(query))
			}
			return
		}
		env := checkEnvelope(t, status, out)
		if !env.Success {
			if !strings.HasPrefix(env.Msg, "Obtain (strconv.ParseInt: ") {
				t.Fatalf("query %q refused with %q", query, env.Msg)
			}
			return
		}
		var p pageAnswer
		if err := json.Unmarshal(env.Obj, &p); err != nil {
			t.Fatalf("query %q: page does not decode: %v", query, err)
		}
		checkPage(t, query, p)
		if a.snapshot() != before {
			t.Fatalf("query %q changed the store", query)
		}
	})
}

// checkPage fails the test unless the page obeys its own bounds.
func checkPage(t *testing.T, query string, p pageAnswer) {
	t.Helper()
	s := p.Summary
	switch {
	case p.Page < 1 || p.PageSize < 1 || p.PageSize > 200:
		t.Fatalf("query %q: page %d size %d", query, p.Page, p.PageSize)
	case len(p.Items) > p.PageSize || p.Filtered > p.Total || p.Total != 3:
		t.Fatalf("query %q: %d items, filtered %d of %d", query, len(p.Items), p.Filtered, p.Total)
	case s.Active+s.DepletedCount+s.ExpiringCount+s.DeactiveCount != s.Total:
		t.Fatalf("query %q: summary does not add up: %+v", query, s)
	case p.Items == nil || p.Groups == nil:
		t.Fatalf("query %q: null list", query)
	}
}

// rawQuery sends a GET with query as the raw query string, escaping
// only what cannot travel in a request line, so that the server parses
// every other byte as sent.
func (a *api) rawQuery(path, query string) (int, []byte) {
	a.t.Helper()
	var b strings.Builder
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c <= ' ' || c >= 0x7f || c == '#' {
			b.WriteString("%" + strings.ToUpper(hexByte(c)))
			continue
		}
		b.WriteByte(c)
	}
	req, err := http.NewRequest("GET", a.base+path, nil)
	if err != nil {
		a.t.Fatalf("new request: %v", err)
	}
	req.URL.RawQuery = b.String()
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.http.Do(req)
	if err != nil {
		a.t.Fatalf("GET %s?%s: %v", path, b.String(), err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, out
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}
