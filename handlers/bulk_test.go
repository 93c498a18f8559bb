package handlers_test

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xpanel/xpanel/kv"
)

// Sizes and spans the bulk tests count in.
const (
	dayMs = int64(86_400_000)
	gib   = int64(1 << 30)
)

// skipReport is an entry of the skipped list of a bulk answer.
type skipReport struct {
	Email  string `json:"email"`
	Reason string `json:"reason"`
}

// bulkAnswer is the obj of bulkAdjust, bulkEnable, bulkDisable, bulkDel
// and bulkCreate; each call fills one of the counters.
type bulkAnswer struct {
	Adjusted int          `json:"adjusted"`
	Changed  int          `json:"changed"`
	Deleted  int          `json:"deleted"`
	Created  int          `json:"created"`
	Skipped  []skipReport `json:"skipped"`
}

// reasons maps each skipped email to its reason.
func (b bulkAnswer) reasons() map[string]string {
	out := map[string]string{}
	for _, s := range b.Skipped {
		out[s.Email] = s.Reason
	}
	return out
}

// bulk calls a bulk route that must succeed and decodes its answer. An
// answer that skipped nothing must leave the skipped key out.
func (a *api) bulk(path string, body any) bulkAnswer {
	a.t.Helper()
	var out bulkAnswer
	env := a.ok("POST", path, body, &out)
	if len(out.Skipped) == 0 && strings.Contains(string(env.Obj), "skipped") {
		a.t.Fatalf("POST %s: empty skipped list is sent: %s", path, env.Obj)
	}
	return out
}

// refusedBadBody sends a body that does not decode and checks that it is
// refused in the envelope without a change.
func (a *api) refusedBadBody(path string, body any) {
	a.t.Helper()
	a.unchanged(func() {
		env := a.post(path, body)
		if env.Success || !strings.HasPrefix(env.Msg, "Something went wrong (") {
			a.t.Fatalf("POST %s with a bad body: %+v", path, env)
		}
	})
}

// limits is the expiry and quota of a client.
type limits struct{ expiry, total int64 }

// adjustClients are clients whose limits meet every rule of bulkAdjust.
func adjustClients(now int64) map[string]limits {
	return map[string]limits{
		"limited":   {now + 10*dayMs, 10 * gib},
		"unlimited": {0, 0},
		"mixed":     {0, gib},
		"delayed":   {-5 * dayMs, gib},
		"ancient":   {2 * dayMs, gib}, // expired in January 1970
	}
}

