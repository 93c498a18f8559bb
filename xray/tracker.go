package xray

import (
	"cmp"
	"context"
	"errors"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xtls/xray-core/common"
	xnet "github.com/xtls/xray-core/common/net"
	"github.com/xtls/xray-core/common/session"
	"github.com/xtls/xray-core/features/routing"
	"github.com/xtls/xray-core/proxy"
	"github.com/xtls/xray-core/transport"
)

// Errors the Tracker hands to the core when it refuses a connection. The
// inbound that dispatched sees them and drops the connection.
var (
	// ErrUserBlocked is returned for a dispatch of a user set blocked.
	ErrUserBlocked = errors.New("xray: user is blocked")
	// ErrIPLimit is returned for a dispatch from a new source IP when the
	// user already has as many distinct IPs as the limit allows.
	ErrIPLimit = errors.New("xray: user is at the IP limit")
)

// refusedKeep is how many refused IPs the Tracker remembers per user.
const refusedKeep = 8

// RefusedIP is a source IP the IP limit turned away, and when it last was.
type RefusedIP struct {
	IP string
	At time.Time
}

// Tracker is the core's routing.Dispatcher, wrapping the stock one. It
// sees every proxied connection together with its user and source, which
// lets xpanel cut one user's live connections, refuse a blocked user, and
// cap how many distinct source IPs a user may connect from at once.
//
// It keeps one entry per accepted connection: mux sub-streams and UDP
// flows carried by that connection only add a reference. Anonymous
// traffic (no user email) passes through untracked.
//
// Emails are compared lower-cased, as the core does. Unlike the core's
// online map, the Tracker counts loopback sources too. Its state lives
// and dies with one core instance; blocks and limits must be re-applied
// to the Tracker of a rebuilt instance.
type Tracker struct {
	inner routing.Dispatcher

	mu    sync.Mutex
	users map[string]*userConns // by lower-cased email
	seq   uint64                // orders source IPs by first sight
}

// userConns is what the Tracker knows of one user.
type userConns struct {
	conns   map[any]*liveConn // by accepted connection
	ips     map[string]*ipUse
	limit   int // distinct source IPs allowed at once; 0 means no limit
	blocked bool
	refused []RefusedIP // oldest first, at most refusedKeep
}

// ipUse counts the live connections of a user from one source IP.
type ipUse struct {
	conns int
	seq   uint64 // when this IP was first seen, for oldest-first order
}

// liveConn is one accepted connection of a user.
type liveConn struct {
	key   any
	email string
	ip    string
	tag   string    // inbound tag
	conn  xnet.Conn // nil for UDP flows without a connection of their own
	link  *transport.Link
	refs  int  // dispatches still running on this connection
	gone  bool // dropped from the Tracker, by a cut or its last release
}

// newTracker wraps the stock dispatcher.
func newTracker(inner routing.Dispatcher) *Tracker {
	return &Tracker{inner: inner, users: map[string]*userConns{}}
}

// Type makes the Tracker the instance's routing.Dispatcher.
func (t *Tracker) Type() any { return routing.DispatcherType() }

// Start starts the wrapped dispatcher.
func (t *Tracker) Start() error { return t.inner.Start() }

// Close closes the wrapped dispatcher. Live connections are left alone,
// as the core leaves them; cut them first if they must end.
func (t *Tracker) Close() error { return t.inner.Close() }

// Dispatch implements routing.Dispatcher for inbounds that hand their
// traffic over through pipes (vmess, trojan, shadowsocks, mux
// sub-streams, UDP). The connection is released when ctx ends, which
// the inbound worker does when the accepted connection closes.
func (t *Tracker) Dispatch(ctx context.Context, dest xnet.Destination) (*transport.Link, error) {
	lc, err := t.track(ctx)
	if err != nil {
		return nil, err
	}
	link, err := t.inner.Dispatch(ctx, dest)
	if lc == nil {
		return link, err
	}
	if err != nil {
		t.release(lc)
		return nil, err
	}

	// The link goes back untouched: the core type-asserts its parts.
	t.remember(lc, link)
	context.AfterFunc(ctx, func() { t.release(lc) })
	return link, nil
}

