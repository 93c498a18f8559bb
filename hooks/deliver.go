package hooks

import (
	"hash/maphash"
	"log/slog"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/panel"
	lua "github.com/yuin/gopher-lua"
)

// Delivery tuning: entries read from the outbox at a time, events queued
// per worker, and how often handled entries are removed.
const (
	readBatch   = 256
	workerQueue = 256
	ackEvery    = 20 * time.Millisecond
	ackBatch    = 512
	retryAfter  = time.Second
)

// startDelivery starts the reader, the workers and the acker. Events of
// one client go to one worker, which hands them to the scripts in
// order; the acker removes each entry once every handler has had it.
func (e *Engine) startDelivery() {
	acks := make(chan uint64, readBatch)
	queues := make([]chan kv.OutboxEntry, e.opts.Workers)
	for i := range queues {
		queues[i] = make(chan kv.OutboxEntry, workerQueue)
		e.wg.Go(func() { e.work(queues[i], acks) })
	}
	e.wg.Go(func() { e.read(queues) })

	e.wg.Go(func() { e.ack(acks) })
}

// read hands outbox entries to the workers until the engine closes.
func (e *Engine) read(queues []chan kv.OutboxEntry) {
	defer func() {
		for _, q := range queues {
			close(q)
		}
	}()
	seed := maphash.MakeSeed()
	var cursor uint64
	for {
		entries, err := e.store.ReadOutbox(cursor, readBatch)
		if err != nil {
			e.log.Error("read outbox", slog.Any("err", err))
			if !e.sleep(retryAfter) {
				return
			}
			continue
		}
		if len(entries) == 0 {
			select {
			case <-e.ctx.Done():
				return
			case <-e.store.OutboxReady():
			}
			continue
		}
		e.inflight.Add(int64(len(entries)))
		for _, en := range entries {
			q := queues[maphash.String(seed, en.Key)%uint64(len(queues))]
			select {
			case q <- en:
			case <-e.ctx.Done():
				return
			}
		}
		cursor = entries[len(entries)-1].Seq
		e.cursor.Store(cursor)
	}
}

// Drained reports whether every event committed so far has been
// delivered and removed from the outbox.
func (e *Engine) Drained() bool {
	return e.inflight.Load() == 0 && e.cursor.Load() >= e.store.OutboxReleased()
}

func (e *Engine) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-e.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// work delivers the events of its queue in order.
func (e *Engine) work(queue chan kv.OutboxEntry, acks chan<- uint64) {
	for en := range queue {
		if e.ctx.Err() != nil {
			continue // left in the outbox for the next start
		}
		if e.deliver(en) {
			acks <- en.Seq
		}
	}
}

// ack removes handled entries in batches. On close it removes what was
// handled before it stops.
func (e *Engine) ack(acks <-chan uint64) {
	tick := time.NewTicker(ackEvery)
	defer tick.Stop()
	var done []uint64
	flush := func() {
		if len(done) == 0 {
			return
		}
		if err := e.store.AckOutbox(done); err != nil {
			e.log.Error("remove delivered events", slog.Any("err", err))
		}
		e.inflight.Add(-int64(len(done)))
		done = done[:0]
	}
	for {
		select {
		case seq := <-acks:
			if done = append(done, seq); len(done) >= ackBatch {
				flush()
			}
		case <-tick.C:
			flush()
		case <-e.ctx.Done():
			for drained := false; !drained; {
				select {
				case seq := <-acks:
					done = append(done, seq)
				case <-time.After(10 * time.Millisecond):
					drained = true
				}
			}
			flush()
			return
		}
	}
}

// deliver hands one event to every handler of it, script by script in
// name order. It reports whether the entry is done with: false only when
// the engine closed before every handler had it.
func (e *Engine) deliver(en kv.OutboxEntry) bool {
	var ev panel.Occurrence
	if err := json.Unmarshal(en.Value, &ev); err != nil {
		e.log.Error("drop undecodable event", slog.Uint64("event_id", en.Seq), slog.Any("err", err))
		return true
	}
	if ev.Depth > e.opts.MaxDepth {
		e.log.Warn("event chain cut at its depth limit", slog.String("event", ev.Name),
			slog.Uint64("event_id", en.Seq), slog.String("script", ev.Script),
			slog.Int("depth", ev.Depth), slog.Int("max_depth", e.opts.MaxDepth))
		return true
	}
	for _, sc := range *e.scripts.Load() {
		for _, fn := range sc.handlers[ev.Name] {
			o := panel.Origin{Script: sc.name, Depth: ev.Depth + 1}
			_, err := sc.invoke(false, o, fn, func(L *lua.LState) []lua.LValue {
				return []lua.LValue{eventTable(L, en.Seq, &ev)}
			})
			if err == errClosed && e.ctx.Err() != nil {
				return false
			}
		}
	}
	return true
}

