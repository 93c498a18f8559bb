package panel

import (
	"bytes"
	"fmt"
	"strconv"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
)

// The after-events operators script against, as they are named to them.
const (
	ClientCreated      = "client.created"
	ClientUpdated      = "client.updated"
	ClientDeleted      = "client.deleted"
	ClientEnabled      = "client.enabled"
	ClientDisabled     = "client.disabled"
	ClientDepleted     = "client.depleted"
	ClientExpired      = "client.expired"
	ClientExpiring     = "client.expiring"
	ClientRenewed      = "client.renewed"
	ClientStarted      = "client.started"
	ClientTrafficReset = "client.traffic_reset"
	ClientOnline       = "client.online"
	ClientOffline      = "client.offline"
	InboundCreated     = "inbound.created"
	InboundUpdated     = "inbound.updated"
	InboundDeleted     = "inbound.deleted"
)

// Occurrence is one after-event as the outbox keeps it: what happened,
// to which record, in which state, and the chain of script actions that
// led to it.
type Occurrence struct {
	Name   string `json:"name"`
	At     int64  `json:"at"` // Unix ms of the commit
	Depth  int    `json:"depth"`
	Script string `json:"script,omitempty"` // whose action caused it

	Client     *kv.Client  `json:"client,omitempty"` // as stored after; before for a delete
	InboundIDs []int64     `json:"inboundIds,omitempty"`
	Traffic    *kv.Traffic `json:"traffic,omitempty"`
	Before     *kv.Client  `json:"before,omitempty"` // for an update
	BeforeIDs  []int64     `json:"beforeInboundIds,omitempty"`
	Inbound    *kv.Inbound `json:"inbound,omitempty"`
}

// Origin is who asks for an operation: nobody in particular (the API,
// the poller) or a script, and how deep in a chain of script actions.
// Events an operation causes carry its origin, so that a handler's
// action firing a handler can be cut at a depth.
type Origin struct {
	Script string
	Depth  int
}

// WithOrigin returns a Service whose operations act for o. It shares
// everything else with s.
func (s *Service) WithOrigin(o Origin) *Service {
	n := *s
	n.origin = o
	return &n
}

// noteOrigin stages the origin of a script's operation for the journal.
func (s *Service) noteOrigin(tx *kv.Tx) {
	if s.origin.Script != "" || s.origin.Depth > 0 {
		tx.Note(s.origin)
	}
}

// Journal derives the after-events of a commit: the lifecycle of each
// client and inbound from the records before and after, and the causes
// that enforcement and presence noted. Set it on the store with
// kv.Store.SetJournal to have the events written to the outbox in the
// commit's own transaction.
func (s *Service) Journal(tx *kv.Tx, ch *kv.Change, notes []any) ([]kv.Outgoing, error) {
	return s.JournalOf(tx, ch, notes, nil)
}

// JournalOf is Journal keeping only the events named in wanted; nil
// keeps all.
func (s *Service) JournalOf(tx *kv.Tx, ch *kv.Change, notes []any,
	wanted map[string]bool) ([]kv.Outgoing, error) {
	j := journal{now: s.nowMs(), expiringBytes: s.opts.ExpiringBytes, wanted: wanted,
		expiringMs: s.opts.ExpiringWithin.Milliseconds(), renewed: map[int64]bool{}}
	for _, n := range notes {
		switch n := n.(type) {
		case Origin:
			j.origin = n
		case Event:
			if n.Kind == EventRenewed {
				j.renewed[n.ClientID] = true
			}
		}
	}
	for _, c := range ch.Clients {
		j.client(c, tx.Traffic(emailOf(c)))
	}
	if wanted == nil || wanted[ClientTrafficReset] || wanted[ClientExpiring] {
		for _, t := range ch.Traffic {
			j.traffic(tx, t)
		}
	}
	for _, in := range ch.Inbounds {
		j.inbound(in)
	}
	for _, n := range notes {
		if ev, ok := n.(Event); ok {
			j.noted(tx, ev)
		}
	}
	return j.out, j.err
}

// journal collects the events of one commit.
type journal struct {
	now           int64
	expiringBytes int64
	expiringMs    int64
	origin        Origin
	renewed       map[int64]bool // a renewal's zeroed usage is no reset
	wanted        map[string]bool
	out           []kv.Outgoing
	err           error
}

func (j *journal) add(o Occurrence, key string) {
	if j.wanted != nil && !j.wanted[o.Name] {
		return
	}
	o.At, o.Depth, o.Script = j.now, j.origin.Depth, j.origin.Script
	b, err := json.Marshal(&o)
	if err != nil {
		j.err = fmt.Errorf("encode event: %w", err)
		return
	}
	j.out = append(j.out, kv.Outgoing{Key: key, Value: b})
}

func clientKey(id int64) string { return "c" + strconv.FormatInt(id, 10) }

func emailOf(c kv.ClientChange) string {
	if c.After != nil {
		return c.After.Email
	}
	return c.Before.Email
}