func TestBulkAdjust_SkipReasons(t *testing.T) {
	now := time.Now().UnixMilli()
	cases := []struct {
		name     string
		body     map[string]any
		adjusted int
		skipped  map[string]string
		want     map[string]limits // limits after the call, where changed
	}{
		{name: "extends expiry and quota",
			body: map[string]any{
				"emails": []string{"limited"}, "addDays": 30, "addBytes": gib},
			adjusted: 1, want: map[string]limits{"limited": {now + 40*dayMs, 11 * gib}}},
		{name: "may land in the past",
			body:     map[string]any{"emails": []string{"limited"}, "addDays": -15},
			adjusted: 1, want: map[string]limits{"limited": {now - 5*dayMs, 10 * gib}}},
		{name: "unlimited expiry",
			body:    map[string]any{"emails": []string{"unlimited"}, "addDays": 5},
			skipped: map[string]string{"unlimited": "unlimited expiry"}},
		{name: "unlimited traffic",
			body:    map[string]any{"emails": []string{"unlimited"}, "addBytes": gib},
			skipped: map[string]string{"unlimited": "unlimited traffic"}},
		{name: "first reason is kept",
			body:    map[string]any{"emails": []string{"unlimited"}, "addDays": 1, "addBytes": 1},
			skipped: map[string]string{"unlimited": "unlimited expiry"}},
		{name: "skipped and adjusted",
			body:     map[string]any{"emails": []string{"mixed"}, "addDays": 1, "addBytes": gib},
			adjusted: 1, skipped: map[string]string{"mixed": "unlimited expiry"},
			want: map[string]limits{"mixed": {0, 2 * gib}}},
		{name: "reduction exceeds remaining time",
			body:    map[string]any{"emails": []string{"ancient"}, "addDays": -3},
			skipped: map[string]string{"ancient": "reduction exceeds remaining time"}},
		{name: "reduction exceeds remaining quota",
			body:    map[string]any{"emails": []string{"limited"}, "addBytes": -10 * gib},
			skipped: map[string]string{"limited": "reduction exceeds remaining quota"}},
		{name: "delayed start grows",
			body:     map[string]any{"emails": []string{"delayed"}, "addDays": 3},
			adjusted: 1, want: map[string]limits{"delayed": {-8 * dayMs, gib}}},
		{name: "delayed start shrinks",
			body:     map[string]any{"emails": []string{"delayed"}, "addDays": -2},
			adjusted: 1, want: map[string]limits{"delayed": {-3 * dayMs, gib}}},
		{name: "reduction exceeds delay window",
			body:    map[string]any{"emails": []string{"delayed"}, "addDays": -5},
			skipped: map[string]string{"delayed": "reduction exceeds delay window"}},
		{name: "client not found, matched exactly",
			body: map[string]any{"emails": []string{"ghost", "Limited"}, "addDays": 1},
			skipped: map[string]string{
				"ghost": "client not found", "Limited": "client not found"}},
		{name: "emails trimmed and deduplicated",
			body: map[string]any{
				"emails": []string{" limited ", "limited", "", "  "}, "addDays": 1},
			adjusted: 1, want: map[string]limits{"limited": {now + 11*dayMs, 10 * gib}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAPI(t)
			in := a.vlessInbound(21000)
			base := adjustClients(now)
			for email, l := range base {
				a.addClient(map[string]any{
					"email": email, "expiryTime": l.expiry, "totalGB": l.total}, in)
			}

			var got bulkAnswer
			call := func() { got = a.bulk("/panel/api/clients/bulkAdjust", tc.body) }
			if tc.adjusted == 0 {
				a.unchanged(call)
			} else {
				call()
			}

			if got.Adjusted != tc.adjusted {
				t.Errorf("adjusted %d, want %d", got.Adjusted, tc.adjusted)
			}
			if !maps.Equal(got.reasons(), orEmpty(tc.skipped)) {
				t.Errorf("skipped %v, want %v", got.reasons(), tc.skipped)
			}
			maps.Copy(base, tc.want)
			for email, l := range base {
				c := a.mustClient(email)
				if c.ExpiryTime != l.expiry || c.TotalGB != l.total {
					t.Errorf("%s: expiry %d total %d, want %d and %d",
						email, c.ExpiryTime, c.TotalGB, l.expiry, l.total)
				}
			}
		})
	}
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func TestBulkAdjust_Refused(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(21001)
	a.addClient(map[string]any{"email": "alice", "expiryTime": 1 << 45}, in)
	const path = "/panel/api/clients/bulkAdjust"

	cases := []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"no adjustment specified", map[string]any{"emails": []string{"alice"}},
			"Something went wrong (no adjustment specified)"},
		{"unknown flow is no adjustment",
			map[string]any{"emails": []string{"alice"}, "flow": "xtls-rprx-direct"},
			"Something went wrong (no adjustment specified)"},
		{"addDays out of range",
			map[string]any{"emails": []string{"alice"}, "addDays": 1_000_001},
			"Something went wrong (addDays must be between -1000000 and 1000000)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.unchanged(func() { a.refused("POST", path, tc.body, tc.msg) })
		})
	}

	t.Run("empty email list", func(t *testing.T) {
		a.unchanged(func() {
			env := a.ok("POST", path, map[string]any{"emails": []string{}}, nil)
			if string(env.Obj) != `{"adjusted":0}` {
				t.Fatalf("obj %s", env.Obj)
			}
		})
	})
	t.Run("bad body", func(t *testing.T) {
		a.refusedBadBody(path, `{"emails":"alice","addDays":1}`)
		a.refusedBadBody(path, "")
	})
}

