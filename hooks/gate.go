package hooks

import (
	"errors"
	"fmt"

	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/panel"
	lua "github.com/yuin/gopher-lua"
)

// TODO(hooks): external links and traffic resets change a client without
// the before-hooks; the fields an operator's policy guards (quota,
// expiry, state, flow, group, inbounds, the credentials) all pass them.

// BeforeClient runs the before-hooks registered for op, script by script
// in name order, each seeing the client as the previous one left it. A
// hook returns nothing to keep the client, a table to change it, or
// calls error("message") to refuse the change with that message.
//
// Any other failure of a hook - a bug, its time limit, a script busy
// for the whole limit - is the script's problem: it is reported in the
// script's status and the change goes on as if the hook had returned
// nothing. A script's hooks do not run for changes its own actions
// make, which would wait on the script itself.
func (e *Engine) BeforeClient(o panel.Origin, op string, c *kv.Client) (*kv.Client, error) {
	for _, sc := range *e.scripts.Load() {
		if sc.name == o.Script {
			continue
		}
		for _, fn := range sc.before[op] {
			next, err := sc.vet(o, op, fn, c)
			var r *Refusal
			if errors.As(err, &r) {
				return nil, panel.Refusal(r.Message)
			}
			if err == nil && next != nil {
				c = next
			}
		}
	}
	return c, nil
}

// vet runs one before-hook over c and reads back the client it returns.
func (sc *script) vet(o panel.Origin, op string, fn *lua.LFunction,
	c *kv.Client) (*kv.Client, error) {
	ret, err := sc.invoke(true, panel.Origin{Script: sc.name, Depth: o.Depth + 1}, fn,
		func(L *lua.LState) []lua.LValue {
			t := clientTable(L, c, nil)
			t.RawSetString("event", lua.LString(op))
			return []lua.LValue{t}
		})
	if err != nil {
		return nil, err
	}
	t, ok := ret.(*lua.LTable)
	if !ok {
		return nil, nil
	}
	next, err := clientFromTable(t, c)
	if err != nil {
		err = fmt.Errorf("before hook returned a bad client: %w", err)
		sc.failed(err)
		return nil, err
	}
	return next, nil
}
