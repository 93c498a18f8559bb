package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Paths of the API the harness calls.
const (
	clientsAPI  = "/panel/api/clients/"
	inboundsAPI = "/panel/api/inbounds/"
)

// seeded is what seeding left on the server, for the scenarios to use.
type seeded struct {
	emails   []string // every seeded client
	terms    []string // search texts, each matching some clients
	vlessID  int64
	trojanID int64
	stats    seedStats
}

// seedStats is what seeding measured and what the server then counted.
type seedStats struct {
	clients      int
	bulkCalls    int
	bulk         time.Duration // every bulkCreate call, back to back
	trafficCalls int
	traffic      time.Duration // the updateTraffic calls, concurrently
	summary      summary
}

// summary is the part of the paged list's summary the report shows.
type summary struct {
	Total         int `json:"total"`
	Active        int `json:"active"`
	DepletedCount int `json:"depletedCount"`
	ExpiringCount int `json:"expiringCount"`
	DeactiveCount int `json:"deactiveCount"`
}

// newClient is a client of a bulkCreate or add body.
type newClient struct {
	Email      string `json:"email"`
	TotalGB    int64  `json:"totalGB,omitempty"`
	ExpiryTime int64  `json:"expiryTime,omitempty"`
	Enable     bool   `json:"enable"`
	Group      string `json:"group,omitempty"`
	Comment    string `json:"comment,omitempty"`
	TgID       int64  `json:"tgId,omitempty"`
	LimitIP    int    `json:"limitIp,omitempty"`
	Reset      int    `json:"reset,omitempty"`
}

// addItem is one item of a bulkCreate body, and the body of an add.
type addItem struct {
	Client     newClient `json:"client"`
	InboundIDs []int64   `json:"inboundIds"`
}

// usage is traffic to set on one client after it is created.
type usage struct {
	email    string
	up, down int64
}

// seedClients creates two inbounds and o.clients clients with a mix of
// quotas, expiries, groups and comments, then sets the usage that makes
// some of them depleted and spreads the traffic sort.
func seedClients(ctx context.Context, d *driver, o options) (seeded, error) {
	var s seeded
	var err error
	if s.vlessID, s.trojanID, err = addInbounds(d); err != nil {
		return s, err
	}
	items, usages := plan(o.clients, s.vlessID, s.trojanID)
	for _, it := range items {
		s.emails = append(s.emails, it.Client.Email)
	}
	s.terms = searchTerms(s.emails)

	if err := bulkCreate(ctx, d, items, o.chunk, &s.stats); err != nil {
		return s, err
	}
	if err := setUsage(ctx, d, usages, &s.stats); err != nil {
		return s, err
	}
	return s, s.stats.check(d, o.clients)
}

// addInbounds creates the VLESS and Trojan inbounds the clients join.
// No proxy runs, so their ports are never opened.
func addInbounds(d *driver) (vless, trojan int64, err error) {
	var in struct {
		ID int64 `json:"id"`
	}
	stream := map[string]any{"network": "tcp", "security": "none"}
	err = d.api("POST", inboundsAPI+"add", map[string]any{
		"remark": "bench vless", "enable": true, "listen": "127.0.0.1", "port": 20001,
		"protocol": "vless", "settings": map[string]any{"decryption": "none"},
		"streamSettings": stream,
	}, &in)
	if err != nil {
		return 0, 0, err
	}
	vless = in.ID
	err = d.api("POST", inboundsAPI+"add", map[string]any{
		"remark": "bench trojan", "enable": true, "listen": "127.0.0.1", "port": 20002,
		"protocol": "trojan", "settings": map[string]any{}, "streamSettings": stream,
	}, &in)
	return vless, in.ID, err
}

// Word lists of the generated clients.
var (
	firstNames = []string{"olivia", "liam", "emma", "noah", "ava", "mateo", "sofia", "lucas",
		"mia", "leo", "amir", "yuki", "ines", "omar", "nora", "ivan"}
	domains = []string{"mail.example", "corp.example", "home.example", "edu.example"}
	groups  = []string{"resellers", "family", "office", "vip", "trial", "eu-west", "asia",
		"students"}
	comments = []string{"paid by card", "renews monthly", "referred by a friend",
		"asked for a second device", "support ticket open", "annual plan"}
)

