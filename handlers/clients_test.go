package handlers_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	json "github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/xpanel/xpanel/kv"
)

// Success texts of the client calls.
const (
	textAdded   = "Inbound client(s) have been added."
	textUpdated = "Inbound client has been updated."
	textDeleted = "Inbound client has been deleted."
)

// clientPath is a route under /panel/api/clients with the email escaped
// into it: "get/%s" becomes "get/<escaped email>".
func clientPath(format, email string) string {
	return "/panel/api/clients/" + fmt.Sprintf(format, url.PathEscape(email))
}

// addBody is the body of an add.
func addBody(client map[string]any, inboundIDs ...int64) map[string]any {
	return map[string]any{"client": client, "inboundIds": inboundIDs}
}

// detail is the obj of get, with the lists kept raw so that a test can
// tell [] from null.
type detail struct {
	Client        kv.Client       `json:"client"`
	InboundIDs    json.RawMessage `json:"inboundIds"`
	ExternalLinks json.RawMessage `json:"externalLinks"`
	UsedTraffic   int64           `json:"usedTraffic"`
}

func (a *api) detail(email string) detail {
	a.t.Helper()
	var d detail
	a.ok("GET", clientPath("get/%s", email), nil, &d)
	return d
}

// links decodes the external links of a detail.
func (d detail) links(t *testing.T) []kv.ExternalLink {
	t.Helper()
	var out []kv.ExternalLink
	if err := json.Unmarshal(d.ExternalLinks, &out); err != nil {
		t.Fatalf("decode links: %v", err)
	}
	return out
}

// listRow is a row of the full list.
type listRow struct {
	kv.Client
	InboundIDs []int64          `json:"inboundIds"`
	Traffic    *json.RawMessage `json:"traffic"`
}

// TestClients_List answers every client in id order with its secrets,
// its stored flow, inbound ids (null when none) and usage row (absent
// when none); an empty panel answers [].
func TestClients_List(t *testing.T) {
	a := newAPI(t)
	env := a.get("/panel/api/clients/list")
	if !env.Success || string(env.Obj) != "[]" {
		t.Fatalf("empty list: %+v %s", env, env.Obj)
	}

	plain := a.vlessInbound(1101)
	trojan := a.protocolInbound("trojan", 1102, map[string]any{})
	a.addClient(map[string]any{"email": "zed", "flow": "xtls-rprx-vision"}, plain)
	a.addClient(map[string]any{"email": "amy"}, trojan, plain)
	data, _ := json.Marshal([]any{map[string]any{"client": map[string]any{"email": "bare"}}})
	a.ok("POST", "/panel/api/clients/import", map[string]any{"data": string(data)}, nil)

	var rows []listRow
	a.ok("GET", "/panel/api/clients/list", nil, &rows)
	if len(rows) != 3 || rows[0].Email != "zed" || rows[1].Email != "amy" || rows[2].Email != "bare" {
		t.Fatalf("rows not in id order: %+v", rows)
	}
	if rows[0].Flow != "xtls-rprx-vision" {
		t.Errorf("list shows flow %q, want the stored one", rows[0].Flow)
	}
	if rows[1].UUID == "" || rows[1].Password == "" {
		t.Errorf("list hides secrets: %+v", rows[1].Client)
	}
	if !slices.Equal(rows[1].InboundIDs, []int64{plain, trojan}) {
		t.Errorf("inboundIds %v, want ascending", rows[1].InboundIDs)
	}
	if rows[2].InboundIDs != nil || rows[2].Traffic != nil || rows[0].Traffic == nil {
		t.Errorf("bare row: inboundIds %v traffic %v", rows[2].InboundIDs, rows[2].Traffic)
	}
	if !strings.Contains(string(a.get("/panel/api/clients/list").Obj), `"inboundIds":null`) {
		t.Errorf("unattached inboundIds is not null")
	}
}

// TestClients_Get finds exactly the email, and shows the flow the
// client uses, its inbounds and links as arrays, and its used bytes.
func TestClients_Get(t *testing.T) {
	a := newAPI(t)
	plain := a.vlessInbound(1201)
	reality := a.realityInbound(1202)
	a.addClient(map[string]any{"email": "alice", "flow": "xtls-rprx-vision"}, plain, reality)
	a.setUsage("alice", 100, 23, true)

	d := a.detail("alice")
	if d.Client.Email != "alice" || d.Client.Flow != "xtls-rprx-vision" || d.UsedTraffic != 123 {
		t.Fatalf("detail %+v", d)
	}
	if string(d.InboundIDs) != fmt.Sprintf("[%d,%d]", plain, reality) {
		t.Fatalf("inboundIds %s", d.InboundIDs)
	}
	if string(d.ExternalLinks) != "[]" {
		t.Fatalf("externalLinks %s, want []", d.ExternalLinks)
	}

	// The flow of a client on no flow-carrying inbound is empty; detached
	// from everything, the client shows its own.
	a.ok("POST", clientPath("%s/detach", "alice"), map[string]any{"inboundIds": []int64{reality}}, nil)
	if d := a.detail("alice"); d.Client.Flow != "" {
		t.Fatalf("flow on a plain inbound only: %q", d.Client.Flow)
	}
	a.ok("POST", clientPath("%s/detach", "alice"), map[string]any{"inboundIds": []int64{plain}}, nil)
	d = a.detail("alice")
	if d.Client.Flow != "xtls-rprx-vision" || string(d.InboundIDs) != "[]" {
		t.Fatalf("detached: flow %q inboundIds %s", d.Client.Flow, d.InboundIDs)
	}

	for _, email := range []string{"ALICE", "Alice", "alic", "alice "} {
		env := a.refused("GET", clientPath("get/%s", email), nil, "Obtain (record not found)")
		if string(env.Obj) != "null" {
			t.Errorf("%q: obj %s", email, env.Obj)
		}
	}
}

// TestClients_GetEscapedEmail reaches emails that travel escaped in the
// path: non-Latin letters and URL punctuation.
func TestClients_GetEscapedEmail(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(1251)
	for _, email := range []string{"имя@пример", "a%b", "a?b", "a#b", "a+b", "a;b"} {
		a.addClient(map[string]any{"email": email}, in)
		if d := a.detail(email); d.Client.Email != email {
			t.Errorf("get %q found %q", email, d.Client.Email)
		}
		a.ok("POST", clientPath("update/%s", email), map[string]any{"comment": "x"}, nil)
		a.ok("POST", clientPath("%s/externalLinks", email), map[string]any{"externalLinks": []any{}}, nil)
		a.ok("POST", clientPath("del/%s", email), nil, nil)
	}
}

