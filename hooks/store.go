package hooks

import (
	json "github.com/goccy/go-json"
	"github.com/xpanel/xpanel/kv"
	lua "github.com/yuin/gopher-lua"
)

// Bounds of a script's key-value space.
const (
	maxStoreKey   = 200
	maxStoreValue = 64 << 10
)

// storeKey is where a script's key lives among the store's settings.
func (sc *script) storeKey(key string) string {
	return "script:" + sc.name + ":" + key
}

// luaStoreGet is xpanel.store.get(key): the value set under key, or nil.
func (sc *script) luaStoreGet(L *lua.LState) int {
	key := L.CheckString(1)
	var raw string
	sc.eng.svc.View(func(v *kv.View) error {
		raw = v.Meta(sc.storeKey(key))
		return nil
	})
	var val any
	if raw == "" || json.Unmarshal([]byte(raw), &val) != nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(toLua(L, val))
	return 1
}

// luaStoreSet is xpanel.store.set(key, value): keeps a string, number,
// boolean or table (as JSON) under key, for this script only, in the
// store; nil clears it. It returns true, or nil and the error.
func (sc *script) luaStoreSet(L *lua.LState) int {
	key := L.CheckString(1)
	if key == "" || len(key) > maxStoreKey {
		L.ArgError(1, "key must be 1 to 200 bytes")
	}
	raw := ""
	if v := L.Get(2); v != lua.LNil {
		x, err := fromLua(v, 0)
		if err != nil {
			L.ArgError(2, err.Error())
		}
		b, err := json.Marshal(x)
		if err != nil {
			L.ArgError(2, err.Error())
		}
		if len(b) > maxStoreValue {
			L.ArgError(2, "value longer than 64 KiB")
		}
		raw = string(b)
	}
	err := sc.waiting(func() error {
		return sc.eng.store.Update(func(tx *kv.Tx) error {
			return tx.PutMeta(sc.storeKey(key), raw)
		})
	})
	return sc.answer(L, err)
}
