package hooks

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/panel"
	lua "github.com/yuin/gopher-lua"
)

// Events names every event a script may register a handler for.
var Events = []string{
	panel.ClientCreated, panel.ClientUpdated, panel.ClientDeleted,
	panel.ClientEnabled, panel.ClientDisabled, panel.ClientDepleted,
	panel.ClientExpired, panel.ClientExpiring, panel.ClientRenewed,
	panel.ClientStarted, panel.ClientTrafficReset, panel.ClientOnline,
	panel.ClientOffline, panel.InboundCreated, panel.InboundUpdated,
	panel.InboundDeleted,
}

// minEvery is the shortest interval of xpanel.every.
const minEvery = time.Second

// api builds the xpanel table of sc's state.
func (e *Engine) api(L *lua.LState, sc *script) *lua.LTable {
	fns := map[string]lua.LGFunction{
		"on":            sc.luaOn,
		"before":        sc.luaBefore,
		"every":         sc.luaEvery,
		"log":           sc.luaLog,
		"now":           luaNow,
		"http_post":     sc.luaHTTPPost,
		"hmac_sha256":   luaHMAC,
		"json_encode":   luaJSONEncode,
		"json_decode":   luaJSONDecode,
		"client":        sc.luaClient,
		"clients":       sc.luaClients,
		"update":        sc.luaUpdate,
		"enable":        func(L *lua.LState) int { return sc.luaSetEnabled(L, true) },
		"disable":       func(L *lua.LState) int { return sc.luaSetEnabled(L, false) },
		"extend":        sc.luaExtend,
		"reset_traffic": sc.luaResetTraffic,
		"attach":        func(L *lua.LState) int { return sc.luaMembership(L, true) },
		"detach":        func(L *lua.LState) int { return sc.luaMembership(L, false) },
	}
	t := L.SetFuncs(L.NewTable(), fns)
	store := L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
		"get": sc.luaStoreGet,
		"set": sc.luaStoreSet,
	})
	t.RawSetString("store", store)
	return t
}

// registering refuses a registration made outside the script's loading.
func (sc *script) registering(L *lua.LState, what string) {
	if !sc.loading {
		L.RaiseError("xpanel.%s may only be called while the script loads", what)
	}
}

func (sc *script) luaOn(L *lua.LState) int {
	sc.registering(L, "on")
	name, fn := L.CheckString(1), L.CheckFunction(2)
	if !slices.Contains(Events, name) {
		L.ArgError(1, fmt.Sprintf("unknown event %q", name))
	}
	sc.handlers[name] = append(sc.handlers[name], fn)
	return 0
}

func (sc *script) luaBefore(L *lua.LState) int {
	sc.registering(L, "before")
	name, fn := L.CheckString(1), L.CheckFunction(2)
	if name != panel.BeforeCreate && name != panel.BeforeUpdate {
		L.ArgError(1, fmt.Sprintf("unknown operation %q: want %s or %s",
			name, panel.BeforeCreate, panel.BeforeUpdate))
	}
	sc.before[name] = append(sc.before[name], fn)
	return 0
}

func (sc *script) luaEvery(L *lua.LState) int {
	sc.registering(L, "every")
	var every time.Duration
	switch v := L.Get(1).(type) {
	case lua.LNumber:
		every = time.Duration(float64(v) * float64(time.Second))
	case lua.LString:
		d, err := time.ParseDuration(string(v))
		if err != nil {
			L.ArgError(1, "want seconds or a duration such as \"24h\"")
		}
		every = d
	default:
		L.ArgError(1, "want seconds or a duration such as \"24h\"")
	}
	if every < minEvery {
		L.ArgError(1, "interval shorter than 1s")
	}
	sc.timers = append(sc.timers, timerSpec{every: every, fn: L.CheckFunction(2)})
	return 0
}

func (sc *script) luaLog(L *lua.LState) int {
	level := slog.LevelInfo
	if err := level.UnmarshalText([]byte(L.CheckString(1))); err != nil {
		L.ArgError(1, "want debug, info, warn or error")
	}
	attrs := []any{slog.String("script", sc.name)}
	if t := L.OptTable(3, nil); t != nil {
		fields, err := tableFromLua(t, 0)
		if m, ok := fields.(map[string]any); ok && err == nil {
			for _, k := range sortedFields(m) {
				attrs = append(attrs, slog.Any(k, m[k]))
			}
		}
	}
	sc.eng.log.Log(sc.eng.ctx, level, L.CheckString(2), attrs...)
	return 0
}