// TestClients_GetByTgID lists every client with the Telegram id, and
// refuses an id that is not a positive integer.
func TestClients_GetByTgID(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(1301)
	a.addClient(map[string]any{"email": "a", "tgId": 42}, in)
	a.addClient(map[string]any{"email": "b", "tgId": 7}, in)
	a.addClient(map[string]any{"email": "c", "tgId": 42}, in)
	a.setUsage("c", 5, 5, true)

	var got []detail
	a.ok("GET", "/panel/api/clients/get/tgId/42", nil, &got)
	if len(got) != 2 || got[0].Client.Email != "a" || got[1].Client.Email != "c" {
		t.Fatalf("tgId 42: %+v", got)
	}
	if got[1].UsedTraffic != 10 || string(got[1].ExternalLinks) != "[]" {
		t.Fatalf("entry is not the get payload: %+v", got[1])
	}
	env := a.get("/panel/api/clients/get/tgId/99")
	if !env.Success || string(env.Obj) != "[]" {
		t.Fatalf("unknown tgId: %s", env.Obj)
	}

	refusals := map[string]string{
		"abc": `Obtain (strconv.ParseInt: parsing "abc": invalid syntax)`,
		"1.5": `Obtain (strconv.ParseInt: parsing "1.5": invalid syntax)`,
		"99999999999999999999": `Obtain (strconv.ParseInt: parsing "99999999999999999999": ` +
			`value out of range)`,
		"0":   "Obtain (tg_id must be a positive integer)",
		"-42": "Obtain (tg_id must be a positive integer)",
	}
	for id, msg := range refusals {
		a.refused("GET", "/panel/api/clients/get/tgId/"+id, nil, msg)
	}
}

// TestClients_Traffic answers the usage row of exactly the email with
// the client's uuid and subId, or null when there is none.
func TestClients_Traffic(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(1401)
	a.addClient(map[string]any{"email": "alice", "subId": "sub-a", "totalGB": 1000,
		"expiryTime": 99, "reset": 3}, in)
	a.setUsage("alice", 10, 20, true)

	var row map[string]any
	a.ok("GET", clientPath("traffic/%s", "alice"), nil, &row)
	c := a.mustClient("alice")
	want := map[string]any{"email": "alice", "uuid": c.UUID, "subId": "sub-a", "up": 10.0,
		"down": 20.0, "total": 1000.0, "expiryTime": 99.0, "reset": 3.0, "enable": true,
		"inboundId": float64(in)}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("%s = %v, want %v", k, row[k], v)
		}
	}

	for _, email := range []string{"ALICE", "nobody"} {
		env := a.get(clientPath("traffic/%s", email))
		if !env.Success || string(env.Obj) != "null" {
			t.Errorf("%s: %+v %s", email, env, env.Obj)
		}
	}

	// A row kept after its client was deleted is still served.
	a.ok("POST", clientPath("del/%s", "alice")+"?keepTraffic=1", nil, nil)
	row = nil
	a.ok("GET", clientPath("traffic/%s", "alice"), nil, &row)
	if row["up"] != 10.0 || row["uuid"] != nil {
		t.Fatalf("kept row: %v", row)
	}
}

// TestClients_Export lists every client as a wire client with its
// effective flow, limitHwid and snake_case timestamps.
func TestClients_Export(t *testing.T) {
	a := newAPI(t)
	plain := a.vlessInbound(1501)
	reality := a.realityInbound(1502)
	a.addClient(map[string]any{"email": "a", "flow": "xtls-rprx-vision", "limitHwid": 3,
		"created_at": 1234}, reality, plain)
	a.addClient(map[string]any{"email": "b", "flow": "xtls-rprx-vision"}, plain)
	a.ok("POST", clientPath("%s/detach", "b"), map[string]any{"inboundIds": []int64{plain}}, nil)

	var items []struct {
		Client     map[string]any `json:"client"`
		InboundIDs []int64        `json:"inboundIds"`
	}
	env := a.ok("GET", "/panel/api/clients/export", nil, &items)
	if len(items) != 2 || items[0].Client["email"] != "a" || items[1].Client["email"] != "b" {
		t.Fatalf("export %s", env.Obj)
	}
	first := items[0].Client
	if first["flow"] != "xtls-rprx-vision" || first["limitHwid"] != 3.0 ||
		first["created_at"] != 1234.0 || first["id"] != a.mustClient("a").UUID {
		t.Fatalf("first item %v", first)
	}
	if !slices.Equal(items[0].InboundIDs, []int64{plain, reality}) {
		t.Fatalf("inboundIds %v", items[0].InboundIDs)
	}
	if _, ok := first["createdAt"]; ok {
		t.Fatalf("export uses camelCase timestamps: %v", first)
	}
	if !strings.Contains(string(env.Obj), `"inboundIds":null`) {
		t.Fatalf("unattached client does not export null inboundIds: %s", env.Obj)
	}
}

// TestClients_ImportRoundTrip imports an export into an empty panel and
// exports the same clients back; the items without inbounds come back
// as bare records with no usage row.
func TestClients_ImportRoundTrip(t *testing.T) {
	src := newAPI(t)
	in := src.vlessInbound(1601)
	tr := src.protocolInbound("trojan", 1602, map[string]any{})
	src.addClient(map[string]any{"email": "a", "totalGB": 5, "comment": "c", "tgId": 9}, in, tr)
	src.addClient(map[string]any{"email": "b", "enable": false}, in)
	src.addClient(map[string]any{"email": "c"}, tr)
	src.ok("POST", clientPath("%s/detach", "c"), map[string]any{"inboundIds": []int64{tr}}, nil)
	exported := string(src.get("/panel/api/clients/export").Obj)

	dst := newAPI(t)
	dst.vlessInbound(1601)
	dst.protocolInbound("trojan", 1602, map[string]any{})
	var res struct {
		Created int             `json:"created"`
		Skipped json.RawMessage `json:"skipped"`
	}
	dst.ok("POST", "/panel/api/clients/import", map[string]any{"data": exported}, &res)
	if res.Created != 3 || res.Skipped != nil {
		t.Fatalf("import: %+v", res)
	}
	// Only the time of the last change moves.
	stamp := regexp.MustCompile(`"updated_at":\d+`)
	exported = stamp.ReplaceAllString(exported, "")
	again := stamp.ReplaceAllString(string(dst.get("/panel/api/clients/export").Obj), "")
	if again != exported {
		t.Fatalf("round trip differs:\nexported %s\nimported %s", exported, again)
	}
	if _, row := dst.stored("c"); row != nil {
		t.Fatalf("bare import got a usage row: %+v", row)
	}
	if _, row := dst.stored("a"); row == nil {
		t.Fatalf("attached import has no usage row")
	}
}

