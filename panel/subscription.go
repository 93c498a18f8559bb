package panel

import (
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/links"
)

// ExternalSource fetches the external subscriptions clients carry. It
// is the subscription server's cache, wired in by main; a Service
// without one leaves external subscriptions out.
type ExternalSource interface {
	// Fetch returns the share links behind a subscription URL. Fresh
	// reports that this call went to the network, so that its outcome
	// is worth recording; a cached answer or cached failure is not.
	Fetch(url string) (lines []string, fresh bool, err error)
}

// Subscription is what one subscription id serves: the share links of
// every client carrying it and the usage its apps show.
type Subscription struct {
	// Links are the share links: those of the clients' enabled inbounds,
	// ordered by inbound id and then client id, then the clients'
	// external links and the links of their external subscriptions.
	Links []string

	// Emails are the clients carrying the subscription id, by id.
	Emails []string

	// Up, Down are the bytes the clients used; Total their summed quota,
	// 0 when any of them is unlimited; Expire the common expiry in Unix
	// seconds, 0 when they differ or never expire.
	Up, Down, Total, Expire int64
}

// Subscription returns what the subscription id serves, or nil when no
// client carries it.
//
// TODO(sub-remarks): links are named "<inbound remark>-<email>" only; the
// remark template with traffic and days left that 3x-ui puts on a
// subscription's first link is not implemented. Disabled and depleted clients are served all the
// same, so that their apps can show why they no longer connect.
// requestHost is the Host the request was sent to; links advertise the
// configured public host over it.
func (s *Service) Subscription(subID, requestHost string) *Subscription {
	if subID == "" {
		return nil
	}
	host := links.DefaultHost(s.opts.PublicHost, requestHost)
	var sub *Subscription
	var externals []external
	s.store.View(func(v *kv.View) error {
		clients := v.ClientsBySubID(subID)
		if len(clients) == 0 {
			return nil
		}
		sub = &Subscription{}
		sub.usage(v, clients, s.nowMs())
		sub.Links = ownLinks(v, clients, host)
		externals = sub.addExternalLinks(clients, s.nowMs())
		return nil
	})
	if sub != nil {
		sub.Links = append(sub.Links, s.expand(externals)...)
	}
	return sub
}

// ClientLinks returns the share links of the client with exactly this
// email on every inbound it is attached to, in ascending inbound id
// order; nil when it is attached to none.
func (s *Service) ClientLinks(email, requestHost string) ([]string, error) {
	host := links.DefaultHost(s.opts.PublicHost, requestHost)
	var out []string
	found := false
	s.store.View(func(v *kv.View) error {
		c := v.ClientByEmail(email)
		if c == nil {
			return nil
		}
		found = true
		for _, id := range c.InboundIDs() {
			if in := v.Inbound(id); in != nil {
				out = append(out, links.Of(in, c, host)...)
			}
		}
		return nil
	})
	if !found {
		return nil, errRecordNotFound
	}
	return out, nil
}

// usage sums what the clients used and may use.
func (sub *Subscription) usage(v *kv.View, clients []*kv.Client, nowMs int64) {
	unlimited := false
	expiry, common := int64(0), true
	for i, c := range clients {
		sub.Emails = append(sub.Emails, c.Email)
		if t := v.Traffic(c.Email); t != nil {
			sub.Up += t.Up
			sub.Down += t.Down
		}
		unlimited = unlimited || c.TotalGB <= 0
		sub.Total += max(c.TotalGB, 0)

		e := c.ExpiryTime
		if e < 0 { // delayed start: the clock starts on first use
			e = nowMs - e
		}
		if i == 0 {
			expiry = e
		}
		common = common && e == expiry
	}
	if unlimited {
		sub.Total = 0
	}
	if common && expiry > 0 {
		sub.Expire = expiry / 1000
	}
}

// ownLinks returns the links of the clients on their enabled inbounds,
// ordered by inbound id, then client id.
func ownLinks(v *kv.View, clients []*kv.Client, host string) []string {
	byInbound := map[int64][]*kv.Client{}
	for _, c := range clients {
		for _, id := range c.InboundIDs() {
			byInbound[id] = append(byInbound[id], c)
		}
	}
	var out []string
	for _, id := range slices.Sorted(maps.Keys(byInbound)) {
		in := v.Inbound(id)
		if in == nil || !in.Enable {
			continue
		}
		for _, c := range byInbound[id] {
			out = append(out, links.Of(in, c, host)...)
		}
	}
	return out
}

// external is an external subscription to fetch for a client.
type external struct {
	email, url, prefix string
}

// addExternalLinks appends the clients' usable external links and
// returns the external subscriptions to fetch.
func (sub *Subscription) addExternalLinks(clients []*kv.Client, nowMs int64) []external {
	var subs []external
	for _, c := range clients {
		for _, l := range c.Links {
			if l.Kind == "subscription" {
				if l.Enable && (l.ExpiryTime <= 0 || l.ExpiryTime > nowMs) {
					subs = append(subs, external{email: c.Email, url: l.Value,
						prefix: l.NamePrefix})
				}
				continue
			}
			if line, ok := links.External(l, nowMs); ok {
				sub.Links = append(sub.Links, line)
			}
		}
	}
	return subs
}