// eventTable renders an event for a handler: the client's fields (or the
// inbound's) at the top, with event, eventId, at, depth, cause (the
// script whose action caused it), and for an update before and changed.
//
// The table fills itself on first use: most handlers look at a few
// events and skip the rest, and filling one costs more than delivering
// it. pairs and next see it filled; only rawget and rawequal could tell.
func eventTable(L *lua.LState, id uint64, ev *panel.Occurrence) *lua.LTable {
	return lazyTable(L, func(L *lua.LState, t *lua.LTable) {
		fillEvent(L, t, id, ev)
	})
}

func fillEvent(L *lua.LState, t *lua.LTable, id uint64, ev *panel.Occurrence) {
	switch {
	case ev.Client != nil:
		fillClient(L, t, ev.Client, ev.Traffic)
		if ids := ev.InboundIDs; ids != nil {
			t.RawSetString("inboundIds", idList(L, ids))
		}
		if ev.Before != nil {
			ev.Before.Inbounds = attachments(ev.BeforeIDs)
			ev.Client.Inbounds = attachments(ev.InboundIDs)
			t.RawSetString("before", clientTable(L, ev.Before, ev.Traffic))
			changed := L.NewTable()
			for _, f := range changedFields(ev.Before, ev.Client) {
				changed.Append(lua.LString(f))
			}
			t.RawSetString("changed", changed)
		}
	case ev.Inbound != nil:
		inboundTable(L, t, ev.Inbound)
	}
	t.RawSetString("event", lua.LString(ev.Name))
	t.RawSetString("eventId", lua.LNumber(id))
	t.RawSetString("at", lua.LNumber(ev.At))
	t.RawSetString("depth", lua.LNumber(ev.Depth))
	if ev.Script != "" {
		t.RawSetString("cause", lua.LString(ev.Script))
	}
}

// lazyFill is the metatable key under which a lazy table keeps the
// function that fills it.
const lazyFill = "__xpanel_fill"

// lazyTable returns an empty table that fill fills the first time it is
// read, written or walked with pairs or next.
func lazyTable(L *lua.LState, fill func(L *lua.LState, t *lua.LTable)) *lua.LTable {
	t := L.NewTable()
	meta := L.CreateTable(0, 3)
	materialize := func(L *lua.LState) {
		if t.Metatable == meta {
			L.SetMetatable(t, lua.LNil)
			fill(L, t)
		}
	}
	meta.RawSetString(lazyFill, L.NewFunction(func(L *lua.LState) int {
		materialize(L)
		return 0
	}))
	meta.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		materialize(L)
		L.Push(t.RawGet(L.Get(2)))
		return 1
	}))
	meta.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		materialize(L)
		t.RawSet(L.Get(2), L.Get(3))
		return 0
	}))
	L.SetMetatable(t, meta)
	return t
}

// fillLazy fills v if it is a lazy table not yet filled.
func fillLazy(L *lua.LState, v lua.LValue) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return
	}
	meta, ok := t.Metatable.(*lua.LTable)
	if !ok {
		return
	}
	if fn, ok := meta.RawGetString(lazyFill).(*lua.LFunction); ok {
		L.Push(fn)
		L.Call(0, 0)
	}
}

func attachments(ids []int64) []kv.Attachment {
	out := make([]kv.Attachment, len(ids))
	for i, id := range ids {
		out[i].InboundID = id
	}
	return out
}

// inboundTable fills t with an inbound as the API shows it, settings
// decoded.
func inboundTable(L *lua.LState, t *lua.LTable, in *kv.Inbound) {
	b, err := json.Marshal(in)
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return
	}
	for k, v := range m {
		t.RawSetString(k, toLua(L, v))
	}
}