// TestClients_ImportSkips reports each refused item with its reason and
// stores the others; data that is not an export is refused whole.
func TestClients_ImportSkips(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(1701)
	a.addClient(map[string]any{"email": "taken", "subId": "sub-taken", "totalGB": 1}, in)
	items := []any{
		map[string]any{"client": map[string]any{"email": "taken"}},
		map[string]any{"client": map[string]any{"email": "TAKEN"}},
		map[string]any{"client": map[string]any{"email": "new", "subId": "sub-taken"}},
		map[string]any{"client": map[string]any{"email": "bad/one"}},
		map[string]any{"client": map[string]any{"email": "twice"}},
		map[string]any{"client": map[string]any{"email": "Twice"}},
		map[string]any{"client": map[string]any{"email": "gone"}, "inboundIds": []int64{99}},
		map[string]any{"client": map[string]any{"email": "fine"}},
	}
	data, _ := json.Marshal(items)
	var res struct {
		Created int          `json:"created"`
		Skipped []skipReport `json:"skipped"`
	}
	a.ok("POST", "/panel/api/clients/import", map[string]any{"data": string(data)}, &res)
	want := []skipReport{
		{"taken", "email already in use: taken"},
		{"TAKEN", "email already in use: TAKEN"},
		{"new", "subId already in use: sub-taken"},
		{"bad/one", "client email contains an invalid character: bad/one"},
		{"Twice", "email already in use: Twice"},
		{"gone", "inbound 99 not found"},
	}
	if res.Created != 2 || !slices.Equal(res.Skipped, want) {
		t.Fatalf("import: created %d skipped %v", res.Created, res.Skipped)
	}
	a.mustClient("fine")
	a.mustClient("twice")

	// An item with inbounds re-adds an email it names with its subId.
	data, _ = json.Marshal([]any{map[string]any{"client": map[string]any{"email": "taken",
		"subId": "sub-taken", "totalGB": 7}, "inboundIds": []int64{in}}})
	a.ok("POST", "/panel/api/clients/import", map[string]any{"data": string(data)}, &res)
	if c := a.mustClient("taken"); res.Created != 1 || c.TotalGB != 7 {
		t.Fatalf("re-add through import: %+v, %+v", res, c)
	}

	bad := map[string]string{
		"":  "Something went wrong (unexpected end of JSON input)",
		"x": "Something went wrong (invalid character 'x' looking for beginning of value)",
		"{}": "Something went wrong (json: cannot unmarshal object into Go value " +
			"of type []panel.AddRequest)",
		"[1]": "Something went wrong (json: cannot unmarshal number into .0 of type panel.AddRequest)",
	}
	for data, msg := range bad {
		a.unchanged(func() {
			a.refused("POST", "/panel/api/clients/import", map[string]any{"data": data}, msg)
		})
	}
}

// TestClients_AddRefused refuses every invalid add with its reason and
// stores nothing.
func TestClients_AddRefused(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(1801)
	a.addClient(map[string]any{"email": "existing"}, in)
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name   string
		client map[string]any
		ids    []int64
		reason string
	}{
		{"no email", map[string]any{}, []int64{in}, "client email is required"},
		{"blank email", map[string]any{"email": " \t "}, []int64{in}, "client email is required"},
		{"slash", map[string]any{"email": "a/b"}, []int64{in},
			"client email contains an invalid character: a/b"},
		{"backslash", map[string]any{"email": `a\b`}, []int64{in},
			`client email contains an invalid character: a\b`},
		{"space", map[string]any{"email": "a b"}, []int64{in},
			"client email contains an invalid character: a b"},
		{"padded", map[string]any{"email": " ab"}, []int64{in},
			"client email contains an invalid character:  ab"},
		{"tab", map[string]any{"email": "a\tb"}, []int64{in},
			"client email contains an invalid character: a\tb"},
		{"newline", map[string]any{"email": "a\nb"}, []int64{in},
			"client email contains an invalid character: a\nb"},
		{"nul", map[string]any{"email": "a\x00b"}, []int64{in},
			"client email contains an invalid character: a\x00b"},
		{"del", map[string]any{"email": "a\x7fb"}, []int64{in},
			"client email contains an invalid character: a\x7fb"},
		{"no-break space", map[string]any{"email": "a\u00a0b"}, []int64{in},
			"client email contains an invalid character: a\u00a0b"},
		{"em space", map[string]any{"email": "a\u2003b"}, []int64{in},
			"client email contains an invalid character: a\u2003b"},
		{"long email", map[string]any{"email": long(256)}, []int64{in},
			"client email is longer than 255 bytes"},
		{"subId slash", map[string]any{"email": "n", "subId": "s/x"}, []int64{in},
			"client subId contains an invalid character: s/x"},
		{"subId space", map[string]any{"email": "n", "subId": "s x"}, []int64{in},
			"client subId contains an invalid character: s x"},
		{"long subId", map[string]any{"email": "n", "subId": long(129)}, []int64{in},
			"client subId is longer than 128 bytes"},
		{"resetDay high", map[string]any{"email": "n", "resetDay": 32}, []int64{in},
			"client resetDay must be between 0 and 31, got: 32"},
		{"resetDay negative", map[string]any{"email": "n", "resetDay": -1}, []int64{in},
			"client resetDay must be between 0 and 31, got: -1"},
		{"resetMax negative", map[string]any{"email": "n", "resetMax": -1}, []int64{in},
			"client resetMax must not be negative, got: -1"},
		{"trafficReset", map[string]any{"email": "n", "trafficReset": "fortnightly"}, []int64{in},
			"client trafficReset must be never, hourly, daily, weekly or monthly, got: fortnightly"},
		{"trafficResetDay high", map[string]any{"email": "n", "trafficResetDay": 32}, []int64{in},
			"client trafficResetDay must be between 0 and 31, got: 32"},
		{"trafficResetDay negative", map[string]any{"email": "n", "trafficResetDay": -1},
			[]int64{in}, "client trafficResetDay must be between 0 and 31, got: -1"},
		{"reset negative", map[string]any{"email": "n", "reset": -1}, []int64{in},
			"client reset must be between 0 and 1048576, got: -1"},
		{"limitIp negative", map[string]any{"email": "n", "limitIp": -1}, []int64{in},
			"client limitIp must be between 0 and 1048576, got: -1"},
		{"totalGB negative", map[string]any{"email": "n", "totalGB": -1}, []int64{in},
			"client totalGB must not be negative, got: -1"},
		{"tgId negative", map[string]any{"email": "n", "tgId": -5}, []int64{in},
			"client tgId must not be negative, got: -5"},
		{"id not uuid", map[string]any{"email": "n", "id": "not-a-uuid"}, []int64{in},
			"client id must be a UUID: not-a-uuid"},
		{"id without dashes", map[string]any{"email": "n", "id": strings.ReplaceAll(
			uuid.NewString(), "-", "")}, []int64{in}, ""},
		{"flow", map[string]any{"email": "n", "flow": "xtls-rprx-direct"}, []int64{in},
			"client flow must be empty, xtls-rprx-vision or xtls-rprx-vision-udp443, got: xtls-rprx-direct"},
		{"security", map[string]any{"email": "n", "security": "aes-256-cfb"}, []int64{in},
			"client security must be auto, none, zero, aes-128-gcm or chacha20-poly1305, got: aes-256-cfb"},
		{"password control", map[string]any{"email": "n", "password": "a\x01b"}, []int64{in},
			"client password must be at most 256 printable characters"},
		{"password long", map[string]any{"email": "n", "password": long(257)}, []int64{in},
			"client password must be at most 256 printable characters"},
		{"auth long", map[string]any{"email": "n", "auth": long(257)}, []int64{in},
			"client auth must be at most 256 printable characters"},
		{"group slash", map[string]any{"email": "n", "group": "a/b"}, []int64{in},
			"group name contains an invalid character: a/b"},
		{"group long", map[string]any{"email": "n", "group": long(129)}, []int64{in},
			"group name is longer than 128 bytes"},
		{"comment long", map[string]any{"email": "n", "comment": long(4097)}, []int64{in},
			"client comment is longer than 4096 bytes"},
		{"reverse tag long", map[string]any{"email": "n", "reverse": map[string]any{
			"tag": long(129)}}, []int64{in}, "client reverse tag is longer than 128 bytes"},
		{"no inbounds", map[string]any{"email": "n"}, nil, "at least one inbound is required"},
		{"empty inbounds", map[string]any{"email": "n"}, []int64{}, "at least one inbound is required"},
		{"unknown inbound", map[string]any{"email": "n"}, []int64{in, 99}, "inbound 99 not found"},
		{"email in use", map[string]any{"email": "existing"}, []int64{in},
			"email already in use: existing"},
		{"email in use other case", map[string]any{"email": "EXISTING"}, []int64{in},
			"Duplicate email: EXISTING"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := a.with(t)
			if tc.reason == "" {
				tc.reason = fmt.Sprintf("client id must be a UUID: %s", tc.client["id"])
			}
			a.unchanged(func() {
				env := a.refused("POST", "/panel/api/clients/add", addBody(tc.client, tc.ids...),
					"Something went wrong ("+tc.reason+")")
				if string(env.Obj) != "null" {
					t.Fatalf("obj %s", env.Obj)
				}
			})
		})
	}
}