func luaNow(L *lua.LState) int {
	L.Push(lua.LNumber(time.Now().UnixMilli()))
	return 1
}

// ops returns the panel operations acting for the call running.
func (sc *script) ops() *panel.Service {
	o := panel.Origin{Script: sc.name, Depth: 1}
	if sc.call != nil {
		o = sc.call.origin
	}
	return sc.eng.svc.WithOrigin(o)
}

// answer pushes an action's outcome: true, or nil and the reason. An
// internal error is logged and reads "internal error" to the script.
func (sc *script) answer(L *lua.LState, err error) int {
	if err == nil {
		L.Push(lua.LTrue)
		return 1
	}
	L.Push(lua.LNil)
	L.Push(lua.LString(sc.reason(err)))
	return 2
}

func (sc *script) reason(err error) string {
	if panel.IsRefusal(err) {
		return err.Error()
	}
	sc.eng.log.Error("script action failed", slog.String("script", sc.name), slog.Any("err", err))
	return "internal error"
}

// waiting runs fn with the call's clock paused: a write waits on the
// store, which other writers may hold, and that is not the script's time.
func (sc *script) waiting(fn func() error) error {
	if sc.call != nil {
		sc.call.budget.pause()
		defer sc.call.budget.resume()
	}
	return fn()
}

// reading runs fn on the committed state with the call's clock paused:
// a page of up to maxClientsPage clients is bounded work done for the
// script, not the script running.
func (sc *script) reading(fn func(v *kv.View)) {
	sc.waiting(func() error {
		return sc.eng.svc.View(func(v *kv.View) error {
			fn(v)
			return nil
		})
	})
}

func (sc *script) luaClient(L *lua.LState) int {
	email := L.CheckString(1)
	var tbl *lua.LTable
	sc.reading(func(v *kv.View) {
		if c := v.ClientByEmail(email); c != nil {
			tbl = clientTable(L, c, v.Traffic(c.Email))
		}
	})
	if tbl == nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(tbl)
	return 1
}

// maxClientsPage bounds one page of xpanel.clients.
const maxClientsPage = 1000

func (sc *script) luaClients(L *lua.LState) int {
	q, err := queryOf(L.OptTable(1, L.NewTable()))
	if err != nil {
		L.ArgError(1, err.Error())
	}
	out := L.NewTable()
	sc.reading(func(v *kv.View) {
		page := v.Query(q, sc.eng.svc.Status())
		items := L.CreateTable(len(page.Items), 0)
		for _, it := range page.Items {
			items.Append(clientTable(L, it.Client, it.Traffic))
		}
		out.RawSetString("items", items)
		out.RawSetString("total", lua.LNumber(page.Total))
		out.RawSetString("filtered", lua.LNumber(page.Filtered))
		out.RawSetString("page", lua.LNumber(page.Page))
		out.RawSetString("pageSize", lua.LNumber(page.PageSize))
	})
	L.Push(out)
	return 1
}

// queryOf reads a filter table with the parameters of the paged list:
// search, filter, protocol, group, inbound (strings, comma-separated,
// or arrays), expiryFrom, expiryTo, usageFrom, usageTo, autoRenew,
// hasTgId, hasComment, sort, order ("descend"), page, pageSize.
func queryOf(t *lua.LTable) (kv.Query, error) {
	var q kv.Query
	text := func(k string) string { return strings.TrimSpace(lua.LVAsString(t.RawGetString(k))) }
	num := func(k string) int64 { return int64(lua.LVAsNumber(t.RawGetString(k))) }
	list := func(k string) []string {
		var out []string
		switch v := t.RawGetString(k).(type) {
		case lua.LString:
			for part := range strings.SplitSeq(string(v), ",") {
				if part = strings.ToLower(strings.TrimSpace(part)); part != "" {
					out = append(out, part)
				}
			}
		case *lua.LTable:
			v.ForEach(func(_, x lua.LValue) {
				out = append(out, strings.ToLower(lua.LVAsString(x)))
			})
		}
		return out
	}
	q.Search = strings.ToLower(text("search"))
	q.Buckets, q.Protocols, q.Groups = list("filter"), list("protocol"), list("group")
	for _, s := range list("inbound") {
		var id int64
		if _, err := fmt.Sscan(s, &id); err != nil || id <= 0 {
			return q, fmt.Errorf("inbound %q is not an id", s)
		}
		q.Inbounds = append(q.Inbounds, id)
	}
	q.ExpiryFrom, q.ExpiryTo = num("expiryFrom"), num("expiryTo")
	q.UsageFrom, q.UsageTo = num("usageFrom"), num("usageTo")
	q.AutoRenew, q.HasTgID = strings.ToLower(text("autoRenew")), strings.ToLower(text("hasTgId"))
	q.HasComment = strings.ToLower(text("hasComment"))
	q.Sort, q.Descending = text("sort"), text("order") == "descend"
	q.Page = int(max(num("page"), 1))
	q.PageSize = int(min(max(num("pageSize"), 0), maxClientsPage))
	if q.PageSize == 0 {
		q.PageSize = 100
	}
	return q, nil
}