func TestBulkAdjust_Flow(t *testing.T) {
	const path = "/panel/api/clients/bulkAdjust"
	setup := func(t *testing.T) (a *api, reality, plain int64) {
		a = newAPI(t)
		reality, plain = a.realityInbound(21010), a.vlessInbound(21011)
		a.addClient(map[string]any{"email": "both"}, reality, plain)
		a.addClient(map[string]any{"email": "plainOnly"}, plain)
		a.addClient(map[string]any{"email": "plainLimited", "expiryTime": 1 << 45}, plain)
		return a, reality, plain
	}

	t.Run("vision where the inbound carries it", func(t *testing.T) {
		a, reality, plain := setup(t)
		got := a.bulk(path, map[string]any{
			"emails": []string{"both", "plainOnly"}, "flow": " xtls-rprx-vision "})
		if got.Adjusted != 1 {
			t.Errorf("adjusted %d, want 1", got.Adjusted)
		}
		want := map[string]string{"plainOnly": "flow not supported on inbound"}
		if !maps.Equal(got.reasons(), want) {
			t.Errorf("skipped %v, want %v", got.reasons(), want)
		}
		wantFlows(t, a.mustClient("both"), map[int64]string{
			reality: "xtls-rprx-vision", plain: ""})
		wantFlows(t, a.mustClient("plainOnly"), map[int64]string{plain: ""})
	})

	t.Run("ineligible flow does not block the expiry", func(t *testing.T) {
		a, _, _ := setup(t)
		got := a.bulk(path, map[string]any{
			"emails": []string{"plainLimited"}, "addDays": 1, "flow": "xtls-rprx-vision"})
		if got.Adjusted != 1 || got.reasons()["plainLimited"] != "flow not supported on inbound" {
			t.Errorf("answer %+v", got)
		}
		if c := a.mustClient("plainLimited"); c.ExpiryTime != 1<<45+dayMs {
			t.Errorf("expiry %d, want one day later", c.ExpiryTime)
		}
	})

	t.Run("none clears everywhere", func(t *testing.T) {
		a, reality, plain := setup(t)
		a.bulk(path, map[string]any{"emails": []string{"both"}, "flow": "xtls-rprx-vision-udp443"})
		wantFlows(t, a.mustClient("both"), map[int64]string{
			reality: "xtls-rprx-vision-udp443", plain: ""})

		got := a.bulk(path, map[string]any{
			"emails": []string{"both", "plainOnly"}, "flow": "none"})
		if got.Adjusted != 2 || len(got.Skipped) != 0 {
			t.Errorf("answer %+v, want 2 adjusted", got)
		}
		c := a.mustClient("both")
		wantFlows(t, c, map[int64]string{reality: "", plain: ""})
		if c.Flow != "" {
			t.Errorf("record flow %q, want cleared", c.Flow)
		}
	})
}

// wantFlows checks the flow of each of a client's attachments.
func wantFlows(t *testing.T, c *kv.Client, want map[int64]string) {
	t.Helper()
	got := map[int64]string{}
	for _, at := range c.Inbounds {
		got[at.InboundID] = at.Flow
	}
	if !maps.Equal(got, want) {
		t.Errorf("%s: flows %v, want %v", c.Email, got, want)
	}
}