// DispatchLink implements routing.Dispatcher for inbounds that hand over
// their own connection (vless). It returns when the traffic ends.
func (t *Tracker) DispatchLink(ctx context.Context, dest xnet.Destination,
	link *transport.Link) error {
	lc, err := t.track(ctx)
	if err != nil {
		return err
	}
	if lc == nil {
		return t.inner.DispatchLink(ctx, dest, link)
	}
	defer t.release(lc)

	// The stock dispatcher rewrites *link in place, so keep a copy taken
	// before the call rather than reading it while it changes.
	own := *link
	t.remember(lc, &own)
	return t.inner.DispatchLink(ctx, dest, link)
}

// track registers a dispatch with its connection's entry, creating the
// entry on the connection's first dispatch. It returns a nil entry for
// anonymous traffic. A refused dispatch has its connection reset, so the
// client learns at once instead of after the core's timeouts.
func (t *Tracker) track(ctx context.Context) (*liveConn, error) {
	in := session.InboundFromContext(ctx)
	if in == nil || in.User == nil || in.User.Email == "" {
		return nil, nil
	}
	email := strings.ToLower(in.User.Email)
	key := connKey(in)

	t.mu.Lock()
	lc, err := t.admit(email, key, in)
	t.mu.Unlock()

	if err != nil {
		(&liveConn{conn: in.Conn}).kill()
		return nil, err
	}
	return lc, nil
}

// admit finds or creates the entry of a connection, applying the block
// and the IP limit. t.mu must be held.
func (t *Tracker) admit(email string, key any, in *session.Inbound) (*liveConn, error) {
	u := t.user(email)
	if u.blocked {
		t.prune(email, u)
		return nil, ErrUserBlocked
	}
	if lc := u.conns[key]; lc != nil {
		lc.refs++
		return lc, nil
	}

	ip := sourceIP(in)
	use := u.ips[ip]
	if use == nil && u.limit > 0 && len(u.ips) >= u.limit {
		u.refuse(ip, time.Now())
		return nil, ErrIPLimit
	}
	if use == nil {
		t.seq++
		use = &ipUse{seq: t.seq}
		u.ips[ip] = use
	}
	use.conns++

	lc := &liveConn{key: key, email: email, ip: ip, tag: in.Tag, conn: in.Conn, refs: 1}
	u.conns[key] = lc
	return lc, nil
}

// remember keeps the first link of a connection, so a cut can also
// interrupt the pipes between the inbound and the outbound. A link that
// arrives after its connection was cut is interrupted at once.
func (t *Tracker) remember(lc *liveConn, link *transport.Link) {
	t.mu.Lock()
	gone := lc.gone
	if !gone && lc.link == nil {
		lc.link = link
	}
	t.mu.Unlock()

	if gone {
		interruptLink(link)
	}
}

// release ends one dispatch; the last one drops the connection's entry.
func (t *Tracker) release(lc *liveConn) {
	t.mu.Lock()
	defer t.mu.Unlock()

	lc.refs--
	if lc.refs > 0 || lc.gone {
		return
	}
	t.drop(lc)
}

// drop forgets a connection and its share of the source IP. t.mu must be
// held.
func (t *Tracker) drop(lc *liveConn) {
	lc.gone = true
	u := t.users[lc.email]
	if u == nil {
		return
	}
	delete(u.conns, lc.key)
	if use := u.ips[lc.ip]; use != nil {
		if use.conns--; use.conns <= 0 {
			delete(u.ips, lc.ip)
		}
	}
	t.prune(lc.email, u)
}

// user returns the state of a user, creating it. t.mu must be held.
func (t *Tracker) user(email string) *userConns {
	u := t.users[email]
	if u == nil {
		u = &userConns{conns: map[any]*liveConn{}, ips: map[string]*ipUse{}}
		t.users[email] = u
	}
	return u
}