// expand fetches the external subscriptions at once and returns their
// links, in the order the subscriptions were listed. One that fails is
// left out and its failure noted for the next FlushSubFetches.
func (s *Service) expand(subs []external) []string {
	if len(subs) == 0 || s.opts.External == nil {
		return nil
	}
	results := make([][]string, len(subs))
	var wg sync.WaitGroup
	for i, e := range subs {
		wg.Go(func() {
			lines, fresh, err := s.opts.External.Fetch(e.url)
			if fresh {
				s.fetches.noteLink(e.email, e.url, s.nowMs(), err)
			}
			if err != nil {
				if fresh { // a cached failure was logged when it happened
					s.log.Warn("external subscription failed", slog.Any("err", err))
				}
				return
			}
			for _, line := range lines {
				results[i] = append(results[i], links.Prefixed(line, e.prefix))
			}
		})
	}
	wg.Wait()
	return slices.Concat(results...)
}

// NoteSubFetch records that the clients' subscription was fetched now.
// The time reaches their usage rows (lastSubFetch) at the next
// FlushSubFetches, so that a busy subscription costs no write per fetch.
func (s *Service) NoteSubFetch(emails []string) {
	s.fetches.noteClients(emails, s.nowMs())
}

// FlushSubFetches commits the fetch times and external subscription
// outcomes noted since the last flush, in as few transactions as hold
// them. What fails to commit is kept for the next flush.
func (s *Service) FlushSubFetches() error {
	clients, linkResults := s.fetches.take()
	if len(clients) == 0 && len(linkResults) == 0 {
		return nil
	}
	emails := slices.Sorted(maps.Keys(clients))
	_, err := s.batch(len(emails), func(tx *kv.Tx, i int) error {
		return stampSubFetch(tx, emails[i], clients[emails[i]])
	})
	if err == nil {
		err = s.update(func(tx *kv.Tx) error { return recordLinkFetches(tx, linkResults) })
	}
	if err != nil {
		s.fetches.putBack(clients, linkResults)
	}
	return err
}

func stampSubFetch(tx *kv.Tx, email string, atMs int64) error {
	t := tx.Traffic(email)
	if t == nil || t.LastSubFetch >= atMs {
		return nil
	}
	n := *t
	n.LastSubFetch = atMs
	return tx.PutTraffic(&n)
}

// recordLinkFetches stores the outcome of each fetched external
// subscription on the link that names it.
func recordLinkFetches(tx *kv.Tx, results map[linkKey]linkResult) error {
	byEmail := map[string][]linkKey{}
	for k := range results {
		byEmail[k.email] = append(byEmail[k.email], k)
	}
	for email, keys := range byEmail {
		c, err := tx.ClientByEmail(email)
		if err != nil || c == nil {
			continue
		}
		n := c.Clone()
		for i := range n.Links {
			l := &n.Links[i]
			for _, k := range keys {
				if l.Kind == "subscription" && l.Value == k.url {
					r := results[k]
					l.LastFetchAt, l.LastFetchError = r.at, r.err
				}
			}
		}
		if err := tx.PutClient(n); err != nil {
			return err
		}
	}
	return nil
}

// fetchLog holds fetch times and outcomes until they are flushed.
type fetchLog struct {
	mu      sync.Mutex
	clients map[string]int64 // email -> Unix ms of the last fetch
	links   map[linkKey]linkResult
}

type linkKey struct{ email, url string }

type linkResult struct {
	at  int64
	err string
}

func (l *fetchLog) noteClients(emails []string, atMs int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clients == nil {
		l.clients = map[string]int64{}
	}
	for _, e := range emails {
		l.clients[e] = max(l.clients[e], atMs)
	}
}

func (l *fetchLog) noteLink(email, url string, atMs int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.links == nil {
		l.links = map[linkKey]linkResult{}
	}
	r := linkResult{at: atMs}
	if err != nil {
		r.err = strings.TrimSpace(err.Error())
	}
	l.links[linkKey{email, url}] = r
}

func (l *fetchLog) take() (map[string]int64, map[linkKey]linkResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, k := l.clients, l.links
	l.clients, l.links = nil, nil
	return c, k
}

// putBack returns what a failed flush took, keeping newer notes.
func (l *fetchLog) putBack(clients map[string]int64, results map[linkKey]linkResult) {
	for email, at := range clients {
		l.noteClients([]string{email}, at)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, r := range results {
		if l.links == nil {
			l.links = map[linkKey]linkResult{}
		}
		if old, ok := l.links[k]; !ok || old.at < r.at {
			l.links[k] = r
		}
	}
}