func TestBulkAdjust_Reenable(t *testing.T) {
	now := time.Now().UnixMilli()
	cases := []struct {
		name          string
		expiry, total int64
		used          int64
		manual        bool // disabled by bulkDisable rather than by running out
		body          map[string]any
		want          bool
	}{
		{name: "quota raised revives", total: 1000, used: 1100,
			body: map[string]any{"addBytes": 1000}, want: true},
		{name: "expiry extended revives", expiry: now - 2*dayMs,
			body: map[string]any{"addDays": 5}, want: true},
		{name: "revives a disabled record too", total: 1000, used: 1000, manual: true,
			body: map[string]any{"addBytes": 1}, want: true},
		{name: "still expired stays disabled", expiry: now - 10*dayMs,
			body: map[string]any{"addDays": 3}},
		{name: "days on an over-quota client", expiry: now - dayMs, total: 1000, used: 1100,
			body: map[string]any{"addDays": 5}},
		{name: "manual disable stays", expiry: now + 5*dayMs, manual: true,
			body: map[string]any{"addDays": 5}},
		{name: "flow alone revives nothing", total: 1000, used: 1100,
			body: map[string]any{"flow": "none"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAPI(t)
			in := a.vlessInbound(21020)
			a.addClient(map[string]any{
				"email": "x", "expiryTime": tc.expiry, "totalGB": tc.total}, in)
			if tc.manual {
				a.bulk("/panel/api/clients/bulkDisable", map[string]any{"emails": []string{"x"}})
			}
			a.setUsage("x", tc.used, 0, false)

			tc.body["emails"] = []string{"x"}
			if got := a.bulk("/panel/api/clients/bulkAdjust", tc.body); got.Adjusted != 1 {
				t.Fatalf("adjusted %d, skipped %v", got.Adjusted, got.Skipped)
			}
			// A client not revived keeps its record as it was; only the
			// usage row holds it off.
			c, row := a.stored("x")
			if c.Enable != (tc.want || !tc.manual) || row.Enable != tc.want {
				t.Errorf("record enable %v, usage enable %v, want revived %v",
					c.Enable, row.Enable, tc.want)
			}
		})
	}

	t.Run("reduction never disables", func(t *testing.T) {
		a := newAPI(t)
		in := a.vlessInbound(21021)
		a.addClient(map[string]any{"email": "x", "totalGB": 1000}, in)
		a.setUsage("x", 500, 0, true)
		a.bulk("/panel/api/clients/bulkAdjust", map[string]any{
			"emails": []string{"x"}, "addBytes": -600})
		c, row := a.stored("x")
		if c.TotalGB != 400 || !c.Enable || !row.Enable {
			t.Errorf("total %d, record enable %v, usage enable %v",
				c.TotalGB, c.Enable, row.Enable)
		}
	})
}

func TestBulkSetEnabled(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(21030)
	a.addClient(map[string]any{"email": "a"}, in)
	a.addClient(map[string]any{"email": "b", "enable": false}, in)
	a.ok("POST", "/panel/api/clients/import", map[string]any{
		"data": `[{"client":{"email":"bare"}}]`}, nil)

	got := a.bulk("/panel/api/clients/bulkDisable", map[string]any{
		"emails": []string{"a", "b", " a ", "ghost", "A", "bare"}})
	if got.Changed != 3 {
		t.Errorf("changed %d, want 3 (also the one already disabled)", got.Changed)
	}
	want := map[string]string{"ghost": "client not found", "A": "client not found"}
	if !maps.Equal(got.reasons(), want) {
		t.Errorf("skipped %v, want %v", got.reasons(), want)
	}
	wantEnabled(t, a, false, "a", "b", "bare")

	got = a.bulk("/panel/api/clients/bulkEnable", map[string]any{"emails": []string{"a", "b"}})
	if got.Changed != 2 {
		t.Errorf("changed %d, want 2", got.Changed)
	}
	wantEnabled(t, a, true, "a", "b")
	wantEnabled(t, a, false, "bare")

	a.unchanged(func() {
		got = a.bulk("/panel/api/clients/bulkEnable", map[string]any{"emails": []string{}})
	})
	if got.Changed != 0 {
		t.Errorf("empty list changed %d", got.Changed)
	}
	a.refusedBadBody("/panel/api/clients/bulkEnable", `{"emails":[1]}`)
	a.refusedBadBody("/panel/api/clients/bulkDisable", "")
}