// client derives the lifecycle events of one client record.
func (j *journal) client(c kv.ClientChange, t *kv.Traffic) {
	switch {
	case c.Before == nil:
		j.add(Occurrence{Name: ClientCreated, Client: c.After,
			InboundIDs: c.After.InboundIDs(), Traffic: t}, clientKey(c.After.ID))
		return
	case c.After == nil:
		j.add(Occurrence{Name: ClientDeleted, Client: c.Before,
			InboundIDs: c.Before.InboundIDs(), Traffic: t}, clientKey(c.Before.ID))
		return
	}
	ev := Occurrence{Client: c.After, InboundIDs: c.After.InboundIDs(), Traffic: t,
		Before: c.Before, BeforeIDs: c.Before.InboundIDs()}
	key := clientKey(c.After.ID)
	ev.Name = ClientUpdated
	j.add(ev, key)
	if c.Before.Enable != c.After.Enable {
		ev.Name = ClientDisabled
		if c.After.Enable {
			ev.Name = ClientEnabled
		}
		j.add(ev, key)
	}
	if !j.near(c.Before) && j.near(c.After) {
		ev.Name = ClientExpiring
		j.add(ev, key)
	}
}

// near reports whether an enabled client's expiry lies within the
// expiring threshold, but not yet behind.
func (j *journal) near(c *kv.Client) bool {
	return nearExpiry(c, j.now, j.expiringMs)
}

func nearExpiry(c *kv.Client, now, within int64) bool {
	return within > 0 && c.Enable && c.ExpiryTime > now && c.ExpiryTime-within <= now
}

// traffic derives the events of a usage row: a reset to zero, and a
// crossing of the quota's expiring threshold.
func (j *journal) traffic(tx *kv.Tx, t kv.TrafficChange) {
	if t.After == nil || t.Before == nil {
		return
	}
	c := tx.ClientNamed(t.After.Email)
	if c == nil {
		return
	}
	ev := Occurrence{Client: c, InboundIDs: c.InboundIDs(), Traffic: t.After}
	if t.Before.Used() > 0 && t.After.Used() == 0 && !j.renewed[c.ID] {
		ev.Name = ClientTrafficReset
		j.add(ev, clientKey(c.ID))
	}
	if j.expiringBytes > 0 && c.TotalGB > 0 {
		left := func(tr *kv.Traffic) int64 { return c.TotalGB - tr.Used() }
		if left(t.Before) >= j.expiringBytes && left(t.After) < j.expiringBytes &&
			left(t.After) > 0 {
			ev.Name = ClientExpiring
			j.add(ev, clientKey(c.ID))
		}
	}
}

// inbound derives the events of an inbound. Its usage counters move on
// every poll and are not an update.
func (j *journal) inbound(in kv.InboundChange) {
	switch {
	case in.Before == nil:
		j.add(Occurrence{Name: InboundCreated, Inbound: in.After}, inboundKey(in.After.ID))
	case in.After == nil:
		j.add(Occurrence{Name: InboundDeleted, Inbound: in.Before}, inboundKey(in.Before.ID))
	case inboundEdited(in.Before, in.After):
		j.add(Occurrence{Name: InboundUpdated, Inbound: in.After}, inboundKey(in.After.ID))
	}
}

func inboundKey(id int64) string { return "i" + strconv.FormatInt(id, 10) }

// inboundEdited reports whether anything but usage changed.
func inboundEdited(a, b *kv.Inbound) bool {
	x, y := *a, *b
	x.Up, x.Down, x.LastTrafficResetTime, x.UpdatedAt = 0, 0, 0, 0
	y.Up, y.Down, y.LastTrafficResetTime, y.UpdatedAt = 0, 0, 0, 0
	bx, errx := json.Marshal(&x)
	by, erry := json.Marshal(&y)
	return errx != nil || erry != nil || !bytes.Equal(bx, by)
}

// noteNames maps the causes enforcement and presence note to events.
// A periodic traffic reset is left out: the usage row going to zero
// reports it, whoever reset it.
var noteNames = map[EventKind]string{
	EventStarted:  ClientStarted,
	EventRenewed:  ClientRenewed,
	EventDepleted: ClientDepleted,
	EventExpired:  ClientExpired,
	EventExpiring: ClientExpiring,
	EventOnline:   ClientOnline,
	EventOffline:  ClientOffline,
}

// noted turns a cause noted in the transaction into its event.
func (j *journal) noted(tx *kv.Tx, ev Event) {
	name, ok := noteNames[ev.Kind]
	if !ok {
		return
	}
	var c *kv.Client
	if ev.ClientID != 0 {
		c = tx.Client(ev.ClientID)
	} else {
		c = tx.ClientNamed(ev.Email)
	}
	if c == nil {
		return // deleted, or only an email that nobody holds now
	}
	j.add(Occurrence{Name: name, Client: c, InboundIDs: c.InboundIDs(),
		Traffic: tx.Traffic(c.Email)}, clientKey(c.ID))
}