// prune forgets a user the Tracker has nothing left to say about, so the
// map does not grow with every email ever seen. t.mu must be held.
func (t *Tracker) prune(email string, u *userConns) {
	if len(u.conns) == 0 && !u.blocked && u.limit == 0 && len(u.refused) == 0 {
		delete(t.users, email)
	}
}

// refuse notes a refused IP, keeping one note per IP, newest last.
func (u *userConns) refuse(ip string, at time.Time) {
	u.refused = slices.DeleteFunc(u.refused, func(r RefusedIP) bool { return r.IP == ip })
	if len(u.refused) >= refusedKeep {
		u.refused = slices.Delete(u.refused, 0, len(u.refused)-refusedKeep+1)
	}
	u.refused = append(u.refused, RefusedIP{IP: ip, At: at})
}

// Cut closes every live connection of the user with a TCP reset and
// returns how many it closed. The client sees the end at once. Cut does
// not stop new connections: remove the user from the inbounds, and
// SetBlocked to close the window of a handshake already under way.
func (t *Tracker) Cut(email string) int {
	email = strings.ToLower(email)
	return t.cutWhere(func(lc *liveConn) bool { return lc.email == email })
}

// CutInbound closes every live connection accepted by the inbound with
// that tag, of any user, and returns how many it closed.
func (t *Tracker) CutInbound(tag string) int {
	return t.cutWhere(func(lc *liveConn) bool { return lc.tag == tag })
}

// cutAll closes every tracked connection.
func (t *Tracker) cutAll() int {
	return t.cutWhere(func(*liveConn) bool { return true })
}

// cutWhere drops the matching entries under the lock and closes their
// connections after it, so a slow close never holds up dispatching.
func (t *Tracker) cutWhere(match func(*liveConn) bool) int {
	t.mu.Lock()
	var victims []*liveConn
	for _, u := range t.users {
		for _, lc := range u.conns {
			if match(lc) {
				victims = append(victims, lc)
			}
		}
	}
	for _, lc := range victims {
		t.drop(lc)
	}
	t.mu.Unlock()

	killAll(victims)
	return len(victims)
}

// SetBlocked makes the Tracker refuse, or admit again, new dispatches of
// the user. It does not touch live connections; Cut does.
func (t *Tracker) SetBlocked(email string, blocked bool) {
	email = strings.ToLower(email)

	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.user(email)
	u.blocked = blocked
	t.prune(email, u)
}

// SetLimit sets how many distinct source IPs the user may have live
// connections from at once; 0 or less means no limit. If the user is
// over the new limit, the connections from the newest IPs are cut now,
// keeping the oldest. It returns how many connections it cut. Removing
// the limit also forgets the user's refused IPs.
func (t *Tracker) SetLimit(email string, n int) int {
	email = strings.ToLower(email)
	n = max(n, 0)

	t.mu.Lock()
	u := t.user(email)
	u.limit = n
	if n == 0 {
		u.refused = nil
	}
	var victims []*liveConn
	if n > 0 && len(u.ips) > n {
		extra := u.ipsOldestFirst()[n:]
		for _, lc := range u.conns {
			if slices.Contains(extra, lc.ip) {
				victims = append(victims, lc)
			}
		}
		now := time.Now()
		for _, ip := range extra {
			u.refuse(ip, now)
		}
	}
	for _, lc := range victims {
		t.drop(lc)
	}
	t.prune(email, u)
	t.mu.Unlock()

	killAll(victims)
	return len(victims)
}

// IPs lists the distinct source IPs of the user's live connections,
// oldest first.
func (t *Tracker) IPs(email string) []string {
	email = strings.ToLower(email)

	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.users[email]
	if u == nil {
		return nil
	}
	return u.ipsOldestFirst()
}