// wantEnabled checks the record and the usage row, where there is one,
// of each email.
func wantEnabled(t *testing.T, a *api, want bool, emails ...string) {
	t.Helper()
	for _, email := range emails {
		c, row := a.stored(email)
		if c == nil || c.Enable != want || (row != nil && row.Enable != want) {
			t.Errorf("%s: record %+v usage %+v, want enable %v", email, c, row, want)
		}
	}
}

func TestBulkDel(t *testing.T) {
	for _, keep := range []bool{false, true} {
		name := map[bool]string{false: "usage deleted", true: "usage kept"}[keep]
		t.Run(name, func(t *testing.T) {
			a := newAPI(t)
			in := a.vlessInbound(21040)
			for _, email := range []string{"a", "b", "c"} {
				a.addClient(map[string]any{"email": email}, in)
				a.setUsage(email, 10, 20, true)
				a.setIPs(email, kv.IPEntry{IP: "192.0.2.1", Timestamp: 1})
			}

			got := a.bulk("/panel/api/clients/bulkDel", map[string]any{
				"emails": []string{"a", "b", "a", "ghost"}, "keepTraffic": keep})
			if got.Deleted != 2 {
				t.Errorf("deleted %d, want 2", got.Deleted)
			}
			want := map[string]string{"ghost": "client not found"}
			if !maps.Equal(got.reasons(), want) {
				t.Errorf("skipped %v, want %v", got.reasons(), want)
			}
			for _, email := range []string{"a", "b"} {
				c, row := a.stored(email)
				if c != nil || (row != nil) != keep || (len(a.ipsOf(email)) > 0) != keep {
					t.Errorf("%s: record %v, usage %v, ips %v", email, c, row, a.ipsOf(email))
				}
			}
			if c, row := a.stored("c"); c == nil || row == nil || len(a.ipsOf("c")) == 0 {
				t.Errorf("c was touched: %v %v", c, row)
			}
			if got := memberEmails(a, in); !slices.Equal(got, []string{"c"}) {
				t.Errorf("inbound members %v, want [c]", got)
			}
		})
	}
}

// ipsOf returns the stored source addresses of email.
func (a *api) ipsOf(email string) []kv.IPEntry {
	var out []kv.IPEntry
	a.store.View(func(v *kv.View) error { out = v.IPs(email); return nil })
	return out
}

// memberEmails lists the emails attached to an inbound, by client id.
func memberEmails(a *api, inboundID int64) []string {
	var out []string
	a.store.View(func(v *kv.View) error {
		for _, c := range v.ClientsInInbound(inboundID) {
			out = append(out, c.Email)
		}
		return nil
	})
	return out
}

func TestBulkCreate_Stores(t *testing.T) {
	a := newAPI(t)
	in1, in2 := a.vlessInbound(21050), a.protocolInbound("trojan", 21051, nil)
	got := a.bulk("/panel/api/clients/bulkCreate", []map[string]any{
		{"client": map[string]any{"email": " dave ", "totalGB": gib}, "inboundIds": []int64{in1}},
		{"client": map[string]any{"email": "erin", "enable": false},
			"inboundIds": []int64{in1, in2, in1}},
	})
	if got.Created != 2 {
		t.Fatalf("created %d, skipped %v", got.Created, got.Skipped)
	}

	dave, row := a.stored("dave")
	if dave == nil || row == nil || dave.TotalGB != gib || dave.UUID == "" || dave.SubID == "" {
		t.Errorf("dave stored as %+v with usage %+v", dave, row)
	}
	erin := a.mustClient("erin")
	onBoth := slices.Equal(erin.InboundIDs(), []int64{in1, in2})
	if !onBoth || erin.UUID == "" || erin.Password == "" {
		t.Errorf("erin stored as %+v", erin)
	}
	if erin.Enable {
		t.Errorf("erin enabled, the item asked for disabled")
	}

	a.unchanged(func() {
		env := a.ok("POST", "/panel/api/clients/bulkCreate", []any{}, nil)
		if string(env.Obj) != `{"created":0}` {
			t.Errorf("empty array: obj %s", env.Obj)
		}
	})
	a.refusedBadBody("/panel/api/clients/bulkCreate", map[string]any{"client": map[string]any{}})
}

