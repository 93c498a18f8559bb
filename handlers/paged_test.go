package handlers_test

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/handlers"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/kv/kvtest"
	"github.com/xpanel/xpanel/panel"
)

// Spans the paged-list tests count in, in the API's units.
const (
	msDay  = int64(86_400_000)
	msHour = int64(3_600_000)
	bytesG = int64(1 << 30)
)

// t0 is the moment the paged-list fixture is judged at: 2030-01-01 UTC.
var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// presence stands in for the proxy core's view of who is connected.
type presence struct {
	mu      sync.Mutex
	online  map[string]struct{}
	version uint64
}

func (p *presence) Online() (map[string]struct{}, uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.online, p.version
}

func (p *presence) ActiveInbounds() []string { return []string{} }

// setOnline replaces the online set; the old map is never modified, as
// the Presence contract asks.
func (p *presence) setOnline(emails ...string) {
	set := map[string]struct{}{}
	for _, e := range emails {
		set[e] = struct{}{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.online = set
	p.version++
}

// newAPIWith is newAPI with the service options given, for tests that
// need a fixed clock or someone online. The expiring thresholds default
// to those of newAPI.
func newAPIWith(t testing.TB, opts panel.Options) *api {
	t.Helper()
	if opts.ExpiringWithin == 0 {
		opts.ExpiringWithin = 3 * 24 * time.Hour
	}
	if opts.ExpiringBytes == 0 {
		opts.ExpiringBytes = 1 << 30
	}
	store := kvtest.Open(t)
	svc := panel.New(store, opts)
	h := handlers.New(svc, []handlers.Token{{Hash: handlers.HashToken(adminToken)}},
		slog.New(slog.DiscardHandler))
	srv := h.Server(handlers.Limits{
		MaxBodyBytes: maxBody, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		IdleTimeout: 5 * time.Second, MaxConns: 256,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	go srv.Serve(handlers.Lingering(ln))
	t.Cleanup(func() { srv.Shutdown() })
	return &api{
		t: t, base: "http://" + ln.Addr().String(), token: adminToken,
		store: store, svc: svc, http: &http.Client{Timeout: 10 * time.Second},
	}
}

// pageAnswer is the obj of list/paged.
type pageAnswer struct {
	Items    []slimItem `json:"items"`
	Total    int        `json:"total"`
	Filtered int        `json:"filtered"`
	Page     int        `json:"page"`
	PageSize int        `json:"pageSize"`
	Summary  summary    `json:"summary"`
	Groups   []string   `json:"groups"`
}

type slimItem struct {
	Email      string  `json:"email"`
	InboundIDs []int64 `json:"inboundIds"`
}

type summary struct {
	Total         int      `json:"total"`
	Active        int      `json:"active"`
	OnlineCount   int      `json:"onlineCount"`
	DepletedCount int      `json:"depletedCount"`
	ExpiringCount int      `json:"expiringCount"`
	DeactiveCount int      `json:"deactiveCount"`
	Online        []string `json:"online"`
	Depleted      []string `json:"depleted"`
	Expiring      []string `json:"expiring"`
	Deactive      []string `json:"deactive"`
}

// paged asks for a page with the query and returns it.
func (a *api) paged(query string) pageAnswer {
	a.t.Helper()
	var p pageAnswer
	a.ok("GET", "/panel/api/clients/list/paged?"+query, nil, &p)
	return p
}

func (p pageAnswer) emails() []string {
	out := []string{}
	for _, it := range p.Items {
		out = append(out, it.Email)
	}
	return out
}

// pagedFixture is nine clients, one or more in every status bucket, on
// a VLESS (1), a Trojan (2) and a VMess (3) inbound, judged at t0 with
// amy, carl and eve connected.
//
//	id email inbounds enable quota used    expiry      status
//	1  amy   1        yes    -     0       never       active, online
//	2  Bob   1,2      yes    10G   10G     never       depleted
//	3  carl  2        no     -     500     never       deactive
//	4  dora  3        yes    -     0       t0-1h       depleted
//	5  eve   1        yes    -     0       t0+1d       expiring, online
//	6  fay   2        yes    5G    4.5G    never       expiring
//	7  gus   none     yes    -     0       delayed 7d  active
//	8  hal   1        no     1G    2G      never       depleted (and disabled)
//	9  ivy   1,2,3    yes    100G  1000    t0+30d      active
type pagedFixture struct {
	*api
	clock *testClock
	who   *presence
}

// pagedClient is one row of the fixture with the fields the filters
// and sorts look at.
type pagedClient struct {
	email       string
	inbounds    []int64
	enable      bool
	total, used int64
	expiry      int64
	createdAt   int64
	extra       map[string]any
}

func newPagedFixture(t *testing.T) *pagedFixture {
	t.Helper()
	f := &pagedFixture{clock: &testClock{now: t0}, who: &presence{}}
	f.api = newAPIWith(t, panel.Options{Now: f.clock.Now, Presence: f.who})
	for i, in := range []struct {
		protocol string
		settings map[string]any
	}{
		{"vless", map[string]any{"decryption": "none"}},
		{"trojan", map[string]any{}},
		{"vmess", map[string]any{}},
	} {
		f.protocolInbound(in.protocol, 2001+i, in.settings)
	}

	ms := t0.UnixMilli()
	clients := []pagedClient{
		{"amy", []int64{1}, true, 0, 0, 0, 3000, map[string]any{
			"group": "VIP", "comment": "first", "tgId": 7770001}},
		{"Bob", []int64{1, 2}, true, 10 * bytesG, 10 * bytesG, 0, 3000, nil},
		{"carl", []int64{2}, false, 0, 500, 0, 1000, map[string]any{"reset": 30}},
		{"dora", []int64{3}, true, 0, 0, ms - msHour, 2000, map[string]any{"group": " vip "}},
		{"eve", []int64{1}, true, 0, 0, ms + msDay, 2000, map[string]any{"resetDay": 5}},
		{"fay", []int64{2}, true, 5 * bytesG, 4*bytesG + bytesG/2, 0, 5000,
			map[string]any{"comment": "   "}},
		{"gus", []int64{1}, true, 0, 0, -7 * msDay, 4000, map[string]any{"tgId": 7770002}},
		{"hal", []int64{1}, false, bytesG, 2 * bytesG, 0, 4000, nil},
		{"ivy", []int64{1, 2, 3}, true, 100 * bytesG, 1000, ms + 30*msDay, 6000,
			map[string]any{"group": "Staff", "subId": "ivy-sub-XYZ"}},
	}
	// updatedAt comes from the clock: three clients a minute apart.
	for i, c := range clients {
		f.clock.set(t0.Add(time.Duration(i/3-3) * time.Minute))
		f.addPaged(i+1, c)
	}

	f.post("/panel/api/clients/gus/detach", map[string]any{"inboundIds": []int64{1}})
	f.clock.set(t0.Add(-30 * time.Second))
	f.ok("POST", "/panel/api/clients/update/amy", map[string]any{"comment": "first"}, nil)
	f.clock.set(t0)

	for email, online := range map[string]int64{"Bob": 5000, "carl": 5000, "eve": 9000} {
		f.setLastOnline(email, online)
	}
	f.ok("POST", "/panel/api/clients/groups/create", map[string]any{"name": "Empty"}, nil)
	f.who.setOnline("amy", "carl", "eve", "ghost")
	return f
}

// addPaged adds the n-th fixture client with credentials fixed by n, so
// that no random value can make a search match by chance.
func (f *pagedFixture) addPaged(n int, c pagedClient) {
	f.t.Helper()
	client := map[string]any{
		"email": c.email, "enable": c.enable, "totalGB": c.total, "expiryTime": c.expiry,
		"created_at": c.createdAt,
		"id":         fmt.Sprintf("00000000-0000-4000-8000-%012d", n),
		"password":   "pass-" + strings.ToLower(c.email), "subId": fmt.Sprintf("sub-%d", n),
	}
	for k, v := range c.extra {
		client[k] = v
	}
	f.addClient(client, c.inbounds...)
	if c.used > 0 {
		f.ok("POST", "/panel/api/clients/updateTraffic/"+c.email,
			map[string]any{"upload": c.used / 2, "download": c.used - c.used/2}, nil)
	}
}

// setLastOnline writes a usage row's last-online time, as the traffic
// poller does.
func (f *pagedFixture) setLastOnline(email string, ms int64) {
	f.t.Helper()
	err := f.store.Update(func(tx *kv.Tx) error {
		t := *tx.Traffic(email)
		t.LastOnline = ms
		return tx.PutTraffic(&t)
	})
	if err != nil {
		f.t.Fatalf("set last online of %s: %v", email, err)
	}
}

var allPaged = []string{"amy", "Bob", "carl", "dora", "eve", "fay", "gus", "hal", "ivy"}

// TestPaged_Filters checks every narrowing parameter, alone and
// combined, against the fixture; each answer lists the matches in id
// order and counts them in filtered.
func TestPaged_Filters(t *testing.T) {
	f := newPagedFixture(t)
	ms := t0.UnixMilli()
	cases := []struct {
		name, query string
		want        []string
	}{
		{"none", "", allPaged},
		{"search email any case", "search=AMY", []string{"amy"}},
		{"search trimmed", "search=%20%20bob%20", []string{"Bob"}},
		{"search subId", "search=sub-xyz", []string{"ivy"}},
		{"search uuid", "search=8000-000000000005", []string{"eve"}},
		{"search password", "search=PASS-HA", []string{"hal"}},
		{"search comment", "search=firs", []string{"amy"}},
		{"search tgId", "search=7770002", []string{"gus"}},
		{"search tgId prefix", "search=777000", []string{"amy", "gus"}},
		{"search percent literal", "search=%25", []string{}},
		{"search underscore literal", "search=_", []string{}},
		{"search nothing", "search=zzz", []string{}},
		{"filter active", "filter=active", []string{"amy", "eve", "fay", "gus", "ivy"}},
		{"filter deactive", "filter=deactive", []string{"carl", "hal"}},
		{"filter depleted", "filter=depleted", []string{"Bob", "dora", "hal"}},
		{"filter expiring", "filter=expiring", []string{"eve", "fay"}},
		{"filter online", "filter=online", []string{"amy", "eve"}},
		{"filter or", "filter=depleted,expiring", []string{"Bob", "dora", "eve", "fay", "hal"}},
		{"filter case and spaces", "filter=%20DEPLETED%20,,Online", []string{
			"amy", "Bob", "dora", "eve", "hal"}},
		{"filter unknown", "filter=bogus", allPaged},
		{"filter unknown in list", "filter=depleted,bogus", allPaged},
		{"protocol", "protocol=trojan", []string{"Bob", "carl", "fay", "ivy"}},
		{"protocol list", "protocol=VMESS,trojan", []string{"Bob", "carl", "dora", "fay", "ivy"}},
		{"protocol none", "protocol=shadowsocks", []string{}},
		{"inbound", "inbound=1", []string{"amy", "Bob", "eve", "hal", "ivy"}},
		{"inbound list drops junk", "inbound=3,x,-1,0", []string{"dora", "ivy"}},
		{"inbound only junk", "inbound=abc", allPaged},
		{"expiry from", fmt.Sprintf("expiryFrom=%d", ms), []string{"eve", "ivy"}},
		{"expiry to", fmt.Sprintf("expiryTo=%d", ms), []string{"dora"}},
		{"expiry inclusive", fmt.Sprintf("expiryFrom=%d&expiryTo=%d", ms-msHour, ms+msDay),
			[]string{"dora", "eve"}},
		{"expiry negative bound", "expiryFrom=-5", allPaged},
		{"usage from", "usageFrom=1", []string{"Bob", "carl", "fay", "hal", "ivy"}},
		{"usage inclusive", "usageFrom=500&usageTo=1000", []string{"carl", "ivy"}},
		{"usage to keeps unused", "usageTo=1000", []string{
			"amy", "carl", "dora", "eve", "gus", "ivy"}},
		{"auto renew on", "autoRenew=on", []string{"carl", "eve"}},
		{"auto renew off", "autoRenew=OFF", []string{"amy", "Bob", "dora", "fay", "gus", "hal", "ivy"}},
		{"auto renew other", "autoRenew=maybe", allPaged},
		{"has tg id", "hasTgId=yes", []string{"amy", "gus"}},
		{"no tg id", "hasTgId=no", []string{"Bob", "carl", "dora", "eve", "fay", "hal", "ivy"}},
		{"has comment", "hasComment=yes", []string{"amy"}},
		{"no comment", "hasComment=no", []string{
			"Bob", "carl", "dora", "eve", "fay", "gus", "hal", "ivy"}},
		{"group any case", "group=vip", []string{"amy", "dora"}},
		{"group list", "group=VIP,%20staff", []string{"amy", "dora", "ivy"}},
		{"group stored but empty", "group=Empty", []string{}},
		{"fields are anded", "protocol=trojan&filter=active", []string{"fay", "ivy"}},
		{"three fields", "inbound=1&filter=active,depleted&search=l", []string{"hal"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := f.paged(tc.query)
			if got := p.emails(); !slices.Equal(got, tc.want) {
				t.Fatalf("%s: got %v, want %v", tc.query, got, tc.want)
			}
			if p.Filtered != len(tc.want) || p.Total != len(allPaged) {
				t.Fatalf("%s: filtered %d total %d, want %d and %d",
					tc.query, p.Filtered, p.Total, len(tc.want), len(allPaged))
			}
		})
	}
}

// TestPaged_Sort checks every sort key both ways, with its tie rule:
// ties go by ascending id, except on the timestamp keys, whose ties
// follow the direction of the sort.
func TestPaged_Sort(t *testing.T) {
	f := newPagedFixture(t)
	cases := []struct {
		sort      string
		asc, desc []string
	}{
		{"enable",
			[]string{"carl", "hal", "amy", "Bob", "dora", "eve", "fay", "gus", "ivy"},
			[]string{"amy", "Bob", "dora", "eve", "fay", "gus", "ivy", "carl", "hal"}},
		{"email",
			[]string{"amy", "Bob", "carl", "dora", "eve", "fay", "gus", "hal", "ivy"},
			[]string{"ivy", "hal", "gus", "fay", "eve", "dora", "carl", "Bob", "amy"}},
		{"inboundIds",
			[]string{"gus", "amy", "carl", "dora", "eve", "fay", "hal", "Bob", "ivy"},
			[]string{"ivy", "Bob", "amy", "carl", "dora", "eve", "fay", "hal", "gus"}},
		{"traffic",
			[]string{"amy", "dora", "eve", "gus", "carl", "ivy", "hal", "fay", "Bob"},
			[]string{"Bob", "fay", "hal", "ivy", "carl", "amy", "dora", "eve", "gus"}},
		{"remaining",
			[]string{"hal", "Bob", "fay", "ivy", "amy", "carl", "dora", "eve", "gus"},
			[]string{"amy", "carl", "dora", "eve", "gus", "ivy", "fay", "Bob", "hal"}},
		{"expiryTime",
			[]string{"dora", "eve", "ivy", "amy", "Bob", "carl", "fay", "gus", "hal"},
			[]string{"amy", "Bob", "carl", "fay", "gus", "hal", "ivy", "eve", "dora"}},
		{"createdAt",
			[]string{"carl", "dora", "eve", "amy", "Bob", "gus", "hal", "fay", "ivy"},
			[]string{"ivy", "fay", "hal", "gus", "Bob", "amy", "eve", "dora", "carl"}},
		{"updatedAt",
			[]string{"Bob", "carl", "dora", "eve", "fay", "gus", "hal", "ivy", "amy"},
			[]string{"amy", "ivy", "hal", "gus", "fay", "eve", "dora", "carl", "Bob"}},
		{"lastOnline",
			[]string{"amy", "dora", "fay", "gus", "hal", "ivy", "Bob", "carl", "eve"},
			[]string{"eve", "carl", "Bob", "ivy", "hal", "gus", "fay", "dora", "amy"}},
		{"bogus", allPaged, allPaged},
		{"", allPaged, allPaged},
	}
	for _, tc := range cases {
		t.Run(tc.sort, func(t *testing.T) {
			for _, order := range []string{"", "ascend", "DESCEND", "descend"} {
				want := tc.asc
				if order == "descend" {
					want = tc.desc
				}
				q := "pageSize=50&sort=" + tc.sort + "&order=" + order
				if got := f.paged(q).emails(); !slices.Equal(got, want) {
					t.Errorf("%s: got %v, want %v", q, got, want)
				}
			}
		})
	}
}

// TestPaged_SortAfterFilter sorts only the matches and pages through
// them.
func TestPaged_SortAfterFilter(t *testing.T) {
	f := newPagedFixture(t)
	p := f.paged("filter=active&sort=email&order=descend&pageSize=2&page=2")
	if got := p.emails(); !slices.Equal(got, []string{"fay", "eve"}) {
		t.Fatalf("page 2 of active by email descending: %v", got)
	}
	if p.Filtered != 5 || p.Page != 2 || p.PageSize != 2 {
		t.Fatalf("counts: %+v", p)
	}
}

// TestPaged_Paging walks pages, clamps page and pageSize, and keeps the
// counts on a page past the end.
func TestPaged_Paging(t *testing.T) {
	f := newPagedFixture(t)
	var walked []string
	for page := 1; page <= 3; page++ {
		p := f.paged(fmt.Sprintf("pageSize=4&page=%d", page))
		if p.Page != page || p.PageSize != 4 || p.Filtered != 9 {
			t.Fatalf("page %d: %+v", page, p)
		}
		walked = append(walked, p.emails()...)
	}
	if !slices.Equal(walked, allPaged) {
		t.Fatalf("pages of 4 walked %v", walked)
	}

	cases := []struct {
		query          string
		page, size, on int
	}{
		{"page=4&pageSize=4", 4, 4, 0},
		{"page=0", 1, 25, 9},
		{"page=-3", 1, 25, 9},
		{"page=%201%20", 1, 25, 9},
		{"pageSize=0", 1, 25, 9},
		{"pageSize=-1", 1, 25, 9},
		{"pageSize=200", 1, 200, 9},
		{"pageSize=201", 1, 200, 9},
		{"pageSize=5000", 1, 200, 9},
		{"pageSize=9223372036854775807", 1, 200, 9},
		{"page=9223372036854775807&pageSize=200", 5497558138, 200, 0},
		{"page=&pageSize=", 1, 25, 9},
	}
	for _, tc := range cases {
		p := f.paged(tc.query)
		if p.Page != tc.page || p.PageSize != tc.size || len(p.Items) != tc.on {
			t.Errorf("%s: page %d size %d items %d, want %d %d %d",
				tc.query, p.Page, p.PageSize, len(p.Items), tc.page, tc.size, tc.on)
		}
		if p.Total != 9 || p.Filtered != 9 || p.Items == nil {
			t.Errorf("%s: total %d filtered %d items %v", tc.query, p.Total, p.Filtered, p.Items)
		}
	}
}

// TestPaged_BadNumbers refuses a numeric parameter that does not parse,
// in the words of Go's parser, and answers nothing else.
func TestPaged_BadNumbers(t *testing.T) {
	f := newPagedFixture(t)
	cases := map[string]string{
		"page=abc":          `Obtain (strconv.ParseInt: parsing "abc": invalid syntax)`,
		"pageSize=1.5":      `Obtain (strconv.ParseInt: parsing "1.5": invalid syntax)`,
		"page=1e3":          `Obtain (strconv.ParseInt: parsing "1e3": invalid syntax)`,
		"expiryFrom=soon":   `Obtain (strconv.ParseInt: parsing "soon": invalid syntax)`,
		"expiryTo=0x10":     `Obtain (strconv.ParseInt: parsing "0x10": invalid syntax)`,
		"usageFrom=-":       `Obtain (strconv.ParseInt: parsing "-": invalid syntax)`,
		"usageTo=%E2%88%9E": `Obtain (strconv.ParseInt: parsing "∞": invalid syntax)`,
		"pageSize=99999999999999999999": `Obtain (strconv.ParseInt: parsing ` +
			`"99999999999999999999": value out of range)`,
	}
	for query, msg := range cases {
		env := f.refused("GET", "/panel/api/clients/list/paged?"+query+"&search=amy", nil, msg)
		if string(env.Obj) != "null" {
			t.Errorf("%s: obj %s, want null", query, env.Obj)
		}
	}
}

// TestPaged_Summary counts every client once by status whatever the
// filter, and lists the online clients that are enabled and exist.
func TestPaged_Summary(t *testing.T) {
	f := newPagedFixture(t)
	want := summary{
		Total: 9, Active: 3, OnlineCount: 2, DepletedCount: 3, ExpiringCount: 2, DeactiveCount: 1,
		Online:   []string{"amy", "eve"},
		Depleted: []string{"Bob", "dora", "hal"},
		Expiring: []string{"eve", "fay"},
		Deactive: []string{"carl"},
	}
	for _, q := range []string{"", "filter=depleted", "search=zzz&page=9", "protocol=vmess"} {
		s := f.paged(q).Summary
		if fmt.Sprint(s) != fmt.Sprint(want) {
			t.Fatalf("%q: summary %+v, want %+v", q, s, want)
		}
		if s.Active+s.DepletedCount+s.ExpiringCount+s.DeactiveCount != s.Total {
			t.Fatalf("%q: buckets do not add up to %d: %+v", q, s.Total, s)
		}
	}

	// Status follows the clock and the online set.
	f.clock.set(t0.Add(2 * 24 * time.Hour))
	f.who.setOnline("Bob", "ivy")
	s := f.paged("").Summary
	if s.DepletedCount != 4 || !slices.Equal(s.Depleted, []string{"Bob", "dora", "eve", "hal"}) {
		t.Fatalf("after eve expired: %+v", s)
	}
	if s.OnlineCount != 2 || !slices.Equal(s.Online, []string{"Bob", "ivy"}) {
		t.Fatalf("online after the set changed: %+v", s)
	}
	if s.Active+s.DepletedCount+s.ExpiringCount+s.DeactiveCount != s.Total {
		t.Fatalf("buckets do not add up: %+v", s)
	}
}

// TestPaged_Groups lists stored groups and labels in use, deduplicated
// exactly after trimming and sorted ignoring case.
func TestPaged_Groups(t *testing.T) {
	f := newPagedFixture(t)
	want := []string{"Empty", "Staff", "VIP", "vip"}
	if got := f.paged("search=zzz").Groups; !slices.Equal(got, want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
}

// TestPaged_Items shows a slim row: no secrets, optional fields left out
// when empty, inbound ids ascending or null, and the usage row.
func TestPaged_Items(t *testing.T) {
	f := newPagedFixture(t)
	ivy := f.slimRow("ivy")
	for _, secret := range []string{"uuid", "id", "password", "auth", "flow", "security", "tgId"} {
		if _, ok := ivy[secret]; ok {
			t.Errorf("slim row carries %s", secret)
		}
	}
	for key, want := range map[string]string{
		"email": `"ivy"`, "subId": `"ivy-sub-XYZ"`, "group": `"Staff"`, "inboundIds": `[1,2,3]`,
		"totalGB": fmt.Sprint(100 * bytesG), "limitHwid": "0", "resetMax": "0",
	} {
		if got := string(ivy[key]); got != want {
			t.Errorf("%s = %s, want %s", key, got, want)
		}
	}
	if !strings.Contains(string(ivy["traffic"]), `"up":500,"down":500`) {
		t.Errorf("traffic = %s", ivy["traffic"])
	}

	gus := f.slimRow("gus")
	if got := string(gus["inboundIds"]); got != "null" {
		t.Errorf("unattached inboundIds = %s, want null", got)
	}
	for _, absent := range []string{"group", "comment"} {
		if v, ok := gus[absent]; ok {
			t.Errorf("empty %s is sent: %s", absent, v)
		}
	}
}

// slimRow returns the paged-list row of one email as raw fields.
func (a *api) slimRow(email string) map[string]json.RawMessage {
	a.t.Helper()
	var obj struct {
		Items []map[string]json.RawMessage `json:"items"`
	}
	a.ok("GET", "/panel/api/clients/list/paged?search="+url.QueryEscape(email), nil, &obj)
	for _, it := range obj.Items {
		if string(it["email"]) == `"`+email+`"` {
			return it
		}
	}
	a.t.Fatalf("no paged row for %s", email)
	return nil
}

// TestPaged_Empty answers an empty panel with zero counts and empty
// arrays, never null.
func TestPaged_Empty(t *testing.T) {
	a := newAPI(t)
	env := a.get("/panel/api/clients/list/paged")
	want := `{"items":[],"total":0,"filtered":0,"page":1,"pageSize":25,"summary":{"total":0,` +
		`"active":0,"onlineCount":0,"depletedCount":0,"expiringCount":0,"deactiveCount":0,` +
		`"online":[],"depleted":[],"expiring":[],"deactive":[]},"groups":[]}`
	if !env.Success || string(env.Obj) != want {
		t.Fatalf("empty panel: %s", env.Obj)
	}
}

// TestPaged_SummaryListsCapped caps each summary list at 200 emails, the
// lowest ids, while the count stays exact.
func TestPaged_SummaryListsCapped(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(3001)
	var items []map[string]any
	for i := range 205 {
		items = append(items, map[string]any{
			"client":     map[string]any{"email": fmt.Sprintf("old-%03d", i), "expiryTime": 1},
			"inboundIds": []int64{in},
		})
	}
	a.ok("POST", "/panel/api/clients/bulkCreate", items, nil)
	s := a.paged("pageSize=1").Summary
	if s.DepletedCount != 205 || len(s.Depleted) != 200 {
		t.Fatalf("depleted count %d list %d", s.DepletedCount, len(s.Depleted))
	}
	if s.Depleted[0] != "old-000" || s.Depleted[199] != "old-199" {
		t.Fatalf("list is not the lowest ids: %s..%s", s.Depleted[0], s.Depleted[199])
	}
}

// TestPaged_QueryEscapes decodes the query string as browsers encode it:
// plus for space, percent escapes for the rest.
func TestPaged_QueryEscapes(t *testing.T) {
	a := newAPI(t)
	in := a.vlessInbound(3002)
	a.addClient(map[string]any{"email": "имя", "comment": "a b&c=d"}, in)
	a.addClient(map[string]any{"email": "other"}, in)
	for _, search := range []string{"ИМЯ", "a b&c=d", "b&c"} {
		p := a.paged("search=" + url.QueryEscape(search))
		if got := p.emails(); len(got) != 1 || got[0] != "имя" {
			t.Errorf("search %q: %v", search, got)
		}
	}
}