const (
	gib   = int64(1) << 30
	dayMs = int64(24 * time.Hour / time.Millisecond)
)

// plan generates the clients, and the usage to set afterwards, from a
// fixed seed, so every run seeds the same mix:
//
//	65% with a quota of 10 to 200 GiB, the rest unlimited;
//	55% expiring in 4 to 90 days, 4% within 3 days, 3% in the past;
//	3% with a 1 GiB quota used up; 5% more with some usage;
//	3% disabled; 70% in one of 8 groups; 25% with a comment;
//	15% with a Telegram id, 20% with an IP limit, 10% renewing;
//	25% on both inbounds, the rest on the VLESS one.
func plan(n int, vless, trojan int64) ([]addItem, []usage) {
	rng := rand.New(rand.NewPCG(42, uint64(n)))
	now := time.Now().UnixMilli()
	items := make([]addItem, n)
	var usages []usage
	for i := range items {
		c := newClient{Email: emailOf(i), Enable: rng.IntN(100) >= 3}
		shapeLimits(rng, &c, now)
		shapeLabels(rng, &c)
		items[i] = addItem{Client: c, InboundIDs: []int64{vless}}
		if rng.IntN(4) == 0 {
			items[i].InboundIDs = append(items[i].InboundIDs, trojan)
		}

		switch roll := rng.IntN(100); {
		case roll < 3:
			items[i].Client.TotalGB = gib
			usages = append(usages, usage{c.Email, gib / 2, gib})
		case roll < 8:
			up := rng.Int64N(gib)
			usages = append(usages, usage{c.Email, up, up * int64(2+rng.IntN(8))})
		}
	}
	return items, usages
}

// emailOf names the i-th seeded client.
func emailOf(i int) string {
	return fmt.Sprintf("%s.u%06d@%s", firstNames[i%len(firstNames)], i,
		domains[i/len(firstNames)%len(domains)])
}

func shapeLimits(rng *rand.Rand, c *newClient, now int64) {
	if rng.IntN(100) < 65 {
		c.TotalGB = []int64{10, 30, 50, 100, 200}[rng.IntN(5)] * gib
	}
	switch roll := rng.IntN(100); {
	case roll < 55:
		c.ExpiryTime = now + (4+rng.Int64N(87))*dayMs
	case roll < 59:
		c.ExpiryTime = now + rng.Int64N(3*dayMs)
	case roll < 62:
		c.ExpiryTime = now - (1+rng.Int64N(30))*dayMs
	}
}

func shapeLabels(rng *rand.Rand, c *newClient) {
	if rng.IntN(100) < 70 {
		c.Group = groups[rng.IntN(len(groups))]
	}
	if rng.IntN(100) < 25 {
		c.Comment = comments[rng.IntN(len(comments))]
	}
	if rng.IntN(100) < 15 {
		c.TgID = 100_000_000 + rng.Int64N(900_000_000)
	}
	if rng.IntN(100) < 20 {
		c.LimitIP = 2 + rng.IntN(4)
	}
	if rng.IntN(100) < 10 {
		c.Reset = 30
	}
}

// searchTerms are what an operator types into the search box: a whole
// client id (one match), an id prefix (about a hundred in 100,000) and
// a first name (one client in sixteen).
func searchTerms(emails []string) []string {
	rng := rand.New(rand.NewPCG(7, uint64(len(emails))))
	terms := make([]string, 0, 64)
	for range cap(terms) {
		i := rng.IntN(len(emails))
		id := fmt.Sprintf("u%06d", i)
		switch rng.IntN(4) {
		case 0, 1:
			terms = append(terms, id)
		case 2:
			terms = append(terms, id[:5])
		default:
			terms = append(terms, firstNames[i%len(firstNames)])
		}
	}
	return terms
}