func TestBulkCreate_SkipReasons(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(21060)
	a.addClient(map[string]any{"email": "old", "subId": "oldsub"}, in)

	item := func(client map[string]any, ids ...int64) map[string]any {
		return map[string]any{"client": client, "inboundIds": ids}
	}
	items := []map[string]any{
		item(map[string]any{"email": "new1"}, in),
		item(map[string]any{"email": "NEW1"}, in),
		item(map[string]any{"email": "s1", "subId": "shared"}, in),
		item(map[string]any{"email": "s2", "subId": "shared"}, in),
		item(map[string]any{"email": "  "}, in),
		item(map[string]any{"email": "later"}),
		item(map[string]any{"email": "old", "subId": "other"}, in),
		item(map[string]any{"email": "old"}, in),
		item(map[string]any{"email": "taken", "subId": "oldsub"}, in),
		item(map[string]any{"email": "lost"}, 999),
		item(map[string]any{"email": "bad/char"}, in),
		item(map[string]any{"email": "later"}, in),
	}
	got := a.bulk("/panel/api/clients/bulkCreate", items)

	want := []skipReport{
		{"NEW1", "email already in use: NEW1"},
		{"s2", "subId already in use: shared"},
		{"(missing email)", "client email is required"},
		{"later", "at least one inbound is required"},
		{"old", "email already in use: old"},
		{"old", "email already in use: old"},
		{"taken", "subId already in use: oldsub"},
		{"lost", "inbound 999 not found"},
		{"bad/char", "client email contains an invalid character: bad/char"},
	}
	if !slices.Equal(got.Skipped, want) {
		t.Errorf("skipped\n%v\nwant\n%v", got.Skipped, want)
	}
	if got.Created != 3 {
		t.Errorf("created %d, want 3 (new1, s1, later)", got.Created)
	}
	for _, email := range []string{"new1", "s1", "later"} {
		if c, row := a.stored(email); c == nil || row == nil {
			t.Errorf("%s not stored with usage", email)
		}
	}
	for _, email := range []string{"NEW1", "s2", "taken", "lost", "bad/char"} {
		if c, row := a.stored(email); c != nil || row != nil {
			t.Errorf("refused %s left record %v usage %v", email, c, row)
		}
	}
	if old := a.mustClient("old"); old.SubID != "oldsub" {
		t.Errorf("old changed: %+v", old)
	}
}

func TestBulkCreate_ReAdd(t *testing.T) {
	a := newAPI(t)
	in1, in2 := a.vlessInbound(21070), a.vlessInbound(21071)
	a.addClient(map[string]any{"email": "old", "subId": "oldsub", "totalGB": gib}, in1)
	before := a.mustClient("old")

	got := a.bulk("/panel/api/clients/bulkCreate", []map[string]any{{
		"client":     map[string]any{"email": "old", "subId": "oldsub", "totalGB": 5 * gib},
		"inboundIds": []int64{in2},
	}})
	if got.Created != 1 {
		t.Fatalf("re-add: %+v", got)
	}
	after := a.mustClient("old")
	if after.ID != before.ID || after.UUID != before.UUID || after.TotalGB != 5*gib {
		t.Errorf("re-add stored %+v, was %+v", after, before)
	}
	if !slices.Equal(after.InboundIDs(), []int64{in1, in2}) {
		t.Errorf("inbounds %v, want both", after.InboundIDs())
	}
}

