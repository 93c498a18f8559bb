package hooks

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Bounds of a script's Lua state: the depth of nested calls and the
// value stack, which may grow from its initial size up to its maximum.
const (
	callStackSize   = 200
	registrySize    = 1024
	registryMaxSize = 64 * 1024
	maxRepBytes     = 1 << 20 // longest string string.rep may build
)

// removedGlobals are the base functions a script must not reach: they
// load code from files or strings, inspect or change environments, or
// print to the process's stdout.
var removedGlobals = []string{
	"dofile", "loadfile", "load", "loadstring", "require", "module",
	"getfenv", "setfenv", "collectgarbage", "newproxy", "_printregs", "print",
}

// newState builds a sandboxed Lua state for sc: only the base, table,
// string and math libraries, less everything that reaches files, code
// loading or the process, plus the xpanel API.
func (e *Engine) newState(sc *script) *lua.LState {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       callStackSize,
		RegistrySize:        registrySize,
		RegistryMaxSize:     registryMaxSize,
		MinimizeStackMemory: true,
	})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	for _, name := range removedGlobals {
		L.SetGlobal(name, lua.LNil)
	}
	e.boundRep(L)
	lazyWalks(L)
	e.refusals(L, sc)
	L.SetGlobal("xpanel", e.api(L, sc))
	return L
}

// boundRep replaces string.rep with one that refuses to build a string
// longer than maxRepBytes, the one cheap way a script could exhaust
// memory in a single instruction.
func (e *Engine) boundRep(L *lua.LState) {
	str, ok := L.GetGlobal("string").(*lua.LTable)
	if !ok {
		return
	}
	str.RawSetString("rep", L.NewFunction(func(L *lua.LState) int {
		s, n := L.CheckString(1), L.CheckInt(2)
		sep := L.OptString(3, "")
		if n <= 0 {
			L.Push(lua.LString(""))
			return 1
		}
		if int64(len(s)+len(sep))*int64(n) > maxRepBytes {
			L.RaiseError("string.rep: result longer than %d bytes", maxRepBytes)
		}
		parts := make([]string, n)
		for i := range parts {
			parts[i] = s
		}
		L.Push(lua.LString(strings.Join(parts, sep)))
		return 1
	}))
}

// refusals replaces error so that error("message") raises a value the
// engine can tell from a runtime error: a table carrying the message
// under a metatable of the script's own. Inside pcall it reads as the
// message through tostring.
func (e *Engine) refusals(L *lua.LState, sc *script) {
	meta := L.NewTable()
	meta.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		L.Push(t.RawGetString("message"))
		return 1
	}))
	sc.refusal = meta
	L.SetGlobal("error", L.NewFunction(func(L *lua.LState) int {
		v := L.Get(1)
		s, ok := v.(lua.LString)
		if !ok {
			if n, isNum := v.(lua.LNumber); isNum {
				s, ok = lua.LString(n.String()), true
			}
		}
		if !ok {
			L.Error(v, L.OptInt(2, 1)) // a table or nil: raised as given
			return 0
		}
		t := L.NewTable()
		t.RawSetString("message", s)
		t.RawSetString("where", lua.LString(L.Where(L.OptInt(2, 1))))
		L.SetMetatable(t, meta)
		L.Error(t, 0)
		return 0
	}))
}

// lazyWalks wraps pairs and next so that they fill a lazy event table
// before walking it.
func lazyWalks(L *lua.LState) {
	next, ok := L.GetGlobal("next").(*lua.LFunction)
	if !ok {
		return
	}
	L.SetGlobal("pairs", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		fillLazy(L, t)
		L.Push(next)
		L.Push(t)
		L.Push(lua.LNil)
		return 3
	}))
	L.SetGlobal("next", L.NewFunction(func(L *lua.LState) int {
		fillLazy(L, L.CheckTable(1))
		top := L.GetTop()
		L.Push(next)
		for i := 1; i <= top; i++ {
			L.Push(L.Get(i))
		}
		L.Call(top, lua.MultRet)
		return L.GetTop() - top
	}))
}