// bulkCreate sends the items in chunks, one call after another, and
// times the calls.
func bulkCreate(ctx context.Context, d *driver, items []addItem, chunk int, st *seedStats) error {
	for start := 0; start < len(items); start += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		part := items[start:min(start+chunk, len(items))]
		var res struct {
			Created int `json:"created"`
			Skipped []struct {
				Email, Reason string
			} `json:"skipped"`
		}
		began := time.Now()
		if err := d.api("POST", clientsAPI+"bulkCreate", part, &res); err != nil {
			return err
		}
		st.bulk += time.Since(began)
		st.bulkCalls++
		st.clients += res.Created
		if len(res.Skipped) > 0 {
			return fmt.Errorf("bulkCreate skipped %d clients, first %s: %s",
				len(res.Skipped), res.Skipped[0].Email, res.Skipped[0].Reason)
		}
	}
	return nil
}

// setUsage sets the planned traffic with updateTraffic over every
// connection at once.
func setUsage(ctx context.Context, d *driver, usages []usage, st *seedStats) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, d.conns)
	began := time.Now()
	for range d.conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(usages) {
					return
				}
				if err := usages[i].set(d); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	st.traffic, st.trafficCalls = time.Since(began), len(usages)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

func (u usage) set(d *driver) error {
	body := map[string]int64{"upload": u.up, "download": u.down}
	return d.api("POST", clientsAPI+"updateTraffic/"+url.PathEscape(u.email), body, nil)
}

// check reads the server's summary and makes sure every client arrived
// and the mix produced each status.
func (st *seedStats) check(d *driver, want int) error {
	sum, err := readSummary(d)
	if err != nil {
		return err
	}
	st.summary = sum
	if sum.Total != want {
		return fmt.Errorf("server counts %d clients after seeding, want %d", sum.Total, want)
	}
	if want >= 1000 && (sum.DepletedCount == 0 || sum.ExpiringCount == 0 || sum.DeactiveCount == 0) {
		return fmt.Errorf("seeded mix lacks a status: %+v", sum)
	}
	return nil
}

// readSummary asks the server for its status counts.
func readSummary(d *driver) (summary, error) {
	var page struct {
		Summary summary `json:"summary"`
	}
	err := d.api("GET", clientsAPI+"list/paged?pageSize=1", nil, &page)
	return page.Summary, err
}

// scenarios are the routes driven against the seeded server, paged
// views first.
func scenarios(s seeded) []scenario {
	const paged = clientsAPI + "list/paged"
	pick := func(w *worker) string { return s.emails[w.rng.IntN(len(s.emails))] }
	fixed := func(p string) func(*worker) string { return func(*worker) string { return p } }
	var added atomic.Int64
	return []scenario{
		{name: "list/paged default", paged: true, method: "GET", path: fixed(paged)},
		{name: "list/paged search", paged: true, method: "GET", path: func(w *worker) string {
			return paged + "?search=" + url.QueryEscape(s.terms[w.rng.IntN(len(s.terms))])
		}},
		{name: "list/paged filter=depleted", paged: true, method: "GET",
			path: fixed(paged + "?filter=depleted")},
		{name: "list/paged sort=traffic desc", paged: true, method: "GET",
			path: fixed(paged + "?sort=traffic&order=descend")},
		{name: "get/{email}", method: "GET", path: func(w *worker) string {
			return clientsAPI + "get/" + url.PathEscape(pick(w))
		}},
		{name: "update/{email}", method: "POST",
			path: func(w *worker) string { return clientsAPI + "update/" + url.PathEscape(pick(w)) },
			body: func(w *worker) []byte {
				return fmt.Appendf(nil, `{"comment":"note %d"}`, w.rng.IntN(1000))
			}},
		{name: "add", method: "POST", path: fixed(clientsAPI + "add"),
			body: func(w *worker) []byte {
				return fmt.Appendf(nil,
					`{"client":{"email":"load.%08d@bench.example","totalGB":%d},"inboundIds":[%d]}`,
					added.Add(1), 50*gib, s.vlessID)
			}},
	}
}