// TestBulkCreate_ItemAtomicity proves that an item refused while being
// stored leaves no trace, and the items around it are stored.
func TestBulkCreate_ItemAtomicity(t *testing.T) {
	a := newAPI(t)
	vless := a.vlessInbound(21080)
	ss := func(port int, method string) int64 {
		return a.protocolInbound("shadowsocks", port, map[string]any{"method": method})
	}
	ss128, ss256 := ss(21081, "2022-blake3-aes-128-gcm"), ss(21082, "2022-blake3-aes-256-gcm")
	a.addClient(map[string]any{"email": "owner"}, vless)
	owner := a.mustClient("owner")
	const fresh = "6f1c2a44-0b7e-4c1e-9a55-2d3c4b5a6e7f"

	item := func(client map[string]any, ids ...int64) map[string]any {
		return map[string]any{"client": client, "inboundIds": ids}
	}
	got := a.bulk("/panel/api/clients/bulkCreate", []map[string]any{
		item(map[string]any{"email": "ok1"}, vless),
		item(map[string]any{"email": "thief", "id": owner.UUID}, vless),
		item(map[string]any{"email": "twoSizes"}, ss128, ss256),
		item(map[string]any{"email": "ok2", "id": fresh}, vless),
		item(map[string]any{"email": "copycat", "id": fresh}, vless),
		item(map[string]any{"email": "ok3"}, ss128),
	})

	want := []skipReport{
		{"thief", "uuid already in use"},
		{"twoSizes", "client twoSizes cannot join Shadowsocks 2022 inbounds" +
			" with different key sizes"},
		{"copycat", "uuid already in use"},
	}
	if got.Created != 3 || !slices.Equal(got.Skipped, want) {
		t.Errorf("answer %+v, want 3 created and skipped %v", got, want)
	}
	for _, email := range []string{"ok1", "ok2", "ok3"} {
		if c, row := a.stored(email); c == nil || row == nil {
			t.Errorf("%s not stored with usage", email)
		}
	}
	for _, email := range []string{"thief", "twoSizes", "copycat"} {
		if c, row := a.stored(email); c != nil || row != nil {
			t.Errorf("refused %s left record %v usage %v", email, c, row)
		}
	}
	if got := memberEmails(a, vless); !slices.Equal(got, []string{"owner", "ok1", "ok2"}) {
		t.Errorf("vless members %v", got)
	}
	if got := memberEmails(a, ss256); len(got) != 0 {
		t.Errorf("ss256 members %v, want none", got)
	}
}

// pairAnswer is the obj of bulkAttach and bulkDetach.
type pairAnswer struct {
	Attached []string `json:"attached"`
	Detached []string `json:"detached"`
	Skipped  []string `json:"skipped"`
	Errors   []string `json:"errors"`
}

func TestBulkPairs_EmptyLists(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(21090)
	a.addClient(map[string]any{"email": "a"}, in)
	bodies := []any{
		map[string]any{"emails": []string{}, "inboundIds": []int64{in}},
		map[string]any{"emails": []string{"a"}, "inboundIds": []int64{}},
		map[string]any{},
	}
	for _, route := range []string{"attached", "detached"} {
		path := "/panel/api/clients/bulkAttach"
		if route == "detached" {
			path = "/panel/api/clients/bulkDetach"
		}
		want := `{"` + route + `":null,"skipped":null,"errors":null}`
		for _, body := range bodies {
			a.unchanged(func() {
				if env := a.ok("POST", path, body, nil); string(env.Obj) != want {
					t.Errorf("%s %v: obj %s, want %s", path, body, env.Obj, want)
				}
			})
		}
		a.refusedBadBody(path, `{"emails":["a"],"inboundIds":["x"]}`)
	}
}

