package hooks

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/xpanel/xpanel/kv"
	lua "github.com/yuin/gopher-lua"
)

// clientField is one field of a client as scripts see it: how to read
// it from a record into Lua, and how to write a Lua value back.
type clientField struct {
	name string
	get  func(c *kv.Client) lua.LValue
	set  func(c *kv.Client, v lua.LValue) bool // false: wrong type
}

func strField(name string, p func(c *kv.Client) *string) clientField {
	return clientField{name,
		func(c *kv.Client) lua.LValue { return lua.LString(*p(c)) },
		func(c *kv.Client, v lua.LValue) bool {
			s, ok := v.(lua.LString)
			if ok {
				*p(c) = string(s)
			}
			return ok
		}}
}

func intField[T int | int64](name string, p func(c *kv.Client) *T) clientField {
	return clientField{name,
		func(c *kv.Client) lua.LValue { return lua.LNumber(*p(c)) },
		func(c *kv.Client, v lua.LValue) bool {
			n, ok := v.(lua.LNumber)
			if ok && float64(n) == math.Trunc(float64(n)) {
				*p(c) = T(n)
				return true
			}
			return false
		}}
}

// clientFields lists, in the names of the API, every field of a client
// record a script reads and may change. The record id is read-only.
var clientFields = []clientField{
	strField("email", func(c *kv.Client) *string { return &c.Email }),
	strField("subId", func(c *kv.Client) *string { return &c.SubID }),
	strField("uuid", func(c *kv.Client) *string { return &c.UUID }),
	strField("password", func(c *kv.Client) *string { return &c.Password }),
	strField("auth", func(c *kv.Client) *string { return &c.Auth }),
	strField("flow", func(c *kv.Client) *string { return &c.Flow }),
	strField("security", func(c *kv.Client) *string { return &c.Security }),
	strField("group", func(c *kv.Client) *string { return &c.Group }),
	strField("comment", func(c *kv.Client) *string { return &c.Comment }),
	strField("trafficReset", func(c *kv.Client) *string { return &c.TrafficReset }),
	intField("limitIp", func(c *kv.Client) *int { return &c.LimitIP }),
	intField("limitHwid", func(c *kv.Client) *int { return &c.LimitHwid }),
	intField("totalGB", func(c *kv.Client) *int64 { return &c.TotalGB }),
	intField("expiryTime", func(c *kv.Client) *int64 { return &c.ExpiryTime }),
	intField("tgId", func(c *kv.Client) *int64 { return &c.TgID }),
	intField("reset", func(c *kv.Client) *int { return &c.Reset }),
	intField("resetDay", func(c *kv.Client) *int { return &c.ResetDay }),
	intField("resetMax", func(c *kv.Client) *int { return &c.ResetMax }),
	intField("trafficResetDay", func(c *kv.Client) *int { return &c.TrafficResetDay }),
	{"enable",
		func(c *kv.Client) lua.LValue { return lua.LBool(c.Enable) },
		func(c *kv.Client, v lua.LValue) bool {
			b, ok := v.(lua.LBool)
			if ok {
				c.Enable = bool(b)
			}
			return ok
		}},
}

// clientTable renders a client and its usage row (t may be nil) as the
// table scripts get: every record field, plus id, up, down, lastOnline,
// inboundIds, createdAt and updatedAt.
func clientTable(L *lua.LState, c *kv.Client, t *kv.Traffic) *lua.LTable {
	tbl := L.CreateTable(0, len(clientFields)+8)
	fillClient(L, tbl, c, t)
	return tbl
}

func fillClient(L *lua.LState, tbl *lua.LTable, c *kv.Client, t *kv.Traffic) {
	for _, f := range clientFields {
		tbl.RawSetString(f.name, f.get(c))
	}
	tbl.RawSetString("id", lua.LNumber(c.ID))
	tbl.RawSetString("createdAt", lua.LNumber(c.CreatedAt))
	tbl.RawSetString("updatedAt", lua.LNumber(c.UpdatedAt))
	if c.Reverse != nil {
		tbl.RawSetString("reverse", lua.LString(c.Reverse.Tag))
	}
	tbl.RawSetString("inboundIds", idList(L, c.InboundIDs()))
	var up, down, lastOnline int64
	if t != nil {
		up, down, lastOnline = t.Up, t.Down, t.LastOnline
	}
	tbl.RawSetString("up", lua.LNumber(up))
	tbl.RawSetString("down", lua.LNumber(down))
	tbl.RawSetString("lastOnline", lua.LNumber(lastOnline))
}

func idList(L *lua.LState, ids []int64) *lua.LTable {
	tbl := L.CreateTable(len(ids), 0)
	for _, id := range ids {
		tbl.Append(lua.LNumber(id))
	}
	return tbl
}

// changedFields names the fields in which two records differ, in the
// order of clientFields, with inboundIds last.
func changedFields(before, after *kv.Client) []string {
	var out []string
	for _, f := range clientFields {
		if f.get(before) != f.get(after) {
			out = append(out, f.name)
		}
	}
	if !slices.Equal(before.InboundIDs(), after.InboundIDs()) {
		out = append(out, "inboundIds")
	}
	return out
}

// clientFromTable writes the fields tbl carries over a copy of base. A
// field of the wrong type is an error naming it.
func clientFromTable(tbl *lua.LTable, base *kv.Client) (*kv.Client, error) {
	c := base.Clone()
	for _, f := range clientFields {
		v := tbl.RawGetString(f.name)
		if v == lua.LNil {
			continue
		}
		if !f.set(c, v) {
			return nil, fmt.Errorf("field %s has the wrong type (%s)", f.name, v.Type())
		}
	}
	return c, nil
}

// toLua converts a value decoded from JSON into Lua.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, x := range v {
			t.Append(toLua(L, x))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, x := range v {
			t.RawSetString(k, toLua(L, x))
		}
		return t
	}
	return lua.LString(fmt.Sprint(v))
}

// maxNesting bounds how deep a table fromLua converts, so that a table
// that contains itself cannot loop.
const maxNesting = 32

// fromLua converts a Lua value into one JSON can encode. A table whose
// keys are 1..n is an array; any other is an object with string keys.
func fromLua(v lua.LValue, depth int) (any, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("table nested deeper than %d", maxNesting)
	}
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LNumber:
		f := float64(v)
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), nil
		}
		return f, nil
	case lua.LString:
		return string(v), nil
	case *lua.LTable:
		return tableFromLua(v, depth)
	}
	return nil, fmt.Errorf("cannot convert a %s", v.Type())
}

func tableFromLua(t *lua.LTable, depth int) (any, error) {
	if n := t.Len(); n > 0 {
		arr := make([]any, 0, n)
		for i := 1; i <= n; i++ {
			x, err := fromLua(t.RawGetInt(i), depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, x)
		}
		return arr, nil
	}
	obj := map[string]any{}
	var err error
	t.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		var x any
		if x, err = fromLua(v, depth+1); err == nil {
			obj[lua.LVAsString(k)] = x
		}
	})
	return obj, err
}

// sortedFields returns a map's keys in order, for stable log lines.
func sortedFields(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
