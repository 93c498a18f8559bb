package xray

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/xpanel/xpanel/kv"
	"github.com/xtls/xray-core/common/protocol"
)

// rebuildAbove is the fewest user changes of one commit that may make a
// small inbound rebuild with its full user list rather than change them
// one by one; see spec.rebuildAbove for larger inbounds.
const rebuildAbove = 32

// active reports whether a client may use the proxy now: enabled, and
// not switched off by enforcement on its usage row.
func active(c *kv.Client, t *kv.Traffic) bool {
	return c.Enable && (t == nil || t.Enable)
}

// members builds the users of a pending inbound from its active clients
// and records them in its running state.
func (c *Core) members(p *pending, v *kv.View) error {
	r := p.r
	all := v.ClientsInInbound(r.in.ID)
	r.users = make(map[int64]user, len(all))
	p.users = make([]*protocol.User, 0, len(all))
	p.clients = make([]*kv.Client, 0, len(all))
	for _, cl := range all {
		if !active(cl, v.Traffic(cl.Email)) {
			continue
		}
		a, _ := cl.Attachment(r.in.ID)
		u, err := r.spec.user(cl, a.Flow)
		if err != nil {
			return fmt.Errorf("client %d: %w", cl.ID, err)
		}
		p.users = append(p.users, u)
		p.clients = append(p.clients, cl)
		r.users[cl.ID] = heldAs(cl, a.Flow)
	}
	return nil
}

// place notes that the core holds a client on one more inbound and
// applies the client's IP limit. The caller holds mu.
func (c *Core) place(cl *kv.Client, inboundID int64) {
	p := c.placed[cl.ID]
	if p == nil {
		p = &placed{email: cl.Email}
		c.placed[cl.ID] = p
	}
	p.held++
	if cl.LimitIP != p.limit {
		p.limit = cl.LimitIP
		c.tracker.SetLimit(cl.Email, cl.LimitIP)
	}
}

// Follow applies one committed change to the running core: inbounds
// first, each rebuilt alone, then the users of every client the change
// touched. It implements kv.Follower.
func (c *Core) Follow(ch *kv.Change, v *kv.View) error {
	c.mu.Lock()
	defer c.mu.Unlock()

	rebuilt := map[int64]bool{}
	for _, ic := range ch.Inbounds {
		if c.sameToCore(ic) {
			continue
		}
		if err := c.replaceInbound(ic, v); err != nil {
			return err
		}
		rebuilt[idOf(ic)] = true
	}

	var plans []*clientPlan
	for id := range touchedClients(ch, v) {
		plans = append(plans, c.plan(id, v, rebuilt))
	}
	if err := c.applyPlans(plans, v, rebuilt); err != nil {
		return err
	}
	for _, p := range plans {
		c.settle(p, v)
	}
	return nil
}

func idOf(ic kv.InboundChange) int64 {
	if ic.After != nil {
		return ic.After.ID
	}
	return ic.Before.ID
}

// sameToCore reports whether an inbound change leaves what the core runs
// alone, as counters and remarks do, and keeps the newer record.
func (c *Core) sameToCore(ic kv.InboundChange) bool {
	a, b := ic.Before, ic.After
	if a == nil || b == nil {
		return false
	}
	same := a.Enable == b.Enable && a.Tag == b.Tag && a.Port == b.Port &&
		a.Listen == b.Listen && a.Protocol == b.Protocol && a.DisableFlow == b.DisableFlow &&
		bytes.Equal(a.Settings, b.Settings) && bytes.Equal(a.StreamSettings, b.StreamSettings) &&
		bytes.Equal(a.Sniffing, b.Sniffing)
	if r := c.running[b.ID]; same && r != nil {
		r.in = b
	}
	return same
}

// replaceInbound stops an inbound that changed and starts its new state.
// Only a disabled or deleted inbound has its connections cut.
func (c *Core) replaceInbound(ic kv.InboundChange, v *kv.View) error {
	id := idOf(ic)
	on := ic.After != nil && ic.After.Enable
	c.stopInbound(id, !on)
	if !on {
		return nil
	}
	return c.startInbound(ic.After, v)
}

// touchedClients returns the ids of the clients whose records or usage
// rows a change touched.
func touchedClients(ch *kv.Change, v *kv.View) map[int64]bool {
	ids := map[int64]bool{}
	for _, cc := range ch.Clients {
		if cc.After != nil {
			ids[cc.After.ID] = true
		} else {
			ids[cc.Before.ID] = true
		}
	}
	for _, tc := range ch.Traffic {
		if tc.Before != nil && tc.After != nil && tc.Before.Enable == tc.After.Enable {
			continue // counters moved; what the core holds did not
		}
		email := ""
		if tc.After != nil {
			email = tc.After.Email
		} else {
			email = tc.Before.Email
		}
		if cl := v.ClientByEmail(email); cl != nil {
			ids[cl.ID] = true
		}
	}
	return ids
}

// clientPlan is what one client needs changed in the core.
type clientPlan struct {
	id      int64
	client  *kv.Client     // nil when deleted
	want    map[int64]user // inbound id -> what the core should hold
	add     []int64        // inbounds to add the user to
	remove  []int64        // inbounds to remove the user from
	oldMail string
	lost    bool // lost access somewhere, or changed credentials
}

