// Package xray runs Xray-core inside the process and keeps it in step
// with the store: each committed change to a client or an inbound reaches
// the running core before the API call that made it returns, without a
// restart and without touching other users' connections. It reads the
// core's per-user traffic and live connections back for the panel.
package xray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"

	"github.com/xpanel/xpanel/kv"
	"github.com/xtls/xray-core/app/dispatcher"
	applog "github.com/xtls/xray-core/app/log"
	"github.com/xtls/xray-core/app/policy"
	"github.com/xtls/xray-core/app/proxyman"
	_ "github.com/xtls/xray-core/app/proxyman/inbound" // the inbound manager
	_ "github.com/xtls/xray-core/app/proxyman/outbound"
	"github.com/xtls/xray-core/app/stats"
	"github.com/xtls/xray-core/common/protocol"
	"github.com/xtls/xray-core/common/serial"
	"github.com/xtls/xray-core/core"
	"github.com/xtls/xray-core/features/inbound"
	featstats "github.com/xtls/xray-core/features/stats"
	"github.com/xtls/xray-core/proxy"
	"github.com/xtls/xray-core/proxy/freedom"
)

// Options configures a Core.
type Options struct {
	// Logger receives the core's own log and ours; nil discards both.
	Logger *slog.Logger

	// LogLevel is the least severe Xray message passed to Logger:
	// debug, info, warning, error or none.
	LogLevel string
}

// Core is an Xray instance running in this process.
type Core struct {
	inst     *core.Instance
	inbounds inbound.Manager
	stats    *stats.Manager
	tracker  *Tracker
	log      *slog.Logger

	mu      sync.Mutex
	running map[int64]*running // by inbound id
	placed  map[int64]*placed  // by client id
	stopped map[string]bool    // tags of inbounds stopped since the last Usage

	// leftover holds the last counts of the emails whose counters were
	// dropped since the last Usage, which reports them.
	leftover map[string]kv.UsageDelta
}

// running is an inbound the core serves, with the users it holds.
type running struct {
	in    *kv.Inbound
	spec  *spec
	users map[int64]user // by client id
}

// user is what the core holds for one client on one inbound, so that a
// change that leaves it equal touches nothing. The strings share the
// client record's memory.
type user struct {
	email, uuid, password, flow string
}

// placed is where the core holds a client: its email, how many inbounds
// it is on, and the IP limit the tracker enforces for it.
type placed struct {
	email string
	held  int // inbounds holding the client
	limit int

	// up and down are the email's counters in the core's stats
	// manager, found or registered by a Usage after the client was
	// placed (countersPerUsage at a time); nil until then.
	up, down featstats.Counter
}

// Start builds the core from the committed state in v and starts it:
// every enabled inbound with its active clients. An inbound that cannot
// run (a taken port, a broken setting) is logged and left out, so that
// one bad inbound does not keep the others down.
func Start(v *kv.View, opts Options) (*Core, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := routeLog(log, opts.LogLevel); err != nil {
		return nil, err
	}

	cfg := baseConfig()
	withTracker(cfg)
	inst, err := core.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("create xray core: %w", err)
	}
	if err := inst.Start(); err != nil {
		inst.Close()
		return nil, fmt.Errorf("start xray core: %w", err)
	}

	c := &Core{
		inst:     inst,
		inbounds: inst.GetFeature(inbound.ManagerType()).(inbound.Manager),
		stats:    inst.GetFeature(featstats.ManagerType()).(*stats.Manager),
		tracker:  trackerOf(inst),
		log:      log,
		running:  map[int64]*running{},
		placed:   map[int64]*placed{},
		stopped:  map[string]bool{},
		leftover: map[string]kv.UsageDelta{},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.startAll(v)
	return c, nil
}

// startAll starts every enabled inbound. The handlers, where nearly all
// of the time goes (the core derives each user's keys), are created in
// parallel; they are installed one by one. The caller holds mu.
func (c *Core) startAll(v *kv.View) {
	var ready []*pending
	for _, in := range v.Inbounds() {
		if !in.Enable {
			continue
		}
		p, err := c.prepareInbound(in, v)
		if err != nil {
			c.logLeftOut(in, err)
			continue
		}
		ready = append(ready, p)
	}

	errs := make([]error, len(ready))
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, p := range ready {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			errs[i] = c.createHandler(p)
		})
	}
	wg.Wait()

	for i, p := range ready {
		err := errs[i]
		if err == nil {
			err = c.installInbound(p)
		}
		if err != nil {
			c.logLeftOut(p.r.in, err)
		}
	}
}

func (c *Core) logLeftOut(in *kv.Inbound, err error) {
	c.log.Error("inbound left out of the core", slog.Int64("inbound", in.ID),
		slog.String("tag", in.Tag), slog.Any("err", err))
}