func TestBulkAttach(t *testing.T) {
	a := newAPI(t)
	in1, in2, in3 := a.vlessInbound(21100), a.vlessInbound(21101), a.vlessInbound(21102)
	a.addClient(map[string]any{"email": "a"}, in1)
	a.addClient(map[string]any{"email": "b"}, in1)
	body := map[string]any{"emails": []string{"a", "b", "A"}, "inboundIds": []int64{in2, in3, in2}}

	var got pairAnswer
	a.ok("POST", "/panel/api/clients/bulkAttach", body, &got)
	want := pairAnswer{
		Attached: []string{"a", "b", "a", "b"}, Skipped: []string{}, Errors: []string{}}
	if !samePairs(got, want) {
		t.Errorf("first run %+v, want %+v", got, want)
	}
	for _, email := range []string{"a", "b"} {
		if ids := a.mustClient(email).InboundIDs(); !slices.Equal(ids, []int64{in1, in2, in3}) {
			t.Errorf("%s on %v", email, ids)
		}
	}

	a.unchanged(func() { a.ok("POST", "/panel/api/clients/bulkAttach", body, &got) })
	want = pairAnswer{
		Attached: []string{}, Skipped: []string{"a", "b", "a", "b"}, Errors: []string{}}
	if !samePairs(got, want) {
		t.Errorf("second run %+v, want %+v", got, want)
	}
}

func TestBulkAttach_Errors(t *testing.T) {
	a := newAPI(t)
	vless := a.vlessInbound(21110)
	trojan := a.protocolInbound("trojan", 21111, nil)
	ss := a.protocolInbound("shadowsocks", 21112,
		map[string]any{"method": "2022-blake3-aes-128-gcm"})
	a.addClient(map[string]any{"email": "v"}, vless)
	a.addClient(map[string]any{"email": "tro"}, trojan)
	tro := a.mustClient("tro")

	var got pairAnswer
	a.ok("POST", "/panel/api/clients/bulkAttach", map[string]any{
		"emails": []string{"tro", "ghost", "v"}, "inboundIds": []int64{ss, 99}}, &got)
	want := pairAnswer{
		Attached: []string{"v"},
		Skipped:  []string{},
		Errors: []string{
			"ghost: record not found",
			"inbound 99: record not found",
			"inbound " + itoa(ss) + ": tro: client tro password is not a base64 key" +
				" of 16 bytes, which Shadowsocks 2022 needs",
		},
	}
	if !samePairs(got, want) {
		t.Errorf("answer\n%+v\nwant\n%+v", got, want)
	}
	if after := a.mustClient("tro"); !slices.Equal(after.InboundIDs(), []int64{trojan}) ||
		after.Password != tro.Password {
		t.Errorf("refused pair changed tro: %+v", after)
	}
	if ids := a.mustClient("v").InboundIDs(); !slices.Equal(ids, []int64{vless, ss}) {
		t.Errorf("v on %v", ids)
	}
}

func TestBulkDetach(t *testing.T) {
	a := newAPI(t)
	in1, in2, in3 := a.vlessInbound(21120), a.vlessInbound(21121), a.vlessInbound(21122)
	a.addClient(map[string]any{"email": "a"}, in1, in2)
	a.addClient(map[string]any{"email": "b"}, in1, in3)
	a.addClient(map[string]any{"email": "c"}, in3)

	var got pairAnswer
	a.ok("POST", "/panel/api/clients/bulkDetach", map[string]any{
		"emails":     []string{"a", "b", "c", "ghost", "B"},
		"inboundIds": []int64{in1, in2, 99}}, &got)
	want := pairAnswer{Detached: []string{"a", "b"}, Skipped: []string{"c"},
		Errors: []string{"ghost: record not found"}}
	if !samePairs(got, want) {
		t.Errorf("answer %+v, want %+v", got, want)
	}

	wantIDs := map[string][]int64{"a": nil, "b": {in3}, "c": {in3}}
	for email, ids := range wantIDs {
		c, row := a.stored(email)
		if c == nil || row == nil || !slices.Equal(c.InboundIDs(), ids) {
			t.Errorf("%s: record %+v usage %+v, want on %v", email, c, row, ids)
		}
	}
}

func samePairs(got, want pairAnswer) bool {
	same := slices.Equal(got.Attached, want.Attached) &&
		slices.Equal(got.Detached, want.Detached) &&
		slices.Equal(got.Skipped, want.Skipped) && slices.Equal(got.Errors, want.Errors)
	return same && (got.Skipped != nil) == (want.Skipped != nil) &&
		(got.Errors != nil) == (want.Errors != nil)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