func (sc *script) luaUpdate(L *lua.LState) int {
	email := L.CheckString(1)
	in, err := inputOf(L.CheckTable(2))
	if err != nil {
		L.ArgError(2, err.Error())
	}
	return sc.answer(L, sc.waiting(func() error { return sc.ops().UpdateClient(email, in) }))
}

// inputOf reads the fields of xpanel.update: the names of the client
// table. The record id and usage are not fields an update sets.
func inputOf(t *lua.LTable) (*panel.ClientInput, error) {
	v, err := tableFromLua(t, 0)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a table of fields")
	}
	for _, k := range []string{"id", "up", "down", "lastOnline", "inboundIds",
		"createdAt", "updatedAt"} {
		delete(m, k)
	}
	if uuid, ok := m["uuid"]; ok {
		m["id"] = uuid
		delete(m, "uuid")
	}
	if tag, ok := m["reverse"].(string); ok {
		m["reverse"] = map[string]any{"tag": tag}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var in panel.ClientInput
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("fields: %w", err)
	}
	return &in, nil
}

func (sc *script) luaSetEnabled(L *lua.LState, enable bool) int {
	email := L.CheckString(1)
	var res panel.ChangeResult
	err := sc.waiting(func() (err error) {
		res, err = sc.ops().SetEnabled([]string{email}, enable)
		return err
	})
	if err == nil && len(res.Skipped) > 0 {
		err = panel.Refusal(res.Skipped[0].Reason)
	}
	return sc.answer(L, err)
}

func (sc *script) luaExtend(L *lua.LState) int {
	email, by := L.CheckString(1), L.CheckTable(2)
	req := &panel.AdjustRequest{Emails: []string{email},
		AddDays:  int64(lua.LVAsNumber(by.RawGetString("days"))),
		AddBytes: int64(lua.LVAsNumber(by.RawGetString("bytes")))}
	var res panel.AdjustResult
	err := sc.waiting(func() (err error) {
		res, err = sc.ops().BulkAdjust(req)
		return err
	})
	if err == nil && res.Adjusted == 0 && len(res.Skipped) > 0 {
		err = panel.Refusal(res.Skipped[0].Reason)
	}
	return sc.answer(L, err)
}

func (sc *script) luaResetTraffic(L *lua.LState) int {
	email := L.CheckString(1)
	return sc.answer(L, sc.waiting(func() error { return sc.ops().ResetTraffic(email) }))
}

func (sc *script) luaMembership(L *lua.LState, attach bool) int {
	email, list := L.CheckString(1), L.CheckTable(2)
	var ids []int64
	list.ForEach(func(_, v lua.LValue) {
		if n, ok := v.(lua.LNumber); ok && n > 0 {
			ids = append(ids, int64(n))
		}
	})
	return sc.answer(L, sc.waiting(func() error {
		if attach {
			return sc.ops().Attach(email, ids)
		}
		return sc.ops().Detach(email, ids)
	}))
}

func luaJSONEncode(L *lua.LState) int {
	v, err := fromLua(L.CheckAny(1), 0)
	if err != nil {
		L.ArgError(1, err.Error())
	}
	b, err := json.Marshal(v)
	if err != nil {
		L.ArgError(1, err.Error())
	}
	L.Push(lua.LString(b))
	return 1
}

func luaJSONDecode(L *lua.LState) int {
	var v any
	if err := json.Unmarshal([]byte(L.CheckString(1)), &v); err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(toLua(L, v))
	return 1
}