// baseConfig is the core's configuration without inbounds: per-user and
// per-inbound counters on, one direct outbound.
func baseConfig() *core.Config {
	userStats := &policy.Policy_Stats{UserUplink: true, UserDownlink: true, UserOnline: true}
	return &core.Config{
		App: []*serial.TypedMessage{
			serial.ToTypedMessage(&applog.Config{
				ErrorLogType: applog.LogType_None, AccessLogType: applog.LogType_None}),
			serial.ToTypedMessage(&dispatcher.Config{}),
			serial.ToTypedMessage(&proxyman.InboundConfig{}),
			serial.ToTypedMessage(&proxyman.OutboundConfig{}),
			serial.ToTypedMessage(&stats.Config{}),
			serial.ToTypedMessage(&policy.Config{
				Level: map[uint32]*policy.Policy{userLevel: {Stats: userStats}},
				System: &policy.SystemPolicy{Stats: &policy.SystemPolicy_Stats{
					InboundUplink: true, InboundDownlink: true}},
			}),
		},
		Outbound: []*core.OutboundHandlerConfig{{
			Tag: "direct", ProxySettings: serial.ToTypedMessage(&freedom.Config{})}},
	}
}

// Close cuts every live connection and stops the core. Xray leaves open
// connections running when it closes, so they are cut first.
func (c *Core) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.running {
		c.tracker.CutInbound(r.in.Tag)
	}
	return c.inst.Close()
}

// pending is an inbound on its way into the core: its users, then its
// handler.
type pending struct {
	r       *running
	clients []*kv.Client // the active members, in the order of users
	users   []*protocol.User
	handler inbound.Handler
}

// startInbound builds an inbound with its active members and starts it.
// The caller holds mu.
func (c *Core) startInbound(in *kv.Inbound, v *kv.View) error {
	p, err := c.prepareInbound(in, v)
	if err != nil {
		return err
	}
	if err := c.createHandler(p); err != nil {
		return err
	}
	return c.installInbound(p)
}

// prepareInbound reads an inbound's settings and active members.
func (c *Core) prepareInbound(in *kv.Inbound, v *kv.View) (*pending, error) {
	sp, err := specOf(in)
	if err != nil {
		return nil, err
	}
	p := &pending{r: &running{in: in, spec: sp}}
	if err := c.members(p, v); err != nil {
		return nil, err
	}
	return p, nil
}

// createHandler builds the core's handler of a prepared inbound. It
// touches nothing shared, so several may run at once.
func (c *Core) createHandler(p *pending) error {
	hc, err := buildInbound(p.r.in, p.r.spec, p.users)
	if err != nil {
		return err
	}
	p.users = nil // the config holds them until the handler is built
	obj, err := core.CreateObject(c.inst, hc)
	if err != nil {
		return fmt.Errorf("create inbound %s: %w", p.r.in.Tag, err)
	}
	h, ok := obj.(inbound.Handler)
	if !ok {
		return fmt.Errorf("create inbound %s: got a %T, not a handler", p.r.in.Tag, obj)
	}
	p.handler = h
	return nil
}

// installInbound starts a created handler and records what it holds.
// The caller holds mu.
func (c *Core) installInbound(p *pending) error {
	in := p.r.in
	if err := c.inbounds.AddHandler(context.Background(), p.handler); err != nil {
		// A handler whose start failed stays registered under its tag.
		c.inbounds.RemoveHandler(context.Background(), in.Tag)
		return fmt.Errorf("start inbound %s: %w", in.Tag, err)
	}
	c.running[in.ID] = p.r
	for _, cl := range p.clients {
		c.place(cl, in.ID)
	}
	return nil
}

// stopInbound stops an inbound. Its open connections are cut only when
// cut is set: an edited inbound keeps them, a disabled one does not.
func (c *Core) stopInbound(id int64, cut bool) {
	r := c.running[id]
	if r == nil {
		return
	}
	if err := c.inbounds.RemoveHandler(context.Background(), r.in.Tag); err != nil {
		c.log.Warn("remove inbound from core", slog.String("tag", r.in.Tag), slog.Any("err", err))
	}
	if cut {
		c.tracker.CutInbound(r.in.Tag)
	}
	for clientID := range r.users {
		if p := c.placed[clientID]; p != nil {
			p.held--
		}
	}
	delete(c.running, id)
	c.stopped[r.in.Tag] = true
}

// userManager returns the user manager of a running inbound.
func (c *Core) userManager(tag string) (proxy.UserManager, error) {
	h, err := c.inbounds.GetHandler(context.Background(), tag)
	if err != nil {
		return nil, err
	}
	gi, ok := h.(proxy.GetInbound)
	if !ok {
		return nil, errors.New("inbound handler exposes no proxy")
	}
	um, ok := gi.GetInbound().(proxy.UserManager)
	if !ok {
		return nil, errors.New("inbound has no user manager")
	}
	return um, nil
}