// plan compares what the core holds for a client with what the store
// says it should hold, on the inbounds not rebuilt by this change.
func (c *Core) plan(id int64, v *kv.View, rebuilt map[int64]bool) *clientPlan {
	p := &clientPlan{id: id, client: v.Client(id), want: map[int64]user{}}
	if pl := c.placed[id]; pl != nil {
		p.oldMail = pl.email
	}
	if cl := p.client; cl != nil && active(cl, v.Traffic(cl.Email)) {
		for _, a := range cl.Inbounds {
			if c.running[a.InboundID] != nil {
				p.want[a.InboundID] = heldAs(cl, a.Flow)
			}
		}
	}
	for inID, r := range c.running {
		if rebuilt[inID] {
			continue
		}
		held, has := r.users[id]
		want, wanted := p.want[inID]
		switch {
		case has && !wanted:
			p.remove = append(p.remove, inID)
			p.lost = true
		case has && held != want:
			p.remove = append(p.remove, inID)
			p.add = append(p.add, inID)
			p.lost = true
		case !has && wanted:
			p.add = append(p.add, inID)
		}
	}
	return p
}

// applyPlans makes the user changes, one by one on inbounds with few of
// them and by a rebuild on the others.
func (c *Core) applyPlans(plans []*clientPlan, v *kv.View, rebuilt map[int64]bool) error {
	count := map[int64]int{}
	for _, p := range plans {
		for _, id := range p.remove {
			count[id]++
		}
		for _, id := range p.add {
			count[id]++
		}
	}
	rebuild := map[int64]bool{}
	for id, n := range count {
		if r := c.running[id]; n > r.spec.rebuildAbove(len(r.users)) {
			rebuild[id] = true
		}
	}

	for _, p := range plans {
		if err := c.applyPlan(p, rebuild); err != nil {
			return err
		}
	}
	for id := range rebuild {
		in := c.running[id].in
		c.stopInbound(id, false)
		if err := c.startInbound(in, v); err != nil {
			return err
		}
		rebuilt[id] = true
	}
	return nil
}

// applyPlan removes and adds one client's users on the inbounds not
// being rebuilt.
func (c *Core) applyPlan(p *clientPlan, rebuild map[int64]bool) error {
	for _, id := range p.remove {
		r := c.running[id]
		held := r.users[p.id]
		delete(r.users, p.id)
		if rebuild[id] {
			continue
		}
		if err := c.removeUser(r, held.email); err != nil {
			return err
		}
	}
	for _, id := range p.add {
		r := c.running[id]
		a, _ := p.client.Attachment(id)
		r.users[p.id] = p.want[id]
		if rebuild[id] {
			continue
		}
		if err := c.addUser(r, p.client, a.Flow); err != nil {
			return err
		}
	}
	return nil
}

func (c *Core) addUser(r *running, cl *kv.Client, flow string) error {
	um, err := c.userManager(r.in.Tag)
	if err != nil {
		return err
	}
	u, err := r.spec.user(cl, flow)
	if err != nil {
		return err
	}
	mu, err := u.ToMemoryUser()
	if err != nil {
		return fmt.Errorf("client %d on %s: %w", cl.ID, r.in.Tag, err)
	}
	if err := um.AddUser(context.Background(), mu); err != nil {
		return fmt.Errorf("add client %d to %s: %w", cl.ID, r.in.Tag, err)
	}
	return nil
}

func (c *Core) removeUser(r *running, email string) error {
	um, err := c.userManager(r.in.Tag)
	if err != nil {
		return err
	}
	err = um.RemoveUser(context.Background(), email)
	if err != nil && !strings.Contains(err.Error(), "not found") {
		return fmt.Errorf("remove a client from %s: %w", r.in.Tag, err)
	}
	return nil
}

// settle brings the tracker in line with a client's new place: cut the
// connections it may no longer hold, block it when it has no inbound
// left, and apply its IP limit.
func (c *Core) settle(p *clientPlan, v *kv.View) {
	cl := p.client
	renamed := cl != nil && p.oldMail != "" && !strings.EqualFold(p.oldMail, cl.Email)
	if p.oldMail != "" && (p.lost || renamed || cl == nil) {
		c.tracker.Cut(p.oldMail)
	}
	if cl == nil || renamed {
		if p.oldMail != "" {
			c.forget(p.oldMail)
		}
	}
	pl := c.placed[p.id]
	if pl != nil && (cl == nil || pl.email != cl.Email) {
		c.uncount(pl)
	}
	if cl == nil {
		delete(c.placed, p.id)
		return
	}
	if pl == nil || renamed {
		pl = &placed{email: cl.Email, limit: -1}
		c.placed[p.id] = pl
	}
	pl.email = cl.Email
	pl.held = 0
	for _, r := range c.running {
		if _, ok := r.users[p.id]; ok {
			pl.held++
		}
	}
	c.tracker.SetBlocked(cl.Email, pl.held == 0)
	if cl.LimitIP != pl.limit {
		pl.limit = cl.LimitIP
		c.tracker.SetLimit(cl.Email, cl.LimitIP)
	}
}

// forget drops the block and limit of an email that no longer exists.
// Its counters are settled by uncount.
func (c *Core) forget(email string) {
	c.tracker.SetBlocked(email, false)
	c.tracker.SetLimit(email, 0)
}

// Inbounds returns the ids of the inbounds the core serves, ascending.
func (c *Core) Inbounds() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.running))
}