// ipsOldestFirst lists the user's IPs in the order they were first seen.
func (u *userConns) ipsOldestFirst() []string {
	ips := make([]string, 0, len(u.ips))
	for ip := range u.ips {
		ips = append(ips, ip)
	}
	slices.SortFunc(ips, func(a, b string) int {
		return cmp.Compare(u.ips[a].seq, u.ips[b].seq)
	})
	return ips
}

// Refused lists the IPs the limit recently turned away for the user,
// oldest first, one entry per IP with the time of its last refusal. The
// list is short: only the latest few IPs are kept.
func (t *Tracker) Refused(email string) []RefusedIP {
	email = strings.ToLower(email)

	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.users[email]
	if u == nil {
		return nil
	}
	return slices.Clone(u.refused)
}

// Live is what the Tracker knows of one user at a moment.
type Live struct {
	IPs     []string    // of live connections, oldest first
	Refused []RefusedIP // recently turned away or cut by the IP limit
}

// Snapshot returns, by lower-cased email, every user with a live
// connection or a recently refused IP.
func (t *Tracker) Snapshot() map[string]Live {
	t.mu.Lock()
	defer t.mu.Unlock()

	out := make(map[string]Live, len(t.users))
	for email, u := range t.users {
		if len(u.conns) == 0 && len(u.refused) == 0 {
			continue
		}
		out[email] = Live{IPs: u.ipsOldestFirst(), Refused: slices.Clone(u.refused)}
	}
	return out
}

// Online returns the lower-cased emails of the users that have at least
// one live connection.
func (t *Tracker) Online() map[string]struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()

	online := make(map[string]struct{}, len(t.users))
	for email, u := range t.users {
		if len(u.conns) > 0 {
			online[email] = struct{}{}
		}
	}
	return online
}

// Reset forgets every block and limit, so they can be re-applied from
// the store. Live connections and the refused IPs are kept.
func (t *Tracker) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()

	for email, u := range t.users {
		u.blocked = false
		u.limit = 0
		t.prune(email, u)
	}
}

// connKey identifies the accepted connection a dispatch belongs to. UDP
// flows and the rare connection type that cannot be a map key fall back
// to the session, which then counts as a connection of its own.
func connKey(in *session.Inbound) any {
	if in.Conn != nil && reflect.TypeOf(in.Conn).Comparable() {
		return in.Conn
	}
	return in
}

// sourceIP is the address of the peer. The accepted connection is asked
// first: a mux client could put any source it likes into its frames,
// and the IP limit must not take that on trust.
func sourceIP(in *session.Inbound) string {
	if in.Conn != nil {
		switch a := in.Conn.RemoteAddr().(type) {
		case *net.TCPAddr:
			return a.IP.String()
		case *net.UDPAddr:
			return a.IP.String()
		}
	}
	addr := in.Source.Address
	switch {
	case addr == nil:
		return ""
	case addr.Family().IsIP():
		return addr.IP().String()
	}
	return addr.String()
}

// killAll closes the connections of cut entries.
func killAll(victims []*liveConn) {
	for _, lc := range victims {
		lc.kill()
	}
}

// kill closes a connection with a reset rather than a FIN: the core's
// clients take a FIN as the normal end of the download and keep the
// application waiting for their uplink timeout. The socket under any TLS
// or counting wrappers is closed first, so no wrapper's goodbye can
// block. The link is interrupted too: for pipe-based inbounds it stops
// the outbound side without waiting for the closed socket to be noticed.
func (lc *liveConn) kill() {
	if lc.conn != nil {
		raw, _, _ := proxy.UnwrapRawConn(lc.conn)
		if l, ok := raw.(interface{ SetLinger(sec int) error }); ok {
			_ = l.SetLinger(0)
		}
		if raw != nil {
			_ = raw.Close()
		}
		_ = lc.conn.Close()
	}
	if lc.link != nil {
		interruptLink(lc.link)
	}
}

// interruptLink stops both pipes of a link; parts that are not pipes
// ignore it.
func interruptLink(link *transport.Link) {
	common.Interrupt(link.Reader)
	common.Interrupt(link.Writer)
}