// recordText renders a client record with its attachments and links, to
// compare two records field by field.
func recordText(c kv.Client) string {
	if len(c.Links) == 0 {
		c.Links = nil
	}
	b, _ := json.Marshal(struct {
		C kv.Client
		A []kv.Attachment
		L []kv.ExternalLink
	}{c, c.Inbounds, c.Links})
	return string(b)
}

// with returns a caller of the same server that reports to t.
func (a *api) with(t testing.TB) *api {
	c := *a
	c.t = t
	return &c
}

// TestClients_AddStores stores the fields sent with their defaults: an
// absent enable is true, a sent one is honoured; the reset cycle is
// normalised; a subId is generated; limitHwid is never negative.
func TestClients_AddStores(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(1901)
	env := a.post("/panel/api/clients/add", addBody(map[string]any{
		"email": "full", "totalGB": 1 << 30, "expiryTime": 1893456000000, "limitIp": 2,
		"tgId": 77, "group": "G", "comment": "hi", "reset": 30, "resetDay": 0, "resetMax": 4,
		"trafficReset": "monthly", "trafficResetDay": 15, "limitHwid": 3, "security": "auto",
		"reverse": map[string]any{"tag": "rev"}, "created_at": 1000,
	}, in, in))
	if !env.Success || env.Msg != textAdded || string(env.Obj) != "null" {
		t.Fatalf("add: %+v %s", env, env.Obj)
	}
	c := a.mustClient("full")
	want := kv.Client{ID: c.ID, Email: "full", SubID: c.SubID, UUID: c.UUID, Security: "auto",
		Reverse: &kv.Reverse{Tag: "rev"}, LimitIP: 2, LimitHwid: 3, TotalGB: 1 << 30,
		ExpiryTime: 1893456000000, Enable: true, TgID: 77, Group: "G", Comment: "hi", Reset: 30,
		ResetMax: 4, TrafficReset: "monthly", TrafficResetDay: 15, CreatedAt: 1000,
		UpdatedAt: c.UpdatedAt, Inbounds: []kv.Attachment{{InboundID: in}}}
	if recordText(*c) != recordText(want) {
		t.Fatalf("stored\n%s\nwant\n%s", recordText(*c), recordText(want))
	}
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(c.SubID) {
		t.Fatalf("generated subId %q", c.SubID)
	}

	a.addClient(map[string]any{"email": "off", "enable": false, "limitHwid": -5}, in)
	off, row := a.stored("off")
	if off.Enable || row == nil || row.Enable || off.LimitHwid != 0 {
		t.Fatalf("disabled add: %+v row %+v", off, row)
	}
	if off.TrafficReset != "never" || off.TrafficResetDay != 1 || off.CreatedAt == 0 {
		t.Fatalf("defaults: %+v", off)
	}
}

// TestClients_AddCredentials generates what each protocol needs: a UUID
// for VLESS and VMess, a 32-hex password for Trojan and legacy
// Shadowsocks, a base64 key of the method's size for Shadowsocks 2022.
func TestClients_AddCredentials(t *testing.T) {
	a := newAPI(t)
	vless := a.vlessInbound(2001)
	vmess := a.protocolInbound("vmess", 2002, map[string]any{})
	trojan := a.protocolInbound("trojan", 2003, map[string]any{})
	legacy := a.protocolInbound("shadowsocks", 2004, map[string]any{"method": "aes-256-gcm"})
	ss128 := a.protocolInbound("shadowsocks", 2005,
		map[string]any{"method": "2022-blake3-aes-128-gcm"})
	ss256 := a.protocolInbound("shadowsocks", 2006,
		map[string]any{"method": "2022-blake3-aes-256-gcm"})
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	key16 := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))

	cases := []struct {
		name      string
		client    map[string]any
		inbound   int64
		uuid      bool
		checkPass func(string) bool
	}{
		{"vless", map[string]any{}, vless, true, isEmpty},
		{"vmess", map[string]any{}, vmess, true, isEmpty},
		{"trojan", map[string]any{}, trojan, false, hex32.MatchString},
		{"legacy", map[string]any{}, legacy, false, hex32.MatchString},
		{"legacy keeps", map[string]any{"password": "chosen"}, legacy, false, equals("chosen")},
		{"2022 128", map[string]any{}, ss128, false, keyOf(16)},
		{"2022 256", map[string]any{}, ss256, false, keyOf(32)},
		{"2022 replaces", map[string]any{"password": "short"}, ss128, false, keyOf(16)},
		{"2022 wrong size", map[string]any{"password": key16}, ss256, false, keyOf(32)},
		{"2022 keeps", map[string]any{"password": key16}, ss128, false, equals(key16)},
	}
	for i, tc := range cases {
		email := fmt.Sprintf("c%d", i)
		tc.client["email"] = email
		a.addClient(tc.client, tc.inbound)
		c := a.mustClient(email)
		if _, err := uuid.Parse(c.UUID); tc.uuid != (err == nil) || (tc.uuid && len(c.UUID) != 36) {
			t.Errorf("%s: uuid %q", tc.name, c.UUID)
		}
		if !tc.checkPass(c.Password) {
			t.Errorf("%s: password %q", tc.name, c.Password)
		}
	}

	id := uuid.NewString()
	a.addClient(map[string]any{"email": "both", "id": id}, vless, trojan)
	if c := a.mustClient("both"); c.UUID != id || !hex32.MatchString(c.Password) {
		t.Fatalf("client on VLESS and Trojan: %+v", c)
	}
	a.unchanged(func() {
		a.refused("POST", "/panel/api/clients/add", addBody(map[string]any{"email": "x"}, ss128, ss256),
			"Something went wrong (client x cannot join Shadowsocks 2022 inbounds with different key sizes)")
	})
}

func isEmpty(s string) bool { return s == "" }

func equals(want string) func(string) bool {
	return func(s string) bool { return s == want }
}

// keyOf reports whether a password is a standard base64 key of n bytes.
func keyOf(n int) func(string) bool {
	return func(s string) bool {
		b, err := base64.StdEncoding.DecodeString(s)
		return err == nil && len(b) == n
	}
}

// TestClients_ReAdd treats an add of an existing email with its subId
// as attaching it to more inbounds and patching the fields sent; any
// other add of a taken email, subId or credential is refused.
func TestClients_ReAdd(t *testing.T) {
	a := newAPI(t)
	one := a.vlessInbound(2101)
	two := a.vlessInbound(2102)
	a.addClient(map[string]any{"email": "alice", "subId": "sub-a", "totalGB": 5,
		"comment": "keep"}, one)
	a.setUsage("alice", 7, 8, true)
	first := a.mustClient("alice")

	a.addClient(map[string]any{"email": "alice", "subId": "sub-a", "totalGB": 9}, two, one)
	c, row := a.stored("alice")
	if !slices.Equal(c.InboundIDs(), []int64{one, two}) || c.UUID != first.UUID {
		t.Fatalf("re-add: inbounds %v uuid %q, was %q", c.InboundIDs(), c.UUID, first.UUID)
	}
	if c.TotalGB != 9 || c.Comment != "keep" || c.ID != first.ID || row.Used() != 15 {
		t.Fatalf("re-add did not patch: %+v usage %d", c, row.Used())
	}
	a.addClient(map[string]any{"email": "alice", "subId": "sub-a"}, two)
	if c := a.mustClient("alice"); len(c.Inbounds) != 2 {
		t.Fatalf("re-add to the same inbound attached twice: %v", c.Inbounds)
	}

	a.protocolInbound("trojan", 2103, map[string]any{})
	a.addClient(map[string]any{"email": "tro", "password": "secret-pw"}, 3)
	refusals := []struct {
		client map[string]any
		reason string
	}{
		{map[string]any{"email": "alice"}, "email already in use: alice"},
		{map[string]any{"email": "alice", "subId": "other"}, "email already in use: alice"},
		{map[string]any{"email": "Alice", "subId": "sub-a"}, "Duplicate email: Alice"},
		{map[string]any{"email": "bob", "subId": "sub-a"}, "subId already in use: sub-a"},
		{map[string]any{"email": "bob", "id": first.UUID}, "uuid already in use"},
		{map[string]any{"email": "bob", "id": strings.ToUpper(first.UUID)}, "uuid already in use"},
		{map[string]any{"email": "bob", "password": "secret-pw"}, "password already in use"},
	}
	for _, r := range refusals {
		a.unchanged(func() {
			a.refused("POST", "/panel/api/clients/add", addBody(r.client, two),
				"Something went wrong ("+r.reason+")")
		})
	}
}

// TestClients_AddConcurrent lets exactly one of many simultaneous adds
// of one email through.
func TestClients_AddConcurrent(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(2201)
	body, _ := json.Marshal(addBody(map[string]any{"email": "race"}, in))

	const n = 50
	answers := make([]envelope, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { answers[i], errs[i] = a.postAsync("/panel/api/clients/add", body) })
	}
	wg.Wait()

	won := 0
	for i, env := range answers {
		switch {
		case errs[i] != nil:
			t.Fatalf("request %d: %v", i, errs[i])
		case env.Success:
			won++
		case env.Msg != "Something went wrong (email already in use: race)":
			t.Fatalf("request %d: %q", i, env.Msg)
		}
	}
	var rows []listRow
	a.ok("GET", "/panel/api/clients/list", nil, &rows)
	if won != 1 || len(rows) != 1 {
		t.Fatalf("%d adds succeeded, %d clients stored", won, len(rows))
	}
}

// postAsync posts a body from any goroutine: it reports failures as an
// error instead of ending the test.
func (a *api) postAsync(path string, body []byte) (envelope, error) {
	req, err := http.NewRequest("POST", a.base+path, strings.NewReader(string(body)))
	if err != nil {
		return envelope{}, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.http.Do(req)
	if err != nil {
		return envelope{}, err
	}
	defer resp.Body.Close()
	var env envelope
	if resp.StatusCode != http.StatusOK {
		return env, fmt.Errorf("status %d", resp.StatusCode)
	}
	return env, json.NewDecoder(resp.Body).Decode(&env)
}

// TestClients_BadBodies answers a body that does not decode with a
// failure in the envelope, status 200, and no change.
func TestClients_BadBodies(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(2301)
	a.addClient(map[string]any{"email": "alice"}, in)
	common := []string{"{", "[1,2]", `{"a":1} x`, "\x00", `"text"`, "42"}
	routes := map[string][]string{
		"add": {`{"client":{"email":5}}`, `{"client":{"email":"x"},"inboundIds":"1"}`,
			`{"client":{"email":"x","reverse":"tag"},"inboundIds":[1]}`,
			`{"client":{"email":"x","enable":"yes"},"inboundIds":[1]}`,
			`{"client":{"email":"x","totalGB":1.5},"inboundIds":[1]}`,
			`{"client":{"email":"x","totalGB":1e30},"inboundIds":[1]}`},
		"update/alice":        {`{"totalGB":"5"}`, `{"enable":"yes"}`, `{"email":["alice"]}`},
		"alice/attach":        {`{"inboundIds":["1"]}`, `{"inboundIds":1}`},
		"alice/detach":        {`{"inboundIds":{}}`, `{"inboundIds":[1.5]}`},
		"alice/externalLinks": {`{"externalLinks":{}}`, `{"externalLinks":[{"expiryTime":"x"}]}`},
		"import":              {`{"data":5}`, `{"data":["[]"]}`},
	}
	for route, bodies := range routes {
		path := "/panel/api/clients/" + route
		a.unchanged(func() {
			a.refused("POST", path, "", "Something went wrong (request body is empty)")
		})
		for _, body := range append(bodies, common...) {
			a.unchanged(func() {
				status, out := a.raw("POST", path, body)
				var env envelope
				err := json.Unmarshal(out, &env)
				if status != http.StatusOK || err != nil || env.Success ||
					!strings.HasPrefix(env.Msg, "Something went wrong (") {
					t.Errorf("%s %q: status %d body %s", route, body, status, out)
				}
			})
		}
	}
}

// TestClients_UpdatePatch replaces exactly the fields the body carries,
// also with false, 0 and "", and keeps every other one.
func TestClients_UpdatePatch(t *testing.T) {
	a := newAPI(t)
	reality := a.realityInbound(2401)
	full := map[string]any{
		"email": "alice", "subId": "sub-a", "totalGB": 500, "expiryTime": 1893456000000,
		"limitIp": 2, "tgId": 7, "group": "g", "comment": "c", "reset": 3, "resetDay": 4,
		"resetMax": 5, "flow": "xtls-rprx-vision", "security": "auto", "limitHwid": 6,
		"reverse": map[string]any{"tag": "r"}, "trafficReset": "daily", "trafficResetDay": 9,
		"password": "pw", "auth": "au",
	}
	a.addClient(full, reality)
	base := *a.mustClient("alice")

	cases := []struct {
		body  map[string]any
		apply func(c *kv.Client)
	}{
		{map[string]any{}, func(c *kv.Client) {}},
		{map[string]any{"totalGB": 9}, func(c *kv.Client) { c.TotalGB = 9 }},
		{map[string]any{"totalGB": 0}, func(c *kv.Client) { c.TotalGB = 0 }},
		{map[string]any{"enable": false}, func(c *kv.Client) { c.Enable = false }},
		{map[string]any{"expiryTime": 0}, func(c *kv.Client) { c.ExpiryTime = 0 }},
		{map[string]any{"limitIp": 0}, func(c *kv.Client) { c.LimitIP = 0 }},
		{map[string]any{"tgId": 0}, func(c *kv.Client) { c.TgID = 0 }},
		{map[string]any{"group": ""}, func(c *kv.Client) { c.Group = "" }},
		{map[string]any{"comment": ""}, func(c *kv.Client) { c.Comment = "" }},
		{map[string]any{"reset": 0, "resetDay": 0, "resetMax": 0}, func(c *kv.Client) {
			c.Reset, c.ResetDay, c.ResetMax = 0, 0, 0
		}},
		{map[string]any{"flow": ""}, func(c *kv.Client) {
			c.Flow, c.Inbounds = "", []kv.Attachment{{InboundID: reality}}
		}},
		{map[string]any{"security": ""}, func(c *kv.Client) { c.Security = "" }},
		{map[string]any{"limitHwid": 0}, func(c *kv.Client) { c.LimitHwid = 0 }},
		{map[string]any{"limitHwid": -3}, func(c *kv.Client) { c.LimitHwid = 0 }},
		{map[string]any{"reverse": map[string]any{"tag": ""}}, func(c *kv.Client) { c.Reverse = nil }},
		{map[string]any{"reverse": nil}, func(c *kv.Client) {}},
		{map[string]any{"trafficReset": "", "trafficResetDay": 0}, func(c *kv.Client) {
			c.TrafficReset, c.TrafficResetDay = "never", 1
		}},
		// Empty credentials and subId keep the stored ones.
		{map[string]any{"id": "", "password": "", "auth": "", "subId": ""}, func(c *kv.Client) {}},
		{map[string]any{"email": "alice", "password": "new-pw", "subId": "sub-b"}, func(c *kv.Client) {
			c.Password, c.SubID = "new-pw", "sub-b"
		}},
	}
	for _, tc := range cases {
		a.store.Update(func(tx *kv.Tx) error { return tx.PutClient(base.Clone()) })
		env := a.post(clientPath("update/%s", "alice"), tc.body)
		if !env.Success || env.Msg != textUpdated || string(env.Obj) != "null" {
			t.Fatalf("update %v: %+v", tc.body, env)
		}
		want := *base.Clone()
		tc.apply(&want)
		got := *a.mustClient("alice")
		want.UpdatedAt = got.UpdatedAt
		if recordText(got) != recordText(want) {
			t.Errorf("update %v:\ngot  %s\nwant %s", tc.body, recordText(got), recordText(want))
		}
	}
}

// TestClients_UpdateEnableReachesUsage keeps the usage row's enforcement
// flag in step with the record.
func TestClients_UpdateEnableReachesUsage(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(2451)
	a.addClient(map[string]any{"email": "alice"}, in)
	for _, enable := range []bool{false, true} {
		a.ok("POST", clientPath("update/%s", "alice"), map[string]any{"enable": enable}, nil)
		if c, row := a.stored("alice"); c.Enable != enable || row.Enable != enable {
			t.Fatalf("enable %v: record %v row %v", enable, c.Enable, row.Enable)
		}
	}
}

// TestClients_UpdateRefused refuses an invalid update with its reason
// and changes nothing.
func TestClients_UpdateRefused(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(2501)
	ss := a.protocolInbound("shadowsocks", 2502, map[string]any{"method": "2022-blake3-aes-128-gcm"})
	a.addClient(map[string]any{"email": "alice", "subId": "sub-a"}, in, ss)
	a.addClient(map[string]any{"email": "bob", "subId": "sub-b"}, in)
	bob := a.mustClient("bob")
	cases := []struct {
		path   string
		body   map[string]any
		reason string
	}{
		{"nobody", map[string]any{"comment": "x"}, "record not found"},
		{"ALICE", map[string]any{"comment": "x"}, "record not found"},
		{"alice", map[string]any{"email": ""}, "client email is required"},
		{"alice", map[string]any{"email": "a b"}, "client email contains an invalid character: a b"},
		{"alice", map[string]any{"resetDay": 40}, "client resetDay must be between 0 and 31, got: 40"},
		{"alice", map[string]any{"resetMax": -2}, "client resetMax must not be negative, got: -2"},
		{"alice", map[string]any{"subId": "a/b"}, "client subId contains an invalid character: a/b"},
		{"alice", map[string]any{"email": "bob"}, "Duplicate email: bob"},
		{"alice", map[string]any{"email": "BOB"}, "Duplicate email: BOB"},
		{"alice", map[string]any{"subId": "sub-b"}, "Duplicate subId: sub-b"},
		{"alice", map[string]any{"email": "carol", "subId": "sub-b"}, "Duplicate subId: sub-b"},
		{"alice", map[string]any{"id": bob.UUID}, "uuid already in use"},
		{"alice", map[string]any{"password": "short"},
			"client alice password is not a base64 key of 16 bytes, which Shadowsocks 2022 needs"},
	}
	for _, tc := range cases {
		a.unchanged(func() {
			a.refused("POST", clientPath("update/%s", tc.path), tc.body,
				"Something went wrong ("+tc.reason+")")
		})
	}
}

// TestClients_UpdateRename moves the client, its usage row and its
// addresses to the new email; a change of letter case is a rename too.
func TestClients_UpdateRename(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(2601)
	a.addClient(map[string]any{"email": "alice", "subId": "sub-a"}, in)
	a.setUsage("alice", 3, 4, true)
	a.setIPs("alice", kv.IPEntry{IP: "192.0.2.1", Timestamp: 1})
	before := a.mustClient("alice")

	for _, name := range []string{"carol", "Carol"} {
		old := before.Email
		a.ok("POST", clientPath("update/%s", old), map[string]any{"email": name}, nil)
		c, row := a.stored(name)
		if c == nil || c.ID != before.ID || c.UUID != before.UUID || c.SubID != "sub-a" {
			t.Fatalf("rename to %s: %+v", name, c)
		}
		if row == nil || row.Used() != 7 || len(a.ipsOfEmail(name)) != 1 {
			t.Fatalf("rename to %s: usage %+v ips %v", name, row, a.ipsOfEmail(name))
		}
		if oldC, oldRow := a.stored(old); oldC != nil || oldRow != nil || a.ipsOfEmail(old) != nil {
			t.Fatalf("%s left behind: %+v %+v", old, oldC, oldRow)
		}
		a.refused("GET", clientPath("get/%s", old), nil, "Obtain (record not found)")
		before = c
	}
}

// TestClients_RenameOntoKeptUsage renames a client onto an email whose
// usage row outlived its client: that row counts on, and the renamed
// client's old row does not linger under an email nobody holds.
func TestClients_RenameOntoKeptUsage(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(2651)
	a.addClient(map[string]any{"email": "gone"}, in)
	a.setUsage("gone", 100, 0, true)
	a.ok("POST", clientPath("del/%s", "gone")+"?keepTraffic=1", nil, nil)
	a.addClient(map[string]any{"email": "alice"}, in)
	a.setUsage("alice", 1, 0, true)

	a.ok("POST", clientPath("update/%s", "alice"), map[string]any{"email": "gone"}, nil)
	if _, row := a.stored("gone"); row == nil || row.Up != 100 {
		t.Fatalf("renamed client's usage: %+v", row)
	}
	if _, row := a.stored("alice"); row != nil {
		t.Fatalf("old usage row lingers: %+v", row)
	}
}

// ipsOfEmail returns the addresses recorded for email.
func (a *api) ipsOfEmail(email string) []kv.IPEntry {
	var out []kv.IPEntry
	a.store.View(func(v *kv.View) error { out = v.IPs(email); return nil })
	return out
}

// TestClients_Delete removes the client, and its usage row and addresses
// unless keepTraffic is exactly 1.
func TestClients_Delete(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(2701)
	for i, keep := range []string{"1", "", "0", "true", "yes", "01"} {
		email := fmt.Sprintf("c%d", i)
		a.addClient(map[string]any{"email": email}, in)
		a.setUsage(email, 5, 5, true)
		a.setIPs(email, kv.IPEntry{IP: "192.0.2.1", Timestamp: 1})

		env := a.post(clientPath("del/%s", email)+"?keepTraffic="+keep, nil)
		if !env.Success || env.Msg != textDeleted || string(env.Obj) != "null" {
			t.Fatalf("delete: %+v", env)
		}
		c, row := a.stored(email)
		kept := row != nil && row.Used() == 10
		if c != nil || kept != (keep == "1") || (len(a.ipsOfEmail(email)) == 1) != (keep == "1") {
			t.Fatalf("keepTraffic=%q: client %v row %+v ips %v", keep, c, row, a.ipsOfEmail(email))
		}
	}

	// A new client of a kept email counts on from the kept row.
	a.addClient(map[string]any{"email": "c0"}, in)
	if _, row := a.stored("c0"); row.Used() != 10 {
		t.Fatalf("re-created client usage %d", row.Used())
	}

	a.addClient(map[string]any{"email": "alice"}, in)
	for _, email := range []string{"nobody", "ALICE"} {
		a.unchanged(func() {
			a.refused("POST", clientPath("del/%s", email), nil, fmt.Sprintf(
				"Something went wrong (client %q not found in any inbound or client record)", email))
		})
	}
}

// TestClients_Attach adds inbounds, generating the credentials the new
// ones need; an unknown inbound refuses the whole call.
func TestClients_Attach(t *testing.T) {
	a := newAPI(t)
	vless := a.vlessInbound(2801)
	reality := a.realityInbound(2802)
	trojan := a.protocolInbound("trojan", 2803, map[string]any{})
	a.addClient(map[string]any{"email": "alice", "flow": "xtls-rprx-vision"}, vless)
	first := a.mustClient("alice")
	attach := func(ids ...int64) envelope {
		return a.post(clientPath("%s/attach", "alice"), map[string]any{"inboundIds": ids})
	}

	env := attach(trojan, reality, trojan)
	if !env.Success || env.Msg != textAdded {
		t.Fatalf("attach: %+v", env)
	}
	c := a.mustClient("alice")
	if !slices.Equal(c.InboundIDs(), []int64{vless, reality, trojan}) || c.UUID != first.UUID {
		t.Fatalf("attached %v uuid %q", c.InboundIDs(), c.UUID)
	}
	if c.Password == "" || c.Inbounds[1].Flow != "xtls-rprx-vision" || c.Inbounds[2].Flow != "" {
		t.Fatalf("credentials or flows: %+v", c)
	}

	a.unchanged(func() {
		if env := attach(vless, trojan); !env.Success {
			t.Fatalf("attach to inbounds it is on: %+v", env)
		}
		if env := attach(); !env.Success {
			t.Fatalf("attach to nothing: %+v", env)
		}
		a.refused("POST", clientPath("%s/attach", "alice"),
			map[string]any{"inboundIds": []int64{vless, 99}}, "Something went wrong (inbound 99 not found)")
		a.refused("POST", clientPath("%s/attach", "ALICE"),
			map[string]any{"inboundIds": []int64{vless}}, "Something went wrong (record not found)")
	})

	// A bare imported client gets its usage row when first attached.
	data, _ := json.Marshal([]any{map[string]any{"client": map[string]any{"email": "bare"}}})
	a.ok("POST", "/panel/api/clients/import", map[string]any{"data": string(data)}, nil)
	a.ok("POST", clientPath("%s/attach", "bare"), map[string]any{"inboundIds": []int64{trojan}}, nil)
	if c, row := a.stored("bare"); row == nil || c.Password == "" {
		t.Fatalf("bare client after attach: %+v row %+v", c, row)
	}
}

// TestClients_Detach removes inbounds and keeps the record and its usage
// even with no inbound left; ids it is not on are ignored.
func TestClients_Detach(t *testing.T) {
	a := newAPI(t)
	one := a.vlessInbound(2901)
	two := a.vlessInbound(2902)
	a.addClient(map[string]any{"email": "alice"}, one, two)
	a.setUsage("alice", 1, 1, true)
	detach := func(email string, ids ...int64) envelope {
		return a.post(clientPath("%s/detach", email), map[string]any{"inboundIds": ids})
	}

	a.unchanged(func() {
		if env := detach("alice", 99); !env.Success || env.Msg != textDeleted {
			t.Fatalf("detach from an inbound it is not on: %+v", env)
		}
		a.refused("POST", clientPath("%s/detach", "nobody"), map[string]any{"inboundIds": []int64{one}},
			"Something went wrong (record not found)")
	})
	if env := detach("alice", one, two, 99); !env.Success || env.Msg != textDeleted {
		t.Fatalf("detach: %+v", env)
	}
	c, row := a.stored("alice")
	if c == nil || len(c.Inbounds) != 0 || row == nil || row.Used() != 2 {
		t.Fatalf("after detach: %+v row %+v", c, row)
	}
	if d := a.detail("alice"); string(d.InboundIDs) != "[]" {
		t.Fatalf("inboundIds %s", d.InboundIDs)
	}
}

// TestClients_ExternalLinks replaces the link set: blank values are
// dropped, defaults filled, positions numbered, and a link sent again
// keeps its id and fetch state.
func TestClients_ExternalLinks(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(3001)
	a.addClient(map[string]any{"email": "alice"}, in)
	path := clientPath("%s/externalLinks", "alice")
	set := func(links ...map[string]any) envelope {
		return a.post(path, map[string]any{"externalLinks": links})
	}

	env := set(
		map[string]any{"kind": "link", "value": " vless://id@host:443#x ", "remark": "  DE  "},
		map[string]any{"value": "   "},
		map[string]any{"kind": "subscription", "value": "https://p.example/sub/abc",
			"enable": false, "expiryTime": 1, "namePrefix": "P-"},
		map[string]any{"value": "hy2://pw@host:443"},
	)
	if !env.Success || env.Msg != textUpdated {
		t.Fatalf("set links: %+v", env)
	}
	links := a.detail("alice").links(t)
	if len(links) != 3 {
		t.Fatalf("links %+v", links)
	}
	want := []kv.ExternalLink{
		{Kind: "link", Value: "vless://id@host:443#x", Remark: "DE", Enable: true},
		{Kind: "subscription", Value: "https://p.example/sub/abc", ExpiryTime: 1,
			NamePrefix: "P-", SortIndex: 1},
		{Kind: "link", Value: "hy2://pw@host:443", Enable: true, SortIndex: 2},
	}
	clientID := a.mustClient("alice").ID
	for i, l := range links {
		if l.ID == 0 || l.ClientID != clientID || l.CreatedAt == 0 {
			t.Errorf("link %d ids: %+v", i, l)
		}
		w := want[i]
		w.ID, w.ClientID, w.CreatedAt = l.ID, l.ClientID, l.CreatedAt
		if l != w {
			t.Errorf("link %d: %+v, want %+v", i, l, w)
		}
	}

	// The fetcher's state survives a resend of the same link.
	a.store.Update(func(tx *kv.Tx) error {
		c := a.mustClient("alice").Clone()
		c.Links[1].LastFetchAt, c.Links[1].LastFetchError = 77, "timeout"
		return tx.PutClient(c)
	})
	set(map[string]any{"kind": "subscription", "value": "https://p.example/sub/abc"},
		map[string]any{"value": "trojan://x@h:1"})
	again := a.detail("alice").links(t)
	if len(again) != 2 || again[0].ID != links[1].ID || again[0].LastFetchAt != 77 ||
		again[0].LastFetchError != "timeout" || again[0].SortIndex != 0 || again[1].ID == links[2].ID {
		t.Fatalf("resent links: %+v", again)
	}

	set()
	if d := a.detail("alice"); string(d.ExternalLinks) != "[]" {
		t.Fatalf("cleared links: %s", d.ExternalLinks)
	}
}

// TestClients_ExternalLinksRefused refuses an invalid link set whole,
// with the reason of the first bad entry.
func TestClients_ExternalLinksRefused(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(3101)
	a.addClient(map[string]any{"email": "alice"}, in)
	a.ok("POST", clientPath("%s/externalLinks", "alice"), map[string]any{"externalLinks": []any{
		map[string]any{"value": "ss://abc@h:1"}}}, nil)
	good := map[string]any{"value": "vmess://abc"}
	many := make([]any, 101)
	for i := range many {
		many[i] = map[string]any{"value": fmt.Sprintf("vless://%d@h:1", i)}
	}
	cases := []struct {
		email  string
		links  []any
		reason string
	}{
		{"alice", []any{good, map[string]any{"kind": "subscription", "value": "ftp://h/x"}},
			"external subscription must be an http(s) URL: ftp://h/x"},
		{"alice", []any{map[string]any{"kind": "subscription", "value": "https://"}},
			"external subscription must be an http(s) URL: https://"},
		{"alice", []any{map[string]any{"kind": "subscription", "value": "p.example/sub"}},
			"external subscription must be an http(s) URL: p.example/sub"},
		{"alice", []any{map[string]any{"kind": "link", "value": "http://h/x"}},
			"unsupported or invalid share link: http://h/x"},
		{"alice", []any{map[string]any{"value": "vless://"}},
			"unsupported or invalid share link: vless://"},
		{"alice", []any{map[string]any{"value": "vless://a b"}},
			"unsupported or invalid share link: vless://a b"},
		{"alice", []any{map[string]any{"kind": "other", "value": "vless://x"}},
			"unknown external link kind: other"},
		{"alice", []any{map[string]any{"value": "vless://x", "expiryTime": -1}},
			"external link expiryTime must be 0 (never) or a future unix millisecond timestamp: -1"},
		{"alice", []any{map[string]any{"value": "vless://" + strings.Repeat("x", 8192)}},
			"external link is longer than 8192 bytes"},
		{"alice", many, "a client may carry at most 100 external links"},
		{"nobody", []any{good}, "record not found"},
		{"ALICE", []any{good}, "record not found"},
		{" ", []any{good}, "client email is required"},
	}
	for _, tc := range cases {
		a.unchanged(func() {
			a.refused("POST", clientPath("%s/externalLinks", tc.email),
				map[string]any{"externalLinks": tc.links}, "Something went wrong ("+tc.reason+")")
		})
	}
}

// TestClients_SecretsStayOutOfErrors never echoes a stored credential
// in a refusal.
func TestClients_SecretsStayOutOfErrors(t *testing.T) {
	a := newAPI(t)
	in := a.protocolInbound("trojan", 3201, map[string]any{})
	a.addClient(map[string]any{"email": "alice", "password": "hunter2-secret"}, in)
	env := a.post("/panel/api/clients/add",
		addBody(map[string]any{"email": "bob", "password": "hunter2-secret"}, in))
	if env.Success || strings.Contains(env.Msg, "hunter2") {
		t.Fatalf("refusal %q", env.Msg)
	}
}
